// Package health runs one health check of a server (tcp connect, HTTP with http-check expect, MySQL handshake)
// and keeps haproxy's rise/fall state machine. It starts no goroutines: the proxy's server package owns the
// per-server check loop and calls Run and State.Record.
package health

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// Status is haproxy's check status code (the CSV check_status column).
type Status string

const (
	L4OK   Status = "L4OK"
	L4TOUT Status = "L4TOUT"
	L4CON  Status = "L4CON"
	L7OK   Status = "L7OK"
	L7OKC  Status = "L7OKC"
	L7TOUT Status = "L7TOUT"
	L7RSP  Status = "L7RSP"
	L7STS  Status = "L7STS"
	INI    Status = "INI"
)

// Result is the outcome of one check.
type Result struct {
	OK       bool
	Status   Status
	Code     int    // HTTP status or MySQL error code; 0 when none
	Info     string // short explanation ("Connection refused", the wrong status line...)
	Duration time.Duration
}

// Desc returns haproxy's description of the status ("Layer4 connection problem", ...).
func (s Status) Desc() string {
	switch s {
	case L4OK:
		return "Layer4 check passed"
	case L4TOUT:
		return "Layer4 timeout"
	case L4CON:
		return "Layer4 connection problem"
	case L7OK:
		return "Layer7 check passed"
	case L7OKC:
		return "Layer7 check conditionally passed"
	case L7TOUT:
		return "Layer7 timeout"
	case L7RSP:
		return "Layer7 invalid response"
	case L7STS:
		return "Layer7 wrong status"
	case INI:
		return "Initializing"
	}
	return string(s)
}

// Target is what to check.
type Target struct {
	Addr           string        // host:port to connect to
	ConnectTimeout time.Duration // min(timeout connect, inter) when timeout check is set, else inter
	ReadTimeout    time.Duration // total budget after connect
	Host           string        // for http-check send hdr Host
}

// Dialer opens the check connection; tests and namespaces may replace it.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Run performs one check of kind cc against t. It blocks at most ConnectTimeout+ReadTimeout.
func Run(ctx context.Context, cc config.CheckConfig, t Target, dial Dialer) Result {
	start := time.Now()
	res := run(ctx, cc, t, dial)
	res.Duration = time.Since(start)
	return res
}

func run(ctx context.Context, cc config.CheckConfig, t Target, dial Dialer) Result {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	cctx, cancel := context.WithTimeout(ctx, t.ConnectTimeout)
	conn, err := dial(cctx, "tcp", t.Addr)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return Result{Status: L4TOUT, Info: "Connection timeout"}
		}
		return Result{Status: L4CON, Info: connInfo(err)}
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	_ = conn.SetDeadline(time.Now().Add(t.ReadTimeout))
	switch cc.Kind {
	case config.CheckHTTP:
		return httpCheck(conn, cc, t)
	case config.CheckMySQL:
		return mysqlCheck(conn, cc)
	}
	return Result{OK: true, Status: L4OK}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func connInfo(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "Connection refused"
	case strings.Contains(s, "no route"):
		return "No route to host"
	case strings.Contains(s, "network is unreachable"):
		return "Network is unreachable"
	}
	return s
}

