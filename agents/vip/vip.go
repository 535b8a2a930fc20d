// Package vip is Duet's virtual IP agent (ocf:duet:vip): it puts an address on an interface, announces it
// with gratuitous ARP (IPv4, request and reply forms) or an unsolicited neighbour advertisement (IPv6), keeps
// re-announcing it while it runs, and re-asserts it when something else removes it. Its parameters follow
// ocf:heartbeat:IPaddr2's (ip, cidr_netmask, nic, iflabel, arp_count, arp_interval, nodad, noprefixroute).
//
// The agent is declarative: for each resource it holds the desired address, diffs it against the
// kernel's addresses (Kernel, a narrow seam over netlink) and applies the difference, at start, on every
// address change the kernel reports (Watcher) and on a ticker. One goroutine per Agent, started by the first
// Start and stopped by the Stop of the last VIP or by Close, does the re-assertion and the periodic
// announcements.
package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/agents"
)

// Options configure an Agent. Kernel is required; the rest have defaults.
type Options struct {
	Kernel    Kernel    // the kernel's addresses; required
	Watcher   Watcher   // address change events; nil relies on CheckInterval alone
	Announcer Announcer // gratuitous ARP and NA; nil sends nothing

	// CheckInterval is how often the agent compares the kernel's addresses with the desired ones even
	// without an event. Default 2s.
	CheckInterval time.Duration
	// RefreshInterval is how often a running VIP is announced again after its start burst (kube-vip uses
	// 3s, keepalived's garp_master_refresh is off by default). Default 10s; negative disables.
	RefreshInterval time.Duration

	Logger *slog.Logger // nil discards
}

// Agent is the VIP agent. It is safe for concurrent use on different resources; operations on the same
// resource must not overlap (the executor serialises them). Close stops its goroutine; it does not remove
// addresses, which is Stop's job.
type Agent struct {
	k         Kernel
	watcher   Watcher
	ann       Announcer
	check     time.Duration
	refresh   time.Duration
	log       *slog.Logger
	closeFunc func() error // closes what NewNetlink opened

	kick chan struct{}

	mu     sync.Mutex // guards the fields below and serialises kernel changes
	vips   map[string]*vipState
	loop   *loop // the running goroutine, nil when no VIP is held
	closed bool
}

// loop is one run of the agent's goroutine.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
}

type vipState struct {
	rsc          string
	cfg          config
	link         Link
	prefix       netip.Prefix
	burstLeft    int       // announcements still due in the start burst
	nextAnnounce time.Time // zero: none scheduled
	released     bool      // Release: held but no longer announced (a planned move is under way)
}

// New returns an agent over o.Kernel. It starts no goroutine until the first Start.
func New(o Options) *Agent {
	if o.CheckInterval <= 0 {
		o.CheckInterval = 2 * time.Second
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{
		k: o.Kernel, watcher: o.Watcher, ann: o.Announcer, check: o.CheckInterval, refresh: o.RefreshInterval,
		log: log, kick: make(chan struct{}, 1), vips: map[string]*vipState{},
	}
}

// NewNetlink returns an agent that works in the named network namespace (as `ip netns add` names it), or
// in the process's own namespace when nsName is "" (the case of clusterd started under `ip netns exec`).
// It uses netlink for addresses and events and raw sockets for announcements. Close releases all of it.
func NewNetlink(nsName string, o Options) (*Agent, error) {
	k, err := NewKernel(nsName)
	if err != nil {
		return nil, fmt.Errorf("create vip agent: %w", err)
	}
	o.Kernel, o.Watcher, o.Announcer = k, k, k.Announcer()
	a := New(o)
	a.closeFunc = k.Close
	return a, nil
}

// Close stops the agent's goroutine and waits for it; addresses stay. Later operations (but MetaData)
// return ExecErr.
// Close is idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	l := a.stopLoopLocked()
	a.mu.Unlock()
	if l != nil {
		<-l.done
	}
	if a.closeFunc != nil {
		return a.closeFunc()
	}
	return nil
}

// config is a VIP's parsed parameters.
type config struct {
	ip            netip.Addr
	bits          int // -1 when cidr_netmask is not given
	nic           string
	label         string
	arpCount      int
	arpInterval   time.Duration
	noDAD         bool
	noPrefixRoute bool
}

func (c config) family() int {
	if c.ip.Is4() {
		return FamilyV4
	}
	return FamilyV6
}

func paramErr(field, problem string) error {
	return &agents.ParamError{Agent: "ocf:duet:vip", Field: field, Problem: problem}
}

