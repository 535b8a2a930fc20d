package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// loopCases runs a test with the default event loops, with two of them, with two blocking ones bound to CPUs (as
// duet-proxy runs them) and with none (a goroutine per connection): all must answer alike.
var loopCases = []struct {
	name  string
	opts  Options
	loops int // how many the server must have made (0: GOMAXPROCS)
}{
	{"default", Options{}, 0},
	{"two-loops", Options{Loops: 2}, 2},
	{"blocking", boundLoops(), 2},
	{"no-loop", Options{Loops: -1}, -1},
}

// blockingMargin gives the runtime a P more than there are blocking loops for the test (duet-proxy's setting),
// until the test ends.
func blockingMargin(t *testing.T, o Options) {
	if !o.BlockingLoops {
		return
	}
	prev := goruntime.GOMAXPROCS(0)
	if prev <= o.Loops {
		goruntime.GOMAXPROCS(o.Loops + 1)
		t.Cleanup(func() { goruntime.GOMAXPROCS(prev) })
	}
}

// checkBlocking fails the test when loops that should block wait on the netpoller (or the reverse).
func checkBlocking(t *testing.T, s *Server, o Options) {
	t.Helper()
	for i, l := range s.loops {
		if l.blocking != o.BlockingLoops {
			t.Errorf("loop %d: blocking %v, want %v", i, l.blocking, o.BlockingLoops)
		}
	}
}

