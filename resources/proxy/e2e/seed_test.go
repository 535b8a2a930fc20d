package e2e

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/internal/nettest"
)

// step is one request's outcome in one implementation.
type step struct {
	label      string
	ans        answer
	withCookie bool // compare Set-Cookie too
	withBody   bool // compare the body too (pages that echo what the server received)
}

// recorder sends the scenario's requests for one implementation, records the answers and checks them against the
// scenario's expectations.
type recorder struct {
	t     *testing.T
	e     *env
	kind  string
	steps []step
}

// want is a partial expectation: zero fields are not checked.
type want struct {
	status   int
	server   string // "-" means none (the proxy answered itself)
	location string
}

func (r *recorder) do(label string, q req, w want) answer {
	r.t.Helper()
	a, err := send(q)
	if err != nil {
		r.t.Fatalf("%s: %s: %v", r.kind, label, err)
	}
	r.steps = append(r.steps, step{label: label, ans: a})
	if w.status != 0 && a.Status != w.status {
		r.t.Errorf("%s: %s: status %d, want %d (%s)", r.kind, label, a.Status, w.status, a)
	}
	switch {
	case w.server == "-" && a.Server != "":
		r.t.Errorf("%s: %s: served by %q, want the proxy itself", r.kind, label, a.Server)
	case w.server != "" && w.server != "-" && a.Server != w.server:
		r.t.Errorf("%s: %s: served by %q, want %q (%s)", r.kind, label, a.Server, w.server, a)
	}
	if w.location != "" && a.Location != w.location {
		r.t.Errorf("%s: %s: Location %q, want %q", r.kind, label, a.Location, w.location)
	}
	return a
}

// doMany sends rs on one keep-alive connection and records every answer.
func (r *recorder) doMany(label string, from *nettest.Host, rs []req, ws []want) {
	r.t.Helper()
	as, err := sendKeepAlive(from, rs)
	if err != nil {
		r.t.Fatalf("%s: %s: %v", r.kind, label, err)
	}
	for i, a := range as {
		l := fmt.Sprintf("%s #%d %s", label, i, rs[i].target)
		r.steps = append(r.steps, step{label: l, ans: a})
		if w := ws[i]; (w.status != 0 && a.Status != w.status) || (w.server != "" && a.Server != w.server) {
			r.t.Errorf("%s: %s: %s, want %d from %q", r.kind, l, a, w.status, w.server)
		}
	}
}