// parseParams reads and checks the instance attributes; errors are *agents.ParamError naming the field.
func parseParams(p map[string]string) (config, error) {
	md := metadata()
	if err := agents.CheckParams("ocf:duet:vip", md, p); err != nil {
		return config{}, err
	}
	c := config{bits: -1, arpCount: 5, arpInterval: 200 * time.Millisecond}
	ip, err := netip.ParseAddr(strings.TrimSpace(p["ip"]))
	if err != nil || ip.Zone() != "" {
		return config{}, paramErr("ip", fmt.Sprintf("is not an IPv4 or IPv6 address: %q", p["ip"]))
	}
	c.ip = ip.Unmap()
	if !c.ip.IsGlobalUnicast() && !c.ip.IsPrivate() {
		return config{}, paramErr("ip", fmt.Sprintf("%s is not a unicast address", c.ip))
	}
	if s := strings.TrimSpace(p["cidr_netmask"]); s != "" {
		if c.bits, err = parseNetmask(s, c.ip); err != nil {
			return config{}, paramErr("cidr_netmask", err.Error())
		}
	}
	c.nic = strings.TrimSpace(p["nic"])
	if c.nic != "" && (len(c.nic) > 15 || strings.ContainsAny(c.nic, "/ :")) {
		return config{}, paramErr("nic", fmt.Sprintf("%q is not an interface name", c.nic))
	}
	if l := strings.TrimSpace(p["iflabel"]); l != "" {
		if !c.ip.Is4() {
			return config{}, paramErr("iflabel", "applies to IPv4 addresses only")
		}
		c.label = l // the kernel's label is nic:iflabel; set once the nic is known
	}
	if s := strings.TrimSpace(p["arp_count"]); s != "" {
		if c.arpCount, err = strconv.Atoi(s); err != nil || c.arpCount < 0 || c.arpCount > 1000 {
			return config{}, paramErr("arp_count", fmt.Sprintf("must be an integer from 0 to 1000, not %q", s))
		}
	}
	if s := strings.TrimSpace(p["arp_interval"]); s != "" {
		ms, err := strconv.Atoi(s) // IPaddr2's unit: milliseconds
		if err != nil || ms < 1 || ms > 60000 {
			return config{}, paramErr("arp_interval", fmt.Sprintf("must be milliseconds from 1 to 60000, not %q", s))
		}
		c.arpInterval = time.Duration(ms) * time.Millisecond
	}
	for name, dst := range map[string]*bool{"nodad": &c.noDAD, "noprefixroute": &c.noPrefixRoute} {
		if s := strings.TrimSpace(p[name]); s != "" {
			if *dst, err = agents.ParseBool(s); err != nil {
				return config{}, paramErr(name, fmt.Sprintf("must be true or false, not %q", s))
			}
		}
	}
	return c, nil
}

// parseNetmask reads a prefix length (24) or, for IPv4, a dotted mask (255.255.255.0).
func parseNetmask(s string, ip netip.Addr) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > ip.BitLen() {
			return 0, fmt.Errorf("prefix length %d is out of range 1-%d", n, ip.BitLen())
		}
		return n, nil
	}
	if m, err := netip.ParseAddr(s); err == nil && m.Is4() && ip.Is4() {
		ones, bits := net.IPMask(m.AsSlice()).Size()
		if bits == 0 || ones == 0 {
			return 0, fmt.Errorf("%s is not a contiguous netmask", s)
		}
		return ones, nil
	}
	return 0, fmt.Errorf("%q is neither a prefix length nor an IPv4 netmask", s)
}

