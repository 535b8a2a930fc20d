package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duet-ha/duet/resources/proxy/balance"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/health"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
)

var (
	errNoServer     = errors.New("no server available")
	errQueueTimeout = errors.New("queue timeout")
	errQueueFull    = errors.New("server queue full")
)

// srvState is a server's state that survives reloads: admin state, health and counters.
type srvState struct {
	mu         sync.Mutex
	admin      string // "" (ready), "drain" or "maint"
	forced     string // "" or "down" / "stopping" (set server health)
	nolb       bool   // the last check said 404 with http-check disable-on-404
	health     *health.State
	lastChange time.Time
	downSince  time.Time
	downtime   time.Duration
	weight     int // current user weight
	iweight    int
	cnt        counters
}

// up reports whether the server is operationally up (health checks or forced state).
func (st *srvState) up() bool {
	if st.forced == "down" {
		return false
	}
	return st.health == nil || st.health.Up
}

// srv is one server of a backend in one runtime generation.
type srv struct {
	cfg *config.Server
	be  *backend
	lb  *balance.Server // guarded by be.mu
	st  *srvState

	network, host string
	port          int
	portRelative  bool

	queue waitQueue // guarded by be.mu

	idleMu sync.Mutex
	idle   []*beConn
}

// backend is one backend (or listen) in one runtime generation.
type backend struct {
	cfg     *config.Proxy
	s       *Server
	mu      sync.Mutex
	servers []*srv
	byName  map[string]*srv
	sel     balance.Selector
	repo    balance.Repositioner
	queue   waitQueue
	cnt     *counters
	retired atomic.Bool // a newer configuration replaced this generation (read per request: no lock)
	lastChg time.Time
	stick   *stickTable // nil without a stick-table
}

type waiter struct {
	ch  chan *srv
	srv *srv // non-nil when queued on a server
}

type waitQueue struct{ w []*waiter }

func (q *waitQueue) push(w *waiter) { q.w = append(q.w, w) }
func (q *waitQueue) pop() *waiter {
	if len(q.w) == 0 {
		return nil
	}
	w := q.w[0]
	q.w[0] = nil
	q.w = q.w[1:]
	return w
}
func (q *waitQueue) remove(w *waiter) bool {
	for i, x := range q.w {
		if x == w {
			q.w = append(q.w[:i], q.w[i+1:]...)
			return true
		}
	}
	return false
}
func (q *waitQueue) len() int { return len(q.w) }

// refreshLocked recomputes the selector's view of every server and returns how many queued requests it
// redistributed and how many backend-queued ones it handed to servers (see dispatchLocked). Caller holds b.mu.
func (b *backend) refreshLocked() (redistributed, grabbed int) {
	var lost []*srv
	for _, s := range b.servers {
		was := s.lb.Usable
		s.st.mu.Lock()
		s.lb.Usable = s.st.admin == "" && s.st.up() && s.st.forced != "stopping" && !s.st.nolb
		s.lb.Weight = s.st.weight
		s.st.mu.Unlock()
		if was && !s.lb.Usable {
			lost = append(lost, s)
		}
	}
	b.sel.Update()
	return b.dispatchLocked(lost)
}

// dispatchLocked does what haproxy does when servers stop taking new traffic (DOWN, stopping, maintenance or
// drain: pendconn_redistribute): with "option redispatch" and without "option persist", the requests queued on
// each server of lost go through load balancing again (they may queue elsewhere, with a new queue timeout);
// otherwise they stay in that server's queue and get its next free slot. It then hands backend-queued requests to
// servers with free slots. It returns the number of requests redistributed and handed over. Caller holds b.mu.
func (b *backend) dispatchLocked(lost []*srv) (xferred, grabbed int) {
	if b.cfg.Options.Redispatch && !b.cfg.Options.Persist {
		for _, s := range lost {
			for w := s.queue.pop(); w != nil; w = s.queue.pop() {
				s.lb.Queued--
				w.srv = nil
				w.ch <- nil // the waiter balances again
				xferred++
			}
		}
	}
	for b.queue.len() > 0 {
		lbs := b.sel.Select(&balance.Request{}, nil)
		if lbs == nil || lbs.Full() {
			break
		}
		s := b.servers[lbs.Index]
		w := b.queue.pop()
		b.takeLocked(s)
		w.ch <- s
		grabbed++
	}
	return xferred, grabbed
}

