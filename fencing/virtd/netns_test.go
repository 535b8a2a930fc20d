package virtd

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/internal/nettest"
)

// The netns backend on a real namespace: off kills the node's processes and cuts its link, on restores
// the link, status and list follow.
func TestNetnsBackend(t *testing.T) {
	tp := nettest.New(t)
	n1 := tp.AddHost("n1", "10.250.0.11/24")
	tp.AddHost("n2", "10.250.0.12/24")
	ctx := context.Background()
	sleeper := n1.Command(ctx, "sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()
	t.Cleanup(func() {
		sleeper.Process.Kill()
		<-exited
	})
	b := &Netns{Prefix: tp.Prefix() + "-"}
	if st, err := b.Status(ctx, "n1"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("status before: %v %v", st, err)
	}
	hosts, err := b.List(ctx)
	names := map[string]bool{}
	for _, h := range hosts {
		names[h.Name] = true
	}
	if err != nil || !names["n1"] || !names["n2"] || !names["sw"] || len(hosts) != 3 {
		t.Fatalf("List = %+v, %v; want n1, n2 and the switch", hosts, err)
	}
	if err := b.Fence(ctx, "n1", fencing.Off); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("sleep in n1 ended with %v, want killed by a signal", err)
		}
		exited <- err
	case <-time.After(30 * time.Second):
		t.Fatal("the process in n1 survived off")
	}
	if st, err := b.Status(ctx, "n1"); err != nil || st != fencing.PoweredOff {
		t.Fatalf("status after off: %v %v", st, err)
	}
	if st, _ := b.Status(ctx, "n2"); st != fencing.PoweredOn {
		t.Fatalf("n2 was touched: %v", st)
	}
	if err := b.Fence(ctx, "n1", fencing.On); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Status(ctx, "n1"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("status after on: %v %v", st, err)
	}
	for _, bad := range []string{"nosuch", "../etc", "a/b", ""} {
		if err := b.Fence(ctx, bad, fencing.Off); !errors.Is(err, fencing.ErrNotFound) {
			t.Errorf("Fence(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if err := b.Monitor(ctx); err != nil {
		t.Fatal(err)
	}
}