// resolve finds the link and prefix of c: nic when given, else the interface whose connected route covers
// ip (IPaddr2's findif); the prefix length is cidr_netmask, else that route's, else a host prefix.
func (a *Agent) resolve(c config) (Link, netip.Prefix, error) {
	var l Link
	bits := c.bits
	if c.nic != "" {
		var err error
		if l, err = a.k.LinkByName(c.nic); err != nil {
			if errors.Is(err, ErrNoLink) {
				return Link{}, netip.Prefix{}, &agents.RCError{RC: agents.ErrArgs, Err: paramErr("nic", fmt.Sprintf("names interface %s, which does not exist on this node", c.nic))}
			}
			return Link{}, netip.Prefix{}, fmt.Errorf("look up nic %s: %w", c.nic, err)
		}
		if bits < 0 {
			if rl, rbits, err := a.k.RouteLink(c.ip); err == nil && rl.Name == l.Name {
				bits = rbits
			}
		}
	} else {
		rl, rbits, err := a.k.RouteLink(c.ip)
		if err != nil {
			if errors.Is(err, ErrNoRoute) {
				return Link{}, netip.Prefix{}, &agents.RCError{RC: agents.ErrArgs, Err: paramErr("nic", fmt.Sprintf("is not set and no interface on this node has a connected route to %s; set nic", c.ip))}
			}
			return Link{}, netip.Prefix{}, fmt.Errorf("find the interface for %s: %w", c.ip, err)
		}
		l = rl
		if bits < 0 {
			bits = rbits
		}
	}
	if bits < 0 {
		bits = c.ip.BitLen()
	}
	if c.label != "" && len(l.Name)+1+len(c.label) > 15 {
		return Link{}, netip.Prefix{}, paramErr("iflabel", fmt.Sprintf("%q makes the label %s:%s longer than the kernel's 15 characters", c.label, l.Name, c.label))
	}
	return l, netip.PrefixFrom(c.ip, bits), nil
}

func (c config) opts(link string) AddrOpts {
	o := AddrOpts{NoDAD: c.noDAD, NoPrefixRoute: c.noPrefixRoute}
	if c.label != "" {
		o.Label = link + ":" + c.label
	}
	return o
}

// op is one change to the kernel's addresses.
type op struct {
	add    bool
	link   string
	prefix netip.Prefix
	opts   AddrOpts
}

// String renders the op as the ip(8) command that does the same.
func (o op) String() string {
	if !o.add {
		return fmt.Sprintf("ip addr del %s dev %s", o.prefix, o.link)
	}
	s := fmt.Sprintf("ip addr replace %s dev %s", o.prefix, o.link)
	if o.opts.Label != "" {
		s += " label " + o.opts.Label
	}
	if o.opts.NoDAD {
		s += " nodad"
	}
	if o.opts.NoPrefixRoute {
		s += " noprefixroute"
	}
	return s
}

// desired is one address that must be on one link.
type desired struct {
	link   string
	prefix netip.Prefix
	opts   AddrOpts
}

// plan returns the ops that make actual hold every wanted address exactly once: copies of a wanted IP on
// another link, with another prefix length or failed by DAD are removed first, then missing ones added.
// Addresses that no want mentions are left alone. It is pure.
func plan(want []desired, actual []Addr) []op {
	var dels, adds []op
	for _, w := range want {
		present := false
		for _, a := range actual {
			if a.Prefix.Addr() != w.prefix.Addr() {
				continue
			}
			if a.Link == w.link && a.Prefix == w.prefix && !a.DADFailed {
				present = true
				continue
			}
			dels = append(dels, op{link: a.Link, prefix: a.Prefix})
		}
		if !present {
			adds = append(adds, op{add: true, link: w.link, prefix: w.prefix, opts: w.opts})
		}
	}
	return append(dels, adds...)
}

// apply runs ops in order and returns their errors joined; it keeps going after a failure.
func (a *Agent) apply(ops []op) error {
	var errs []error
	for _, o := range ops {
		var err error
		if o.add {
			err = a.k.AddrReplace(o.link, o.prefix, o.opts)
		} else {
			err = a.k.AddrDel(o.link, o.prefix)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func copiesOf(ip netip.Addr, actual []Addr) []Addr {
	var out []Addr
	for _, a := range actual {
		if a.Prefix.Addr() == ip {
			out = append(out, a)
		}
	}
	return out
}

func ctxResult(ctx context.Context, op string) (agents.Result, bool) {
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return agents.Result{RC: agents.Timeout, Reason: op + " timed out"}, true
		}
		return agents.Result{RC: agents.ExecErr, Reason: op + " cancelled"}, true
	}
	return agents.Result{}, false
}

// Start puts the address on its link (removing stale copies elsewhere), sends the first announcement at
// once and leaves the rest of the burst (arp_count rounds, arp_interval apart) and the periodic refresh to
// the agent's goroutine, so that it returns without waiting for the burst. Starting a running VIP is a no-op
// apart from a new burst.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	if res, done := ctxResult(ctx, "start"); done {
		return res
	}
	c, err := parseParams(r.Params)
	if err != nil {
		return agents.ErrorResult(err, agents.ErrConfigured)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return agents.Result{RC: agents.ExecErr, Reason: "vip agent is closed"}
	}
	for rsc, st := range a.vips {
		if rsc != r.Resource && st.cfg.ip == c.ip {
			return agents.Result{RC: agents.ErrConfigured, Reason: fmt.Sprintf("parameter ip %s is already managed by resource %s", c.ip, rsc)}
		}
	}
	l, p, err := a.resolve(c)
	if err != nil {
		return agents.ErrorResult(err, agents.ErrGeneric)
	}
	actual, err := a.k.Addrs(c.family())
	if err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}
	}
	ops := plan([]desired{{link: l.Name, prefix: p, opts: c.opts(l.Name)}}, actual)
	if err := a.apply(ops); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("start vip %s: %v", p, err)}
	}
	if res, ok := a.verifyLocked(c, l.Name, p); !ok {
		return res
	}
	for _, o := range ops {
		a.log.Info("vip address change", "rsc", r.Resource, "vip", p.String(), "op", o.String())
	}
	st := &vipState{rsc: r.Resource, cfg: c, link: l, prefix: p}
	a.vips[r.Resource] = st
	now := time.Now()
	if c.arpCount > 0 {
		a.announceLocked(st, now)
	} else {
		a.scheduleRefresh(st, now)
	}
	a.startLoopLocked()
	return agents.Result{RC: agents.Success}
}

