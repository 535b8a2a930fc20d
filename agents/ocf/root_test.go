package ocf

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/internal/nettest"
)

// TestRootIPaddr2InNamespace runs Debian's ocf:heartbeat:IPaddr2 inside a test namespace (through
// ip netns exec, as clusterd would run there) through start, monitor and stop.
func TestRootIPaddr2InNamespace(t *testing.T) {
	topo := nettest.New(t)
	n1 := topo.AddHost("n1", "10.250.0.1/24")
	peer := topo.AddHost("peer", "10.250.0.2/24")
	a := heartbeatAgent(t, "IPaddr2", Options{Prefix: []string{"ip", "netns", "exec", n1.Name}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	md, err := a.MetaData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := agents.Request{Resource: "vip", Timeout: 20 * time.Second, Node: "n1", Params: map[string]string{
		"ip": "10.250.0.100", "cidr_netmask": "24", "nic": "eth0", "arp_bg": "false", "arp_count": "2", "arp_interval": "100",
	}}
	if err := agents.CheckParams("ocf:heartbeat:IPaddr2", md, r.Params); err != nil {
		t.Fatal(err)
	}
	if res := a.Monitor(ctx, r); res.RC != agents.NotRunning {
		t.Fatalf("probe = %+v", res)
	}
	if res := a.Start(ctx, r); res.RC != agents.Success {
		t.Fatalf("start = %+v", res)
	}
	if out := n1.Run("ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "10.250.0.100/24") {
		t.Fatalf("IPaddr2 did not add the address:\n%s", out)
	}
	peer.Run("ping", "-c", "1", "-W", "5", "10.250.0.100")
	r.Interval = 10 * time.Second
	if res := a.Monitor(ctx, r); res.RC != agents.Success {
		t.Fatalf("monitor = %+v", res)
	}
	if res := a.Stop(ctx, r); res.RC != agents.Success {
		t.Fatalf("stop = %+v", res)
	}
	if out := n1.Run("ip", "-o", "addr", "show"); strings.Contains(out, "10.250.0.100") {
		t.Fatalf("address left after stop:\n%s", out)
	}
	if res := a.Monitor(ctx, r); res.RC != agents.NotRunning {
		t.Fatalf("monitor after stop = %+v", res)
	}
	// A nic that does not exist: IPaddr2 itself says so, and the reason reaches the result.
	r.Params["nic"] = "eth9"
	res := a.Validate(ctx, r)
	if res.OK() || res.Reason == "" {
		t.Fatalf("validate-all with nic eth9 = %+v", res)
	}
	t.Logf("IPaddr2 on a missing nic: %v: %s", res.RC, res.Reason)
}