// curlPut uploads data with curl -T from client1 (curl sends Expect: 100-continue) and records the answer.
func (r *recorder) curlPut(label, name string, data []byte) {
	r.t.Helper()
	f := filepath.Join(r.t.TempDir(), name)
	if err := os.WriteFile(f, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	out, err := r.e.client1.Try("curl", "-s", "-o", "/dev/null", "--max-time", "30", "-T", f,
		"-w", "%{http_code} %header{x-server}", "http://"+proxyIP+"/upload.php?"+name)
	if err != nil {
		r.t.Fatalf("%s: %s: %v %s", r.kind, label, err, out)
	}
	var a answer
	if _, err := fmt.Sscanf(out, "%d %s", &a.Status, &a.Server); err != nil {
		r.t.Fatalf("%s: %s: curl printed %q", r.kind, label, out)
	}
	r.steps = append(r.steps, step{label: label, ans: a})
	if a.Status != 201 || a.Server != "web2" {
		r.t.Errorf("%s: %s: %s, want 201 from web2", r.kind, label, a)
	}
}

// cookieStep marks the last step as one whose Set-Cookie is compared too.
func (r *recorder) cookieStep() { r.steps[len(r.steps)-1].withCookie = true }

// bodyStep marks the last step as one whose body and Set-Cookie are compared too.
func (r *recorder) bodyStep() {
	r.steps[len(r.steps)-1].withBody = true
	r.steps[len(r.steps)-1].withCookie = true
}

type scenario struct {
	name    string
	cfg     string
	listens []string
	run     func(r *recorder)
}

const head = `global
    maxconn 200
defaults
    mode http
    retries 1
    timeout connect 3s
    timeout client 30s
    timeout server 30s
`

// differential runs sc's configuration through haproxy, then through duet-proxy, with the same requests, and
// requires the same status, Location and serving server for every request.
func (e *env) differential(t *testing.T, sc scenario) {
	results := map[string][]step{}
	for _, kind := range []string{"haproxy", "duet"} {
		p := e.startProxy(t, kind, sc.cfg, sc.listens)
		r := &recorder{t: t, e: e, kind: kind}
		sc.run(r)
		p.stop()
		results[kind] = r.steps
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s output:\n%s", kind, b)
		}
	}
	h, d := results["haproxy"], results["duet"]
	if len(h) != len(d) {
		t.Fatalf("haproxy answered %d requests, duet %d", len(h), len(d))
	}
	diffs := 0
	for i := range h {
		a, b := h[i].ans, d[i].ans
		same := a.Status == b.Status && a.Location == b.Location && a.Server == b.Server
		if h[i].withCookie && (a.Cookie != b.Cookie || a.Cache != b.Cache) {
			same = false
		}
		if h[i].withBody && a.Body != b.Body {
			t.Errorf("request %d (%s): what the server received differs:\nhaproxy %q\nduet    %q", i, h[i].label, a.Body, b.Body)
		}
		if a.own() != b.own() {
			t.Errorf("request %d (%s): the proxy's own answer differs:\nhaproxy %q\nduet    %q", i, h[i].label, a.own(), b.own())
		}
		if !same {
			diffs++
			if diffs <= 20 {
				t.Errorf("request %d (%s): haproxy %s, duet %s", i, h[i].label, a, b)
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d requests differ", diffs, len(h))
	}
	t.Logf("%d requests, %d differences", len(h), diffs)
}

// TestSeedScenarios is issue 5 part 4: the seed's scenarios (sections 八 to 十 and the persistence and virtual-host
// cases) in network namespaces with real Apache/PHP servers, each a differential test against haproxy.
func TestSeedScenarios(t *testing.T) {
	e := newEnv(t)
	c1, c2 := e.client1, e.client2
	web := "frontend web\n    bind " + proxyIP + ":80\n"
	static := "backend static\n    server web1 " + web1IP + ":80\n"
	dynamic := "backend dynamic\n    server web2 " + web2IP + ":80\n"
	listens := []string{proxyIP + ":80"}

	scenarios := []scenario{
		{
			// 八: a client denied by its source address gets 403.
			name: "deny-by-source",
			cfg: head + web + "    acl blocked src " + client2IP + "\n    http-request deny if blocked\n    default_backend static\n" +
				static,
			listens: listens,
			run: func(r *recorder) {
				for i := 0; i < 3; i++ {
					r.do("allowed client /", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
					r.do("denied client /", req{from: c2, target: "/"}, want{status: 403, server: "-"})
				}
				r.do("allowed client /index.html", req{from: c1, target: "/index.html"}, want{status: 200, server: "web1"})
				r.do("denied client /index.html", req{from: c2, target: "/index.html"}, want{status: 403, server: "-"})
				r.do("denied client POST", req{from: c2, method: "POST", target: "/upload.php", body: []byte("x")}, want{status: 403, server: "-"})
				r.do("allowed client missing page", req{from: c1, target: "/nothing.html"}, want{status: 404, server: "web1"})
				r.doMany("denied client keep-alive", c2, []req{{target: "/"}, {target: "/index.html"}}, []want{{status: 403}, {}})
				r.doMany("denied client keep-alive after a POST", c2, []req{{method: "POST", target: "/upload.php", body: bytes.Repeat([]byte("x"), 3000)}, {target: "/"}},
					[]want{{status: 403}, {}})
				r.doMany("denied client keep-alive after a chunked POST", c2, []req{{method: "POST", target: "/upload.php", body: bytes.Repeat([]byte("y"), 5000), chunked: true}, {target: "/"}},
					[]want{{status: 403}, {}})
				r.doMany("allowed client keep-alive with a 404", c1, []req{{target: "/nothing"}, {target: "/"}, {target: "/index.html"}},
					[]want{{status: 404, server: "web1"}, {status: 200, server: "web1"}, {status: 200, server: "web1"}})
			},
		},
		{
			// 九: denied or failing requests are redirected to the proxy node's own page on port 8080.
			name: "errorloc-to-8080",
			cfg: head + web + "    acl blocked src " + client2IP + "\n    http-request deny if blocked\n" +
				"    errorloc 403 http://" + proxyIP + ":8080/\n" +
				"    errorloc 503 http://" + proxyIP + ":8080/\n" +
				"    use_backend broken if { path_beg /broken }\n    default_backend static\n" +
				static + "backend broken\n    server gone " + web1IP + ":81\n",
			listens: listens,
			run: func(r *recorder) {
				loc := "http://" + proxyIP + ":8080/"
				r.do("allowed client /", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
				a := r.do("denied client /", req{from: c2, target: "/"}, want{status: 302, server: "-", location: loc})
				r.do("denied client follows Location", req{from: c2, target: a.Location}, want{status: 200, server: "proxy"})
				r.do("denied client /index.php?x=1", req{from: c2, target: "/index.php?x=1"}, want{status: 302, server: "-", location: loc})
				a = r.do("failing backend", req{from: c1, target: "/broken/page"}, want{status: 302, server: "-", location: loc})
				r.do("failing backend follows Location", req{from: c1, target: a.Location}, want{status: 200, server: "proxy"})
				r.do("a server's own 404 passes", req{from: c1, target: "/nothing.html"}, want{status: 404, server: "web1"})
				r.doMany("keep-alive: failing then fine", c1, []req{{target: "/broken/x"}, {target: "/"}}, []want{{status: 302}, {}})
				r.doMany("keep-alive: denied", c2, []req{{target: "/"}, {target: "/"}}, []want{{status: 302}, {}})
			},
		},
		{
			// 九, more forms: redirect rules to the node's page, deny statuses mapped by errorloc/errorloc303, a
			// server timeout mapped by a backend's errorloc, a server's own 503 passed through.
			name: "redirects-and-error-pages",
			cfg: head + web + "    acl blocked src " + client2IP + "\n" +
				"    http-request redirect location http://" + proxyIP + ":8080/?from=%[src] if { path_beg /tagged }\n" +
				"    http-request deny deny_status 429 if blocked { path_beg /limited }\n" +
				"    http-request deny if blocked\n" +
				"    redirect prefix http://" + proxyIP + ":8080 code 301 if { path_beg /old }\n" +
				"    redirect location http://" + proxyIP + ":8080/moved.html code 307 drop-query if { path_beg /move }\n" +
				"    errorloc303 403 http://" + proxyIP + ":8080/denied.html\n" +
				"    errorloc 429 http://" + proxyIP + ":8080/limited.html\n" +
				"    use_backend slow if { path_beg /slow }\n    default_backend static\n" +
				static + "backend slow\n    timeout server 1s\n    errorloc 504 http://" + proxyIP + ":8080/timeout.html\n" +
				"    server web2 " + web2IP + ":80\n",
			listens: listens,
			run: func(r *recorder) {
				node := "http://" + proxyIP + ":8080"
				r.do("old prefix", req{from: c1, target: "/old/page?x=1"}, want{status: 301, server: "-", location: node + "/old/page?x=1"})
				r.do("moved drop-query", req{from: c1, target: "/move/me?x=1"}, want{status: 307, server: "-", location: node + "/moved.html"})
				r.do("tagged with src", req{from: c1, target: "/tagged"}, want{status: 302, server: "-", location: node + "/?from=" + client1IP})
				r.do("tagged from the denied client", req{from: c2, target: "/tagged"}, want{status: 302, server: "-", location: node + "/?from=" + client2IP})
				r.do("denied 429 via errorloc", req{from: c2, target: "/limited/x"}, want{status: 302, server: "-", location: node + "/limited.html"})
				r.do("denied 403 via errorloc303", req{from: c2, target: "/"}, want{status: 303, server: "-", location: node + "/denied.html"})
				r.do("denied client /old", req{from: c2, target: "/old/page"}, want{status: 303, server: "-", location: node + "/denied.html"})
				r.do("allowed /", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
				r.do("server's own 503", req{from: c1, target: "/fail.php"}, want{status: 503, server: "web1"})
				r.do("server timeout via backend errorloc", req{from: c1, target: "/slow.php"}, want{status: 302, server: "-", location: node + "/timeout.html"})
				r.do("HEAD denied", req{from: c2, method: "HEAD", target: "/"}, want{status: 303, server: "-", location: node + "/denied.html"})
				r.doMany("keep-alive: timeout then a page", c1, []req{{target: "/slow.php"}, {target: "/"}}, []want{{status: 302}, {}})
				r.doMany("keep-alive: redirect then a page", c1, []req{{target: "/old/x"}, {method: "POST", target: "/move/y", body: []byte("form=1")}, {target: "/"}},
					[]want{{status: 301}, {status: 307}, {}})
			},
		},
		{
			// 八/九 with the other forms: the denied networks from an -f file, an errorfile for 403, a backend whose
			// only server is down (503 by errorloc), the stats page behind stats auth.
			name: "deny-file-errorfile-nosrv",
			cfg: head + web + "    acl blocked src -f " + e.dir + "/blocked.lst\n    http-request deny if blocked\n" +
				"    errorfile 403 " + e.dir + "/403.http\n    errorloc 503 http://" + proxyIP + ":8080/down.html\n" +
				"    use_backend nosrv if { path_beg /nosrv }\n    default_backend static\n" + static +
				"backend nosrv\n    server gone " + web2IP + ":81 check inter 300 fall 1 rise 1\n" +
				"listen stats\n    bind " + proxyIP + ":8404\n    stats enable\n    stats uri /stats\n" +
				"listen stats-auth\n    bind " + proxyIP + ":8405\n    stats enable\n    stats uri /admin\n    stats realm Duet\\ test\n    stats auth admin:secret\n",
			listens: []string{proxyIP + ":80", proxyIP + ":8404", proxyIP + ":8405"},
			run: func(r *recorder) {
				r.do("allowed", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
				r.do("denied by the file: errorfile", req{from: c2, target: "/"}, want{status: 403, server: "-"})
				waitStats(r, "nosrv", "gone", "DOWN")
				r.do("no server: errorloc", req{from: c1, target: "/nosrv/x"}, want{status: 302, server: "-", location: "http://" + proxyIP + ":8080/down.html"})
				r.do("stats without credentials", req{from: c1, target: "http://" + proxyIP + ":8405/admin"}, want{status: 401, server: "-"})
				r.do("stats with wrong credentials", req{from: c1, target: "http://" + proxyIP + ":8405/admin", hdrs: []string{"Authorization: Basic YWRtaW46bm8="}}, want{status: 401, server: "-"})
				r.do("stats csv with credentials", req{from: c1, target: "http://" + proxyIP + ":8405/admin;csv", hdrs: []string{"Authorization: Basic YWRtaW46c2VjcmV0"}}, want{status: 200, server: "-"})
				r.steps[len(r.steps)-1].ans.Body = "" // counters differ between the two processes
			},
		},
		{
			// Virtual hosts chosen by a dynamic use_backend on the Host header, with a default for unknown hosts.
			name: "virtual-hosts-dynamic",
			cfg: head + web + "    use_backend %[req.hdr(host)] if { hdr(host) -m found }\n    use_backend site_b if { hdr(x-b) -m found }\n    default_backend static\n" + static +
				"backend site_b\n    server web2 " + web2IP + ":80\n" +
				"backend www.a.example\n    server web1 " + web1IP + ":80\nbackend www.b.example\n    server web2 " + web2IP + ":80\n",
			listens: listens,
			run: func(r *recorder) {
				r.do("www.a.example", req{from: c1, target: "/", host: "www.a.example"}, want{status: 200, server: "web1"})
				r.do("www.b.example", req{from: c1, target: "/", host: "www.b.example"}, want{status: 200, server: "web2"})
				r.do("unknown host", req{from: c1, target: "/", host: "www.c.example"}, want{status: 200, server: "web1"})
				r.do("case differs", req{from: c1, target: "/", host: "WWW.B.EXAMPLE"}, want{})
				r.do("with port", req{from: c1, target: "/", host: "www.b.example:80"}, want{})
				r.do("unknown name stops the rules", req{from: c1, target: "/", host: "www.c.example", hdrs: []string{"X-B: 1"}}, want{status: 200, server: "web1"})
				r.do("no Host: the next rule", req{from: c1, target: "/", host: "-", hdrs: []string{"X-B: 1"}}, want{status: 200, server: "web2"})
				r.doMany("keep-alive across hosts", c1, []req{{target: "/", host: "www.b.example"}, {target: "/", host: "www.a.example"}, {target: "/", host: "www.b.example"}},
					[]want{{status: 200, server: "web2"}, {status: 200, server: "web1"}, {status: 200, server: "web2"}})
			},
		},
		{
			// 七: .php goes to the dynamic server, everything else to the static one.
			name: "php-to-dynamic",
			cfg: head + web + "    acl php path_end -i .php\n    use_backend dynamic if php\n    default_backend static\n" +
				static + dynamic,
			listens: listens,
			run: func(r *recorder) {
				for i := 0; i < 3; i++ {
					r.do("/", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
					a := r.do("/index.php", req{from: c1, target: "/index.php"}, want{status: 200, server: "web2"})
					if !strings.HasPrefix(a.Body, "dynamic page of web2") {
						r.t.Errorf("%s: /index.php was not run by PHP: %q", r.kind, a.Body)
					}
				}
				r.do("/info.php?a=b", req{from: c1, target: "/info.php?a=b"}, want{status: 200, server: "web2"})
				r.do("/INFO.PHP (-i)", req{from: c1, target: "/INFO.PHP"}, want{status: 404, server: "web2"})
				r.do("/index.php.bak", req{from: c1, target: "/index.php.bak"}, want{status: 404, server: "web1"})
				r.do("/index.html", req{from: c1, target: "/index.html"}, want{status: 200, server: "web1"})
				r.do("/images/none.png", req{from: c1, target: "/images/none.png"}, want{status: 404, server: "web1"})
				var ka []req
				var kw []want
				for i := 0; i < 6; i++ {
					ka = append(ka, req{target: "/"}, req{target: "/index.php"})
					kw = append(kw, want{status: 200, server: "web1"}, want{status: 200, server: "web2"})
				}
				r.doMany("one keep-alive connection", c1, ka, kw)
				as, err := sendPipelined(c1, ka)
				if err != nil {
					r.t.Fatalf("%s: pipelined: %v", r.kind, err)
				}
				for i, a := range as {
					r.steps = append(r.steps, step{label: fmt.Sprintf("pipelined #%d %s", i, ka[i].target), ans: a})
					if a.Status != kw[i].status || a.Server != kw[i].server {
						r.t.Errorf("%s: pipelined #%d: %s, want %d from %s", r.kind, i, a, kw[i].status, kw[i].server)
					}
				}
				r.do("POST /index.php", req{from: c2, method: "POST", target: "/index.php", body: []byte("a=1"),
					ctype: "application/x-www-form-urlencoded"}, want{status: 200, server: "web2"})
			},
		},
		{
			// 十: uploads (POST, PUT, /upload) go to the writing server, reads of /images to the other; an uploaded
			// image is read back.
			name: "read-write-split",
			cfg: head + web + "    acl write method POST PUT\n    acl upload path_beg /upload\n    acl images path_beg /images\n" +
				"    use_backend writer if write or upload\n    use_backend reader if images\n    default_backend reader\n" +
				"backend reader\n    server web1 " + web1IP + ":80\nbackend writer\n    server web2 " + web2IP + ":80\n",
			listens: listens,
			run: func(r *recorder) {
				clearDir(r.t, e.shared)
				img := pngBytes(r.kind)
				body, ctype := multipartFile(r.t, "logo.png", img)
				r.do("read before upload", req{from: c1, target: "/images/logo.png"}, want{status: 404, server: "web1"})
				r.do("GET /upload/", req{from: c1, target: "/upload/"}, want{status: 200, server: "web2"})
				r.do("GET /upload.php (no file)", req{from: c1, target: "/upload.php"}, want{status: 400, server: "web2"})
				r.do("POST upload", req{from: c1, method: "POST", target: "/upload.php", body: body, ctype: ctype}, want{status: 201, server: "web2"})
				a := r.do("read the uploaded image", req{from: c2, target: "/images/logo.png"}, want{status: 200, server: "web1"})
				if a.Body != string(img) {
					r.t.Errorf("%s: the uploaded image read back differs: %d bytes, want %d", r.kind, len(a.Body), len(img))
				}
				r.do("PUT upload", req{from: c2, method: "PUT", target: "/upload.php?put.png", body: img, ctype: "image/png"}, want{status: 201, server: "web2"})
				a = r.do("read the PUT image", req{from: c1, target: "/images/put.png"}, want{status: 200, server: "web1"})
				if a.Body != string(img) {
					r.t.Errorf("%s: the PUT image read back differs", r.kind)
				}
				big := bytes.Repeat(img, 400) // 1.2 MB: streamed bodies
				body, ctype = multipartFile(r.t, "big.png", big)
				r.do("POST a large upload", req{from: c2, method: "POST", target: "/upload.php", body: body, ctype: ctype}, want{status: 201, server: "web2"})
				a = r.do("read the large image", req{from: c1, target: "/images/big.png"}, want{status: 200, server: "web1"})
				if a.Body != string(big) {
					r.t.Errorf("%s: the large image read back differs: %d bytes, want %d", r.kind, len(a.Body), len(big))
				}
				r.do("PUT chunked", req{from: c1, method: "PUT", target: "/upload.php?chunked.png", body: big, chunked: true, ctype: "image/png"}, want{status: 201, server: "web2"})
				a = r.do("read the chunked upload", req{from: c2, target: "/images/chunked.png"}, want{status: 200, server: "web1"})
				if a.Body != string(big) {
					r.t.Errorf("%s: the chunked upload read back differs: %d bytes", r.kind, len(a.Body))
				}
				r.curlPut("curl -T (Expect: 100-continue)", "curl.png", img)
				a = r.do("read the curl upload", req{from: c2, target: "/images/curl.png"}, want{status: 200, server: "web1"})
				if a.Body != string(img) {
					r.t.Errorf("%s: the curl upload read back differs", r.kind)
				}
				r.do("POST elsewhere goes to the writer", req{from: c1, method: "POST", target: "/index.html", body: []byte("x")}, want{server: "web2"})
				r.do("GET / goes to the reader", req{from: c1, target: "/"}, want{status: 200, server: "web1"})
				r.do("DELETE goes to the reader", req{from: c1, method: "DELETE", target: "/images/logo.png"}, want{server: "web1"})
				r.doMany("keep-alive: upload then read", c2, []req{
					{method: "PUT", target: "/upload.php?ka.png", body: img, ctype: "image/png"},
					{target: "/images/ka.png"},
					{method: "POST", target: "/upload/", body: []byte("x")},
					{target: "/"},
				}, []want{{status: 201, server: "web2"}, {status: 200, server: "web1"}, {server: "web2"}, {status: 200, server: "web1"}})
			},
		},
		// Cookie persistence: holds across 100 requests and moves when its server goes down, once seen down by the
		// health check and once only by the failed connection (option redispatch).
		cookieScenario(e, "cookie-stickiness-check", true),
		cookieScenario(e, "cookie-stickiness-redispatch", false),
		{
			// 六: the balancing of the seed: roundrobin with weight 2, then source.
			name: "balancing",
			cfg: head + web + "    use_backend src if { path_beg /src }\n    default_backend rr\n" +
				"backend rr\n    balance roundrobin\n    server web1 " + web1IP + ":80\n    server web2 " + web2IP + ":80 weight 2\n" +
				"backend src\n    balance source\n    server web1 " + web1IP + ":80\n    server web2 " + web2IP + ":80\n",
			listens: listens,
			run: func(r *recorder) {
				n := map[string]int{}
				for i := 0; i < 30; i++ {
					a := r.do(fmt.Sprintf("rr %d", i), req{from: c1, target: "/"}, want{status: 200})
					n[a.Server]++
				}
				if n["web1"] != 10 || n["web2"] != 20 {
					r.t.Errorf("%s: weights 1:2 gave %v", r.kind, n)
				}
				var ka []req
				var kw []want
				for i := 0; i < 9; i++ {
					ka = append(ka, req{target: "/"})
					kw = append(kw, want{status: 200})
				}
				r.doMany("roundrobin on one keep-alive connection", c2, ka, kw)
				s1 := r.do("source client1", req{from: c1, target: "/src/"}, want{status: 404})
				s2 := r.do("source client2", req{from: c2, target: "/src/"}, want{status: 404})
				for i := 0; i < 10; i++ {
					r.do("source client1 again", req{from: c1, target: "/src/"}, want{status: 404, server: s1.Server})
					r.do("source client2 again", req{from: c2, target: "/src/"}, want{status: 404, server: s2.Server})
				}
			},
		},
		{
			// Cookie modes against a PHP application that sets its own cookies: insert without indirect, prefix and
			// rewrite, and what the server receives in each.
			name: "cookie-modes",
			cfg: head + web + "    use_backend prefix if { path_beg /p/ }\n    use_backend rewrite if { path_beg /r/ }\n" +
				"    default_backend insert\n" +
				"backend insert\n    cookie SRV insert httponly\n    option forwardfor\n" +
				"    server web1 " + web1IP + ":80 cookie i1\n    server web2 " + web2IP + ":80 cookie i2\n" +
				"backend prefix\n    cookie JSESSIONID prefix\n    http-request replace-path ^/p/(.*) /\\1\n" +
				"    server web1 " + web1IP + ":80 cookie p1\n    server web2 " + web2IP + ":80 cookie p2\n" +
				"backend rewrite\n    cookie SERVERID rewrite\n    http-request replace-path ^/r/(.*) /\\1\n" +
				"    server web1 " + web1IP + ":80 cookie r1\n    server web2 " + web2IP + ":80 cookie r2\n",
			listens: listens,
			run: func(r *recorder) {
				a := r.do("insert: first", req{from: c1, target: "/echo.php"}, want{status: 200})
				r.bodyStep()
				name, _, _ := strings.Cut(a.Cookie, ";")
				for i := 0; i < 5; i++ {
					r.do("insert: with cookie", req{from: c1, target: "/echo.php", hdrs: []string{"Cookie: a=1; " + name + "; b=2"}}, want{status: 200, server: a.Server})
					r.bodyStep()
				}
				r.do("insert: unknown value", req{from: c1, target: "/echo.php", hdrs: []string{"Cookie: SRV=zz"}}, want{status: 200})
				r.bodyStep()
				r.do("insert: two cookie headers", req{from: c2, target: "/echo.php", hdrs: []string{"Cookie: x=1", "Cookie: SRV=i2"}}, want{status: 200, server: "web2"})
				r.bodyStep()
				a = r.do("prefix: app sets JSESSIONID", req{from: c1, target: "/p/setcookie.php"}, want{status: 200})
				r.bodyStep()
				name = cookieNamed(a.Cookie, "JSESSIONID")
				for i := 0; i < 3; i++ {
					r.do("prefix: back", req{from: c1, target: "/p/echo.php", hdrs: []string{"Cookie: " + name}}, want{status: 200, server: a.Server})
					r.bodyStep()
				}
				a = r.do("rewrite: app sets SERVERID", req{from: c1, target: "/r/setcookie.php"}, want{status: 200})
				r.bodyStep()
				r.do("rewrite: back", req{from: c1, target: "/r/echo.php", hdrs: []string{"Cookie: SERVERID=r2"}}, want{status: 200, server: "web2"})
				r.bodyStep()
				r.do("rewrite: back to web1", req{from: c1, target: "/r/echo.php", hdrs: []string{"Cookie: SERVERID=r1"}}, want{status: 200, server: "web1"})
				r.bodyStep()
			},
		},
		{
			// Stick table on the source address: each client stays on its server and moves when it goes down.
			name: "stick-table-source",
			cfg: head + web + "    default_backend app\n" +
				"backend app\n    balance roundrobin\n    stick-table type ip size 100 expire 10m\n    stick on src\n    option redispatch\n" +
				"    http-request set-header X-Client %[src]\n    http-request del-header X-Gone\n    http-request add-header X-Test t1\n" +
				"    server web1 " + web1IP + ":80 check inter 300 fall 1 rise 1\n" +
				"    server web2 " + web2IP + ":80 check inter 300 fall 1 rise 1\n" +
				"listen stats\n    bind " + proxyIP + ":8404\n    stats enable\n    stats uri /stats\n",
			listens: []string{proxyIP + ":80", proxyIP + ":8404"},
			run: func(r *recorder) {
				a1 := r.do("client1 first", req{from: c1, target: "/echo.php", hdrs: []string{"X-Gone: 1", "X-Test: t0"}}, want{status: 200})
				r.bodyStep()
				a2 := r.do("client2 first", req{from: c2, target: "/echo.php"}, want{status: 200})
				if a1.Server == a2.Server {
					r.t.Errorf("%s: both clients on %s", r.kind, a1.Server)
				}
				for i := 0; i < 50; i++ {
					r.do("client1 sticks", req{from: c1, target: "/"}, want{status: 200, server: a1.Server})
					r.do("client2 sticks", req{from: c2, target: "/"}, want{status: 200, server: a2.Server})
				}
				a := e.apaches[a1.Server]
				a.stop(r.t)
				defer a.start(r.t)
				waitStats(r, "app", a1.Server, "DOWN")
				for i := 0; i < 5; i++ {
					r.do("client1 moved", req{from: c1, target: "/"}, want{status: 200, server: a2.Server})
					r.do("client2 stays", req{from: c2, target: "/"}, want{status: 200, server: a2.Server})
				}
			},
		},
		{
			// Virtual hosts by Host header.
			name: "virtual-hosts",
			cfg: head + web + "    acl site_a hdr(host) -i a.example.com a.example.com:80\n    acl site_b hdr_dom(host) -i b.example.com\n" +
				"    use_backend site_a if site_a\n    use_backend site_b if site_b\n" +
				"backend site_a\n    server web1 " + web1IP + ":80\nbackend site_b\n    server web2 " + web2IP + ":80\n",
			listens: listens,
			run: func(r *recorder) {
				for _, h := range []string{"a.example.com", "A.Example.COM", "a.example.com:80"} {
					r.do("Host "+h, req{from: c1, target: "/", host: h}, want{status: 200, server: "web1"})
				}
				for _, h := range []string{"b.example.com", "www.b.example.com", "B.EXAMPLE.COM"} {
					r.do("Host "+h, req{from: c2, target: "/index.php", host: h}, want{status: 200, server: "web2"})
				}
				for _, h := range []string{"c.example.com", "xb.example.com", "a.example.com.evil"} {
					r.do("Host "+h, req{from: c1, target: "/", host: h}, want{status: 503, server: "-"})
				}
				r.do("HTTP/1.0 without Host", req{from: c1, target: "/", host: "-"}, want{status: 503, server: "-"})
				r.do("absolute-form names site b", req{from: c1, target: "http://b.example.com/", abs: true, host: "b.example.com"}, want{status: 200, server: "web2"})
				r.do("absolute-form with another Host", req{from: c1, target: "http://b.example.com/", abs: true, host: "a.example.com"}, want{})
				r.do("Host with trailing dot", req{from: c1, target: "/", host: "a.example.com."}, want{})
				r.do("two Host headers", req{from: c1, target: "/", host: "a.example.com", hdrs: []string{"Host: b.example.com"}}, want{status: 400, server: "-"})
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { e.differential(t, sc) })
	}
}

// cookieScenario is the persistence scenario; with checks the stopped server is first seen down by its health
// check, without them only the failed connection moves the request (option redispatch).
func cookieScenario(e *env, name string, checks bool) scenario {
	check := ""
	if checks {
		check = " check inter 300 fall 1 rise 1"
	}
	c1, c2 := e.client1, e.client2
	return scenario{
		name: name,
		cfg: head + "frontend web\n    bind " + proxyIP + ":80\n    default_backend app\n" +
			"backend app\n    balance roundrobin\n    cookie SERVERID insert indirect nocache\n    option redispatch\n" +
			"    server web1 " + web1IP + ":80 cookie w1" + check + "\n" +
			"    server web2 " + web2IP + ":80 cookie w2" + check + "\n" +
			"listen stats\n    bind " + proxyIP + ":8404\n    stats enable\n    stats uri /stats\n",
		listens: []string{proxyIP + ":80", proxyIP + ":8404"},
		run: func(r *recorder) {
			first := r.do("first request", req{from: c1, target: "/"}, want{status: 200})
			r.cookieStep()
			if first.Cookie == "" || first.Server == "" {
				r.t.Fatalf("%s: no cookie or server on the first answer: %s", r.kind, first)
			}
			other := map[string]string{"web1": "web2", "web2": "web1"}[first.Server]
			name, _, _ := strings.Cut(first.Cookie, ";")
			ck := []string{"Cookie: " + name}
			for i := 0; i < 100; i++ {
				r.do(fmt.Sprintf("sticky %d", i), req{from: c1, target: "/index.php", hdrs: ck}, want{status: 200, server: first.Server})
				r.cookieStep()
			}
			r.do("another client without cookie", req{from: c2, target: "/"}, want{status: 200, server: other})
			r.cookieStep()
			a := e.apaches[first.Server]
			a.stop(r.t)
			defer a.start(r.t)
			if checks {
				waitStats(r, "app", first.Server, "DOWN")
			}
			moved := r.do("cookie of the stopped server", req{from: c1, target: "/", hdrs: ck}, want{status: 200, server: other})
			r.cookieStep()
			if moved.Cookie == "" || moved.Cookie == first.Cookie {
				r.t.Errorf("%s: no new cookie after the move: %s", r.kind, moved)
			}
			name, _, _ = strings.Cut(moved.Cookie, ";")
			ck = []string{"Cookie: " + name}
			for i := 0; i < 20; i++ {
				r.do(fmt.Sprintf("sticky after move %d", i), req{from: c1, target: "/", hdrs: ck}, want{status: 200, server: other})
				r.cookieStep()
			}
		},
	}
}

// cookieNamed returns "NAME=value" of the Set-Cookie for name among the " | "-joined ones, or "".
func cookieNamed(all, name string) string {
	for _, c := range strings.Split(all, " | ") {
		kv, _, _ := strings.Cut(c, ";")
		if strings.HasPrefix(kv, name+"=") {
			return kv
		}
	}
	return ""
}

// waitStats polls the stats CSV through the proxy until backend/server has the status, bounded.
func waitStats(r *recorder, backend, server, status string) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		a, err := send(req{from: r.e.client1, target: "http://" + proxyIP + ":8404/stats;csv"})
		if err == nil && a.Status == 200 {
			for _, line := range strings.Split(a.Body, "\n") {
				f := strings.Split(line, ",")
				if len(f) > 17 && f[0] == backend && f[1] == server && strings.HasPrefix(f[17], status) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %s/%s not %s after 60s (last: %v %q)", r.kind, backend, server, status, err, a.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func clearDir(t *testing.T, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// pngBytes is a small PNG-looking payload that differs per run, so a read-back cannot see the other run's file.
func pngBytes(tag string) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	for i := 0; i < 3000; i++ {
		b = append(b, byte(i*7+len(tag)))
	}
	return append(b, tag...)
}

func multipartFile(t *testing.T, name string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary("duet-e2e-boundary-0123456789"); err != nil {
		t.Fatal(err)
	}
	f, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}