// Release stops every announcement of a VIP that stays on its link: the DC calls it on the old holder just
// before a planned move starts the VIP on the new one. Without it, an announcement still due here (the rest
// of the start burst, or a refresh) could send the clients back to this node in the moment both hold the
// address, just before Stop removes it here, and they would stay with a node that no longer answers until
// the new holder's next announcement (arp_interval later). A VIP not held here needs nothing.
func (a *Agent) Release(ctx context.Context, r agents.Request) agents.Result {
	if res, done := ctxResult(ctx, "release"); done {
		return res
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.vips[r.Resource]; st != nil && !st.released {
		st.burstLeft, st.nextAnnounce, st.released = 0, time.Time{}, true
		a.log.Info("vip released: no more announcements from this node", "rsc", r.Resource, "vip", st.prefix.String())
	}
	return agents.Result{RC: agents.Success}
}

// verifyLocked checks that p is on link and not failed by DAD.
func (a *Agent) verifyLocked(c config, link string, p netip.Prefix) (agents.Result, bool) {
	actual, err := a.k.Addrs(c.family())
	if err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}, false
	}
	for _, x := range copiesOf(c.ip, actual) {
		if x.Link == link && x.Prefix == p {
			if x.DADFailed {
				return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("vip %s on %s: duplicate address detected", p, link)}, false
			}
			return agents.Result{RC: agents.Success}, true
		}
	}
	return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("vip %s is not on %s after adding it", p, link)}, false
}

// announceLocked sends one round now and schedules the rest of the burst.
func (a *Agent) announceLocked(st *vipState, now time.Time) {
	st.burstLeft = st.cfg.arpCount
	a.announceOne(st, now)
}

func (a *Agent) announceOne(st *vipState, now time.Time) {
	if a.ann != nil && st.burstLeft > 0 {
		if err := a.ann.Announce(st.link, st.cfg.ip); err != nil {
			a.log.Warn("vip announcement failed", "rsc", st.rsc, "vip", st.cfg.ip.String(), "nic", st.link.Name, "err", err)
		} else {
			a.log.Debug("vip announced", "rsc", st.rsc, "vip", st.cfg.ip.String(), "nic", st.link.Name)
		}
	}
	if st.burstLeft > 0 {
		st.burstLeft--
	}
	if st.burstLeft > 0 {
		st.nextAnnounce = now.Add(st.cfg.arpInterval)
		return
	}
	a.scheduleRefresh(st, now)
}

func (a *Agent) scheduleRefresh(st *vipState, now time.Time) {
	st.nextAnnounce = time.Time{}
	if a.refresh > 0 && st.cfg.arpCount > 0 {
		st.nextAnnounce = now.Add(a.refresh)
	}
}

// Stop removes every copy of the address from every link and forgets the resource. Stopping a VIP that is
// not there succeeds. With an ip that does not parse there is nothing the agent could have added, so that
// succeeds too.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	if res, done := ctxResult(ctx, "stop"); done {
		return res
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(r.Params["ip"]))
	if err != nil {
		return agents.Result{RC: agents.Success, Reason: "parameter ip is not an address; nothing to remove"}
	}
	ip = ip.Unmap()
	a.mu.Lock()
	res := a.stopLocked(r, ip)
	var l *loop
	if len(a.vips) == 0 {
		l = a.stopLoopLocked() // the last VIP is gone: so is the goroutine
	}
	a.mu.Unlock()
	if l != nil {
		<-l.done
	}
	return res
}