func httpCheck(conn net.Conn, cc config.CheckConfig, t Target) Result {
	var b strings.Builder
	method, uri, ver := cc.Method, cc.URI, cc.Version
	if method == "" {
		method = "OPTIONS"
	}
	if uri == "" {
		uri = "/"
	}
	if ver == "" {
		ver = "HTTP/1.0"
	}
	fmt.Fprintf(&b, "%s %s %s\r\n", method, uri, ver)
	hasConn := false
	for _, h := range cc.SendHeaders {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		if strings.EqualFold(h[0], "connection") {
			hasConn = true
		}
	}
	if !hasConn && ver == "HTTP/1.1" {
		b.WriteString("Connection: close\r\n")
	}
	if cc.SendBody != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(cc.SendBody))
	}
	b.WriteString("\r\n")
	b.WriteString(cc.SendBody)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return Result{Status: L4CON, Info: connInfo(err)}
	}
	// Read the whole response (up to 16 kB) until close, like haproxy's check buffer.
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for len(buf) < 16384 {
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			if isTimeout(err) && len(buf) == 0 {
				return Result{Status: L7TOUT, Info: "Layer7 timeout"}
			}
			break
		}
		if cc.Expect == nil || (cc.Expect.Match == "status" || cc.Expect.Match == "rstatus") {
			if i := strings.Index(string(buf), "\r\n"); i >= 0 {
				break
			}
		}
	}
	line := string(buf)
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/") || line[8] != ' ' {
		if len(buf) == 0 {
			return Result{Status: L7RSP, Info: "Empty response"}
		}
		return Result{Status: L7RSP, Info: "Not an HTTP response"}
	}
	code, err := strconv.Atoi(line[9:12])
	if err != nil {
		return Result{Status: L7RSP, Info: "Invalid HTTP status"}
	}
	info := strings.TrimSpace(line[12:])
	if cc.DisableOn404 && code == 404 {
		// http-check disable-on-404: up but out of load balancing (NOLB)
		return Result{OK: true, Status: L7OKC, Code: code, Info: info}
	}
	if cc.Expect == nil {
		if code >= 200 && code < 400 {
			return Result{OK: true, Status: L7OK, Code: code, Info: info}
		}
		return Result{Status: L7STS, Code: code, Info: info}
	}
	ok, why := expect(cc.Expect, code, string(buf))
	if ok {
		return Result{OK: true, Status: L7OK, Code: code, Info: info}
	}
	if why != "" {
		info = why
	}
	if cc.Expect.Match == "status" || cc.Expect.Match == "rstatus" {
		return Result{Status: L7STS, Code: code, Info: info}
	}
	return Result{Status: L7RSP, Code: code, Info: info}
}

// expect evaluates one http-check expect rule on a response.
func expect(e *config.Expect, code int, resp string) (bool, string) {
	body := ""
	head := resp
	if i := strings.Index(resp, "\r\n\r\n"); i >= 0 {
		head, body = resp[:i], resp[i+4:]
	}
	var ok bool
	switch e.Match {
	case "status":
		ok = statusMatches(e.Pattern, code)
	case "rstatus":
		re, err := regexp.Compile(e.Pattern)
		ok = err == nil && re.MatchString(strconv.Itoa(code))
	case "string":
		ok = strings.Contains(body, e.Pattern)
	case "rstring":
		re, err := regexp.Compile(e.Pattern)
		ok = err == nil && re.MatchString(body)
	case "hdr", "fhdr":
		ok = false
		for _, l := range strings.Split(head, "\r\n")[1:] {
			i := strings.IndexByte(l, ':')
			if i < 0 || !strings.EqualFold(strings.TrimSpace(l[:i]), e.HdrName) {
				continue
			}
			v := strings.TrimSpace(l[i+1:])
			if e.HdrValue == "" || v == e.HdrValue {
				ok = true
			}
			if e.Match == "hdr" && e.HdrValue != "" {
				for _, p := range strings.Split(v, ",") {
					if strings.TrimSpace(p) == e.HdrValue {
						ok = true
					}
				}
			}
		}
	}
	if e.Negate {
		ok = !ok
	}
	if ok {
		return true, ""
	}
	switch e.Match {
	case "string", "rstring":
		return false, "HTTP content check did not match"
	case "hdr", "fhdr":
		return false, "HTTP header check did not match"
	}
	return false, "HTTP status check returned code <" + strconv.Itoa(code) + ">"
}

// statusMatches matches "200", "200,300-399" style status lists.
func statusMatches(pat string, code int) bool {
	for _, p := range strings.Split(pat, ",") {
		lo, hi := p, p
		if i := strings.IndexByte(p, '-'); i > 0 {
			lo, hi = p[:i], p[i+1:]
		}
		a, e1 := strconv.Atoi(lo)
		z, e2 := strconv.Atoi(hi)
		if e1 == nil && e2 == nil && code >= a && code <= z {
			return true
		}
	}
	return false
}

