// Package e2e runs the seed's web scenarios (issue 5 part 4) end to end in network namespaces: real Apache servers
// with mod_php behind the real haproxy and behind Duet's proxy, with the same configuration and the same requests,
// requiring the same answers from both. Root only (DUET_ROOT_TESTS=1).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duet-ha/duet/internal/nettest"
)

const (
	proxyIP   = "10.250.0.10"
	web1IP    = "10.250.0.11" // static pages, reads of /images
	web2IP    = "10.250.0.12" // PHP pages, uploads
	client1IP = "10.250.0.21"
	client2IP = "10.250.0.22" // the denied client
)

// env is the topology shared by the scenarios.
type env struct {
	t                *testing.T
	tp               *nettest.Topology
	proxy, web1      *nettest.Host
	web2             *nettest.Host
	client1, client2 *nettest.Host
	dir              string // the test's directory: files the configurations name (ACL lists, errorfiles)
	shared           string // the images directory both web servers serve (the seed copies the uploads across)
	apaches          map[string]*apache
	duetBin          string
	haproxyBin       string
}

// apache is one Apache httpd with a private configuration, document root, pid file and logs, running in a host.
type apache struct {
	name string
	host *nettest.Host
	addr string // ip:port
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed: run scripts/deps.sh (scripts/deps.d/e2e.txt)", b)
		}
	}
	if _, err := os.Stat("/usr/lib/apache2/modules/mod_mpm_prefork.so"); err != nil {
		t.Skip("apache2 modules missing: run scripts/deps.sh")
	}
	if m, _ := filepath.Glob("/usr/lib/apache2/modules/libphp*.so"); len(m) == 0 {
		t.Skip("libapache2-mod-php missing: run scripts/deps.sh")
	}
}