func (a *Agent) stopLocked(r agents.Request, ip netip.Addr) agents.Result {
	if a.closed {
		return agents.Result{RC: agents.ExecErr, Reason: "vip agent is closed"}
	}
	delete(a.vips, r.Resource)
	for rsc, st := range a.vips {
		if st.cfg.ip == ip {
			delete(a.vips, rsc)
		}
	}
	fam := FamilyV4
	if ip.Is6() {
		fam = FamilyV6
	}
	actual, err := a.k.Addrs(fam)
	if err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}
	}
	var ops []op
	for _, x := range copiesOf(ip, actual) {
		ops = append(ops, op{link: x.Link, prefix: x.Prefix})
	}
	if err := a.apply(ops); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("stop vip %s: %v", ip, err)}
	}
	for _, o := range ops {
		a.log.Info("vip address change", "rsc", r.Resource, "vip", ip.String(), "op", o.String())
	}
	if actual, err = a.k.Addrs(fam); err == nil && len(copiesOf(ip, actual)) > 0 {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("vip %s is still present after removing it", ip)}
	}
	return agents.Result{RC: agents.Success}
}

// Monitor reports Success when the address is on its link (nic, when given) and the link is up,
// NotRunning when the address is on no link, and ErrGeneric when it is there but DAD failed or the link is
// down. A VIP found running that the agent did not start (a probe after a restart of clusterd) is adopted:
// from then on it is re-asserted and re-announced like one it started.
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	if res, done := ctxResult(ctx, "monitor"); done {
		return res
	}
	c, err := parseParams(r.Params)
	if err != nil {
		return agents.ErrorResult(err, agents.ErrConfigured)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return agents.Result{RC: agents.ExecErr, Reason: "vip agent is closed"}
	}
	actual, err := a.k.Addrs(c.family())
	if err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}
	}
	var found *Addr
	for _, x := range copiesOf(c.ip, actual) {
		if c.nic == "" || x.Link == c.nic {
			found = &x
			break
		}
	}
	if found == nil {
		return agents.Result{RC: agents.NotRunning}
	}
	if found.DADFailed {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("vip %s on %s: duplicate address detected", found.Prefix, found.Link)}
	}
	l, err := a.k.LinkByName(found.Link)
	if err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}
	}
	if !l.Up {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("vip %s: interface %s is down", c.ip, l.Name)}
	}
	if _, ok := a.vips[r.Resource]; !ok && r.Resource != "" {
		st := &vipState{rsc: r.Resource, cfg: c, link: l, prefix: found.Prefix}
		a.scheduleRefresh(st, time.Now())
		a.vips[r.Resource] = st
		a.startLoopLocked()
	}
	return agents.Result{RC: agents.Success}
}

// Validate checks the parameters and that the interface exists here (validate-all). It changes nothing.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	if res, done := ctxResult(ctx, "validate-all"); done {
		return res
	}
	c, err := parseParams(r.Params)
	if err != nil {
		return agents.ErrorResult(err, agents.ErrConfigured)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return agents.Result{RC: agents.ExecErr, Reason: "vip agent is closed"}
	}
	if _, _, err := a.resolve(c); err != nil {
		return agents.ErrorResult(err, agents.ErrGeneric)
	}
	return agents.Result{RC: agents.Success}
}

// MetaData returns the agent's meta-data; it never fails.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) { return metadata(), nil }

func metadata() *agents.Metadata {
	return &agents.Metadata{
		Name: "vip", Version: "1.0", ShortDesc: "Virtual IP address with gratuitous ARP (Duet)",
		Parameters: []agents.Parameter{
			{Name: "ip", Required: true, Unique: true, Type: "string", ShortDesc: "IPv4 or IPv6 address"},
			{Name: "cidr_netmask", Type: "string", ShortDesc: "prefix length (24) or IPv4 netmask; default: the route's"},
			{Name: "nic", Type: "string", ShortDesc: "interface; default: the one whose connected route covers ip"},
			{Name: "iflabel", Type: "string", ShortDesc: "IPv4 label, shown as nic:iflabel"},
			{Name: "arp_count", Type: "integer", Default: "5", ShortDesc: "announcements in the start burst"},
			{Name: "arp_interval", Type: "integer", Default: "200", ShortDesc: "milliseconds between announcements of the burst"},
			{Name: "nodad", Type: "boolean", Default: "false", ShortDesc: "IPv6: skip duplicate address detection"},
			{Name: "noprefixroute", Type: "boolean", Default: "false", ShortDesc: "do not add the prefix route"},
		},
		Actions: []agents.ActionSpec{
			{Name: "start", Timeout: 20 * time.Second}, {Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "meta-data", Timeout: 5 * time.Second}, {Name: "validate-all", Timeout: 20 * time.Second},
		},
	}
}

