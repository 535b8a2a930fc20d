package vip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// fakeKernel is an in-memory Kernel and Watcher whose state prints like `ip -br addr`, and which records
// every change as the ip(8) command that would make it.
type fakeKernel struct {
	mu       sync.Mutex
	links    map[string]Link
	routes   []fakeRoute
	addrs    []Addr
	ops      []string
	watchers map[chan struct{}]bool
	failAdd  error
}

type fakeRoute struct {
	dst  netip.Prefix
	link string
}

func newFakeKernel() *fakeKernel {
	f := &fakeKernel{links: map[string]Link{}, watchers: map[chan struct{}]bool{}}
	f.addLink("lo", nil)
	f.addLink("eth0", net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01})
	f.addLink("eth1", net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02})
	f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.1/24")},
		Addr{Link: "eth1", Prefix: netip.MustParsePrefix("192.168.7.1/24")},
		Addr{Link: "eth0", Prefix: netip.MustParsePrefix("fd00::1/64")})
	f.routes = []fakeRoute{{netip.MustParsePrefix("10.250.0.0/24"), "eth0"}, {netip.MustParsePrefix("192.168.7.0/24"), "eth1"},
		{netip.MustParsePrefix("fd00::/64"), "eth0"}, {netip.MustParsePrefix("127.0.0.0/8"), "lo"}}
	return f
}

func (f *fakeKernel) addLink(name string, mac net.HardwareAddr) {
	f.links[name] = Link{Index: len(f.links) + 1, Name: name, MAC: mac, Up: true}
}

// String renders the addresses per link, sorted, like `ip -br addr`.
func (f *fakeKernel) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	per := map[string][]string{}
	for _, a := range f.addrs {
		s := a.Prefix.String()
		if a.Label != "" {
			s += "(" + a.Label + ")"
		}
		if a.DADFailed {
			s += "(dadfailed)"
		}
		per[a.Link] = append(per[a.Link], s)
	}
	var names []string
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sort.Strings(per[n])
		fmt.Fprintf(&b, "%s %s\n", n, strings.Join(per[n], " "))
	}
	return b.String()
}

// takeOps returns and clears the recorded changes.
func (f *fakeKernel) takeOps() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(f.ops, "\n")
	f.ops = nil
	return s
}

func (f *fakeKernel) LinkByName(name string) (Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return Link{}, fmt.Errorf("find interface %s: %w", name, ErrNoLink)
	}
	return l, nil
}

func (f *fakeKernel) RouteLink(ip netip.Addr) (Link, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	best := -1
	var link string
	for _, r := range f.routes {
		if r.dst.Contains(ip) && r.dst.Bits() > best && r.link != "lo" {
			best, link = r.dst.Bits(), r.link
		}
	}
	if best < 0 {
		return Link{}, 0, fmt.Errorf("find the interface for %s: %w", ip, ErrNoRoute)
	}
	return f.links[link], best, nil
}

func (f *fakeKernel) Addrs(family int) ([]Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Addr
	for _, a := range f.addrs {
		if a.Prefix.Addr().Is4() == (family == FamilyV4) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeKernel) AddrReplace(link string, p netip.Prefix, o AddrOpts) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[link]; !ok {
		return fmt.Errorf("find interface %s: %w", link, ErrNoLink)
	}
	if f.failAdd != nil {
		return f.failAdd
	}
	f.ops = append(f.ops, op{add: true, link: link, prefix: p, opts: o}.String())
	for i, a := range f.addrs {
		if a.Link == link && a.Prefix.Addr() == p.Addr() {
			f.addrs[i] = Addr{Link: link, Prefix: p, Label: o.Label}
			f.notifyLocked()
			return nil
		}
	}
	f.addrs = append(f.addrs, Addr{Link: link, Prefix: p, Label: o.Label})
	f.notifyLocked()
	return nil
}

func (f *fakeKernel) AddrDel(link string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op{link: link, prefix: p}.String())
	return f.delLocked(link, p)
}

func (f *fakeKernel) delLocked(link string, p netip.Prefix) error {
	for i, a := range f.addrs {
		if a.Link == link && a.Prefix == p {
			f.addrs = append(f.addrs[:i], f.addrs[i+1:]...)
			f.notifyLocked()
			return nil
		}
	}
	return fmt.Errorf("remove %s from %s: cannot assign requested address", p, link)
}

// removeExternally deletes an address as an administrator or NetworkManager would, without recording it.
func (f *fakeKernel) removeExternally(link, prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.delLocked(link, netip.MustParsePrefix(prefix)); err != nil {
		panic(err)
	}
}

func (f *fakeKernel) set(fn func(f *fakeKernel)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeKernel) notifyLocked() {
	for ch := range f.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (f *fakeKernel) WatchAddrs(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	f.watchers[ch] = true
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.watchers, ch)
		close(ch)
		f.mu.Unlock()
	}()
	return ch, nil
}

// fakeAnnouncer records announcements with the (fake, in a synctest bubble) time since start.
type fakeAnnouncer struct {
	mu    sync.Mutex
	start time.Time
	sent  []string
}

func (a *fakeAnnouncer) Announce(l Link, ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent = append(a.sent, fmt.Sprintf("%v %s %s", time.Since(a.start).Round(time.Millisecond), ip, l.Name))
	return nil
}

func (a *fakeAnnouncer) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sent
	a.sent = nil
	return s
}
