package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/stats"
)

const defaults = `global
    maxconn 200
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
`

func TestHTTPRoundRobinMatchesHaproxyOrder(t *testing.T) {
	b1, b2, b3 := startBackend(t, "s1"), startBackend(t, "s2"), startBackend(t, "s3")
	p := freePort(t)
	startProxy(t, defaults+`
listen rr
    bind 127.0.0.1:{P}
    balance roundrobin
    server s1 127.0.0.1:{B1} weight 3
    server s2 127.0.0.1:{B2} weight 2
    server s3 127.0.0.1:{B3} weight 1
`, map[string]any{"P": p, "B1": b1.port, "B2": b2.port, "B3": b3.port})
	var got []string
	for i := 0; i < 12; i++ {
		_, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p))
		got = append(got, body)
	}
	want := "s1 s2 s1 s3 s1 s2 s1 s2 s1 s3 s1 s2"
	if strings.Join(got, " ") != want {
		t.Errorf("order = %s, want %s", strings.Join(got, " "), want)
	}
}

func TestHTTPErrorsAndSmuggling(t *testing.T) {
	b := startBackend(t, "s1")
	p, pdown := freePort(t), freePort(t)
	dead := deadPort(t)
	startProxy(t, defaults+`
    timeout http-request 300ms
listen web
    bind 127.0.0.1:{P}
    timeout server 300ms
    option forwardfor
    server s1 127.0.0.1:{B}
listen down
    bind 127.0.0.1:{PD}
    retries 1
    server s1 127.0.0.1:{DEAD}
`, map[string]any{"P": p, "B": b.port, "PD": pdown, "DEAD": dead})
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	for _, tc := range []struct {
		name, req, want string
	}{
		{"ok", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
		{"CL+TE accepted, CL dropped", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "HTTP/1.1 200 OK"},
		{"conflicting CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "HTTP/1.1 400 Bad request"},
		{"TE not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 400 Bad request"},
		{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", "HTTP/1.1 400 Bad request"},
		{"bad request line", "GET\r\n\r\n", "HTTP/1.1 400 Bad request"},
		{"oversize header", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", "HTTP/1.1 400 Bad request"},
		{"partial head times out", "GET / HTTP/1.1\r\n", "HTTP/1.1 408 Request Time-out"},
		{"garbage from server", "GET /garbage HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 502 Bad Gateway"},
		{"server resets", "GET /close HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 502 Bad Gateway"},
		{"server timeout", "GET /hang HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 504 Gateway Time-out"},
	} {
		line, all := raw(t, addr, tc.req)
		if line != tc.want {
			t.Errorf("%s: got %q, want %q\n%s", tc.name, line, tc.want, all)
		}
	}
	if line, _ := raw(t, fmt.Sprintf("127.0.0.1:%d", pdown), "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); line != "HTTP/1.1 503 Service Unavailable" {
		t.Errorf("dead server: %q", line)
	}
	_, _, h := get(t, "http://"+addr+"/")
	if h.Get("X-Got-XFF") != "127.0.0.1" {
		t.Errorf("X-Forwarded-For not added: %q", h.Get("X-Got-XFF"))
	}
}

func TestHTTPKeepAliveChunkedContinueUpgrade(t *testing.T) {
	b := startBackend(t, "s1")
	// an upgrade-capable raw backend
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.Copy(c, br)
	}()
	defer func() { up.Close(); wg.Wait() }()
	p, pu := freePort(t), freePort(t)
	startProxy(t, defaults+`
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
listen ws
    bind 127.0.0.1:{PU}
    timeout tunnel 5s
    server s1 127.0.0.1:{UP}
`, map[string]any{"P": p, "B": b.port, "PU": pu, "UP": up.Addr().(*net.TCPAddr).Port})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	// pipelined keep-alive requests, one chunked, one with Expect: 100-continue
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	for i, want := range []string{"s1\n", "hello world"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("response %d body %q, want %q", i, body, want)
		}
	}
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("expected 100 Continue, got %q", line)
	}
	br.ReadString('\n')
	io.WriteString(c, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "data" {
		t.Errorf("100-continue body %q", body)
	}
	// upgrade tunnel
	wc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pu))
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	_ = wc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(wc, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	wbr := bufio.NewReader(wc)
	st, _ := wbr.ReadString('\n')
	if !strings.HasPrefix(st, "HTTP/1.1 101") {
		t.Fatalf("upgrade: %q", st)
	}
	for {
		l, _ := wbr.ReadString('\n')
		if l == "\r\n" || l == "" {
			break
		}
	}
	io.WriteString(wc, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(wbr, buf); err != nil || string(buf) != "ping" {
		t.Errorf("tunnel echo %q %v", buf, err)
	}
}

func TestTCPModeHalfClose(t *testing.T) {
	backend := tcpServer(t, func(c net.Conn) {
		// read all, then answer with what was read, then close (needs half-close to work)
		b, _ := io.ReadAll(c)
		c.Write([]byte("got:" + string(b)))
	})
	p := freePort(t)
	startProxy(t, defaults+`
listen t
    bind 127.0.0.1:{P}
    mode tcp
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": backend})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("abc"))
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	if string(b) != "got:abc" {
		t.Errorf("tcp half-close: %q", b)
	}
}

func TestMaxconnQueueRetriesRedispatch(t *testing.T) {
	b := startBackend(t, "s1")
	b2 := startBackend(t, "s2")
	p, pr := freePort(t), freePort(t)
	dead := deadPort(t)
	s := startProxy(t, defaults+`
listen q
    bind 127.0.0.1:{P}
    timeout queue 5s
    server s1 127.0.0.1:{B} maxconn 1
listen r
    bind 127.0.0.1:{PR}
    retries 2
    option redispatch
    balance first
    server dead 127.0.0.1:{DEAD}
    server s2 127.0.0.1:{B2}
`, map[string]any{"P": p, "B": b.port, "PR": pr, "DEAD": dead, "B2": b2.port})
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/slow", p))
			if err == nil {
				codes[i] = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("queued request %d: status %d", i, c)
		}
	}
	srvRow := stats.Filter(s.Rows(), "q", 4, -1)[0].Values
	beRow := stats.Filter(s.Rows(), "q", 2, -1)[0].Values
	if beRow["qmax"] == "0" || srvRow["smax"] != "1" {
		t.Errorf("queue stats: backend qmax=%s server smax=%s", beRow["qmax"], srvRow["smax"])
	}
	code, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", pr))
	if code != 200 || body != "s2" {
		t.Errorf("redispatch: %d %q", code, body)
	}
	be := stats.Filter(s.Rows(), "r", 2, -1)[0].Values
	if be["wretr"] == "0" || be["wredis"] != "1" {
		t.Errorf("retry counters: wretr=%s wredis=%s", be["wretr"], be["wredis"])
	}
}

func TestHealthChecksAndRuntimeAPI(t *testing.T) {
	b1, b2 := startBackend(t, "s1"), startBackend(t, "s2")
	p := freePort(t)
	sock := filepath.Join(t.TempDir(), "s.sock")
	s := startProxy(t, `global
    stats socket {SOCK} mode 600 level admin
`+strings.TrimPrefix(defaults, "global\n    maxconn 200\n")+`
backend app
    option httpchk GET /health
    http-check expect string healthy
    server s1 127.0.0.1:{B1} check inter 50 rise 1 fall 1
    server s2 127.0.0.1:{B2} check inter 50 rise 1 fall 1
frontend f
    bind 127.0.0.1:{P}
    default_backend app
`, map[string]any{"P": p, "B1": b1.port, "B2": b2.port, "SOCK": sock})
	url := fmt.Sprintf("http://127.0.0.1:%d/", p)
	eventually(t, "both servers checked", func() bool {
		out := cli(t, sock, "show stat")
		return strings.Count(out, "L7OK") == 2
	})
	out := cli(t, sock, "show stat")
	if !strings.HasPrefix(out, stats.Header()+"\n") {
		t.Errorf("show stat header differs:\n%s", out)
	}
	b1.close()
	eventually(t, "s1 down", func() bool { return strings.Contains(cli(t, sock, "show stat -1 4 1"), ",DOWN,") })
	for i := 0; i < 4; i++ {
		if _, body, _ := get(t, url); body != "s2" {
			t.Errorf("with s1 down got %q", body)
		}
	}
	if got := cli(t, sock, "disable server app/s2"); strings.TrimSpace(got) != "" {
		t.Errorf("disable server: %q", got)
	}
	if code, _, _ := get(t, url); code != 503 {
		t.Errorf("all down: status %d", code)
	}
	if !strings.Contains(cli(t, sock, "show stat"), "app,s2,") || !strings.Contains(cli(t, sock, "show stat"), ",MAINT,") {
		t.Errorf("MAINT not shown")
	}
	cli(t, sock, "set server app/s2 state ready")
	if code, body, _ := get(t, url); code != 200 || body != "s2" {
		t.Errorf("after ready: %d %q", code, body)
	}
	if got := cli(t, sock, "set weight app/s2 50%"); strings.TrimSpace(got) != "" {
		t.Errorf("set weight: %q", got)
	}
	if got := cli(t, sock, "get weight app/s2"); !strings.HasPrefix(got, "0 (initial 1)") {
		t.Errorf("get weight: %q", got)
	}
	st := cli(t, sock, "show servers state app")
	if !strings.HasPrefix(st, "1\n# be_id be_name srv_id") || !strings.Contains(st, " app 2 s2 127.0.0.1 ") {
		t.Errorf("show servers state:\n%s", st)
	}
	if got := cli(t, sock, "show info"); !strings.Contains(got, "Name: HAProxy\nVersion: ") {
		t.Errorf("show info: %q", got)
	}
	if got := cli(t, sock, "frobnicate"); !strings.HasPrefix(got, "Unknown command") {
		t.Errorf("unknown command: %q", got)
	}
	_ = s
}

func TestStatsPage(t *testing.T) {
	b := startBackend(t, "s1")
	p := freePort(t)
	startProxy(t, defaults+`
listen web
    bind 127.0.0.1:{P}
    stats enable
    stats uri /stats
    stats refresh 10s
    stats realm Test\ Realm
    stats auth admin:secret
    stats admin if TRUE
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port})
	base := fmt.Sprintf("http://127.0.0.1:%d/stats", p)
	code, _, h := get(t, base)
	if code != 401 || h.Get("Www-Authenticate") != `Basic realm="Test Realm"` {
		t.Errorf("no auth: %d %q", code, h.Get("Www-Authenticate"))
	}
	req, _ := http.NewRequest("GET", base+";csv", nil)
	req.SetBasicAuth("admin", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(string(csv), "\n")
	if lines[0] != stats.Header() || !strings.HasPrefix(lines[1], "web,FRONTEND,") || !strings.HasPrefix(lines[2], "web,s1,") || !strings.HasPrefix(lines[3], "web,BACKEND,") {
		t.Errorf("csv:\n%s", csv)
	}
	if n := strings.Count(lines[1], ","); n != len(stats.Columns()) {
		t.Errorf("csv row has %d commas, want %d", n, len(stats.Columns()))
	}
	req, _ = http.NewRequest("GET", base, nil)
	req.SetBasicAuth("admin", "secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Refresh") != "10" || !strings.Contains(string(page), "Statistics Report for pid") || !strings.Contains(string(page), `name="s" value="s1"`) {
		t.Errorf("html page: refresh=%q\n%.400s", resp.Header.Get("Refresh"), page)
	}
	form := "s=s1&action=maint&b=%231"
	req, _ = http.NewRequest("POST", base, strings.NewReader(form))
	req.SetBasicAuth("admin", "secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/stats;st=DONE" {
		t.Errorf("admin POST: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p)); code != 503 {
		t.Errorf("after maint: %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestLogsHTTPLogAndTCPLog(t *testing.T) {
	b := startBackend(t, "s1")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	p, pt := freePort(t), freePort(t)
	startProxy(t, `global
    log 127.0.0.1:{L} local0 info
`+strings.TrimPrefix(defaults, "global\n    maxconn 200\n")+`
    log global
listen web
    bind 127.0.0.1:{P}
    option httplog
    server s1 127.0.0.1:{B}
listen tcp
    bind 127.0.0.1:{PT}
    mode tcp
    option tcplog
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "PT": pt, "B": b.port, "L": pc.LocalAddr().(*net.UDPAddr).Port})
	get(t, fmt.Sprintf("http://127.0.0.1:%d/x?y=1", p))
	get(t, fmt.Sprintf("http://127.0.0.1:%d/", pt))
	httpRe := regexp.MustCompile(`^<134>\w{3} [ \d]\d \d\d:\d\d:\d\d haproxy\[\d+\]: 127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] web web/s1 \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- \d+/\d+/\d+/\d+/0 0/0 "GET /x\?y=1 HTTP/1\.1"$`)
	tcpRe := regexp.MustCompile(`^<134>.* haproxy\[\d+\]: 127\.0\.0\.1:\d+ \[[^]]+\] tcp tcp/s1 \d+/\d+/\d+ \d+ -- \d+/\d+/\d+/\d+/0 0/0$`)
	seen := map[string]bool{}
	buf := make([]byte, 4096)
	for i := 0; i < 4 && len(seen) < 2; i++ {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		line := string(buf[:n])
		switch {
		case httpRe.MatchString(line):
			seen["http"] = true
		case tcpRe.MatchString(line):
			seen["tcp"] = true
		default:
			t.Errorf("unexpected log line %q", line)
		}
	}
	if !seen["http"] || !seen["tcp"] {
		t.Errorf("missing log lines: %v", seen)
	}
}

func TestReloadKeepsConnectionsAndState(t *testing.T) {
	b1, b2 := startBackend(t, "s1"), startBackend(t, "s2")
	p, p2 := freePort(t), freePort(t)
	sock := filepath.Join(t.TempDir(), "s.sock")
	text := `global
    stats socket {SOCK} level admin
` + strings.TrimPrefix(defaults, "global\n    maxconn 200\n") + `
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B1}
    server s2 127.0.0.1:{B2}
`
	vars := map[string]any{"P": p, "P2": p2, "B1": b1.port, "B2": b2.port, "SOCK": sock}
	s := startProxy(t, text, vars)
	cli(t, sock, "disable server web/s2")
	// an established keep-alive connection
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	ask := func() string {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive request: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.TrimSpace(string(b))
	}
	if got := ask(); got != "s1" {
		t.Fatalf("before reload: %q", got)
	}
	// new configuration: one more frontend
	ncfg := mustConfig(t, text+`
listen web2
    bind 127.0.0.1:{P2}
    server s2 127.0.0.1:{B2}
`, vars)
	if err := s.Reload(ncfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := ask(); got != "s1" {
		t.Errorf("old connection after reload: %q", got)
	}
	if !strings.Contains(cli(t, sock, "show stat"), ",MAINT,") {
		t.Errorf("maintenance state lost on reload")
	}
	if _, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p2)); body != "s2" {
		t.Errorf("new frontend: %q", body)
	}
	rows := stats.Filter(s.Rows(), "web", 1, -1)
	if rows[0].Values["stot"] == "0" {
		t.Errorf("frontend counters reset on reload")
	}
	// a bad reload leaves the running configuration serving
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := mustConfig(t, text+"listen clash\n    bind 127.0.0.2:{BUSY}\n    server s 127.0.0.1:1\n", map[string]any{"P": p, "B1": b1.port, "B2": b2.port, "SOCK": sock, "BUSY": busy.Addr().(*net.TCPAddr).Port})
	_ = busy.Close()
	busy2, err := net.Listen("tcp", "127.0.0.2:"+fmt.Sprint(busy.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Skip("cannot occupy a port on 127.0.0.2")
	}
	defer busy2.Close()
	if err := s.Reload(bad); err == nil {
		t.Errorf("reload onto a busy port succeeded")
	}
	if got := ask(); got != "s1" {
		t.Errorf("after failed reload: %q", got)
	}
	if err := s.Healthy(); err != nil {
		t.Errorf("healthy: %v", err)
	}
}

func TestStopIsIdempotentAndBounded(t *testing.T) {
	b := startBackend(t, "s1")
	p := freePort(t)
	cfg := mustConfig(t, defaults+"listen web\n    bind 127.0.0.1:{P}\n    server s1 127.0.0.1:{B}\n", map[string]any{"P": p, "B": b.port})
	s := New(cfg, nil)
	if err := s.Healthy(); err == nil {
		t.Error("healthy before start")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// an idle keep-alive client must not hold Stop forever
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.Stop(ctx)
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("restart after stop accepted")
	}
}

func TestQueuedRequestsGoToServersThatBecomeAvailable(t *testing.T) {
	b1, b2 := startBackend(t, "s1"), startBackend(t, "s2")
	p := freePort(t)
	s := startProxy(t, defaults+`
listen q
    bind 127.0.0.1:{P}
    timeout queue 20s
    server s1 127.0.0.1:{B1} maxconn 1
    server s2 127.0.0.1:{B2} disabled
`, map[string]any{"P": p, "B1": b1.port, "B2": b2.port})
	hung := make(chan struct{})
	go func() {
		defer close(hung)
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /hang HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		_, _ = io.ReadAll(c)
	}()
	eventually(t, "s1 busy", func() bool { return stats.Filter(s.Rows(), "q", 4, 1)[0].Values["scur"] == "1" })
	got := make(chan string, 1)
	go func() {
		_, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p))
		got <- body
	}()
	eventually(t, "request queued", func() bool { return stats.Filter(s.Rows(), "q", 2, -1)[0].Values["qcur"] == "1" })
	if err := s.SetState("q", "s2", "ready"); err != nil {
		t.Fatal(err)
	}
	if body := <-got; body != "s2" {
		t.Errorf("queued request served by %q, want s2 (s1 is still busy)", body)
	}
	b1.close() // releases the hung request
	<-hung
}

func TestDefaultLogFormat(t *testing.T) {
	b := startBackend(t, "s1")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	p := freePort(t)
	startProxy(t, `global
    log 127.0.0.1:{L} local0
`+strings.TrimPrefix(defaults, "global\n    maxconn 200\n")+`
listen plain
    bind 127.0.0.1:{P}
    log global
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port, "L": pc.LocalAddr().(*net.UDPAddr).Port})
	get(t, fmt.Sprintf("http://127.0.0.1:%d/", p))
	buf := make([]byte, 2048)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(fmt.Sprintf(`haproxy\[\d+\]: Connect from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:%d \(plain/HTTP\)$`, p))
	if !re.Match(buf[:n]) {
		t.Errorf("default log line %q", buf[:n])
	}
}
