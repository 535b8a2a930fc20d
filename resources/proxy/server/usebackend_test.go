package server

import (
	"fmt"
	"strings"
	"testing"
)

// TestDynamicUseBackend routes by "use_backend %[req.hdr(host)]" as haproxy 2.6 does (checked by the e2e
// scenario virtual-hosts-dynamic): the rendered name picks the backend; a name that is no backend stops the
// use_backend rules and default_backend applies; a false condition goes on to the next rule.
func TestDynamicUseBackend(t *testing.T) {
	a, b, d := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "def")
	port := freePort(t)
	startProxy(t, defaults+`frontend f
    bind 127.0.0.1:{P}
    use_backend %[req.hdr(host)] if { hdr(host) -m found }
    use_backend www.b.example if { hdr(x-b) -m found }
    default_backend def
backend www.a.example
    server a 127.0.0.1:{A}
backend www.b.example
    server b 127.0.0.1:{B}
backend def
    server d 127.0.0.1:{D}
`, map[string]any{"P": port, "A": a.port, "B": b.port, "D": d.port})
	for _, c := range []struct{ host, extra, want string }{
		{"Host: www.a.example\r\n", "", "a"},
		{"Host: www.b.example\r\n", "", "b"},
		{"Host: WWW.B.EXAMPLE\r\n", "", "def"},
		{"Host: www.c.example\r\n", "X-B: 1\r\n", "def"}, // no such backend: the rules stop there
		{"", "X-B: 1\r\n", "b"},                          // condition false: the next rule
	} {
		req := "GET / HTTP/1.0\r\n" + c.host + c.extra + "\r\n"
		_, resp := raw(t, fmt.Sprintf("127.0.0.1:%d", port), req)
		if !strings.Contains(resp, "\r\nX-Server: "+c.want+"\r\n") {
			t.Errorf("%q: want server %s, got\n%s", req, c.want, resp)
		}
	}
}
