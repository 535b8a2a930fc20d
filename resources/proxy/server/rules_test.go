package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/auth"
)

type l7Req struct {
	src, method, target, hdrs string
}

type l7Resp struct {
	status, location, server, tag, resp, xff, auth string
}

func askL7(t *testing.T, port int, r l7Req) l7Resp {
	t.Helper()
	d := net.Dialer{Timeout: 3 * time.Second}
	if r.src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(r.src)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		// a connection rejected at accept time may already be reset when connect returns
		if strings.Contains(err.Error(), "reset") {
			return l7Resp{}
		}
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	m := r.method
	if m == "" {
		m = "GET"
	}
	body := ""
	if m == "POST" || m == "PUT" {
		body = "Content-Length: 4\r\n\r\ndata"
	} else {
		body = "\r\n"
	}
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s", m, r.target, r.hdrs, body)
	b, _ := io.ReadAll(c)
	var out l7Resp
	head := string(b)
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	}
	lines := strings.Split(head, "\r\n")
	if f := strings.Fields(lines[0]); len(f) >= 2 {
		out.status = f[1]
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "location":
			out.location = v
		case "x-server":
			out.server = v
		case "x-got-tag":
			out.tag = v
		case "x-resp":
			out.resp = v
		case "www-authenticate":
			out.auth = v
		case "x-got-xff":
			out.xff = "present"
		}
	}
	return out
}

