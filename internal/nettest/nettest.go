// Package nettest builds the test topology of DESIGN.md section 6 out of real network namespaces:
// a switch namespace holding a bridge that is attached to no host interface, and hosts joined to it by veth
// pairs, with addresses in 10.250.0.0/16 and no default route. Everything it creates is deleted by t.Cleanup,
// also when the test fails. Names carry a per-run random part so that parallel runs cannot collide.
package nettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Enabled reports whether root network tests may run: the process is root and DUET_ROOT_TESTS=1.
func Enabled() bool {
	return os.Geteuid() == 0 && os.Getenv("DUET_ROOT_TESTS") == "1"
}

// SkipUnlessRoot skips the test unless Enabled.
func SkipUnlessRoot(t testing.TB) {
	t.Helper()
	if !Enabled() {
		t.Skip("root namespace test: run as root with DUET_ROOT_TESTS=1 (scripts/test.sh does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 missing: run scripts/deps.sh")
	}
}

// Topology is one switch namespace with its bridge and the hosts attached to it.
type Topology struct {
	t      testing.TB
	prefix string
	sw     string

	mu    sync.Mutex
	hosts []*Host
}

// Host is one namespace attached to the topology's bridge through the veth pair Link (host side, named eth0)
// and Peer (switch side).
type Host struct {
	Name  string // network namespace name
	Addr  string // CIDR address on eth0, e.g. 10.250.0.11/24
	Link  string // interface name inside the host: always eth0
	Peer  string // the veth end inside the switch namespace
	topo  *Topology
	short string
}

// New creates the switch namespace with bridge br0 (stp off, multicast snooping off so that VRRP and
// fence_xvm multicast pass). It skips the test unless root tests are enabled.
func New(t testing.TB) *Topology {
	t.Helper()
	SkipUnlessRoot(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tp := &Topology{t: t, prefix: "dt" + hex.EncodeToString(b)}
	tp.sw = tp.prefix + "-sw"
	t.Cleanup(tp.Close)
	tp.must("ip", "netns", "add", tp.sw)
	tp.must("ip", "-n", tp.sw, "link", "set", "lo", "up")
	tp.must("ip", "-n", tp.sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	tp.must("ip", "-n", tp.sw, "link", "set", "br0", "up")
	return tp
}

// Prefix is the per-run name prefix of every namespace in the topology.
func (tp *Topology) Prefix() string { return tp.prefix }

// Switch is the name of the switch namespace.
func (tp *Topology) Switch() string { return tp.sw }

// AddHost creates namespace <prefix>-<name> with eth0 = addr (CIDR, inside 10.250.0.0/16) on the bridge.
func (tp *Topology) AddHost(name, addr string) *Host {
	tp.t.Helper()
	if !strings.HasPrefix(addr, "10.250.") && !strings.HasPrefix(addr, "fd") {
		tp.t.Fatalf("nettest: address %s is outside 10.250.0.0/16", addr)
	}
	tp.mu.Lock()
	idx := len(tp.hosts)
	tp.mu.Unlock()
	h := &Host{Name: tp.prefix + "-" + name, Addr: addr, Link: "eth0", topo: tp, short: fmt.Sprintf("%s%d", tp.prefix, idx)}
	h.Peer = h.short + "s"
	tp.mu.Lock()
	tp.hosts = append(tp.hosts, h)
	tp.mu.Unlock()
	tp.must("ip", "netns", "add", h.Name)
	tp.must("ip", "-n", h.Name, "link", "set", "lo", "up")
	tp.must("ip", "link", "add", h.short+"h", "netns", h.Name, "type", "veth", "peer", "name", h.Peer, "netns", tp.sw)
	tp.must("ip", "-n", h.Name, "link", "set", h.short+"h", "name", "eth0")
	tp.must("ip", "-n", tp.sw, "link", "set", h.Peer, "master", "br0")
	tp.must("ip", "-n", tp.sw, "link", "set", h.Peer, "up")
	tp.must("ip", "-n", h.Name, "addr", "add", addr, "dev", "eth0")
	tp.must("ip", "-n", h.Name, "link", "set", "eth0", "up")
	return h
}

// Hosts returns the hosts in the order they were added.
func (tp *Topology) Hosts() []*Host {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]*Host(nil), tp.hosts...)
}

// Close deletes every namespace of the topology; t.Cleanup calls it. Processes still running inside
// belong to their starters, which must kill them by PID before this runs.
func (tp *Topology) Close() {
	tp.mu.Lock()
	hosts := tp.hosts
	tp.hosts = nil
	tp.mu.Unlock()
	for _, h := range hosts {
		_ = exec.Command("ip", "netns", "del", h.Name).Run()
	}
	_ = exec.Command("ip", "netns", "del", tp.sw).Run()
}

func (tp *Topology) must(args ...string) string {
	tp.t.Helper()
	out, err := run(args...)
	if err != nil {
		tp.t.Fatalf("nettest: %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// IP returns the host's address without the prefix length.
func (h *Host) IP() string { return strings.SplitN(h.Addr, "/", 2)[0] }

// Command returns a command that runs inside the host's namespace (ip netns exec). The caller owns the process.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output, failing the test on error.
func (h *Host) Run(args ...string) string {
	h.topo.t.Helper()
	out, err := h.Try(args...)
	if err != nil {
		h.topo.t.Fatalf("nettest: in %s: %v\n%s", h.Name, err, out)
	}
	return out
}

// Try runs a command inside the namespace and returns its output and error.
func (h *Host) Try(args ...string) (string, error) {
	return run(append([]string{"ip", "netns", "exec", h.Name}, args...)...)
}

// SetLink sets the host's eth0 up or down from the switch side, as a cable pull does.
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := run("ip", "-n", h.topo.sw, "link", "set", h.Peer, state)
	return err
}

// Do runs fn on a locked OS thread switched into the host's namespace, for Go code that must open sockets or
// netlink handles there. Sockets opened inside stay in the namespace after Do returns.
func (h *Host) Do(fn func() error) error {
	return InNetns(h.Name, fn)
}

// InNetns runs fn on a locked OS thread switched into the named network namespace.
func InNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: if switching back failed it must die with the goroutine,
		// and leaving it locked makes the runtime do that.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(name)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
