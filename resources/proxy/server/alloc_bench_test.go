package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
)

// rawBackend answers every request head with a fixed response and allocates nothing per request, so that the
// allocations a benchmark reports are the proxy's.
func rawBackend(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nX-Server: s1\r\n\r\ns1\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 {
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// BenchmarkKeepAliveRequest: one keep-alive client, one request at a time through the proxy (allocations per
// request; the CPU figures that matter are scripts/bench/proxy.sh's).
func BenchmarkKeepAliveRequest(b *testing.B) {
	bp := rawBackend(b)
	p := freePort(b)
	startProxy(b, defaults+`
listen web
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": bp})
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReader(c)
	want := []byte("s1\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(line, []byte("Content-Length: ")) {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(line[16:])))
			}
			if len(line) <= 2 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil || !bytes.Equal(body, want) {
			b.Fatal(fmt.Sprint("body ", string(body), err))
		}
	}
}
