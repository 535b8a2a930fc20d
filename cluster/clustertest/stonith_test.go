package clustertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/api"
)

// vipHolder lists the nodes that serve the VIP: the address is on eth0 and eth0 is up (a fenced node keeps
// its configuration in the netns backend, but its links are down, as a powered-off machine's are).
func vipHolder(c *Cluster) []string {
	var out []string
	for _, n := range c.Nodes {
		if n.Witness {
			continue
		}
		addr, err1 := n.Host.Try("ip", "-o", "addr", "show", "dev", "eth0")
		link, err2 := n.Host.Try("ip", "-o", "link", "show", "dev", "eth0")
		if err1 == nil && err2 == nil && strings.Contains(addr, " 10.250.0.100/24") && strings.Contains(link, ",UP") {
			out = append(out, n.Name)
		}
	}
	return out
}

func fenced(st *api.Status, target string) bool {
	for _, f := range st.Store.Fencing {
		if f.Target == target && f.OK {
			return true
		}
	}
	return false
}

// stonithCluster starts two nodes with a fence device (fence_virtd, netns backend) and a VIP.
func stonithCluster(t *testing.T, delayBase string) *Cluster {
	c := New(t, Options{Fence: true})
	c.Start()
	n1 := c.Node("n1")
	n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	params := []string{"pcmk_host_map=n1:n1;n2:n2", "key_file=" + c.FenceKey}
	if delayBase != "" {
		params = append(params, "pcmk_delay_base="+delayBase)
	}
	args := append([]string{"configure", "primitive", "fence_nodes", "stonith:fence_xvm", "params"}, params...)
	n1.MustCrm(append(args, "op", "monitor", "interval=60s")...)
	// off, not reboot: the netns backend's "on" brings the links back with the old addresses, which a
	// rebooted machine would not have.
	n1.MustCrm("configure", "property", "stonith-action=off")
	n1.MustCrm("configure", "primitive", "vip", "ocf:duet:vip", "params", "ip=10.250.0.100", "cidr_netmask=24", "op", "monitor", "interval=1s")
	n1.WaitFor(20*time.Second, "vip running", func(st *api.Status) bool { return runningOn(st, "vip") != "" })
	return c
}

// TestStonithCablePull pulls the active node's cable: the survivor must fence it through fence_virtd
// before it takes the VIP, and the fence history shows it.
func TestStonithCablePull(t *testing.T) {
	c := stonithCluster(t, "")
	st := c.Node("n1").WaitFor(10*time.Second, "vip placed", func(st *api.Status) bool { return runningOn(st, "vip") != "" })
	victim := c.Node(runningOn(st, "vip"))
	survivor := c.Node("n1")
	if victim.Name == "n1" {
		survivor = c.Node("n2")
	}
	victim.SetLink(false)
	st = survivor.WaitFor(30*time.Second, "victim fenced and vip moved", func(st *api.Status) bool {
		return fenced(st, victim.Name) && runningOn(st, "vip") == survivor.Name
	})
	if err := victim.Wait(20 * time.Second); err == nil {
		t.Fatal("the fenced node's clusterd exited cleanly: it should have been killed by the fence")
	}
	if h := vipHolder(c); len(h) != 1 || h[0] != survivor.Name {
		t.Fatalf("VIP held by %v, want only %s", h, survivor.Name)
	}
	text := survivor.MustCrm("status", "full")
	if !strings.Contains(text, "Fencing History:") || !strings.Contains(text, "of "+victim.Name+" successful") {
		t.Fatalf("crm status full lacks the fence:\n%s", text)
	}
	tl := fmt.Sprint(st.Store.Timeline)
	if !strings.Contains(tl, victim.Name+" fenced") {
		t.Fatalf("timeline lacks the fence: %s", tl)
	}
}

// TestStonithPartition splits the nodes from each other only (both still reach the fence host): the fence
// race is decided by pcmk_delay_base, so exactly one node survives, and it holds the VIP.
func TestStonithPartition(t *testing.T) {
	c := stonithCluster(t, "n1:4s")
	n1, n2 := c.Node("n1"), c.Node("n2")
	c.Partition(n1, n2)
	// Fencing n1 waits 4 s, so n1 fences n2 first and survives.
	n1.WaitFor(40*time.Second, "n2 fenced, vip on n1", func(st *api.Status) bool {
		return fenced(st, "n2") && runningOn(st, "vip") == "n1" && st.DC == "n1"
	})
	if err := n2.Wait(20 * time.Second); err == nil {
		t.Fatal("n2's clusterd exited cleanly: it should have been fenced")
	}
	time.Sleep(5 * time.Second) // past n1's fence delay: n1 must still be alive
	if !n1.Running() {
		t.Fatal("both nodes were fenced")
	}
	if h := vipHolder(c); len(h) != 1 || h[0] != "n1" {
		t.Fatalf("VIP held by %v, want only n1", h)
	}
}

// TestNoDeviceBlocks enables stonith without a device: a lost peer's resources must not start elsewhere,
// and crm_mon must say why.
func TestNoDeviceBlocks(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1 := c.Node("n1")
	n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	n1.MustCrm("configure", "primitive", "d1", "ocf:duet:dummy")
	st := n1.WaitFor(20*time.Second, "d1 running", func(st *api.Status) bool { return runningOn(st, "d1") != "" })
	n1.MustCrm("configure", "property", "stonith-enabled=true")
	victim := c.Node(runningOn(st, "d1"))
	survivor := c.Node("n1")
	if victim.Name == "n1" {
		survivor = c.Node("n2")
	}
	victim.Kill()
	victim.SetLink(false)
	st = survivor.WaitFor(20*time.Second, "notice about fencing", func(st *api.Status) bool {
		return strings.Contains(fmt.Sprint(st.Notices), "fencing of "+victim.Name+" failed")
	})
	if runningOn(st, "d1") == survivor.Name {
		t.Fatal("d1 started on the survivor without fencing")
	}
	text := survivor.MustCrm("status")
	if !strings.Contains(text, "UNCLEAN (offline)") || !strings.Contains(text, "no fence device configured") {
		t.Fatalf("crm status does not say why nothing moves:\n%s", text)
	}
	// crm node clearstate refuses a node that is up, and lets the cluster recover once a lost node is
	// confirmed down by hand.
	if out, code := survivor.Crm("node", "clearstate", survivor.Name); code == 0 || !strings.Contains(out, "is up") {
		t.Fatalf("clearstate of a live node: exit %d: %s", code, out)
	}
	survivor.MustCrm("node", "clearstate", victim.Name)
	survivor.WaitFor(20*time.Second, "survivor DC after the manual confirmation", func(st *api.Status) bool { return st.DC == survivor.Name })
	// As in pacemaker, nothing starts while stonith is enabled without a device; crm_mon says so.
	text = survivor.MustCrm("status")
	if strings.Contains(text, "UNCLEAN") || !strings.Contains(text, "no STONITH resource is defined") {
		t.Fatalf("after clearstate:\n%s", text)
	}
	survivor.MustCrm("configure", "property", "stonith-enabled=false")
	survivor.WaitFor(20*time.Second, "d1 recovered once stonith is off", func(st *api.Status) bool { return runningOn(st, "d1") == survivor.Name })
}