// mysqlCheck reads the server greeting and, with a user, sends an authentication packet without password
// and expects an OK packet, then says QUIT (like haproxy's mysql-check).
func mysqlCheck(conn net.Conn, cc config.CheckConfig) Result {
	br := bufio.NewReader(conn)
	seq, pkt, err := readMySQLPacket(br)
	if err != nil {
		if isTimeout(err) {
			return Result{Status: L7TOUT, Info: "Layer7 timeout"}
		}
		return Result{Status: L7RSP, Info: "Failed to read MySQL greeting"}
	}
	if len(pkt) > 0 && pkt[0] == 0xff {
		return mysqlErr(pkt)
	}
	if len(pkt) < 1 || pkt[0] < 9 {
		return Result{Status: L7RSP, Info: "Not a MySQL server greeting"}
	}
	version := string(pkt[1:])
	if i := strings.IndexByte(version, 0); i >= 0 {
		version = version[:i]
	}
	if cc.MySQLUser == "" {
		return Result{OK: true, Status: L7OK, Info: version}
	}
	// Handshake response 4.1 (or pre-4.1) with the user name and an empty password.
	var body []byte
	if cc.MySQLPost41 || true {
		caps := uint32(0x00000001 | 0x00000200 | 0x00008000) // LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION
		body = binary.LittleEndian.AppendUint32(body, caps)
		body = binary.LittleEndian.AppendUint32(body, 1<<24)
		body = append(body, 0x21) // utf8
		body = append(body, make([]byte, 23)...)
		body = append(body, cc.MySQLUser...)
		body = append(body, 0, 0) // NUL, empty auth response
	}
	if err := writeMySQLPacket(conn, seq+1, body); err != nil {
		return Result{Status: L4CON, Info: connInfo(err)}
	}
	_, pkt, err = readMySQLPacket(br)
	if err != nil {
		if isTimeout(err) {
			return Result{Status: L7TOUT, Info: "Layer7 timeout"}
		}
		return Result{Status: L7RSP, Info: "Failed to read MySQL authentication reply"}
	}
	if len(pkt) > 0 && pkt[0] == 0xff {
		return mysqlErr(pkt)
	}
	if len(pkt) == 0 || (pkt[0] != 0x00 && pkt[0] != 0xfe) {
		return Result{Status: L7RSP, Info: "Unexpected MySQL reply"}
	}
	_ = writeMySQLPacket(conn, 0, []byte{0x01}) // COM_QUIT
	return Result{OK: true, Status: L7OK, Info: version}
}

func mysqlErr(pkt []byte) Result {
	r := Result{Status: L7STS, Info: "MySQL error"}
	if len(pkt) >= 3 {
		r.Code = int(binary.LittleEndian.Uint16(pkt[1:3]))
		msg := pkt[3:]
		if len(msg) > 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		r.Info = string(msg)
	}
	return r
}

func readMySQLPacket(br *bufio.Reader) (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n > 1<<16 {
		return 0, nil, fmt.Errorf("read mysql packet: length %d too large", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	return h[3], p, nil
}

func writeMySQLPacket(w io.Writer, seq byte, body []byte) error {
	h := []byte{byte(len(body)), byte(len(body) >> 8), byte(len(body) >> 16), seq}
	_, err := w.Write(append(h, body...))
	return err
}

// State is haproxy's rise/fall health counter for one server. The zero value is not usable: use NewState.
type State struct {
	Rise, Fall int
	Health     int // 0..Rise+Fall-1; the server is up when Health >= Rise
	Up         bool
	Last       Result
}

// NewState returns the state of a server that starts up, one failure away from going down (haproxy's start).
func NewState(rise, fall int) *State {
	return &State{Rise: rise, Fall: fall, Health: rise, Up: true}
}

// Record applies one result and reports whether the server changed between up and down.
func (s *State) Record(r Result) (changed bool) {
	s.Last = r
	max := s.Rise + s.Fall - 1
	if r.OK {
		if s.Health < max {
			s.Health++
		}
		if !s.Up && s.Health >= s.Rise {
			s.Up, s.Health = true, max
			return true
		}
		return false
	}
	if s.Up {
		if s.Health > s.Rise {
			s.Health--
			return false
		}
		s.Up, s.Health = false, 0
		return true
	}
	if s.Health > 0 {
		s.Health--
	}
	return false
}

// Transitional reports whether the server is between states (going up or going down).
func (s *State) Transitional() bool {
	if s.Up {
		return s.Health < s.Rise+s.Fall-1
	}
	return s.Health > 0
}

// StatusText renders the stats status: "UP", "DOWN", "UP 1/3" (going down), "DOWN 1/2" (going up).
func (s *State) StatusText() string {
	if s.Up {
		if s.Health < s.Rise+s.Fall-1 {
			return fmt.Sprintf("UP %d/%d", s.Health-s.Rise+1, s.Fall)
		}
		return "UP"
	}
	if s.Health > 0 {
		return fmt.Sprintf("DOWN %d/%d", s.Health, s.Rise)
	}
	return "DOWN"
}

// Interval returns the delay before the next check: inter when stable up, fastinter while transitioning,
// downinter when down (each falling back to inter).
func (s *State) Interval(inter, fast, down time.Duration) time.Duration {
	switch {
	case !s.Up && s.Health == 0:
		if down > 0 {
			return down
		}
	case s.Transitional():
		if fast > 0 {
			return fast
		}
	}
	return inter
}