// acquire selects a server for req and takes a slot on it, waiting in the server or backend queue when every
// candidate is full. avoid is skipped unless nothing else is left. A request redistributed while it waits
// (dispatchLocked) is balanced again, with a new queue timeout. It blocks until a slot, the timeout or ctx.
func (b *backend) acquire(ctx context.Context, req *balance.Request, avoid *srv, queueTimeout time.Duration, block func()) (*srv, time.Duration, error) {
	var start time.Time // set when the request first waits in a queue: taking a free slot reads no clock
	for {
		s, err := b.acquireOnce(ctx, req, avoid, queueTimeout, block, &start)
		if s != nil || err != nil {
			var tw time.Duration
			if !start.IsZero() {
				tw = time.Since(start)
			}
			return s, tw, err
		}
	}
}

// acquireOnce is one pass of acquire: (nil, nil) means the request was redistributed and must balance again.
func (b *backend) acquireOnce(ctx context.Context, req *balance.Request, avoid *srv, queueTimeout time.Duration, block func(), start *time.Time) (*srv, error) {
	b.mu.Lock()
	var av *balance.Server
	if avoid != nil {
		av = avoid.lb
	}
	lbs := b.sel.Select(req, av)
	if lbs != nil && !lbs.Full() {
		s := b.servers[lbs.Index]
		b.takeLocked(s)
		b.mu.Unlock()
		return s, nil
	}
	w := &waiter{ch: make(chan *srv, 1)}
	if lbs != nil {
		s := b.servers[lbs.Index]
		if s.cfg.Maxqueue > 0 && s.queue.len() >= s.cfg.Maxqueue {
			b.mu.Unlock()
			return nil, errQueueFull
		}
		w.srv = s
		s.queue.push(w)
		s.lb.Queued++
		maxStore(&s.st.cnt.qmax, int64(s.queue.len()))
	} else {
		if !b.anyUsableLocked() {
			b.mu.Unlock()
			return nil, errNoServer
		}
		b.queue.push(w)
		maxStore(&b.cnt.qmax, int64(b.queue.len()))
	}
	b.mu.Unlock()
	if start.IsZero() {
		*start = time.Now()
	}
	return b.wait(ctx, w, queueTimeout, block)
}

