package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSideBySideConverters runs converters in ACLs, log-format values, use_backend %[...] with a map file and
// balance hash through haproxy and Duet: same status, Location, serving server and forwarded X-Tag.
func TestSideBySideConverters(t *testing.T) {
	b1, b2, b3 := startBackend(t, "static"), startBackend(t, "dynamic"), startBackend(t, "upload")
	dir := t.TempDir()
	vhosts := filepath.Join(dir, "vhosts.map")
	if err := os.WriteFile(vhosts, []byte("# host backend\na.example static\nb.example dynamic\nup.example upload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefixes := filepath.Join(dir, "prefix.map")
	if err := os.WriteFile(prefixes, []byte("/api/ dynamic\n/api/upload/ upload\n/s static\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := `
    acl lower_host req.hdr(host),lower,host_only -m str deny.example
    acl big_path path,length gt 20
    acl net24 src,ipmask(24) -m ip 127.6.6.0
    acl word2 path,word(2,/) -m str secret
    http-request deny deny_status 403 if lower_host
    http-request deny deny_status 410 if big_path
    http-request deny deny_status 429 if net24
    http-request deny deny_status 404 if word2
    http-request redirect location %[path,regsub('/+','/','g')] code 301 if { path -m sub // }
    http-request set-header X-Tag %[path,field(2,/),upper]-%[req.hdr(x-n),add(3),mul(2)]-%[src,ipmask(16)]-%[req.hdr(host),lower,djb2]-%[url,url_dec,json]-%[req.hdr(x-key),lower,word(1,.)]
    use_backend hashed if { req.hdr(x-key) -m found }
    use_backend sticky if { req.hdr(x-sticky) -m found }
    use_backend %[path,map_beg(` + prefixes + `)] if { path,map_beg(` + prefixes + `) -m found }
    use_backend %[req.hdr(host),lower,host_only,map(` + vhosts + `,static)]
backend static
    server s 127.0.0.1:` + fmt.Sprint(b1.port) + `
backend dynamic
    server s 127.0.0.1:` + fmt.Sprint(b2.port) + `
backend upload
    server s 127.0.0.1:` + fmt.Sprint(b3.port) + `
backend sticky
    balance roundrobin
    stick-table type ip size 1k
    stick on src,ipmask(16)
    server s1 127.0.0.1:` + fmt.Sprint(b1.port) + `
    server s2 127.0.0.1:` + fmt.Sprint(b2.port) + `
backend hashed
    balance hash req.hdr(x-key),lower,word(1,.)
    server s1 127.0.0.1:` + fmt.Sprint(b1.port) + `
    server s2 127.0.0.1:` + fmt.Sprint(b2.port) + `
    server s3 127.0.0.1:` + fmt.Sprint(b3.port) + `
`
	head := "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    retries 0\n"
	fe := "frontend www\n    bind 127.0.0.1:%d\n"
	hp, dp := freePort(t), freePort(t)
	haproxyProc(t, head+fmt.Sprintf(fe, hp)+body, []int{hp})
	startProxy(t, head+fmt.Sprintf(fe, dp)+body, nil)
	reqs := []l7Req{
		{target: "/index.html", hdrs: "Host: A.Example:80\r\n"},
		{target: "/x", hdrs: "Host: B.EXAMPLE\r\n"},
		{target: "/x", hdrs: "Host: up.example\r\nX-N: 12abc\r\n"},
		{target: "/x", hdrs: "Host: unknown.example\r\n"},
		{target: "/api/v1", hdrs: "Host: a.example\r\n"},
		{target: "/api/upload/f", hdrs: "Host: a.example\r\n"},
		{target: "/static/f", hdrs: "Host: b.example\r\n"},
		{target: "/x", hdrs: "Host: Deny.Example:8080\r\n"},
		{target: "/a/very/long/path/beyond/twenty", hdrs: "Host: a.example\r\n"},
		{src: "127.6.6.9", target: "/x", hdrs: "Host: a.example\r\n"},
		{src: "127.6.7.9", target: "/x", hdrs: "Host: a.example\r\n"},
		{target: "/a/secret/x", hdrs: "Host: a.example\r\n"},
		{target: "//a///b//c", hdrs: "Host: a.example\r\n"},
		{target: "/p%41th/%22q%22?x=%2F", hdrs: "Host: a.example\r\nX-N: -7\r\n"},
	}
	for _, k := range []string{"Alpha.one", "beta.two", "GAMMA", "delta.x.y", "eps", "zeta", "eta.", "theta", "iota", "kappa"} {
		reqs = append(reqs, l7Req{target: "/k", hdrs: "Host: a.example\r\nX-Key: " + k + "\r\n"})
	}
	for _, src := range []string{"127.1.0.1", "127.1.5.5", "127.2.0.1", "127.1.9.9", "127.2.7.7", "127.3.0.1", "127.2.0.2", "127.3.3.3"} {
		reqs = append(reqs, l7Req{src: src, target: "/s", hdrs: "Host: a.example\r\nX-Sticky: 1\r\n"})
	}
	for i, r := range reqs {
		h := askL7(t, hp, r)
		d := askL7(t, dp, r)
		t.Logf("%-40s haproxy %+v", r.method+" "+r.target, h)
		if h != d {
			t.Errorf("request %d %+v:\n haproxy %+v\n duet    %+v", i, r, h, d)
		}
	}
}