// TestSideBySideRules runs ACLs, http-request rules, redirects, use_backend and error files through haproxy and Duet
// with the same configuration and requires the same status, Location, serving server and forwarded headers.
func TestSideBySideRules(t *testing.T) {
	b1, b2, b3 := startBackend(t, "static"), startBackend(t, "dynamic"), startBackend(t, "upload")
	errfile, _ := filepath.Abs("../config/testdata/503.http")
	lst := filepath.Join(t.TempDir(), "bad.lst")
	if err := os.WriteFile(lst, []byte("# bad clients\n127.9.9.9\n127.8.0.0/16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadPort := deadPort(t)
	body := `
    acl is_php path_end -i .php
    acl is_upload method POST PUT
    acl is_upload path_beg /upload
    acl is_images path_beg /images
    acl bad_client src -f ` + lst + `
    acl admin path_beg /admin
    acl vhost_b hdr(host) -i b.example.com
    tcp-request connection reject if { src 127.5.0.0/16 }
    tcp-request content reject if { path_beg /tcpreject }
    http-response set-header X-Resp from-%[src]-%[res.hdr(x-server)]-%[status] if { src 127.3.0.0/16 } { status 200 }
    http-response deny if { res.hdr(x-server) upload } { src 127.2.0.0/16 }
    http-response del-header X-Got-XFF
    http-response deny if { src 127.4.0.0/16 }
    http-request deny if bad_client
    acl authed http_auth(admins)
    http-request auth realm Private\ area if { path_beg /private } !authed
    http-request deny if { path_beg /ops } !{ http_auth_group(admins) ops }
    http-request deny deny_status 429 if { path_beg /limited }
    http-request return status 200 content-type text/plain string healthy if { path /health }
    http-request set-header X-Tag %[src] if { hdr(x-want-tag) -m found }
    http-request del-header X-Secret
    http-request replace-header X-Rep ^v([0-9]+)-(.*)$ version-\2-\1
    http-request replace-path ^/legacy/(.*) /\1
    http-request tarpit if { path_beg /trap }
    http-request add-header X-Secret kept if { path /keep }
    http-request redirect location /login if admin !LOCALHOST
    redirect prefix /new drop-query if { path_beg /old }
    redirect scheme https code 301 if { hdr(host) -i secure.example.com }
    redirect location /moved code 308 if { path /gone }
    use_backend upload if is_upload
    use_backend dynamic if is_php or vhost_b
    use_backend down if { path_beg /down }
    default_backend static
backend static
    server s 127.0.0.1:` + fmt.Sprint(b1.port) + `
backend dynamic
    server s 127.0.0.1:` + fmt.Sprint(b2.port) + `
backend upload
    server s 127.0.0.1:` + fmt.Sprint(b3.port) + `
backend down
    errorfile 503 ` + errfile + `
    server s 127.0.0.1:` + fmt.Sprint(deadPort) + `
`
	hash, err := auth.Crypt("h4sh", "$6$DuetSalt")
	if err != nil {
		t.Fatal(err)
	}
	head := "global\n    maxconn 200\nuserlist admins\n    group ops users ops\n    user ops insecure-password s3cret\n    user dev password '" + hash + "'\n" +
		"defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout tarpit 100ms\n    retries 0\n"
	hp, dp := freePort(t), freePort(t)
	haproxyProc(t, head+fmt.Sprintf("frontend www\n    bind 127.0.0.1:%d\n", hp)+body, []int{hp})
	startProxy(t, head+fmt.Sprintf("frontend www\n    bind 127.0.0.1:%d\n", dp)+body, nil)
	reqs := []l7Req{
		{target: "/index.html", hdrs: "Host: a.example.com\r\n"},
		{target: "/page.PHP?x=1", hdrs: "Host: a.example.com\r\n"},
		{target: "/", hdrs: "Host: B.example.com\r\n"},
		{method: "POST", target: "/images/x.png", hdrs: "Host: a\r\n"},
		{method: "PUT", target: "/upload/y", hdrs: "Host: a\r\n"},
		{target: "/upload/z", hdrs: "Host: a\r\n"},
		{target: "/images/x.png", hdrs: "Host: a\r\n"},
		{src: "127.9.9.9", target: "/", hdrs: "Host: a\r\n"},
		{src: "127.8.1.2", target: "/page.php", hdrs: "Host: a\r\n"},
		{src: "127.7.1.2", target: "/", hdrs: "Host: a\r\n"},
		{target: "/limited/x", hdrs: "Host: a\r\n"},
		{target: "/health", hdrs: "Host: a\r\n"},
		{target: "/", hdrs: "Host: a\r\nX-Want-Tag: 1\r\n"},
		{target: "/", hdrs: "Host: a\r\nX-Secret: s3cr3t\r\n"},
		{target: "/keep", hdrs: "Host: a\r\nX-Secret: s3cr3t\r\n"},
		{target: "/admin/panel", hdrs: "Host: a\r\n"},
		{src: "127.0.0.1", target: "/admin/panel", hdrs: "Host: a\r\n"},
		{target: "/old/path?q=1", hdrs: "Host: a\r\n"},
		{target: "/x?y=z", hdrs: "Host: secure.example.com\r\n"},
		{target: "/gone", hdrs: "Host: a\r\n"},
		{target: "/down/x", hdrs: "Host: a\r\n"},
		{src: "127.5.1.1", target: "/", hdrs: "Host: a\r\n"},
		{target: "/private/x", hdrs: "Host: a\r\n"},
		{target: "/legacy/page.php", hdrs: "Host: a\r\n"},
		{target: "/legacy/x.html?y=1", hdrs: "Host: a\r\n"},
		{target: "/", hdrs: "Host: a\r\nX-Rep: v12-abc\r\n"},
		{target: "/", hdrs: "Host: a\r\nX-Rep: nomatch\r\n"},
		{target: "/trap/x", hdrs: "Host: a\r\n"},
		{target: "/private/x", hdrs: "Host: a\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ops:s3cret")) + "\r\n"},
		{target: "/private/x", hdrs: "Host: a\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ops:wrong")) + "\r\n"},
		{target: "/private/x", hdrs: "Host: a\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("dev:h4sh")) + "\r\n"},
		{target: "/ops/x", hdrs: "Host: a\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("dev:h4sh")) + "\r\n"},
		{target: "/ops/x", hdrs: "Host: a\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ops:s3cret")) + "\r\n"},
		{target: "/tcpreject/x", hdrs: "Host: a\r\n"},
		{src: "127.4.0.9", target: "/", hdrs: "Host: a\r\n"},
		{src: "127.3.0.9", target: "/", hdrs: "Host: a\r\n"},
		{src: "127.2.0.9", target: "/upload/x", hdrs: "Host: a\r\n"},
		{src: "127.2.0.9", target: "/", hdrs: "Host: a\r\n"},
	}
	for i, r := range reqs {
		h := askL7(t, hp, r)
		d := askL7(t, dp, r)
		t.Logf("%-40s haproxy %+v", r.method+" "+r.target, h)
		if h.tag != "" && strings.HasPrefix(h.tag, "127.") {
			// X-Tag carries the client address: both must put the same one
			if h.tag != d.tag {
				t.Errorf("request %d %+v: tag haproxy %q duet %q", i, r, h.tag, d.tag)
			}
		} else if h != d {
			t.Errorf("request %d %+v:\n haproxy %+v\n duet    %+v", i, r, h, d)
		}
	}
}
