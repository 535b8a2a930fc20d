package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// TestIdleConnectionsPark: idle keep-alive connections give their goroutine back (they wait in the parker), wake
// up for their next request with the same answers, and are closed by http-keep-alive while parked.
func TestIdleConnectionsPark(t *testing.T) {
	if os.Getenv("DUET_IDLE_HEAP") != "" {
		goruntime.MemProfileRate = 1 // a heap profile of what parked connections hold (profiling aid)
	}
	b := startBackend(t, "s1")
	p := freePort(t)
	s := startProxy(t, defaults+`
    timeout http-keep-alive 1500ms
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port})
	if len(s.loops) == 0 {
		t.Fatal("no event loop on Linux")
	}
	const n = 200
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	request := func(i int) {
		t.Helper()
		if _, err := fmt.Fprintf(conns[i], "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(readers[i], nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Server") != "s1" {
			t.Fatalf("connection %d: status %d server %q", i, resp.StatusCode, resp.Header.Get("X-Server"))
		}
	}
	before := goruntime.NumGoroutine()
	for i := range conns {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		request(i)
	}
	eventually(t, "every idle connection parked", func() bool { return s.parkedCount() == n })
	// the backend's idle connections keep goroutines of their own; the proxy's client side keeps none
	if g := goruntime.NumGoroutine() - before; g > n+20 {
		t.Errorf("%d more goroutines with %d parked connections", g, n)
	}
	if path := os.Getenv("DUET_IDLE_HEAP"); path != "" {
		goruntime.GC()
		f, _ := os.Create(path)
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	for i := range conns { // second request on every parked connection
		request(i)
	}
	eventually(t, "parked again", func() bool { return s.parkedCount() == n })
	// http-keep-alive ends parked connections: the client sees the close
	_ = conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readers[0].ReadByte(); err == nil {
		t.Fatal("parked connection not closed by its keep-alive timeout")
	}
	eventually(t, "parker empty", func() bool { return s.parkedCount() == 0 })
}

// TestParkedFirstRequestTimeout: a connection that never sends a request is parked too, and gets haproxy's 408
// at http-request.
func TestParkedFirstRequestTimeout(t *testing.T) {
	b := startBackend(t, "s1")
	p := freePort(t)
	s := startProxy(t, defaults+`
    timeout http-request 300ms
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, "silent connection parked", func() bool { return s.parkedCount() == 1 })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 408 {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
}
