// Package builtin wires Duet's agent packages into an agents.Registry: the classes ocf (scripts under
// OCF_ROOT), lsb and systemd, and the built-in agents of provider duet (vip, dummy), with
// ocf:pacemaker:Dummy falling back to the built-in Dummy where pacemaker's script is not installed.
//
//	opts, err := builtin.Options(builtin.Config{Logger: log})
//	reg := agents.NewRegistry(opts)
//	defer reg.Close() // stops the VIP agent's goroutine
package builtin

import (
	"fmt"
	"log/slog"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/dummy"
	"github.com/duet-ha/duet/agents/lsb"
	"github.com/duet-ha/duet/agents/ocf"
	proxyagent "github.com/duet-ha/duet/agents/proxy"
	"github.com/duet-ha/duet/agents/systemd"
	"github.com/duet-ha/duet/agents/vip"
)

// Config is what the built-in agents need to know of the host.
type Config struct {
	OCFRoot  string   // default /usr/lib/ocf
	InitDir  string   // default /etc/init.d
	UnitDirs []string // default the systemd unit directories

	// Netns, when set, is the named network namespace (ip netns add) the agents act in: the VIP agent
	// opens its netlink handle and sockets there and scripts run under ip netns exec. Empty means the
	// namespace the process runs in, which is right for clusterd started under ip netns exec.
	Netns string

	VIP    vip.Options  // the VIP agent's intervals; Kernel, Watcher and Announcer are filled in
	Logger *slog.Logger // nil discards
}

// Options returns registry options with every built-in agent and class runner. It creates the VIP agent,
// which owns a netlink handle: the Registry made from the options closes it, so call Registry.Close.
func Options(c Config) (agents.RegistryOptions, error) {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var prefix []string
	if c.Netns != "" {
		prefix = []string{"ip", "netns", "exec", c.Netns}
	}
	vo := c.VIP
	vo.Logger = log.With("agent", "ocf:duet:vip")
	v, err := vip.NewNetlink(c.Netns, vo)
	if err != nil {
		return agents.RegistryOptions{}, fmt.Errorf("create built-in agents: %w", err)
	}
	ocfRoot := c.OCFRoot
	if ocfRoot == "" {
		ocfRoot = "/usr/lib/ocf"
	}
	return agents.RegistryOptions{
		OCFRoot: ocfRoot, InitDir: c.InitDir, UnitDirs: c.UnitDirs,
		NewOCF: func(n agents.Name, path string) agents.Agent {
			return ocf.New(n, path, ocf.Options{OCFRoot: ocfRoot, Prefix: prefix, Logger: log.With("agent", n.String())})
		},
		NewLSB:     func(path string) agents.Agent { return lsb.New(path, lsb.Options{Prefix: prefix}) },
		NewSystemd: func(unit string) agents.Agent { return systemd.New(unit, systemd.Options{}) },
		Builtin:    map[string]agents.Agent{"vip": v, "dummy": dummy.New(), "proxy": proxyagent.New(log.With("agent", "ocf:duet:proxy"))},
		Aliases:    map[string]string{"ocf:pacemaker:Dummy": "ocf:duet:dummy"},
		Logger:     log,
	}, nil
}
