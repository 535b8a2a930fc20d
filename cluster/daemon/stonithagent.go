package daemon

import (
	"context"
	"sync"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/cluster/cib"
)

// stonithAgent runs stonith:fence_xvm resources the way pacemaker runs fence devices: start checks that
// the device can be built (key, hash, address) and that the fence daemon answers; monitor asks the daemon
// again; stop forgets it. Fencing itself does not need the resource to run: the Fencer reads the CIB.
type stonithAgent struct {
	mu      sync.Mutex
	running map[string]bool
}

func newStonithAgent() *stonithAgent { return &stonithAgent{running: map[string]bool{}} }

func (a *stonithAgent) check(ctx context.Context, r agents.Request) agents.Result {
	dev, err := newDevice(cib.Primitive{ID: r.Resource, Class: "stonith", Type: "fence_xvm", Params: r.Params})
	if err != nil {
		return agents.Result{RC: agents.ErrConfigured, Reason: err.Error()}
	}
	if err := dev.Monitor(ctx); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: "fence daemon does not answer: " + err.Error()}
	}
	return agents.Result{RC: agents.Success}
}

func (a *stonithAgent) Start(ctx context.Context, r agents.Request) agents.Result {
	res := a.check(ctx, r)
	if res.OK() {
		a.mu.Lock()
		a.running[r.Resource] = true
		a.mu.Unlock()
	}
	return res
}

func (a *stonithAgent) Stop(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	delete(a.running, r.Resource)
	a.mu.Unlock()
	return agents.Result{RC: agents.Success}
}

func (a *stonithAgent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	on := a.running[r.Resource]
	a.mu.Unlock()
	if !on {
		return agents.Result{RC: agents.NotRunning}
	}
	return a.check(ctx, r)
}

func (a *stonithAgent) Validate(ctx context.Context, r agents.Request) agents.Result {
	if _, err := newDevice(cib.Primitive{ID: r.Resource, Class: "stonith", Type: "fence_xvm", Params: r.Params}); err != nil {
		return agents.Result{RC: agents.ErrConfigured, Reason: err.Error()}
	}
	return agents.Result{RC: agents.Success}
}

func (a *stonithAgent) MetaData(context.Context) (*agents.Metadata, error) {
	p := func(name, desc string) agents.Parameter {
		return agents.Parameter{Name: name, Type: "string", ShortDesc: desc}
	}
	return &agents.Metadata{Name: "fence_xvm", Version: "1.9.0", ShortDesc: "Fence agent for virtual machines (fence_virtd)",
		Parameters: []agents.Parameter{
			p("key_file", "shared key file (default /etc/cluster/fence_xvm.key)"),
			p("hash", "request signing: none, sha1, sha256 (default), sha512"),
			p("auth", "challenge-response: none, sha1, sha256 (default), sha512"),
			p("multicast_address", "multicast group (default 225.0.0.12)"),
			p("ipport", "port (default 1229)"),
			p("ip_family", "ipv4 or ipv6"),
			p("ipaddr", "fence_virtd's TCP listener address (TCP mode)"),
			p("timeout", "per-request timeout"),
			p("retrans", "accepted for compatibility"),
			p("port", "accepted for compatibility"),
			p("delay", "accepted for compatibility"),
			p("pcmk_host_map", "node:port;node:port"),
			p("pcmk_host_list", "nodes this device can fence"),
			p("pcmk_host_check", "accepted for compatibility"),
			p("pcmk_delay_base", "fixed delay before fencing (or node:delay;...)"),
			p("pcmk_delay_max", "random delay up to this before fencing"),
		}}, nil
}
