package virtd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/duet-ha/duet/fencing"
)

// Netns is the backend for the namespace test topology: target T is network namespace Prefix+T.
// Off SIGKILLs every process in the namespace (ip netns pids) and sets its links down; on sets them up;
// a target is on while any of its non-loopback links is administratively up. It never kills its own process.
type Netns struct {
	Prefix string
	// Run runs a command and returns its stdout; default exec with a 20 s timeout.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Kill sends SIGKILL to pid; default syscall.Kill.
	Kill func(pid int) error
}

var _ fencing.Device = (*Netns)(nil)

var nsNameRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*$`)

// NewNetns returns a netns backend from the backends/netns block (key: prefix).
func NewNetns(b *Node) (*Netns, error) {
	n := &Netns{}
	if b != nil {
		n.Prefix, _ = b.Get("prefix")
	}
	if n.Prefix != "" && !nsNameRE.MatchString(n.Prefix) {
		return nil, fmt.Errorf("configure netns backend: bad prefix %q", n.Prefix)
	}
	return n, nil
}

func (n *Netns) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if n.Run != nil {
		return n.Run(ctx, name, args...)
	}
	return runCmd(ctx, name, args...)
}

func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("run %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

func (n *Netns) ns(target string) (string, error) {
	if !nsNameRE.MatchString(target) || strings.Contains(target, "..") {
		return "", fmt.Errorf("netns target %q: %w", target, fencing.ErrNotFound)
	}
	name := n.Prefix + target
	if _, err := os.Stat("/run/netns/" + name); err != nil {
		return "", fmt.Errorf("netns %s: %w", name, fencing.ErrNotFound)
	}
	return name, nil
}

type ipLink struct {
	Name  string   `json:"ifname"`
	Flags []string `json:"flags"`
}

func (n *Netns) links(ctx context.Context, ns string) ([]ipLink, error) {
	out, err := n.run(ctx, "ip", "-n", ns, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parse links of %s: %w", ns, err)
	}
	var out2 []ipLink
	for _, l := range links {
		if l.Name != "lo" {
			out2 = append(out2, l)
		}
	}
	return out2, nil
}

func (n *Netns) setLinks(ctx context.Context, ns string, up bool) error {
	links, err := n.links(ctx, ns)
	if err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	var errs []error
	for _, l := range links {
		if _, err := n.run(ctx, "ip", "-n", ns, "link", "set", "dev", l.Name, state); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *Netns) killAll(ctx context.Context, ns string) error {
	out, err := n.run(ctx, "ip", "netns", "pids", ns)
	if err != nil {
		return err
	}
	self := os.Getpid()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			continue
		}
		if pid == self {
			return fmt.Errorf("kill processes of %s: refusing, fence_virtd itself runs there", ns)
		}
		pids = append(pids, pid)
	}
	kill := n.Kill
	if kill == nil {
		kill = func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
	}
	var errs []error
	for _, pid := range pids {
		if err := kill(pid); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// Fence kills (off), revives the links of (on), or both (reboot) the target's namespace.
func (n *Netns) Fence(ctx context.Context, target string, action fencing.Action) error {
	ns, err := n.ns(target)
	if err != nil {
		return fmt.Errorf("fence %s: %w", target, err)
	}
	switch action {
	case fencing.Off, fencing.Reboot:
		// Links first: the node is cut off even if a kill fails.
		errL := n.setLinks(ctx, ns, false)
		errK := n.killAll(ctx, ns)
		if err := errors.Join(errL, errK); err != nil {
			return fmt.Errorf("fence %s off: %w", target, err)
		}
		if action == fencing.Off {
			return nil
		}
		fallthrough
	case fencing.On:
		if err := n.setLinks(ctx, ns, true); err != nil {
			return fmt.Errorf("fence %s on: %w", target, err)
		}
		return nil
	}
	return fmt.Errorf("fence %s: unknown action %v", target, action)
}

// Status is on while any non-loopback link of the namespace is up.
func (n *Netns) Status(ctx context.Context, target string) (fencing.PowerState, error) {
	ns, err := n.ns(target)
	if err != nil {
		return fencing.Unknown, fmt.Errorf("get status of %s: %w", target, err)
	}
	links, err := n.links(ctx, ns)
	if err != nil {
		return fencing.Unknown, fmt.Errorf("get status of %s: %w", target, err)
	}
	for _, l := range links {
		for _, f := range l.Flags {
			if f == "UP" {
				return fencing.PoweredOn, nil
			}
		}
	}
	return fencing.PoweredOff, nil
}

// List returns every namespace whose name starts with Prefix, named without it.
func (n *Netns) List(ctx context.Context) ([]fencing.Host, error) {
	out, err := n.run(ctx, "ip", "-j", "netns", "list")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var nss []struct {
		Name string `json:"name"`
	}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &nss); err != nil {
			return nil, fmt.Errorf("list namespaces: parse: %w", err)
		}
	}
	var hosts []fencing.Host
	for _, ns := range nss {
		name, ok := strings.CutPrefix(ns.Name, n.Prefix)
		if !ok || name == "" {
			continue
		}
		st, err := n.Status(ctx, name)
		if err != nil {
			continue
		}
		hosts = append(hosts, fencing.Host{Name: name, State: st})
	}
	return hosts, nil
}

// Monitor checks that namespaces can be listed.
func (n *Netns) Monitor(ctx context.Context) error {
	if _, err := n.run(ctx, "ip", "netns", "list"); err != nil {
		return fmt.Errorf("monitor netns backend: %w", err)
	}
	return nil
}
