package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/resources/proxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAgentLifecycle drives the API the cluster's proxy agent uses: Parse (configuration text from the CIB),
// New, Start, Healthy, Reload (including a refused bad configuration), Stop.
func TestAgentLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	text := fmt.Sprintf("defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n    timeout server 2s\nfrontend vip\n    bind 127.0.0.1:%d\n    monitor-uri /alive\n", port)
	cfg, diags, err := proxy.Parse("cib:proxy", []byte(text), nil)
	if err != nil {
		t.Fatalf("parse: %v %v", err, diags)
	}
	srv := proxy.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Healthy(); err != nil {
		t.Errorf("healthy: %v", err)
	}
	if _, _, err := proxy.Parse("cib:proxy", []byte("backend b\n    balanse x\n"), nil); !errors.Is(err, proxy.ErrInvalid) {
		t.Errorf("bad configuration: %v", err)
	}
	cfg2, _, err := proxy.Parse("cib:proxy", []byte(text+"    maxconn 10\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(cfg2); err != nil {
		t.Errorf("reload: %v", err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /alive HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(c)
	c.Close()
	if len(b) < 12 || string(b[:12]) != "HTTP/1.1 200" {
		t.Errorf("monitor-uri: %q", b)
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := srv.Stop(sctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	if err := srv.Healthy(); err == nil {
		t.Error("healthy after stop")
	}
}