// newEnv builds the topology: the proxy node (which also serves its own page on port 8080, as in the seed), two
// real servers and two clients. Everything is removed at cleanup, also when the test fails.
func newEnv(t *testing.T) *env {
	tp := nettest.New(t)
	need(t, "apache2", "haproxy", "go")
	e := &env{t: t, tp: tp, apaches: map[string]*apache{}}
	e.proxy = tp.AddHost("proxy", proxyIP+"/24")
	e.web1 = tp.AddHost("web1", web1IP+"/24")
	e.web2 = tp.AddHost("web2", web2IP+"/24")
	e.client1 = tp.AddHost("client1", client1IP+"/24")
	e.client2 = tp.AddHost("client2", client2IP+"/24")
	e.haproxyBin, _ = exec.LookPath("haproxy")

	root := t.TempDir()
	// Apache's children run as www-data: the directories they read or write must be reachable.
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.dir = root
	files := map[string]string{
		"blocked.lst": "# denied clients\n" + client2IP + "\n10.250.9.0/24\n",
		"403.http":    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\nYou are not welcome here (errorfile).\n",
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(root, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.shared = filepath.Join(root, "shared-images")
	mkdir(t, e.shared, 0o777)

	e.duetBin = filepath.Join(root, "duet-proxy")
	build := exec.Command("go", "build", "-o", e.duetBin, "./cmd/duet-proxy")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/duet-proxy: %v\n%s", err, out)
	}

	e.apaches["proxy"] = e.startApache(root, "proxy", e.proxy, proxyIP+":8080", map[string]string{
		"index.html": "maintenance page of the proxy node\n",
	})
	e.apaches["web1"] = e.startApache(root, "web1", e.web1, web1IP+":80", webPages("web1"))
	e.apaches["web2"] = e.startApache(root, "web2", e.web2, web2IP+":80", webPages("web2"))
	return e
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatalf("no go.mod above %s", dir)
	return ""
}

func mkdir(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
}

const uploadPHP = `<?php
// Stores an uploaded file in the shared images directory: multipart POST (field "file") or PUT with the name
// in the query string.
$dir = getenv("DUET_IMAGES") . "/";
if ($_SERVER["REQUEST_METHOD"] === "PUT") {
    $name = basename($_SERVER["QUERY_STRING"]);
    $data = file_get_contents("php://input");
} elseif (isset($_FILES["file"]) && $_FILES["file"]["error"] === UPLOAD_ERR_OK) {
    $name = basename($_FILES["file"]["name"]);
    $data = file_get_contents($_FILES["file"]["tmp_name"]);
} else {
    http_response_code(400);
    echo "no file\n";
    exit;
}
if ($name === "" || file_put_contents($dir . $name, $data) === false) {
    http_response_code(500);
    echo "cannot store\n";
    exit;
}
http_response_code(201);
echo "stored $name on ", getenv("DUET_SERVER"), "\n";
`

// echoPHP prints what the server received, for the steps that compare the request the proxy forwarded.
const echoPHP = `<?php
echo $_SERVER["REQUEST_METHOD"], " ", $_SERVER["REQUEST_URI"], "\n";
$h = getallheaders();
ksort($h);
foreach ($h as $k => $v) {
    $l = strtolower($k);
    if (in_array($l, ["cookie", "x-forwarded-for", "x-client", "x-test", "x-gone", "host", "connection"])) {
        echo $l, ": ", $v, "\n";
    }
}
`

func webPages(name string) map[string]string {
	return map[string]string{
		"index.html":        "static page of " + name + "\n",
		"index.php":         `<?php echo "dynamic page of ", getenv("DUET_SERVER"), " (PHP ", PHP_VERSION, ")\n";` + "\n",
		"info.php":          `<?php echo "info from ", getenv("DUET_SERVER"), " ", $_SERVER["REQUEST_URI"], "\n";` + "\n",
		"upload.php":        uploadPHP,
		"upload/index.html": "upload form of " + name + "\n",
		"slow.php":          "<?php sleep(3); echo \"late\\n\";\n",
		"echo.php":          echoPHP,
		"setcookie.php":     "<?php setcookie(\"JSESSIONID\", \"abc123\"); setcookie(\"SERVERID\", \"app\"); echo \"cookies set\\n\";\n",
		"fail.php":          "<?php http_response_code(503); echo \"the application is down\\n\";\n",
	}
}

func (e *env) startApache(root, name string, h *nettest.Host, addr string, pages map[string]string) *apache {
	t := e.t
	t.Helper()
	dir := filepath.Join(root, "apache-"+name)
	www := filepath.Join(dir, "www")
	mkdir(t, filepath.Join(dir, "logs"), 0o755)
	mkdir(t, filepath.Join(dir, "run"), 0o755)
	mkdir(t, www, 0o755)
	for p, body := range pages {
		f := filepath.Join(www, p)
		mkdir(t, filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	php, _ := filepath.Glob("/usr/lib/apache2/modules/libphp*.so")
	var conf strings.Builder
	fmt.Fprintf(&conf, "ServerRoot %s\nServerName %s\nListen %s\nPidFile %s/run/apache.pid\nDefaultRuntimeDir %s/run\n",
		dir, name, addr, dir, dir)
	fmt.Fprintf(&conf, "Mutex file:%s/run\nErrorLog %s/logs/error.log\nLogLevel warn\n", dir, dir)
	for _, m := range []string{"mpm_prefork", "authz_core", "dir", "mime", "headers", "alias", "env"} {
		fmt.Fprintf(&conf, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	fmt.Fprintf(&conf, "LoadModule php_module %s\n", php[0])
	fmt.Fprintf(&conf, `StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16
User www-data
Group www-data
TypesConfig /etc/mime.types
DocumentRoot %s
DirectoryIndex index.html
Alias /images/ %s/
<Directory />
  Require all granted
</Directory>
<FilesMatch "\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
SetEnv DUET_IMAGES %s
SetEnv DUET_SERVER %s
Header always set X-Server %s
LogFormat "%%h \"%%r\" %%>s" short
CustomLog %s/logs/access.log short
`, www, e.shared, e.shared, name, name, dir)
	cfg := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &apache{name: name, host: h, addr: addr, dir: dir}
	a.start(t)
	t.Cleanup(func() { a.stop(t) })
	return a
}

// start runs httpd in the foreground as a child process in its own process group (its prefork children join it).
func (a *apache) start(t *testing.T) {
	t.Helper()
	cmd := a.host.Command(context.Background(), "apache2", "-D", "FOREGROUND", "-f", filepath.Join(a.dir, "httpd.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.OpenFile(filepath.Join(a.dir, "logs", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start apache %s: %v", a.name, err)
	}
	a.cmd, a.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(a.done) }()
	if err := waitListen(a.host, a.addr, 30*time.Second, a.done); err != nil {
		b, _ := os.ReadFile(filepath.Join(a.dir, "logs", "error.log"))
		s, _ := os.ReadFile(filepath.Join(a.dir, "logs", "stdout.log"))
		a.stop(t)
		t.Fatalf("apache %s: %v\n%s%s", a.name, err, s, b)
	}
}

// stop ends httpd by its PID (TERM: the parent stops its children), then kills what is left of its process group
// and reaps it. Idempotent.
func (a *apache) stop(t *testing.T) {
	if a.cmd == nil {
		return
	}
	pid := a.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		t.Logf("apache %s did not stop on TERM: killing", a.name)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-a.done
	a.cmd = nil
}

// waitListen polls a TCP connect to addr from inside h until it succeeds, the deadline passes or done closes.
func waitListen(h *nettest.Host, addr string, limit time.Duration, done <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for {
		err := h.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited before listening on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %v: %v", addr, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proxyRun is one proxy process (haproxy or duet-proxy) in the proxy namespace.
type proxyRun struct {
	kind string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startProxy runs kind ("haproxy" or "duet") on cfg in the foreground in the proxy namespace and waits until every
// port in listens accepts connections.
func (e *env) startProxy(t *testing.T, kind, cfg string, listens []string) *proxyRun {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := e.haproxyBin
	if kind == "duet" {
		bin = e.duetBin
	}
	p := &proxyRun{kind: kind, log: filepath.Join(dir, kind+".log"), done: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := e.proxy.Command(context.Background(), bin, "-db", "-f", path, "-p", filepath.Join(dir, kind+".pid"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", kind, err)
	}
	p.cmd = cmd
	go func() { _ = cmd.Wait(); out.Close(); close(p.done) }()
	t.Cleanup(p.stop)
	for _, addr := range listens {
		if err := waitListen(e.client1, addr, 30*time.Second, p.done); err != nil {
			b, _ := os.ReadFile(p.log)
			p.stop()
			t.Fatalf("%s: %v\n%s", kind, err, b)
		}
	}
	return p
}

// stop kills the proxy by its PID and reaps it. Idempotent.
func (p *proxyRun) stop() {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// req is one client request.
type req struct {
	from    *nettest.Host
	method  string
	target  string // path and query, or an absolute URL (then sent to that address unless abs)
	abs     bool   // send an absolute-form target as it is to the proxy
	chunked bool   // send the body with Transfer-Encoding: chunked
	host    string // Host header; "" is the proxy's address, "-" sends none (HTTP/1.0)
	hdrs    []string
	body    []byte
	ctype   string
}

// answer is what the differential test compares: status, Location and the serving server (X-Server, set by
// each Apache; empty when the proxy answered itself).
type answer struct {
	Status   int
	Location string
	Server   string
	Cookie   string // Set-Cookie, compared where the scenario uses persistence
	Cache    string // Cache-Control, compared with Cookie (nocache)
	Body     string
}

// own is the part of an answer the proxy made itself, compared when no server answered: its body and type.
func (a answer) own() string {
	if a.Server != "" {
		return ""
	}
	return a.Body
}

func (a answer) String() string {
	s := fmt.Sprintf("%d server=%q", a.Status, a.Server)
	if a.Location != "" {
		s += fmt.Sprintf(" location=%q", a.Location)
	}
	if a.Cookie != "" {
		s += fmt.Sprintf(" set-cookie=%q", a.Cookie)
	}
	return s
}

// send sends r on a new connection from r.from's namespace and reads the whole answer.
func send(r req) (answer, error) {
	as, err := sendKeepAlive(r.from, []req{r})
	if err != nil {
		return answer{}, err
	}
	return as[0], nil
}

// wire returns r's bytes and the address it goes to; last asks the server to close after it.
func wire(r req, last bool) ([]byte, string, string) {
	addr := proxyIP + ":80"
	target := r.target
	if strings.HasPrefix(target, "http://") && !r.abs {
		rest := strings.TrimPrefix(target, "http://")
		hostport, path, _ := strings.Cut(rest, "/")
		addr, target = hostport, "/"+path
		if !strings.Contains(addr, ":") {
			addr += ":80"
		}
	}
	method := r.method
	if method == "" {
		method = "GET"
	}
	var b bytes.Buffer
	proto := "HTTP/1.1"
	if r.host == "-" {
		proto = "HTTP/1.0"
	}
	fmt.Fprintf(&b, "%s %s %s\r\n", method, target, proto)
	switch r.host {
	case "-":
	case "":
		fmt.Fprintf(&b, "Host: %s\r\n", addr)
	default:
		fmt.Fprintf(&b, "Host: %s\r\n", r.host)
	}
	for _, h := range r.hdrs {
		b.WriteString(h + "\r\n")
	}
	if r.body != nil || method == "POST" || method == "PUT" {
		if r.ctype != "" {
			fmt.Fprintf(&b, "Content-Type: %s\r\n", r.ctype)
		}
		if r.chunked {
			b.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
		}
	}
	if last {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	if r.chunked {
		for rest := r.body; len(rest) > 0; {
			n := min(len(rest), 1000)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
	} else {
		b.Write(r.body)
	}
	return b.Bytes(), addr, method
}

// sendPipelined writes every request at once on one connection from h's namespace, then reads the answers.
func sendPipelined(h *nettest.Host, rs []req) ([]answer, error) {
	var out []answer
	err := h.Do(func() error {
		_, addr, _ := wire(rs[0], false)
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		var all bytes.Buffer
		methods := make([]string, len(rs))
		for i, r := range rs {
			b, _, m := wire(r, i == len(rs)-1)
			all.Write(b)
			methods[i] = m
		}
		if _, err := c.Write(all.Bytes()); err != nil {
			return err
		}
		br := bufio.NewReader(c)
		for i := range rs {
			resp, err := http.ReadResponse(br, &http.Request{Method: methods[i]})
			if err != nil {
				return fmt.Errorf("answer %d: %w", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("answer %d: %w", i, err)
			}
			out = append(out, answer{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Server: resp.Header.Get("X-Server"), Body: string(body)})
		}
		return nil
	})
	return out, err
}

// sendKeepAlive sends the requests one after the other on one connection from h's namespace (the last one asks
// for the close) and reads every answer. Every request goes to the first one's address.
func sendKeepAlive(h *nettest.Host, rs []req) ([]answer, error) {
	var out []answer
	err := h.Do(func() error {
		_, addr, _ := wire(rs[0], false)
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(c)
		for i, r := range rs {
			b, _, method := wire(r, i == len(rs)-1)
			if _, err := c.Write(b); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			ans := answer{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Server: resp.Header.Get("X-Server"), Body: string(body)}
			ans.Cookie = strings.Join(resp.Header.Values("Set-Cookie"), " | ")
			ans.Cache = resp.Header.Get("Cache-Control")
			out = append(out, ans)
			if resp.Close && i < len(rs)-1 {
				// the proxy closed: the requests left are recorded as not answered (status -1)
				for range rs[i+1:] {
					out = append(out, answer{Status: -1})
				}
				return nil
			}
		}
		return nil
	})
	return out, err
}
