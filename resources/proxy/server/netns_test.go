package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/internal/nettest"
)

// TestListenOnVIPBeforeItArrives runs the proxy inside a cluster-node namespace bound to a VIP that is not
// configured yet (IP_FREEBIND), then adds the VIP the way the vip agent does and reaches the proxy from a client
// namespace across the bridge. Root only (DUET_ROOT_TESTS=1).
func TestListenOnVIPBeforeItArrives(t *testing.T) {
	tp := nettest.New(t)
	n1 := tp.AddHost("n1", "10.250.40.1/24")
	client := tp.AddHost("client", "10.250.40.250/24")
	b := startBackend(t, "s1") // on the root namespace's loopback: the proxy dials from its other threads
	cfg := mustConfig(t, defaults+fmt.Sprintf("listen vip\n    bind 10.250.40.100:8080\n    server s1 127.0.0.1:%d\n", b.port), nil)
	s := New(cfg, nil)
	if err := n1.Do(func() error { return s.Start(context.Background()) }); err != nil {
		t.Fatalf("start in %s: %v", n1.Name, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	}()
	url := "http://10.250.40.100:8080/"
	if out, err := client.Try("curl", "-s", "--max-time", "1", url); err == nil {
		t.Fatalf("reached the VIP before it was configured: %q", out)
	}
	n1.Run("ip", "addr", "add", "10.250.40.100/24", "dev", "eth0")
	var out string
	for i := 0; i < 50; i++ {
		o, err := client.Try("curl", "-s", "--max-time", "2", url)
		if err == nil {
			out = o
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(out) != "s1" {
		t.Errorf("through the VIP: %q", out)
	}
}
