package server

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"
)

type ckResp struct {
	status, server, setCookie, cacheControl, gotCookie string
}

func askCookie(t *testing.T, port int, target, cookie string) ckResp {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := ""
	if cookie != "" {
		hdr = "Cookie: " + cookie + "\r\n"
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: a\r\n%sConnection: close\r\n\r\n", target, hdr)
	b, _ := io.ReadAll(c)
	head, _, _ := strings.Cut(string(b), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	var r ckResp
	if f := strings.Fields(lines[0]); len(f) > 1 {
		r.status = f[1]
	}
	var sc []string
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "x-server":
			r.server = v
		case "set-cookie":
			sc = append(sc, v)
		case "cache-control":
			r.cacheControl = strings.ToLower(v)
		case "x-got-cookie":
			r.gotCookie = v
		}
	}
	sort.Strings(sc)
	r.setCookie = strings.Join(sc, " | ")
	return r
}

// TestSideBySideCookies compares cookie persistence (insert indirect nocache, rewrite, prefix) with haproxy:
// status, serving server, Set-Cookie headers, Cache-Control and the cookie the server receives.
func TestSideBySideCookies(t *testing.T) {
	var be [3]*testBackend
	for i := range be {
		be[i] = startBackend(t, fmt.Sprintf("s%d", i+1))
	}
	servers := fmt.Sprintf("    server s1 127.0.0.1:%d cookie A\n    server s2 127.0.0.1:%d cookie B\n    server s3 127.0.0.1:%d cookie C disabled\n",
		be[0].port, be[1].port, be[2].port)
	body := func(p1, p2, p3 int) string {
		return fmt.Sprintf("listen ins\n    bind 127.0.0.1:%d\n    cookie SRV insert indirect nocache httponly\n%s"+
			"listen rw\n    bind 127.0.0.1:%d\n    cookie JSESSIONID rewrite\n%s"+
			"listen pfx\n    bind 127.0.0.1:%d\n    cookie JSESSIONID prefix\n%s", p1, servers, p2, servers, p3, servers)
	}
	head := "global\n    maxconn 200\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
	h1, h2, h3, d1, d2, d3 := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	haproxyProc(t, head+body(h1, h2, h3), []int{h1, h2, h3})
	startProxy(t, head+body(d1, d2, d3), nil)
	type q struct {
		lst            int
		target, cookie string
	}
	reqs := []q{
		{0, "/", ""}, {0, "/", ""}, {0, "/", "SRV=B"}, {0, "/", "SRV=B; lang=fr"}, {0, "/", "lang=fr; SRV=A"},
		{0, "/", "SRV=ZZ"}, {0, "/", "SRV=C"}, {0, "/etag", ""}, {0, "/etag", "SRV=A"},
		{1, "/setcookie", ""}, {1, "/setcookie", ""}, {1, "/", "JSESSIONID=B"}, {1, "/setcookie", "JSESSIONID=A"},
		{2, "/setcookie", ""}, {2, "/", "JSESSIONID=B~abc123"}, {2, "/", "JSESSIONID=A~xyz; other=1"}, {2, "/", "JSESSIONID=nothing"},
	}
	hp := []int{h1, h2, h3}
	dp := []int{d1, d2, d3}
	for i, r := range reqs {
		hr := askCookie(t, hp[r.lst], r.target, r.cookie)
		dr := askCookie(t, dp[r.lst], r.target, r.cookie)
		t.Logf("%d %s cookie=%q haproxy %+v", r.lst, r.target, r.cookie, hr)
		if hr != dr {
			t.Errorf("request %d (%d %s %q):\n haproxy %+v\n duet    %+v", i, r.lst, r.target, r.cookie, hr, dr)
		}
	}
	// stickiness over 100 requests
	for i := 0; i < 100; i++ {
		if got := askCookie(t, d1, "/", "SRV=B").server; got != "s2" {
			t.Fatalf("request %d with SRV=B went to %s", i, got)
		}
	}
}

// TestCookieAsHaproxyInPlace covers what the e2e differential test (resources/proxy/e2e) found against haproxy 2.6:
// insert mode without indirect does not set the cookie again when the request came with a valid one, a prefixed
// Set-Cookie keeps its place among the response's Set-Cookie lines, and each request Cookie line is rewritten in
// place rather than merged into one line at the end.
func TestCookieAsHaproxyInPlace(t *testing.T) {
	b := startBackend(t, "s1")
	pIns, pPfx := freePort(t), freePort(t)
	startProxy(t, defaults+`listen ins
    bind 127.0.0.1:{PI}
    cookie SRV insert
    server s1 127.0.0.1:{B} cookie c1
listen pfx
    bind 127.0.0.1:{PP}
    cookie JSESSIONID prefix
    server s1 127.0.0.1:{B} cookie c1
`, map[string]any{"PI": pIns, "PP": pPfx, "B": b.port})

	if r := askCookie(t, pIns, "/", ""); r.setCookie != "SRV=c1; path=/" {
		t.Errorf("insert, no cookie: Set-Cookie %q", r.setCookie)
	}
	if r := askCookie(t, pIns, "/", "SRV=zz"); r.setCookie != "SRV=c1; path=/" || r.gotCookie != "SRV=zz" {
		t.Errorf("insert, unknown cookie: Set-Cookie %q, server got %q", r.setCookie, r.gotCookie)
	}
	if r := askCookie(t, pIns, "/", "a=1; SRV=c1"); r.setCookie != "" || r.gotCookie != "a=1; SRV=c1" {
		t.Errorf("insert without indirect, valid cookie: Set-Cookie %q (want none), server got %q", r.setCookie, r.gotCookie)
	}

	_, resp := raw(t, fmt.Sprintf("127.0.0.1:%d", pPfx), "GET /setcookie-late HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	other, prefixed := strings.Index(resp, "\r\nSet-Cookie: other=1\r\n"), strings.Index(resp, "\r\nSet-Cookie: JSESSIONID=c1~abc123; Path=/\r\n")
	if other < 0 || prefixed < 0 || prefixed < other {
		t.Errorf("prefix: the rewritten Set-Cookie moved or is missing:\n%s", resp)
	}
	_, resp = raw(t, fmt.Sprintf("127.0.0.1:%d", pPfx), "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: JSESSIONID=c1~abc; b=2\r\nConnection: close\r\n\r\n")
	if !strings.Contains(resp, "\r\nX-Got-Cookie: a=1|JSESSIONID=abc; b=2\r\n") {
		t.Errorf("prefix: the request's Cookie lines were not rewritten in place:\n%s", resp)
	}
}
