package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// handedOut remembers every port freePort returned in this test binary: the kernel may return a port again once
// it is closed, and with SO_REUSEPORT (haproxy's default and Duet's) two proxies could then share a port silently.
var handedOut sync.Map

// freePort returns a loopback port that was free a moment ago and that no other caller got.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, dup := handedOut.LoadOrStore(p, true); !dup {
			return p
		}
	}
	t.Fatal("no fresh port")
	return 0
}

// backend is a test HTTP server answering its name; /echo echoes the body, /hang never answers,
// /garbage answers garbage, /close closes without answering.
type testBackend struct {
	name string
	port int
	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	hits int
	hang chan struct{}
}

func startBackend(t testing.TB, name string) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{name: name, ln: ln, port: ln.Addr().(*net.TCPAddr).Port, hang: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits++
		b.mu.Unlock()
		w.Header().Set("X-Server", name)
		w.Header().Set("X-Got-XFF", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Got-Tag", r.Header.Get("X-Tag")+"|"+strings.Join(r.Header.Values("X-Secret"), ",")+strings.Join(r.Header.Values("X-Rep"), ","))
		w.Header().Set("X-Got-Cookie", strings.Join(r.Header.Values("Cookie"), "|"))
		if r.URL.Path == "/setcookie" {
			w.Header().Add("Set-Cookie", "JSESSIONID=abc123; Path=/")
			w.Header().Add("Set-Cookie", "other=1")
		}
		if r.URL.Path == "/setcookie-late" {
			w.Header().Add("Set-Cookie", "other=1")
			w.Header().Add("Set-Cookie", "JSESSIONID=abc123; Path=/")
		}
		if r.URL.Path == "/etag" {
			w.Header().Set("ETag", `"v1"`)
		}
		fmt.Fprintf(w, "%s\n", name)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Server", name)
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-b.hang:
		}
		fmt.Fprintf(w, "%s\n", name)
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		// the head and half the body, then the rest 100 ms later: the proxy reads the response in two parts
		w.Header().Set("Content-Length", "10")
		_, _ = w.Write([]byte("drip-"))
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		_, _ = w.Write([]byte("done\n"))
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-b.hang:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, bw, _ := hj.Hijack()
		bw.WriteString("NOT HTTP AT ALL\r\n\r\n")
		bw.Flush()
		c.Close()
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset
		}
		c.Close()
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte("healthy"))
	})
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.close)
	return b
}

func (b *testBackend) close() {
	select {
	case <-b.hang:
	default:
		close(b.hang)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
	_ = b.srv.Close()
}

// startProxy parses text (with {NAME} placeholders replaced from vars) and starts a Server; Stop runs at cleanup.
func startProxy(t testing.TB, text string, vars map[string]any) *Server {
	t.Helper()
	return startProxyWith(t, text, vars, Options{})
}

func startProxyWith(t testing.TB, text string, vars map[string]any, o Options) *Server {
	t.Helper()
	cfg := mustConfig(t, text, vars)
	s := NewWithOptions(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), o)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func mustConfig(t testing.TB, text string, vars map[string]any) *config.Config {
	t.Helper()
	for k, v := range vars {
		text = strings.ReplaceAll(text, "{"+k+"}", fmt.Sprint(v))
	}
	cfg, diags, err := config.Parse([]config.Source{{Name: "test.cfg", Data: []byte(text)}}, os.LookupEnv)
	if err != nil {
		for _, d := range diags {
			t.Log(d.String())
		}
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

// raw sends bytes on a new connection and returns the first response line and the whole response.
func raw(t testing.TB, addr string, req string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, req)
	all, _ := io.ReadAll(c)
	s := string(all)
	line := s
	if i := strings.Index(s, "\r\n"); i >= 0 {
		line = s[:i]
	}
	return line, s
}

// get does a GET with a fresh client (no keep-alive) and returns the body.
func get(t testing.TB, url string) (int, string, http.Header) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

// eventually polls cond up to n times with a pause (bounded; no timing assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("condition never met: %s", what)
}

// cli runs one Runtime API command on the unix socket.
func cli(t testing.TB, path, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, cmd+"\n")
	b, _ := io.ReadAll(bufio.NewReader(c))
	return string(b)
}

// deadPort returns a loopback port with no listener, outside the ephemeral range when possible, so that a
// connection attempt cannot self-connect through a reused ephemeral source port.
func deadPort(t testing.TB) int {
	t.Helper()
	for p := 700; p < 1000; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
	return freePort(t)
}
