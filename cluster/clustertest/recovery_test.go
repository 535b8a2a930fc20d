package clustertest

import (
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/api"
)

// TestMonitorFailureRecovery runs Debian's ocf:heartbeat:Dummy with a 1 s monitor and migration-threshold=2,
// and makes it fail behind the cluster's back (its state file removed): the first failure restarts it in
// place, the second moves it to the other node; crm_mon shows the fail count and the failed action, and
// crm resource cleanup forgets them.
func TestMonitorFailureRecovery(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1 := c.Node("n1")
	n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	n1.MustCrm("configure", "primitive", "d1", "ocf:heartbeat:Dummy", "op", "monitor", "interval=1s", "meta", "migration-threshold=2")
	st := n1.WaitFor(20*time.Second, "d1 running", func(st *api.Status) bool { return runningOn(st, "d1") != "" })
	first := c.Node(runningOn(st, "d1"))
	crash := func() {
		t.Helper()
		if out, err := first.InNodeMounts("rm", "/run/resource-agents/Dummy-d1.state"); err != nil {
			t.Fatalf("crash d1 on %s: %v\n%s", first.Name, err, out)
		}
	}
	failCount := func(st *api.Status) int { return st.Store.FailCounts[first.Name]["d1"].Count }

	crash()
	st = n1.WaitFor(20*time.Second, "restarted in place after one failure", func(st *api.Status) bool {
		return failCount(st) == 1 && runningOn(st, "d1") == first.Name
	})
	crash()
	st = n1.WaitFor(20*time.Second, "moved after the second failure", func(st *api.Status) bool {
		return failCount(st) >= 2 && runningOn(st, "d1") != "" && runningOn(st, "d1") != first.Name
	})
	text := n1.MustCrm("status", "failcounts")
	for _, want := range []string{"Migration Summary:", "d1: migration-threshold=2 fail-count=2", "Failed Resource Actions:", "d1 1000ms-interval monitor on " + first.Name + " returned 'not running'"} {
		if !strings.Contains(text, want) {
			t.Errorf("crm status failcounts lacks %q:\n%s", want, text)
		}
	}
	n1.MustCrm("resource", "cleanup", "d1")
	n1.WaitFor(10*time.Second, "fail counts cleared", func(st *api.Status) bool { return failCount(st) == 0 })
}
