package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// bannerServer is a TCP server that reads what the client sends first (up to 150 ms) and answers
// "name:<bytes read>", then copies nothing more and waits for the client to close.
type bannerServer struct {
	name string
	ln   net.Listener
	port int
	wg   sync.WaitGroup
	once sync.Once
}

func startBanner(t testing.TB, name string) *bannerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bannerServer{name: name, ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				n := 0
				_ = c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
				for n < len(buf) {
					m, err := c.Read(buf[n:])
					n += m
					if err != nil {
						break
					}
				}
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				fmt.Fprintf(c, "%s:%d", b.name, n)
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(b.stop)
	return b
}

func (b *bannerServer) stop() {
	b.once.Do(func() { b.ln.Close() })
	b.wg.Wait()
}

// helloBytes is the ClientHello a Go TLS client sends for sni.
func helloBytes(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni})
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_ = c.Handshake()
		_ = c.Close()
	}()
	defer b.Close()
	_ = b.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n := 0
	for n < 5 || n < 5+int(buf[3])<<8+int(buf[4]) {
		m, err := b.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	return buf[:n]
}

// tcpVerdict connects from src, sends data (if any), and returns what the server answered: "name:bytes", or
// "closed" when the proxy closed or reset the connection without an answer.
func tcpVerdict(t *testing.T, port int, src string, data []byte) string {
	t.Helper()
	d := net.Dialer{Timeout: 3 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "closed"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if len(data) > 0 {
		if _, err := c.Write(data); err != nil {
			return "closed"
		}
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(c, buf, 1)
	if n == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "closed"
	}
	return strings.TrimSpace(string(buf[:n]))
}

// TestSideBySideTCPInspection runs TCP-mode scenarios through haproxy and Duet with the same configuration:
// tcp-request connection and content rules, inspect-delay with req.ssl_hello_type and req.len, SNI routing of TLS
// passthrough (the ClientHello is read, not terminated, and forwarded whole), balance roundrobin and source, and
// a server going down. Both must give the same verdict (which server, with how many bytes, or closed).
func TestSideBySideTCPInspection(t *testing.T) {
	var s [3]*bannerServer
	var tl [3]*bannerServer
	for i := range s {
		s[i] = startBanner(t, fmt.Sprintf("s%d", i+1))
		tl[i] = startBanner(t, fmt.Sprintf("t%d", i+1))
	}
	body := `
backend ta
    mode tcp
    server t1 127.0.0.1:` + fmt.Sprint(tl[0].port) + `
backend tb
    mode tcp
    server t2 127.0.0.1:` + fmt.Sprint(tl[1].port) + `
backend tdef
    mode tcp
    server t3 127.0.0.1:` + fmt.Sprint(tl[2].port) + `
backend rr
    mode tcp
    balance roundrobin
    server s1 127.0.0.1:` + fmt.Sprint(s[0].port) + `
    server s2 127.0.0.1:` + fmt.Sprint(s[1].port) + ` weight 2
    server s3 127.0.0.1:` + fmt.Sprint(s[2].port) + `
backend src
    mode tcp
    balance source
    server s1 127.0.0.1:` + fmt.Sprint(s[0].port) + ` check inter 100ms fall 1 rise 1
    server s2 127.0.0.1:` + fmt.Sprint(s[1].port) + ` check inter 100ms fall 1 rise 1
    server s3 127.0.0.1:` + fmt.Sprint(s[2].port) + ` check inter 100ms fall 1 rise 1
`
	fe := func(tp, rp, sp int) string {
		return fmt.Sprintf(`frontend tls
    mode tcp
    bind 127.0.0.1:%d
    tcp-request connection reject if { src 127.5.0.0/16 }
    tcp-request inspect-delay 600ms
    tcp-request content reject if { src 127.7.0.0/16 }
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject if { req.payload(0,4) -m str JUNK }
    use_backend ta if { req.ssl_sni -i a.example }
    use_backend tb if { req.ssl_sni -m end .b.example }
    use_backend tb if { req.len gt 0 } !{ req.ssl_hello_type 1 }
    default_backend tdef
frontend rrfe
    mode tcp
    bind 127.0.0.1:%d
    default_backend rr
frontend srcfe
    mode tcp
    bind 127.0.0.1:%d
    tcp-request connection reject if { src 127.5.0.0/16 }
    default_backend src
`, tp, rp, sp)
	}
	head := "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    retries 0\n"
	h := [3]int{freePort(t), freePort(t), freePort(t)}
	d := [3]int{freePort(t), freePort(t), freePort(t)}
	haproxyProc(t, head+fe(h[0], h[1], h[2])+body, h[:])
	startProxy(t, head+fe(d[0], d[1], d[2])+body, nil)
	// haproxyProc's readiness probe opened one connection to each haproxy frontend: the round-robin one took a
	// server; take the same turn on Duet's
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d[1])); err == nil {
		c.Close()
	}

	helloA, helloB, helloC := helloBytes(t, "A.example"), helloBytes(t, "www.b.example"), helloBytes(t, "c.example")
	type step struct {
		fe   int
		src  string
		data []byte
		what string
	}
	var steps []step
	steps = append(steps,
		step{0, "", helloA, "hello a.example"},
		step{0, "", helloB, "hello www.b.example"},
		step{0, "", helloC, "hello c.example"},
		step{0, "", helloA[:40], "partial hello (waits for inspect-delay)"},
		step{0, "", []byte("JUNK data"), "junk rejected by content"},
		step{0, "", []byte("PLAIN text"), "plain text after inspect-delay"},
		step{0, "", nil, "silent client"},
		step{0, "127.5.0.1", helloA, "connection reject"},
		step{0, "127.7.0.1", helloA, "content reject"},
	)
	for i := 0; i < 8; i++ {
		steps = append(steps, step{1, "", []byte("x"), "roundrobin"})
	}
	for i := 1; i <= 12; i++ {
		steps = append(steps, step{2, fmt.Sprintf("127.0.%d.%d", i*17%256, i*29%256), []byte("y"), "source"})
	}
	steps = append(steps, step{2, "127.5.9.9", []byte("y"), "source rejected"})
	run := func(steps []step) {
		var wg sync.WaitGroup
		res := make([][2]string, len(steps))
		for i, st := range steps {
			if st.fe == 1 {
				// the round-robin order needs one connection at a time
				res[i] = [2]string{tcpVerdict(t, h[1], st.src, st.data), tcpVerdict(t, d[1], st.src, st.data)}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = [2]string{tcpVerdict(t, h[st.fe], st.src, st.data), tcpVerdict(t, d[st.fe], st.src, st.data)}
			}()
			if st.fe == 2 {
				wg.Wait()
			}
		}
		wg.Wait()
		for i, st := range steps {
			t.Logf("%-40s haproxy %-8s duet %s", st.what, res[i][0], res[i][1])
			if res[i][0] != res[i][1] {
				t.Errorf("%s (from %q): haproxy %q, duet %q", st.what, st.src, res[i][0], res[i][1])
			}
		}
	}
	run(steps)
	// s2 goes down: balance source maps its clients elsewhere, the same way in both
	s[1].stop()
	time.Sleep(time.Second)
	var after []step
	for _, st := range steps {
		if st.fe == 2 {
			after = append(after, st)
		}
	}
	run(after)
}
