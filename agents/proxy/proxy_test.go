package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/agents"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestLifecycle(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "from-backend") }))
	defer backend.Close()
	port := freePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	text := fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:%d
    default_backend app
backend app
    server s1 %s
`, port, strings.TrimPrefix(backend.URL, "http://"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	a := New(nil)
	defer a.Close()
	ctx := context.Background()
	req := agents.Request{Resource: "p", Agent: "ocf:duet:proxy", Params: map[string]string{"config": cfg}}
	if r := a.Monitor(ctx, req); r.RC != agents.NotRunning {
		t.Fatalf("monitor before start: %+v", r)
	}
	if r := a.Start(ctx, req); !r.OK() {
		t.Fatalf("start: %+v", r)
	}
	if r := a.Monitor(ctx, req); !r.OK() {
		t.Fatalf("monitor: %+v", r)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "from-backend" {
		t.Fatalf("through the proxy: %q", body)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if r := a.Stop(sctx, req); !r.OK() {
		t.Fatalf("stop: %+v", r)
	}
	if r := a.Monitor(ctx, req); r.RC != agents.NotRunning {
		t.Fatalf("monitor after stop: %+v", r)
	}
}

func TestBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("frontend web\n    bind 127.0.0.1:1\n    balanse roundrobin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := New(nil)
	defer a.Close()
	for _, params := range []map[string]string{{}, {"config": cfg}, {"config": cfg + ".missing"}, {"config": cfg, "config_text": "x"}} {
		r := a.Start(context.Background(), agents.Request{Resource: "p", Params: params})
		if r.RC != agents.ErrConfigured || r.Reason == "" {
			t.Errorf("start with %v: %+v, want not configured with a reason", params, r)
		}
	}
	r := a.Validate(context.Background(), agents.Request{Resource: "p", Params: map[string]string{"config": cfg}})
	if !strings.Contains(r.Reason, "haproxy.cfg:3") {
		t.Errorf("validate does not name the line: %q", r.Reason)
	}
}

func TestConfigTextAndReload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer backend.Close()
	p1, p2 := freePort(t), freePort(t)
	conf := func(ports ...int) string {
		text := "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"
		for i, p := range ports {
			text += fmt.Sprintf("frontend f%d\n    bind 127.0.0.1:%d\n    default_backend app\n", i, p)
		}
		return text + "backend app\n    server s1 " + strings.TrimPrefix(backend.URL, "http://") + "\n"
	}
	get := func(port int) error {
		hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	a := New(nil)
	defer a.Close()
	ctx := context.Background()
	req := agents.Request{Resource: "p", Params: map[string]string{"config_text": conf(p1)}}
	if r := a.Start(ctx, req); !r.OK() {
		t.Fatalf("start: %+v", r)
	}
	if err := get(p1); err != nil {
		t.Fatal(err)
	}
	if get(p2) == nil {
		t.Fatal("second port answers before the reload")
	}
	req.Params = map[string]string{"config_text": conf(p1, p2)}
	if r := a.Monitor(ctx, req); !r.OK() {
		t.Fatalf("monitor: %+v", r)
	}
	if err := get(p2); err != nil {
		t.Fatalf("second port after the reload: %v", err)
	}
	req.Params = map[string]string{"config_text": "frontend broken\n    bind\n"}
	if r := a.Monitor(ctx, req); !r.OK() {
		t.Fatalf("monitor with a bad new configuration: %+v", r)
	}
	if err := get(p1); err != nil {
		t.Fatalf("a bad new configuration stopped the running proxy: %v", err)
	}
}
