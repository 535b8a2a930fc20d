package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestKeepAliveAfterDenyAndErrors: haproxy 2.6 keeps the client connection open after an http-request deny, an
// errorloc answer and a 503 (no server), and closes only when the client asked to, saying "Connection: close"
// (found by the e2e differential test, resources/proxy/e2e; haproxy's answers there are the reference). Before,
// Duet closed after these answers, and after an errorloc answer without announcing it.
func TestKeepAliveAfterDenyAndErrors(t *testing.T) {
	port := freePort(t)
	startProxy(t, defaults+`frontend f
    bind 127.0.0.1:{P}
    http-request deny if { path_beg /deny }
    http-request deny deny_status 429 if { path_beg /limit }
    http-request return status 200 content-type text/plain string ok if { path_beg /ok }
    errorloc 503 http://x.example/
    errorloc 429 http://y.example/
    use_backend broken if { path_beg /broken }
backend broken
    server s 127.0.0.1:{DEAD}
`, map[string]any{"P": port, "DEAD": deadPort(t)})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for _, st := range []struct {
		path, body string
		status     int
		loc        string
		close      bool
	}{
		{"/deny", "", 403, "", false},
		{"/ok", "", 200, "", false},
		{"/limit", "", 302, "http://y.example/", false},
		{"/deny", "posted body", 403, "", false},
		{"/broken", "", 302, "http://x.example/", false},
		{"/nothing", "", 302, "http://x.example/", false}, // no backend: 503, the frontend's errorloc
		{"/ok", "", 200, "", false},
		{"/limit", "", 302, "http://y.example/", true},
	} {
		req := "GET " + st.path + " HTTP/1.1\r\nHost: a\r\n"
		if st.body != "" {
			req = fmt.Sprintf("POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n", st.path, len(st.body))
		}
		if st.close {
			req += "Connection: close\r\n"
		}
		if _, err := c.Write([]byte(req + "\r\n" + st.body)); err != nil {
			t.Fatalf("%s: write: %v", st.path, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: the connection did not stay open: %v", st.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != st.status || resp.Header.Get("Location") != st.loc || resp.Close != st.close {
			t.Errorf("%s: %d location %q close %v, want %d %q %v", st.path, resp.StatusCode, resp.Header.Get("Location"), resp.Close, st.status, st.loc, st.close)
		}
	}
	if n, err := br.ReadByte(); err == nil {
		t.Errorf("data after the closing answer: %q", n)
	}
}
