package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoLink is matched (errors.Is) by Kernel errors for an interface that does not exist.
var ErrNoLink = errors.New("no such interface")

// ErrNoRoute is matched by RouteLink's error when no connected route covers the address.
var ErrNoRoute = errors.New("no connected route")

// Link is what the agent needs to know of a network interface.
type Link struct {
	Index int
	Name  string
	MAC   net.HardwareAddr // empty for links without one (lo, tun)
	Up    bool             // administratively up (IFF_UP)
}

// Addr is one address assigned to a link.
type Addr struct {
	Link      string
	Prefix    netip.Prefix // the address with its prefix length, e.g. 10.250.0.100/24
	Label     string       // IPv4 label (eth0:vip), "" when none
	DADFailed bool         // IPv6 duplicate address detection failed
}

// AddrOpts are the optional attributes of an address the agent adds.
type AddrOpts struct {
	Label         string // IPv4 only
	NoDAD         bool   // IPv6: IFA_F_NODAD
	NoPrefixRoute bool   // IFA_F_NOPREFIXROUTE
}

// Kernel is the seam between the agent and the kernel's links, routes and addresses. The netlink
// implementation is NewKernel's; tests use a fake that renders `ip addr` text. Implementations must be safe
// for concurrent use. Each method blocks for one netlink round trip.
type Kernel interface {
	// LinkByName returns the named link or an error matching ErrNoLink.
	LinkByName(name string) (Link, error)
	// RouteLink returns the link of the most specific connected (gateway-less) route in the main table that
	// covers ip, with that route's prefix length, or an error matching ErrNoRoute. Routes on lo are ignored.
	RouteLink(ip netip.Addr) (Link, int, error)
	// Addrs lists every address of ip's family on every link.
	Addrs(family int) ([]Addr, error)
	// AddrReplace adds p to the link, or updates it in place when present.
	AddrReplace(link string, p netip.Prefix, o AddrOpts) error
	// AddrDel removes p from the link; removing an absent address is an error.
	AddrDel(link string, p netip.Prefix) error
}

// Watcher tells the agent that addresses changed, so it can re-assert its VIPs at once instead of at the
// next check. WatchAddrs returns a channel that receives a value after one or more changes (coalesced)
// and is closed after ctx ends and the watch has stopped.
type Watcher interface {
	WatchAddrs(ctx context.Context) (<-chan struct{}, error)
}

// Family values for Kernel.Addrs.
const (
	FamilyV4 = unix.AF_INET
	FamilyV6 = unix.AF_INET6
)

// NetlinkKernel is the Kernel and Watcher of a network namespace, over vishvananda/netlink.
type NetlinkKernel struct {
	h  *netlink.Handle
	ns netns.NsHandle // the target namespace, or -1 for the current one; closed by Close
}

// NewKernel opens a netlink handle in the named network namespace (as `ip netns add` names it), or in the
// namespace the process runs in when nsName is "". The caller must Close it.
func NewKernel(nsName string) (*NetlinkKernel, error) {
	if nsName == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink handle: %w", err)
		}
		return &NetlinkKernel{h: h, ns: netns.None()}, nil
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", nsName, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open netlink handle in %s: %w", nsName, err)
	}
	return &NetlinkKernel{h: h, ns: ns}, nil
}

// Close releases the netlink handle and the namespace handle.
func (k *NetlinkKernel) Close() error {
	k.h.Close()
	if k.ns.IsOpen() {
		return k.ns.Close()
	}
	return nil
}

func toLink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Index: a.Index, Name: a.Name, MAC: a.HardwareAddr, Up: a.Flags&net.FlagUp != 0}
}

// LinkByName implements Kernel.
func (k *NetlinkKernel) LinkByName(name string) (Link, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return Link{}, fmt.Errorf("find interface %s: %w", name, ErrNoLink)
		}
		return Link{}, fmt.Errorf("find interface %s: %w", name, err)
	}
	return toLink(l), nil
}

