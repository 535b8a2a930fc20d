package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/api"
)

func onlineCount(st *api.Status) int {
	n := 0
	for _, x := range st.Nodes {
		if x.Online {
			n++
		}
	}
	return n
}

// TestFormSetAndPersist forms a two-node cluster, changes properties and standby through crm on the
// non-DC node (forwarded to the DC), stops both nodes cleanly and then by SIGKILL, and checks after each
// restart that everything is still there and the epoch never went back.
func TestFormSetAndPersist(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1, n2 := c.Node("n1"), c.Node("n2")
	st := n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	if fi, err := os.Stat(n1.Socket()); err != nil {
		t.Fatal(err)
	} else if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("API socket %s has mode %v; want a socket with mode 0600", n1.Socket(), fi.Mode())
	}
	other := n1
	if st.DC == "n1" {
		other = n2
	}
	other.MustCrm("configure", "property", "no-quorum-policy=ignore", "stonith-enabled=false", "cluster-name=duet-test")
	other.MustCrm("node", "standby", "n2")
	out, code := other.Crm("configure", "property", "no-quorum-polcy=stop")
	if code == 0 || !strings.Contains(out, `unknown property "no-quorum-polcy" (did you mean "no-quorum-policy"?)`) {
		t.Fatalf("typo accepted or unclear: exit %d: %s", code, out)
	}
	out, code = other.Crm("node", "standby", "n9")
	if code == 0 || !strings.Contains(out, `node "n9" is not in the cluster`) {
		t.Fatalf("unknown node: exit %d: %s", code, out)
	}
	st = n1.WaitFor(5*time.Second, "standby n2 visible", func(st *api.Status) bool {
		return st.CIB.Properties["cluster-name"] == "duet-test" && st.Nodes[1].Standby
	})
	epoch := st.CIB.Epoch
	if text := n2.MustCrm("status"); !strings.Contains(text, "Node n2: standby") || !strings.Contains(text, "Current DC: ") {
		t.Fatalf("crm status:\n%s", text)
	}

	for round, stop := range []func(*Node){(*Node).Stop, (*Node).Kill} {
		for _, n := range c.Nodes {
			stop(n)
		}
		c.Start()
		// The CIB is back once the re-formed cluster has committed again (a SIGKILLed node has no fresh
		// snapshot, and Raft re-applies its log only after a leader commits).
		st = n1.WaitFor(20*time.Second, "cluster back with its CIB", func(st *api.Status) bool {
			return st.DC != "" && onlineCount(st) == 2 && st.CIB.Epoch >= epoch
		})
		if st.CIB.Epoch < epoch || st.CIB.Properties["cluster-name"] != "duet-test" || !st.Nodes[1].Standby || st.CIB.Properties["no-quorum-policy"] != "ignore" {
			t.Fatalf("round %d: after restart: epoch %d (was %d), properties %v, nodes %+v", round, st.CIB.Epoch, epoch, st.CIB.Properties, st.Nodes)
		}
		epoch = st.CIB.Epoch
	}
	if out := n1.MustCrm("configure", "show"); !strings.Contains(out, "cluster-name=duet-test") || !strings.Contains(out, "# CIB epoch") {
		t.Fatalf("configure show:\n%s", out)
	}
}

// TestTwoNodeTakeover kills the DC with SIGKILL and pulls its cable at the same moment: the survivor must
// become DC with quorum (two_node), move the resources, and record the failover timeline; when the dead
// node returns it rejoins as a voter.
func TestTwoNodeTakeover(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1 := c.Node("n1")
	st := n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	n1.MustCrm("configure", "primitive", "d1", "ocf:duet:dummy", "op", "monitor", "interval=1s")
	n1.MustCrm("configure", "primitive", "d2", "ocf:duet:dummy")
	n1.MustCrm("configure", "group", "g", "d1", "d2")
	st = n1.WaitFor(10*time.Second, "group running together", func(st *api.Status) bool {
		return runningOn(st, "d2") != "" && runningOn(st, "d1") == runningOn(st, "d2")
	})
	victim := c.Node(runningOn(st, "d2"))
	survivor := c.Node("n1")
	if victim.Name == "n1" {
		survivor = c.Node("n2")
	}
	killed := time.Now()
	victim.Kill()
	victim.SetLink(false)
	// The design's goal is a takeover well under a second (the benchmark measures it); 4.5 s leaves room for a
	// loaded machine running -race and still fails with memberlist's default timers (5.7 s to notice).
	survivor.WaitFor(4500*time.Millisecond, "survivor DC with quorum and the victim offline within 4.5 s", func(st *api.Status) bool {
		for _, n := range st.Nodes {
			if n.Name == victim.Name && n.Online {
				return false
			}
		}
		return st.DC == survivor.Name && st.Quorum.Quorate
	})
	t.Logf("takeover seen %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	st = survivor.WaitFor(15*time.Second, "survivor DC with the group, timeline recorded", func(st *api.Status) bool {
		return st.DC == survivor.Name && st.Quorum.Quorate && runningOn(st, "d1") == survivor.Name && runningOn(st, "d2") == survivor.Name &&
			st.Store.Timeline != nil && strings.Contains(fmt.Sprint(st.Store.Timeline.Events), "d2 started")
	})
	if st.Store.Timeline == nil || len(st.Store.Timeline.Events) < 3 {
		t.Fatalf("no failover timeline: %+v", st.Store.Timeline)
	}
	text := survivor.MustCrm("status")
	for _, want := range []string{"Last Failover", "peer " + victim.Name + " lost", "became DC", "d2 started on " + survivor.Name, "OFFLINE: [ " + victim.Name + " ]"} {
		if !strings.Contains(text, want) {
			t.Errorf("crm status lacks %q:\n%s", want, text)
		}
	}
	// The victim returns: it rejoins as a voter, and the group stays where it is (no needless move).
	victim.SetLink(true)
	victim.Start()
	survivor.WaitFor(20*time.Second, "victim back and a voter", func(st *api.Status) bool {
		for _, n := range st.Nodes {
			if n.Name == victim.Name && (!n.Online || n.Pending) {
				return false
			}
		}
		return true
	})
	victim.WaitFor(10*time.Second, "victim sees the cluster", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 })
	st = survivor.Status()
	if runningOn(st, "d1") != survivor.Name {
		t.Fatalf("group moved back after the victim returned: %s", runningOn(st, "d1"))
	}
}

