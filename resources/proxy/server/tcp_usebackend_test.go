package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTCPModeUseBackend: in a TCP frontend, use_backend with layer 4 conditions picks the backend before
// default_backend, as in haproxy (found while writing the e2e scenarios: TCP frontends only used default_backend).
func TestTCPModeUseBackend(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	port := freePort(t)
	startProxy(t, defaults+`frontend f
    bind 127.0.0.1:{P}
    mode tcp
    use_backend bb if { src 127.0.0.2 }
    default_backend ba
backend ba
    mode tcp
    server a 127.0.0.1:{A}
backend bb
    mode tcp
    server b 127.0.0.1:{B}
`, map[string]any{"P": port, "A": a.port, "B": b.port})
	for _, c := range []struct{ src, want string }{{"127.0.0.1", "a"}, {"127.0.0.2", "b"}, {"127.0.0.3", "a"}} {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src)}}
		conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, _ := io.ReadAll(conn)
		conn.Close()
		if !strings.Contains(string(resp), "\r\nX-Server: "+c.want+"\r\n") {
			t.Errorf("from %s: want server %s, got %q", c.src, c.want, resp)
		}
	}
}