// RouteLink implements Kernel.
func (k *NetlinkKernel) RouteLink(ip netip.Addr) (Link, int, error) {
	fam := FamilyV4
	if ip.Is6() {
		fam = FamilyV6
	}
	routes, err := k.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return Link{}, 0, fmt.Errorf("list routes: %w", err)
	}
	best, bestLen := -1, -1
	for _, r := range routes {
		if r.Dst == nil || r.Gw != nil || len(r.MultiPath) > 0 || r.LinkIndex <= 0 {
			continue
		}
		p, ok := prefixOf(*r.Dst)
		if !ok || !p.Contains(ip) || p.Bits() <= bestLen {
			continue
		}
		best, bestLen = r.LinkIndex, p.Bits()
	}
	if best < 0 {
		return Link{}, 0, fmt.Errorf("find the interface for %s: %w", ip, ErrNoRoute)
	}
	l, err := k.h.LinkByIndex(best)
	if err != nil {
		return Link{}, 0, fmt.Errorf("find interface %d: %w", best, err)
	}
	if l.Attrs().Flags&net.FlagLoopback != 0 {
		return Link{}, 0, fmt.Errorf("find the interface for %s: only lo: %w", ip, ErrNoRoute)
	}
	return toLink(l), bestLen, nil
}

func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Addrs implements Kernel.
func (k *NetlinkKernel) Addrs(family int) ([]Addr, error) {
	links, err := k.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	as, err := k.h.AddrList(nil, family)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]Addr, 0, len(as))
	for _, a := range as {
		p, ok := prefixOf(*a.IPNet)
		if !ok {
			continue
		}
		out = append(out, Addr{Link: names[a.LinkIndex], Prefix: p, Label: a.Label, DADFailed: a.Flags&unix.IFA_F_DADFAILED != 0})
	}
	return out, nil
}

func (k *NetlinkKernel) link(name string) (netlink.Link, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("find interface %s: %w", name, ErrNoLink)
		}
		return nil, fmt.Errorf("find interface %s: %w", name, err)
	}
	return l, nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
}

// AddrReplace implements Kernel.
func (k *NetlinkKernel) AddrReplace(link string, p netip.Prefix, o AddrOpts) error {
	l, err := k.link(link)
	if err != nil {
		return err
	}
	a := nlAddr(p)
	if p.Addr().Is4() {
		a.Label = o.Label
	}
	if o.NoDAD && p.Addr().Is6() {
		a.Flags |= unix.IFA_F_NODAD
	}
	if o.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if err := k.h.AddrReplace(l, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", p, link, err)
	}
	return nil
}

// AddrDel implements Kernel.
func (k *NetlinkKernel) AddrDel(link string, p netip.Prefix) error {
	l, err := k.link(link)
	if err != nil {
		return err
	}
	if err := k.h.AddrDel(l, nlAddr(p)); err != nil {
		return fmt.Errorf("remove %s from %s: %w", p, link, err)
	}
	return nil
}

// WatchAddrs implements Watcher with a netlink address subscription in the kernel's namespace. The
// subscription's goroutines end, and the channel closes, after ctx ends.
func (k *NetlinkKernel) WatchAddrs(ctx context.Context) (<-chan struct{}, error) {
	updates := make(chan netlink.AddrUpdate, 16)
	done := make(chan struct{})
	opts := netlink.AddrSubscribeOptions{ErrorCallback: func(error) {}}
	if k.ns.IsOpen() {
		ns := k.ns
		opts.Namespace = &ns
	}
	if err := netlink.AddrSubscribeWithOptions(updates, done, opts); err != nil {
		return nil, fmt.Errorf("subscribe to address changes: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		stop := ctx.Done()
		for {
			select {
			case <-stop:
				close(done)
				stop = nil
				// Drain until the subscription closes updates, so its goroutine never blocks on a send.
			case _, ok := <-updates:
				if !ok {
					if stop != nil {
						close(done) // the subscription died on its own; let its closer goroutine go
					}
					return
				}
				if stop != nil {
					select {
					case out <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return out, nil
}

// inNetns runs fn on an OS thread switched into the network namespace ns, or directly when ns is not
// open (the process's own namespace). Sockets fn opens stay in ns.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	var wg sync.WaitGroup
	var ferr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The thread stays locked if switching back fails, so the runtime discards it with the goroutine.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ferr = fmt.Errorf("get current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			ferr = fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr = fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	wg.Wait()
	return ferr
}