func runningOn(st *api.Status, rsc string) string {
	for node, ops := range st.Store.Ops {
		if r, ok := ops[rsc]; ok && r.Running && !r.Failed {
			return node
		}
	}
	return ""
}

// TestPartitionAndHeal splits the two nodes with nftables (both keep reaching the rest): with stonith
// disabled both become DC, as pacemaker's two_node does. Each side commits a change; on heal the higher
// epoch wins, the loser saves what it discards beside its data dir and rejoins.
func TestPartitionAndHeal(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1, n2 := c.Node("n1"), c.Node("n2")
	n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	c.Partition(n1, n2)
	for _, n := range []*Node{n1, n2} {
		n.WaitFor(15*time.Second, "alone and DC", func(st *api.Status) bool { return st.DC == n.Name && st.Quorum.Quorate && onlineCount(st) == 1 })
	}
	// n1 makes two changes, n2 one: n1's history wins.
	n1.MustCrm("configure", "property", "cluster-name=side-one")
	n1.MustCrm("configure", "property", "batch-limit=7")
	n2.MustCrm("configure", "property", "cluster-name=side-two")
	c.Heal(n1, n2)
	st := n2.WaitFor(30*time.Second, "merged on n1's history", func(st *api.Status) bool {
		return st.CIB.Properties["cluster-name"] == "side-one" && onlineCount(st) == 2 && st.DC != ""
	})
	if st.CIB.Properties["batch-limit"] != "7" {
		t.Fatalf("merged CIB lacks n1's second change: %v", st.CIB.Properties)
	}
	saved, _ := filepath.Glob(filepath.Join(n2.Dir, "data", "discarded", "*.json"))
	if len(saved) == 0 {
		t.Fatal("the loser saved nothing of what it discarded")
	}
	b, err := os.ReadFile(saved[len(saved)-1])
	if err != nil || !strings.Contains(string(b), "side-two") {
		t.Fatalf("saved copy does not hold the discarded change: %v\n%s", err, b)
	}
	if !strings.Contains(n2.Log(), "discarded local cluster state to rejoin") {
		t.Fatal("the loser's log does not say it discarded its state")
	}
	n1.WaitFor(10*time.Second, "n1 sees n2 as a member again", func(st *api.Status) bool {
		return onlineCount(st) == 2 && !st.Nodes[1].Pending
	})
}

// TestWitness runs a witness as the third voter: killing the DC leaves a real majority, the other node
// becomes DC through Raft alone, and the witness never runs a resource.
func TestWitness(t *testing.T) {
	c := New(t, Options{Witness: true})
	c.Start()
	n1 := c.Node("n1")
	st := n1.WaitFor(20*time.Second, "three voters and a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 3 && st.Quorum.Quorate })
	if st.Quorum.Expected != 3 || st.Quorum.Quorum != 2 {
		t.Fatalf("quorum with witness: %+v", st.Quorum)
	}
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	n1.MustCrm("configure", "primitive", "d1", "ocf:duet:dummy")
	n1.MustCrm("configure", "clone", "cl", "d1")
	st = n1.WaitFor(10*time.Second, "clone on n1 and n2 only", func(st *api.Status) bool {
		return st.Store.Ops["n1"]["d1"].Running && st.Store.Ops["n2"]["d1"].Running && st.DC != ""
	})
	if st.Store.Ops["w"]["d1"].Running {
		t.Fatal("the witness runs a resource")
	}
	dc := c.Node(st.DC)
	var other *Node
	for _, n := range c.Nodes {
		if n != dc && !n.Witness {
			other = n
		}
	}
	if dc.Witness {
		// The witness may lead Raft; then kill a data node instead and check the DC stays.
		other.Kill()
		dc.WaitFor(15*time.Second, "witness DC keeps quorum", func(st *api.Status) bool { return st.Quorum.Quorate && onlineCount(st) == 2 })
		return
	}
	dc.Kill()
	dc.SetLink(false)
	other.WaitFor(15*time.Second, "new DC through raft majority", func(st *api.Status) bool {
		return st.DC != "" && st.DC != dc.Name && st.Quorum.Quorate
	})
}
