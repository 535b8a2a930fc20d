package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
	"github.com/duet-ha/duet/internal/nettest"
)

// TestFenceNode is STONITH in the test topology: Duet's fence_virtd with the netns backend on the fence
// host, and node n2 fencing node n1 through the fencing.Device API (as clusterd does) and through the
// real fence_xvm (as pacemaker would).
func TestFenceNode(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	_, duetVirtd := binaries(t)
	tp := nettest.New(t)
	fv := tp.AddHost("fv", "10.250.0.1/24")
	n1 := tp.AddHost("n1", "10.250.0.11/24")
	n2 := tp.AddHost("n2", "10.250.0.12/24")
	dir := t.TempDir()
	key := writeFile(t, dir, "key", testKey)
	conf := writeFile(t, dir, "netns.conf", fmt.Sprintf(`fence_virtd { listener = "multicast"; backend = "netns"; }
listeners { multicast { key_file = "%s"; interface = "eth0"; } }
backends { netns { prefix = "%s-"; } }
`, key, tp.Prefix()))
	startDaemon(t, fv, duetVirtd, conf, false)

	victim := n1.Command(context.Background(), "sleep", "600")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- victim.Wait() }()
	t.Cleanup(func() { victim.Process.Kill(); <-exited })

	keyBytes, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := client.New(client.Config{Key: keyBytes, Hash: xvm.HashSHA256, Auth: xvm.HashSHA256, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var d fencing.Device = dev
	ctx := context.Background()
	inN2 := func(fn func() error) {
		t.Helper()
		if err := n2.Do(fn); err != nil {
			t.Fatal(err)
		}
	}
	inN2(func() error {
		st, err := d.Status(ctx, "n1")
		if err == nil && st != fencing.PoweredOn {
			err = fmt.Errorf("status of n1 before: %v", st)
		}
		return err
	})
	inN2(func() error { return d.Fence(ctx, "n1", fencing.Off) })
	select {
	case <-exited:
		exited <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("n1's process survived the fence")
	}
	inN2(func() error {
		st, err := d.Status(ctx, "n1")
		if err == nil && st != fencing.PoweredOff {
			err = fmt.Errorf("status of n1 after off: %v", st)
		}
		return err
	})
	inN2(func() error {
		if err := d.Fence(ctx, "nosuch", fencing.Off); !errors.Is(err, fencing.ErrFailed) {
			return fmt.Errorf("fence of an unknown node: %v", err)
		}
		return d.Monitor(ctx)
	})
	// The real agent, as pacemaker runs it (stdin form), turns n1 back on.
	code, out := runClient(t, n2, "action=on\nport=n1\nkey_file="+key+"\n", "fence_xvm")
	if code != 0 {
		t.Fatalf("fence_xvm on: %d %q", code, out)
	}
	code, out = runClient(t, n2, "", "fence_xvm", "-k", key, "-o", "list")
	if code != 0 || !strings.Contains(out, "n1") || !strings.Contains(out, "n2") {
		t.Fatalf("fence_xvm list: %d %q", code, out)
	}
	if code, out := runClient(t, n2, "", "fence_xvm", "-k", key, "-o", "status", "-H", "n1"); code != 0 {
		t.Fatalf("n1 not back on: %d %q", code, out)
	}
}
