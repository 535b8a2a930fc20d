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
// (also after a 502 or 504 from the server; a redirect of a request with a body closes, a bodiless one does not)
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
    redirect location /there code 307 if { path_beg /redir }
    use_backend broken if { path_beg /broken }
    use_backend live if { path_beg /hang } or { path_beg /close }
backend broken
    server s 127.0.0.1:{DEAD}
backend live
    timeout server 300ms
    server s 127.0.0.1:{LIVE}
`, map[string]any{"P": port, "DEAD": deadPort(t), "LIVE": startBackend(t, "live").port})
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
		{"/hang", "", 504, "", false},  // server timeout
		{"/close", "", 502, "", false}, // server reset
		{"/redir", "", 307, "/there", false},
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
	// a denied request whose body has not arrived whole: answered at once, and the connection closes
	c3, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_ = c3.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c3, "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nonly the start")
	resp3, err := http.ReadResponse(bufio.NewReader(c3), nil)
	if err != nil || resp3.StatusCode != 403 || !resp3.Close {
		t.Errorf("deny of a request whose body is still coming: %v %v", resp3, err)
	}
	// a redirect of a request with a body: "Connection: close", as haproxy
	c2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c2, "POST /redir HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nform=1")
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != 307 || !resp.Close {
		t.Errorf("redirect of a POST with a body: %v %v", resp, err)
	}
}