func loopProxy(t *testing.T, o Options, extra string) (*Server, string) {
	t.Helper()
	blockingMargin(t, o)
	b := startBackend(t, "s1")
	p := freePort(t)
	s := startProxyWith(t, defaults+extra+`
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port}, o)
	checkBlocking(t, s, o)
	return s, fmt.Sprintf("127.0.0.1:%d", p)
}

func handoffs(s *Server) int64 {
	n := int64(0)
	for _, l := range s.loops {
		n += l.handoffs.Load()
	}
	return n
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dialClient(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{c: c, r: bufio.NewReader(c)}
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response and returns its status and body.
func (c *client) answer(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestLoopSlowClient: a request head that arrives in pieces makes the loop's runner hand the loop over; the
// connection is served on its own goroutine, and other connections are served meanwhile.
func TestLoopSlowClient(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := loopProxy(t, tc.opts, "")
			slow := dialClient(t, addr)
			slow.send(t, "GET /a HTTP/1.1\r\nHo")
			time.Sleep(50 * time.Millisecond) // the first piece is read; the rest is not there
			fast := dialClient(t, addr)
			for i := range 20 {
				fast.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				if st, body := fast.answer(t); st != 200 || body != "s1\n" {
					t.Fatalf("fast request %d: %d %q", i, st, body)
				}
			}
			slow.send(t, "st: a\r\n\r\n")
			if st, body := slow.answer(t); st != 200 || body != "s1\n" {
				t.Fatalf("slow request: %d %q", st, body)
			}
			// and the slow connection goes on (back in its loop)
			slow.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if st, _ := slow.answer(t); st != 200 {
				t.Fatalf("next request on the slow connection: %d", st)
			}
			if tc.loops >= 0 && handoffs(s) == 0 {
				t.Error("no handoff: the partial head was not waited for off the loop")
			}
		})
	}
}

// TestLoopSlowServer: while one request waits for a slow server (in the loop, without a goroutine), the other
// connections are served; a response that comes in pieces is relayed whole.
func TestLoopSlowServer(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := loopProxy(t, tc.opts, "")
			slow := dialClient(t, addr)
			slow.send(t, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
			var order []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.ReadResponse(slow.r, nil)
				if err == nil {
					resp.Body.Close()
				}
				mu.Lock()
				order = append(order, "slow")
				mu.Unlock()
			}()
			fast := dialClient(t, addr)
			for range 5 {
				fast.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				if st, _ := fast.answer(t); st != 200 {
					t.Fatalf("fast request: %d", st)
				}
			}
			mu.Lock()
			order = append(order, "fast")
			mu.Unlock()
			wg.Wait()
			if strings.Join(order, ",") != "fast,slow" {
				t.Errorf("completion order %v: the slow server held up other connections", order)
			}
			drip := dialClient(t, addr)
			for range 2 {
				drip.send(t, "GET /drip HTTP/1.1\r\nHost: a\r\n\r\n")
				if st, body := drip.answer(t); st != 200 || body != "drip-done\n" {
					t.Fatalf("dripped response: %d %q", st, body)
				}
			}
		})
	}
}

// TestLoopPipelinedWhileBusy: a request that arrives while the previous one waits for its server is answered
// after it (the readiness seen while the connection was busy is kept for its next wait).
func TestLoopPipelinedWhileBusy(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := loopProxy(t, tc.opts, "")
			c := dialClient(t, addr)
			c.send(t, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
			time.Sleep(50 * time.Millisecond)
			c.send(t, "GET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
			if st, body := c.answer(t); st != 200 || body != "s1\n" {
				t.Fatalf("first: %d %q", st, body)
			}
			if st, body := c.answer(t); st != 200 || body != "hello" {
				t.Fatalf("second: %d %q", st, body)
			}
			// both in one segment
			c.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
			if st, body := c.answer(t); st != 200 || body != "s1\n" {
				t.Fatalf("third: %d %q", st, body)
			}
			if st, body := c.answer(t); st != 200 || body != "ok" {
				t.Fatalf("fourth: %d %q", st, body)
			}
		})
	}
}

// TestLoopServerTimeout: timeout server, kept by the loop while the request waits there, answers 504 and the
// client connection stays usable, as haproxy 2.6.
func TestLoopServerTimeout(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := loopProxy(t, tc.opts, "    timeout server 200ms\n")
			c := dialClient(t, addr)
			start := time.Now()
			c.send(t, "GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
			if st, _ := c.answer(t); st != 504 {
				t.Fatalf("status %d, want 504", st)
			}
			if d := time.Since(start); d < 190*time.Millisecond {
				t.Fatalf("504 after %v, before timeout server", d)
			}
			c.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if st, _ := c.answer(t); st != 200 {
				t.Fatalf("after the 504: %d", st)
			}
		})
	}
}

// TestLoopsUnderLoad: many connections with concurrent keep-alive requests, every answer right, with one loop,
// two, and none.
func TestLoopsUnderLoad(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := loopProxy(t, tc.opts, "")
			const conns, reqs = 20, 50
			errs := make(chan error, conns)
			var wg sync.WaitGroup
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", addr)
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(20 * time.Second))
					r := bufio.NewReader(c)
					for j := range reqs {
						body := fmt.Sprintf("c%dr%d", i, j)
						fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
						resp, err := http.ReadResponse(r, nil)
						if err != nil {
							errs <- fmt.Errorf("connection %d request %d: %w", i, j, err)
							return
						}
						got, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(got) != body {
							errs <- fmt.Errorf("connection %d request %d: %q, want %q", i, j, got, body)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			want := max(tc.loops, 0)
			if tc.loops == 0 {
				want = goruntime.GOMAXPROCS(0)
			}
			if len(s.loops) != want {
				t.Errorf("%d loops, want %d", len(s.loops), want)
			}
		})
	}
}

// tcpServer accepts connections and runs serve on each; it stops with the test.
func tcpServer(t *testing.T, serve func(c net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

func tcpProxy(t *testing.T, o Options, server int, timeouts string) (*Server, string) {
	t.Helper()
	blockingMargin(t, o)
	p := freePort(t)
	s := startProxyWith(t, defaults+`
listen t
    bind 127.0.0.1:{P}
    mode tcp
`+timeouts+`    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": server}, o)
	checkBlocking(t, s, o)
	return s, fmt.Sprintf("127.0.0.1:%d", p)
}

// TestTunnelBulkToSlowReader moves 24 MiB each way through TCP mode to slow readers: every byte in order, and in a
// loop the tunnel waits for the full side to drain (writable edges) instead of leaving the loop.
// With option splice-auto the bytes wait in the direction's kernel pipe instead.
func TestTunnelBulkToSlowReader(t *testing.T) {
	// more than the socket buffers on the way can hold: the proxy's own, autotuned up to 4 MB (sending) and 6 MB
	// (receiving), could otherwise take it all without the proxy finding a socket full (it did once with 8 MiB)
	const size = 24 << 20
	pattern := func(i int) byte { return byte(i*7 + i>>11) }
	for _, tc := range loopCases {
		for _, splice := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/splice=%v", tc.name, splice), func(t *testing.T) {
				srv := tcpServer(t, func(c net.Conn) {
					_ = c.SetDeadline(time.Now().Add(20 * time.Second))
					// small receive buffers at both ends, for the same reason
					_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
					// take the client's bytes (slowly at first), check them, then send ours
					time.Sleep(200 * time.Millisecond)
					if _, err := readPattern(c, size, pattern); err != nil {
						return // the client sees a short answer
					}
					_, _ = c.Write(patterned(size, pattern))
				})
				extra := ""
				if splice {
					extra = "    option splice-auto\n"
				}
				s, addr := tcpProxy(t, tc.opts, srv, extra)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
				wrote := make(chan struct{})
				go func() {
					defer close(wrote)
					_, _ = c.Write(patterned(size, pattern))
				}()
				<-wrote                            // the server took it all, slowly at first: our bytes filled its socket
				time.Sleep(200 * time.Millisecond) // the proxy fills our socket before we read
				if got, err := readPattern(c, size, pattern); err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
				if tc.loops >= 0 {
					// both directions found the other side full and waited in the loop for it to drain
					var in, out int64
					for _, l := range s.loops {
						in, out = in+l.fullIn.Load(), out+l.fullOut.Load()
					}
					if in == 0 || out == 0 {
						t.Errorf("full server socket %d times, full client socket %d times: want both", in, out)
					}
					if want := map[bool]int64{false: 0, true: 2}[splice]; s.splicedDirs.Load() != want {
						t.Errorf("%d directions spliced, want %d", s.splicedDirs.Load(), want)
					}
				}
			})
		}
	}
}