// wait blocks until w is handed a slot (or nil: redistributed), the queue timeout passes or ctx ends; on the
// latter two it leaves the queue. A slot handed over concurrently with the timeout is taken.
func (b *backend) wait(ctx context.Context, w *waiter, queueTimeout time.Duration, block func()) (*srv, error) {
	if block != nil {
		block()
	}
	var timer <-chan time.Time
	if queueTimeout > 0 {
		t := time.NewTimer(queueTimeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case s := <-w.ch:
		return s, nil
	case <-timer:
	case <-ctx.Done():
	}
	b.mu.Lock()
	removed := false
	if w.srv != nil {
		if removed = w.srv.queue.remove(w); removed {
			w.srv.lb.Queued--
		}
	} else {
		removed = b.queue.remove(w)
	}
	b.mu.Unlock()
	if !removed {
		// a slot (or a redistribution) was handed over concurrently
		return <-w.ch, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, errQueueTimeout
}

// acquireThis takes a slot on a given server (persistence), waiting in its queue when it is full. It returns
// (nil, wait, nil) when the server stopped taking traffic and redistributed the request: the caller balances it
// then, as haproxy drops the persistence of a redistributed request.
func (b *backend) acquireThis(ctx context.Context, s *srv, queueTimeout time.Duration, block func()) (*srv, time.Duration, error) {
	b.mu.Lock()
	if !s.lb.Full() {
		b.takeLocked(s)
		b.mu.Unlock()
		return s, 0, nil
	}
	if s.cfg.Maxqueue > 0 && s.queue.len() >= s.cfg.Maxqueue {
		b.mu.Unlock()
		return nil, 0, errQueueFull
	}
	w := &waiter{ch: make(chan *srv, 1), srv: s}
	s.queue.push(w)
	s.lb.Queued++
	maxStore(&s.st.cnt.qmax, int64(s.queue.len()))
	b.mu.Unlock()
	start := time.Now()
	got, err := b.wait(ctx, w, queueTimeout, block)
	return got, time.Since(start), err
}

func (b *backend) anyUsableLocked() bool {
	for _, s := range b.servers {
		if s.lb.Usable && s.lb.Weight > 0 {
			return true
		}
	}
	return false
}

func (b *backend) takeLocked(s *srv) {
	s.lb.Served++
	if b.repo != nil {
		b.repo.Reposition(s.lb)
	}
	now := time.Now()
	s.st.cnt.open(now)
	s.st.cnt.lbtot.Add(1)
	s.st.cnt.lastSess.Store(now.Unix())
	b.cnt.lbtot.Add(1)
}

// release frees a slot on s and hands it to the first request waiting for s, else for the backend.
func (b *backend) release(s *srv) {
	s.st.cnt.scur.Add(-1)
	b.mu.Lock()
	s.lb.Served--
	if w := s.queue.pop(); w != nil {
		s.lb.Queued--
		s.lb.Served++
		if b.repo != nil {
			b.repo.Reposition(s.lb)
		}
		s.st.cnt.open(time.Now())
		b.mu.Unlock()
		w.ch <- s
		return
	}
	if s.lb.Usable && b.queue.len() > 0 {
		w := b.queue.pop()
		s.lb.Served++
		if b.repo != nil {
			b.repo.Reposition(s.lb)
		}
		s.st.cnt.open(time.Now())
		b.mu.Unlock()
		w.ch <- s
		return
	}
	if b.repo != nil {
		b.repo.Reposition(s.lb)
	}
	b.mu.Unlock()
}

// dialAddr returns the network and address to connect to for a client whose destination port is dstPort.
func (s *srv) dialAddr(dstPort int) (string, string) {
	if s.network == "unix" {
		return "unix", s.host
	}
	port := s.port
	if port == 0 || s.portRelative {
		port += dstPort
	}
	return "tcp", net.JoinHostPort(s.host, strconv.Itoa(port))
}

// beConn is a server-side connection with its buffers, reusable for HTTP keep-alive.
type beConn struct {
	c  *dconn
	br *bufio.Reader
	bw *bufio.Writer
	fd int32 // plain TCP socket (an event loop can wait for it), else -1
	// reg is the event loop whose epoll set holds the socket (edge-triggered, from the first response awaited
	// there); a connection taken from the pool goes back to the loop it is registered with when it can
	reg *evloop
}

// own makes h the connection that a wait on c must hand its event loop over for (nil: none).
func (c *beConn) own(h *httpConn) {
	if c.c.raw != nil {
		c.c.raw.owner = h
	}
}

func (c *beConn) close() {
	_ = c.c.Close()
}

// getIdle returns an idle keep-alive connection to s, or nil: preferably one registered with the event loop pref
// (among the most recently used few), so that waiting for its response needs no new registration.
func (s *srv) getIdle(pref *evloop) *beConn {
	s.idleMu.Lock()
	var c *beConn
	if n := len(s.idle); n > 0 {
		i := n - 1
		for j := n - 1; j >= max(0, n-8) && pref != nil; j-- {
			if s.idle[j].reg == pref {
				i = j
				break
			}
		}
		c = s.idle[i]
		s.idle[i] = s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
	}
	s.idleMu.Unlock()
	if c != nil {
		// idle connections hold no buffers: take pooled ones again
		c.br, c.bw = getReader(c.c), getWriter(c.c)
	}
	return c
}

const maxIdlePerServer = 512

// putIdle keeps c for reuse; it closes it when the pool is full or the generation is retired.
func (s *srv) putIdle(c *beConn) {
	s.idleMu.Lock()
	if s.be.retired.Load() || len(s.idle) >= maxIdlePerServer {
		s.idleMu.Unlock()
		s.be.s.untrack(c.c.Conn)
		c.close()
		return
	}
	putReader(c.br)
	putWriter(c.bw)
	c.br, c.bw = nil, nil
	s.idle = append(s.idle, c)
	s.idleMu.Unlock()
}

func (s *srv) closeIdle() {
	s.idleMu.Lock()
	idle := s.idle
	s.idle = nil
	s.idleMu.Unlock()
	for _, c := range idle {
		s.be.s.untrack(c.c.Conn)
		c.close()
	}
}

// connectResult is what connect returns for logging.
type connectResult struct {
	srv        *srv
	conn       *beConn
	tw, tc     time.Duration
	retries    int
	redispatch bool
	err        error
	reused     bool // conn came from the idle pool (the server may have closed it meanwhile)
}

// connect selects a server and connects to it with haproxy's retries and redispatch: a failed connection is
// retried on the same server up to "retries" times; with option redispatch the last retry may go to another server.
func (b *backend) connect(ctx context.Context, req *balance.Request, dstPort int, allowIdle bool) connectResult {
	return b.connectTo(ctx, nil, req, dstPort, allowIdle, nil, nil)
}

// connectTo is connect with a server chosen by persistence (nil: load balancing). A persistent server that
// fails to connect is retried; with option redispatch the last retry goes through load balancing.
//
// Before anything that waits (a queue, a connect, a pause between retries) it calls block (when not nil): an
// event loop runner hands its loop over then. pref is the caller's event loop (idle connections registered
// with it are preferred).
func (b *backend) connectTo(ctx context.Context, fixed *srv, req *balance.Request, dstPort int, allowIdle bool, block func(), pref *evloop) connectResult {
	var res connectResult
	t := b.cfg.Timeouts
	qto := t.Queue
	if qto == 0 {
		qto = t.Connect
	}
	var avoid *srv
	var s *srv
	for attempt := 0; ; attempt++ {
		if s == nil && fixed != nil && avoid == nil {
			var tw time.Duration
			var err error
			s, tw, err = b.acquireThis(ctx, fixed, qto, block)
			res.tw += tw
			if err != nil {
				res.err = err
				return res
			}
			if s == nil {
				fixed = nil // redistributed from the persistent server's queue: balance
			}
		}
		if s == nil {
			var tw time.Duration
			var err error
			s, tw, err = b.acquire(ctx, req, avoid, qto, block)
			res.tw += tw
			if err != nil {
				res.err = err
				res.srv = nil
				return res
			}
		}
		res.srv = s
		if allowIdle {
			if c := s.getIdle(pref); c != nil {
				res.conn, res.reused = c, true
				return res
			}
		}
		if block != nil {
			block()
		}
		start := time.Now()
		c, err := b.s.dial(ctx, s, dstPort, t.Connect)
		res.tc = time.Since(start)
		if err == nil {
			res.conn = c
			return res
		}
		s.st.cnt.econ.Add(1)
		b.cnt.econ.Add(1)
		if attempt >= b.cfg.Retries || ctx.Err() != nil {
			b.release(s)
			res.err = err
			return res
		}
		res.retries++
		s.st.cnt.wretr.Add(1)
		b.cnt.wretr.Add(1)
		if b.cfg.Options.Redispatch && attempt+1 == b.cfg.Retries {
			// last retry: go elsewhere
			b.release(s)
			avoid, s = s, nil
			res.redispatch = true
			b.cnt.wredis.Add(1)
			continue
		}
		if b.cfg.Timeouts.Connect == 0 || res.tc < 1*time.Second {
			// haproxy waits up to one second between retries on immediate failures
			select {
			case <-time.After(retryDelay(res.tc)):
			case <-ctx.Done():
			}
		}
	}
}

func retryDelay(spent time.Duration) time.Duration {
	d := 100*time.Millisecond - spent
	if d < 0 {
		return 0
	}
	return d
}

// serverStatus renders a server's stats status.
func (s *srv) status() string {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.admin == "maint":
		return "MAINT"
	case st.forced == "down":
		return "DOWN"
	case st.health != nil && !st.health.Up:
		return st.health.StatusText()
	case st.admin == "drain" || st.forced == "stopping":
		return "DRAIN"
	case st.nolb:
		return "NOLB"
	case st.weight == 0 && st.health != nil:
		return "NOLB"
	case st.health == nil:
		return "no check"
	}
	return st.health.StatusText()
}

// setState applies "set server state ready|drain|maint".
func (s *srv) setState(state string) {
	s.st.mu.Lock()
	old := s.st.admin
	switch state {
	case "ready":
		s.st.admin = ""
	default:
		s.st.admin = state
	}
	changed := old != s.st.admin
	if changed {
		s.st.lastChange = time.Now()
	}
	s.st.mu.Unlock()
	if changed {
		b := s.be
		b.mu.Lock()
		xferred, _ := b.refreshLocked()
		tail := b.statusTailLocked(s, xferred, state == "maint")
		b.mu.Unlock()
		// haproxy's words and levels (srv_update_status, srv_append_status)
		s.st.mu.Lock()
		updown := "UP"
		if !s.st.up() {
			updown = "DOWN"
		}
		s.st.mu.Unlock()
		prefix := ""
		if s.cfg.Backup {
			prefix = "Backup "
		}
		var what string
		level := logfmt.LevelNotice
		switch {
		case state == "maint":
			what = "is going DOWN for maintenance" + tail
			if old == "" {
				level = logfmt.LevelAlert
			}
		case old == "maint" && state == "drain":
			what = "is " + updown + "/DRAIN (leaving forced maintenance)"
		case old == "maint":
			what = "is " + updown + "/READY (leaving forced maintenance)"
		case state == "drain":
			what = "enters drain state" + tail
		default:
			what = "is " + updown + " (leaving forced drain)"
		}
		b.s.event(b, level, fmt.Sprintf("%sServer %s/%s %s.", prefix, b.cfg.Name, s.cfg.Name, what))
	}
}

// statusTailLocked is haproxy's srv_append_status tail for s: the servers left (or online), s's sessions, the
// requests redistributed from its queue and those still in it. Caller holds b.mu.
func (b *backend) statusTailLocked(s *srv, xferred int, stopped bool) string {
	act, bck := 0, 0
	for _, o := range b.servers {
		if o.lb.Usable {
			if o.lb.Backup {
				bck++
			} else {
				act++
			}
		}
	}
	onBackup := ""
	if bck > 0 && act == 0 {
		onBackup = " Running on backup."
	}
	if stopped {
		return fmt.Sprintf(". %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue",
			act, bck, onBackup, s.lb.Served, xferred, s.queue.len())
	}
	return fmt.Sprintf(". %d active and %d backup servers online.%s %d sessions requeued, %d total in queue",
		act, bck, onBackup, xferred, s.queue.len())
}

func (s *srv) setHealth(state string) {
	s.st.mu.Lock()
	switch state {
	case "up":
		s.st.forced = ""
		if s.st.health != nil {
			s.st.health.Up, s.st.health.Health = true, s.st.health.Rise+s.st.health.Fall-1
		}
	case "down", "stopping":
		s.st.forced = state
	}
	s.st.lastChange = time.Now()
	s.st.mu.Unlock()
	s.be.mu.Lock()
	s.be.refreshLocked()
	s.be.mu.Unlock()
}

// setWeight applies "set weight" / "set server weight": N or N% of the initial weight.
func (s *srv) setWeight(v string) error {
	pct := strings.HasSuffix(v, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil || n < 0 {
		return fmt.Errorf("Require <weight> or <weight%%>.")
	}
	w := n
	if pct {
		w = s.st.iweight * n / 100
	}
	if w > 256 {
		return fmt.Errorf("Weight too large (256 max).")
	}
	switch s.be.cfg.Balance.Algo {
	case config.AlgoStaticRR:
		if w != 0 && w != s.st.iweight {
			return fmt.Errorf("Backend is using a static LB algorithm and only accepts weights '0%%' and '100%%'.")
		}
	case config.AlgoSource, config.AlgoURI, config.AlgoURLParam, config.AlgoHdr, config.AlgoRDPCookie, config.AlgoHash:
		if !s.be.cfg.HashType.Consistent && w != 0 && w != s.st.iweight {
			return fmt.Errorf("Backend is using a static LB algorithm and only accepts weights '0%%' and '100%%'.")
		}
	}
	s.st.mu.Lock()
	s.st.weight = w
	s.st.mu.Unlock()
	s.be.mu.Lock()
	s.be.refreshLocked()
	s.be.mu.Unlock()
	return nil
}

// checkLoop runs the server's health checks until ctx ends.
func (s *srv) checkLoop(ctx context.Context) {
	cfg := s.cfg
	inter := cfg.Inter
	if inter <= 0 {
		inter = 2 * time.Second
	}
	// spread the first check over the interval like haproxy does (deterministic per server id)
	first := time.Duration(int64(inter) * int64(cfg.ID%7) / 7)
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.st.mu.Lock()
		maint := s.st.admin == "maint"
		s.st.mu.Unlock()
		if !maint {
			s.checkOnce(ctx)
		}
		s.st.mu.Lock()
		next := s.st.health.Interval(inter, cfg.FastInter, cfg.DownInter)
		s.st.mu.Unlock()
		timer.Reset(next)
	}
}

func (s *srv) checkOnce(ctx context.Context) {
	be := s.be
	cfg := s.cfg
	inter := cfg.Inter
	if inter <= 0 {
		inter = 2 * time.Second
	}
	host := s.host
	if cfg.CheckAddr != "" {
		host = cfg.CheckAddr
	}
	port := s.port
	if cfg.CheckPort > 0 {
		port = cfg.CheckPort
	}
	t := health.Target{Addr: net.JoinHostPort(host, strconv.Itoa(port)), ConnectTimeout: inter, ReadTimeout: inter}
	if ct := be.cfg.Timeouts.Check; ct > 0 {
		if c := be.cfg.Timeouts.Connect; c > 0 && c < inter {
			t.ConnectTimeout = c
		}
		t.ReadTimeout = ct
	}
	res := health.Run(ctx, be.cfg.Check, t, nil)
	if ctx.Err() != nil {
		return
	}
	st := s.st
	st.mu.Lock()
	wasUp := st.health.Up
	if res.Status == health.L7OKC && !wasUp {
		// a 404 does not bring a down server up
		res.OK = false
	}
	nolb := res.Status == health.L7OKC
	nolbChanged := nolb != st.nolb
	st.nolb = nolb
	changed := st.health.Record(res)
	if !res.OK {
		st.cnt.chkfail.Add(1)
	}
	now := time.Now()
	if changed {
		st.lastChange = now
		if !st.health.Up {
			st.cnt.chkdown.Add(1)
			st.downSince = now
		} else if !st.downSince.IsZero() {
			st.downtime += now.Sub(st.downSince)
			st.downSince = time.Time{}
		}
	}
	st.mu.Unlock()
	if !changed {
		if nolbChanged {
			be.mu.Lock()
			be.refreshLocked()
			be.mu.Unlock()
		}
		return
	}
	be.mu.Lock()
	xferred, grabbed := be.refreshLocked()
	act, bck := 0, 0
	for _, o := range be.servers {
		if o.lb.Usable {
			if o.lb.Backup {
				bck++
			} else {
				act++
			}
		}
	}
	if !wasUp {
		xferred = grabbed
	}
	tail := be.statusTailLocked(s, xferred, wasUp)
	be.mu.Unlock()
	reason := res.Status.Desc()
	detail := ""
	if res.Code != 0 {
		detail = fmt.Sprintf(", code: %d", res.Code)
	}
	if res.Info != "" {
		detail += fmt.Sprintf(", info: \"%s\"", res.Info)
	}
	ms := res.Duration.Milliseconds()
	prefix := ""
	if cfg.Backup {
		prefix = "Backup "
	}
	var msg string
	if wasUp {
		msg = fmt.Sprintf("%sServer %s/%s is DOWN, reason: %s%s, check duration: %dms%s.",
			prefix, be.cfg.Name, cfg.Name, reason, detail, ms, tail)
		be.s.event(be, logfmt.LevelAlert, msg)
		if act == 0 && bck == 0 {
			be.s.event(be, logfmt.LevelEmerg, fmt.Sprintf("backend %s has no server available!", be.cfg.Name))
		}
	} else {
		msg = fmt.Sprintf("%sServer %s/%s is UP, reason: %s%s, check duration: %dms%s.",
			prefix, be.cfg.Name, cfg.Name, reason, detail, ms, tail)
		be.s.event(be, logfmt.LevelNotice, msg)
	}
}

// srcAddr extracts the client's address for balancing.
func srcAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
