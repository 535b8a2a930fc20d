package server

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// TestGarbageBothWays sends random bytes as requests and lets a backend answer random bytes: the proxy answers
// errors, never panics, and still serves a normal request afterwards.
func TestGarbageBothWays(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	junk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	// a backend answering garbage (sometimes with a plausible status line)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			reply := junk(1 + rng.IntN(300))
			if rng.IntN(2) == 0 {
				reply = append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 9999\r\nTransfer-Encoding: chunked\r\n\r\n"), reply...)
			}
			mu.Unlock()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write(reply)
			c.Close()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()
	good := startBackend(t, "s1")
	p, pg := freePort(t), freePort(t)
	s := startProxy(t, defaults+`
    timeout http-request 500ms
    timeout server 500ms
listen junkbe
    bind 127.0.0.1:{PG}
    server j 127.0.0.1:{J}
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "PG": pg, "J": ln.Addr().(*net.TCPAddr).Port, "B": good.port})
	for i := 0; i < 40; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		mu.Lock()
		payload := junk(1 + rng.IntN(2000))
		if i%3 == 0 {
			payload = append([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), payload...)
		}
		mu.Unlock()
		_, _ = c.Write(payload)
		_ = c.(*net.TCPConn).CloseWrite() // no more bytes: the proxy must not wait for its timeout
		_, _ = io.ReadAll(c)
		c.Close()
	}
	for i := 0; i < 10; i++ {
		line, _ := raw(t, fmt.Sprintf("127.0.0.1:%d", pg), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if line != "" && line != "HTTP/1.1 502 Bad Gateway" && line != "HTTP/1.1 200 OK" {
			t.Errorf("garbage backend answered through the proxy as %q", line)
		}
	}
	if code, body, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p)); code != 200 || body != "s1" {
		t.Errorf("after garbage: %d %q", code, body)
	}
	if err := s.Healthy(); err != nil {
		t.Errorf("healthy: %v", err)
	}
}