// startLoopLocked starts the goroutine unless it runs, in which case it wakes it to recompute its timer.
func (a *Agent) startLoopLocked() {
	if a.loop != nil || a.closed {
		select {
		case a.kick <- struct{}{}:
		default:
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{})}
	a.loop = l
	// Subscribe before the goroutine starts, so that no change after this Start can go unseen.
	var events <-chan struct{}
	if a.watcher != nil {
		ch, err := a.watcher.WatchAddrs(ctx)
		if err != nil {
			a.log.Warn("vip: watching address changes failed; re-asserting on the ticker only", "err", err)
		} else {
			events = ch
		}
	}
	go func() {
		defer close(l.done)
		a.run(ctx, events)
	}()
}

// stopLoopLocked cancels the goroutine, if one runs, and returns it so that the caller can wait for
// l.done after releasing a.mu (the goroutine takes a.mu).
func (a *Agent) stopLoopLocked() *loop {
	l := a.loop
	a.loop = nil
	if l != nil {
		l.cancel()
	}
	return l
}

// run is the agent's goroutine: it re-asserts on events and on the check ticker and sends due
// announcements. It returns when Close, or the Stop of the last VIP, cancels ctx, after the watch has ended.
func (a *Agent) run(ctx context.Context, events <-chan struct{}) {
	check := time.NewTicker(a.check)
	defer check.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(a.nextDue())
		select {
		case <-ctx.Done():
			if events != nil {
				for range events { // the watch closes the channel once it has stopped
				}
			}
			return
		case _, ok := <-events:
			if !ok {
				a.log.Warn("vip: address watch ended; re-asserting on the ticker only")
				events = nil
				continue
			}
			a.reassert()
		case <-check.C:
			a.reassert()
		case <-a.kick:
		case <-timer.C:
			a.announceDue(time.Now())
		}
	}
}

// nextDue returns how long until the earliest scheduled announcement (an hour when none is).
func (a *Agent) nextDue() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var next time.Time
	for _, st := range a.vips {
		if !st.nextAnnounce.IsZero() && (next.IsZero() || st.nextAnnounce.Before(next)) {
			next = st.nextAnnounce
		}
	}
	if next.IsZero() {
		return time.Hour
	}
	return max(time.Until(next), 0)
}

func (a *Agent) sortedLocked() []*vipState {
	out := make([]*vipState, 0, len(a.vips))
	for _, st := range a.vips {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rsc < out[j].rsc })
	return out
}

func (a *Agent) announceDue(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.sortedLocked() {
		if st.nextAnnounce.IsZero() || st.nextAnnounce.After(now) {
			continue
		}
		if st.burstLeft == 0 { // a refresh round
			st.burstLeft = 1
		}
		a.announceOne(st, now)
	}
}

// reassert puts back every desired address that is missing (or failed DAD, or sits elsewhere) and
// starts a new announcement burst for it.
func (a *Agent) reassert() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	cache := map[int][]Addr{}
	for _, st := range a.sortedLocked() {
		fam := st.cfg.family()
		actual, ok := cache[fam]
		if !ok {
			var err error
			if actual, err = a.k.Addrs(fam); err != nil {
				a.log.Warn("vip: list addresses failed", "err", err)
				return
			}
			cache[fam] = actual
		}
		ops := plan([]desired{{link: st.link.Name, prefix: st.prefix, opts: st.cfg.opts(st.link.Name)}}, actual)
		if len(ops) == 0 {
			continue
		}
		if l, err := a.k.LinkByName(st.link.Name); err == nil {
			st.link = l // the interface may have been re-created with another index
		}
		if err := a.apply(ops); err != nil {
			a.log.Warn("vip: re-asserting failed", "rsc", st.rsc, "vip", st.prefix.String(), "err", err)
			continue
		}
		delete(cache, fam)
		for _, o := range ops {
			a.log.Warn("vip re-asserted", "rsc", st.rsc, "vip", st.prefix.String(), "op", o.String())
		}
		if st.cfg.arpCount > 0 && !st.released {
			a.announceLocked(st, time.Now())
		}
	}
}