// patterned is n bytes of pattern.
func patterned(n int, pattern func(int) byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern(i)
	}
	return b
}

// readPattern reads n bytes of pattern from c: how many it read, and an error at the first byte that differs.
func readPattern(c net.Conn, n int, pattern func(int) byte) (int, error) {
	buf := make([]byte, 64<<10)
	got := 0
	for got < n {
		k, err := c.Read(buf)
		for i := range k {
			if buf[i] != pattern(got+i) {
				return got + i, fmt.Errorf("byte %d: %d, want %d", got+i, buf[i], pattern(got+i))
			}
		}
		got += k
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// TestTunnelTimeout: an idle TCP-mode connection is closed at timeout client / server; one that keeps talking
// is not.
func TestTunnelTimeout(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tcpServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) }) // echo
			_, addr := tcpProxy(t, tc.opts, srv, "    timeout client 300ms\n    timeout server 300ms\n")
			busy, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			idle, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			start := time.Now()
			buf := make([]byte, 16)
			for _, c := range []net.Conn{busy, idle} {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:4]); err != nil {
					t.Fatal(err)
				}
			}
			for range 8 { // 800 ms of traffic every 100 ms
				time.Sleep(100 * time.Millisecond)
				if _, err := busy.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(busy, buf[:4]); err != nil {
					t.Fatalf("busy connection: %v after %v", err, time.Since(start))
				}
			}
			if _, err := idle.Read(buf); err == nil || isTimeout(err) {
				t.Fatalf("idle connection still open after %v (err %v)", time.Since(start), err)
			}
		})
	}
}

// TestLoopEdgeCases: what an edge-triggered loop could miss. A request whose head fills the loop's first read
// exactly, with the next request behind it in the socket; and a client that sends its request and half-closes
// (the end of stream comes with the request's edge): the answer comes, then the close, without waiting for
// http-keep-alive.
func TestLoopEdgeCases(t *testing.T) {
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := loopProxy(t, tc.opts, "    timeout http-keep-alive 10s\n")
			head := "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
			exact := head + strings.Repeat("p", 512-len(head)-4) + "\r\n\r\n"
			if len(exact) != 512 {
				t.Fatalf("head of %d bytes", len(exact))
			}
			c := dialClient(t, addr)
			c.send(t, exact+"GET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nnext")
			if st, body := c.answer(t); st != 200 || body != "s1\n" {
				t.Fatalf("first: %d %q", st, body)
			}
			if st, body := c.answer(t); st != 200 || body != "next" {
				t.Fatalf("second: %d %q", st, body)
			}

			h := dialClient(t, addr)
			h.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			_ = h.c.(*net.TCPConn).CloseWrite()
			start := time.Now()
			if st, _ := h.answer(t); st != 200 {
				t.Fatalf("half-closed client: %d", st)
			}
			if _, err := h.r.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the close", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("closed after %v: the end of stream was not seen", d)
			}
		})
	}
}

// TestTunnelStopWithBytesWaiting stops the proxy while a tunnel holds bytes its client's full socket could not
// take: the tunnel finishes on goroutines, those bytes first, and the client gets every byte in order.
func TestTunnelStopWithBytesWaiting(t *testing.T) {
	for _, splice := range []bool{false, true} {
		t.Run(fmt.Sprintf("splice=%v", splice), func(t *testing.T) { testTunnelStopWithBytesWaiting(t, splice) })
	}
}

func testTunnelStopWithBytesWaiting(t *testing.T, splice bool) {
	const size = 8 << 20
	pattern := func(i int) byte { return byte(i*13 + i>>9) }
	srv := tcpServer(t, func(c net.Conn) {
		out := make([]byte, size)
		for i := range out {
			out[i] = pattern(i)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = c.Write(out)
	})
	o := boundLoops()
	extra := ""
	if splice {
		extra = "    option splice-response\n" // what waits is in the pipe
	}
	s, addr := tcpProxy(t, o, srv, extra)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_ = c.(*net.TCPConn).SetReadBuffer(64 << 10) // so that the proxy finds our socket full (see above)
	full := func() bool {
		for _, l := range s.loops {
			if l.fullOut.Load() > 0 {
				return true
			}
		}
		return false
	}
	for end := time.Now().Add(5 * time.Second); !full(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the client's socket never filled")
		}
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes: %v", len(got), err)
	}
	if len(got) != size {
		t.Fatalf("got %d bytes, want %d", len(got), size)
	}
	for i, b := range got {
		if b != pattern(i) {
			t.Fatalf("byte %d: %d, want %d", i, b, pattern(i))
		}
	}
	c.Close() // the tunnel's other direction ends too: the stop has nothing left to wait for
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if splice && s.splicedDirs.Load() != 1 {
		t.Errorf("%d directions spliced, want 1", s.splicedDirs.Load())
	}
	if n := s.pipes.Load(); n != 0 {
		t.Errorf("%d pipes open after the stop", n)
	}
}
