// Package server is the proxy's runtime: it binds the frontends' listeners (IP_FREEBIND, so a VIP may arrive later),
// forwards TCP and HTTP/1 traffic to backends chosen by the balance package, runs health checks, serves the stats
// page and the Runtime API, writes haproxy-format logs, and reloads a new configuration in place without dropping
// established connections. A Server owns every goroutine it starts and stops them all in Stop.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/balance"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/health"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
)

// Version is reported by the stats page and "show info".
const Version = "2.6.12-duet"

// ReleaseDate is reported with Version.
const ReleaseDate = "2026/11/25"

// Options tune a Server beyond its configuration. The zero value is usable.
type Options struct {
	Stdout, Stderr io.Writer // targets of "log stdout" / "log stderr" (default os.Stdout / os.Stderr)
	Node           string    // node name for the stats page (default: global node, then hostname)
	// Loops is the number of event loops (0: one per CPU the runtime uses; -1: none, every connection keeps
	// goroutines). TCP-mode connections use all of them, HTTP connections the first half (at least one), or all
	// of them with BlockingLoops.
	Loops int
	// BlockingLoops makes each loop's runner wait in epoll_wait itself, keeping its P, instead of waiting on Go's
	// netpoller: the kernel then wakes the runner's thread directly, as haproxy's threads are woken. The runtime
	// must have more Ps than there are loops (GOMAXPROCS), or nothing else in the process runs while the runners
	// wait; duet-proxy sets GOMAXPROCS to one above the loop count. Without that margin the loops wait on the
	// netpoller, with a warning.
	BlockingLoops bool
	// LoopCPUs binds the thread of blocking loop i to the CPUs LoopCPUs[i] (none: not bound; package affinity
	// makes the plan from cpu-map). A runner that leaves its thread (a hand-over, a stop) gives it back the set
	// Unbound, the process's own.
	LoopCPUs [][]int
	Unbound  []int
	// UnbindStreaming makes a bound loop whose tunnels stream (bulk TCP-mode transfers) give its thread the
	// Unbound set while they do, and bind it again once they calm down (loopbind_linux.go says why). duet-proxy
	// sets it for its default binding, not for cpu-map's.
	UnbindStreaming bool
}

// Server runs one configuration. Create it with New, then Start; Reload swaps configurations; Stop ends it.
// Its methods are safe for concurrent use.
type Server struct {
	log  *slog.Logger
	opts Options

	mu        sync.Mutex // guards rt swaps, listeners, sockets, running
	rt        atomic.Pointer[runtime]
	listeners map[string]*listener
	sockets   map[string]*cliSocket
	running   bool
	stopped   bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, connection handlers, checkers, CLI

	connMu      sync.Mutex
	conns       map[net.Conn]struct{}
	draining    atomic.Bool  // Stop was called: keep-alive connections close after their response
	loops       []*evloop    // plain-TCP connections wait and are served here (none: goroutines only)
	httpLoops   int          // HTTP connections use loops[:httpLoops] (startLoops says why)
	splicedDirs atomic.Int64 // TCP-mode directions moved with splice(2) (tests)
	pipes       atomic.Int64 // kernel pipes for splicing, open now (maxpipes)
	pipesFree   atomic.Int64 // ... of which empty in a loop's pool

	started  time.Time
	actconn  atomic.Int64
	cumConns atomic.Int64
	cumReq   atomic.Int64
	connRate rate
	sessRate rate
	global   chan struct{} // process maxconn slots
	logs     *logfmt.Sender
	sessID   atomic.Uint64
	sessMu   sync.Mutex
	sessions map[uint64]*session // client connections (show sess, Stop)
}

// runtime is one configuration generation: frontends and backends built from one Config.
type runtime struct {
	cfg       *config.Config
	proxies   []*proxyRT
	backends  map[string]*backend
	frontends map[string]*frontend
	checkStop context.CancelFunc
	checkWG   sync.WaitGroup
}

type proxyRT struct {
	cfg *config.Proxy
	fe  *frontend
	be  *backend
}

type frontend struct {
	cfg         *config.Proxy
	useBackends []useBackend
	sem         chan struct{}
	defBE       *backend
	cnt         *counters
	tlsConfig   map[string]*tls.Config // by bind spec
}

type useBackend struct {
	be   *backend
	cond *acl.Cond
	// dynamic use_backend: the rendered name is looked up in backends (this configuration's)
	name     *acl.Format
	backends map[string]*backend
}

// New returns a Server for cfg. It does nothing until Start. log receives the proxy's own events
// (server up/down, reloads, errors); traffic logs go to the configuration's log targets.
func New(cfg *config.Config, log *slog.Logger) *Server {
	return NewWithOptions(cfg, log, Options{})
}

// NewWithOptions is New with Options.
func NewWithOptions(cfg *config.Config, log *slog.Logger, o Options) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	s := &Server{log: log, opts: o, listeners: map[string]*listener{}, sockets: map[string]*cliSocket{}, conns: map[net.Conn]struct{}{}, sessions: map[uint64]*session{}}
	rt, err := s.build(cfg, nil)
	if err == nil {
		s.rt.Store(rt)
	} else {
		s.rt.Store(&runtime{cfg: cfg, backends: map[string]*backend{}, frontends: map[string]*frontend{}})
		s.log.Error("build runtime", "err", err)
	}
	return s
}

// Start binds every listener and stats socket, starts health checks, and returns once the proxy accepts
// connections. It fails (and releases what it bound) when a listener cannot be bound. ctx bounds only the start.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.stopped {
		return errors.New("start proxy: already started")
	}
	rt := s.rt.Load()
	if rt.proxies == nil && len(rt.cfg.Proxies) > 0 {
		// the initial build failed: rebuild to get the error
		if _, err := s.build(rt.cfg, nil); err != nil {
			return fmt.Errorf("start proxy: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.started = time.Now()
	mc := rt.cfg.Global.Maxconn
	if mc <= 0 {
		mc = config.DefaultMaxconn
	}
	s.global = make(chan struct{}, mc)
	g := rt.cfg.Global
	host := ""
	if g.SendHostname {
		host = g.LogHostname
		if host == "" {
			host, _ = os.Hostname()
		}
	}
	s.logs = logfmt.NewSender(g.LogTag, host, s.opts.Stdout, s.opts.Stderr)
	s.startLoops()
	if err := s.applyListeners(ctx, rt); err != nil {
		s.abortStartLocked()
		return fmt.Errorf("start proxy: %w", err)
	}
	if err := s.applySockets(rt); err != nil {
		s.abortStartLocked()
		return fmt.Errorf("start proxy: %w", err)
	}
	s.startChecks(rt)
	s.running = true
	s.log.Info("proxy started", "frontends", len(rt.frontends), "backends", len(rt.backends))
	return nil
}

func (s *Server) closeAllLocked() {
	for k, l := range s.listeners {
		l.close()
		delete(s.listeners, k)
	}
	for k, c := range s.sockets {
		_ = c.ln.Close()
		delete(s.sockets, k)
	}
}

// Reload replaces the configuration in place: new listeners are bound, removed ones closed, kept ones switch to
// the new frontend; established connections finish on the configuration they started with; server states
// (maintenance, health, weight) and counters carry over by backend and server name. On error the running
// configuration keeps serving unchanged.
func (s *Server) Reload(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return errors.New("reload proxy: not running")
	}
	old := s.rt.Load()
	rt, err := s.build(cfg, old)
	if err != nil {
		return fmt.Errorf("reload proxy: %w", err)
	}
	// bind new listeners first so that a failure leaves the old configuration in place
	if err := s.applyListeners(context.Background(), rt); err != nil {
		// restore the old frontends on kept listeners
		_ = s.applyListeners(context.Background(), old)
		return fmt.Errorf("reload proxy: %w", err)
	}
	if err := s.applySockets(rt); err != nil {
		s.log.Warn("reload: stats sockets", "err", err)
	}
	s.rt.Store(rt)
	s.stopChecks(old)
	for _, be := range old.backends {
		be.retired.Store(true) // before closeIdle: a connection handed back after this closes instead
		for _, sv := range be.servers {
			sv.closeIdle()
		}
	}
	s.startChecks(rt)
	s.log.Info("proxy reloaded", "frontends", len(rt.frontends), "backends", len(rt.backends))
	return nil
}

// abortStartLocked undoes a Start that failed half way.
func (s *Server) abortStartLocked() {
	s.closeAllLocked()
	s.cancel()
	s.stopLoops()
}

// startLoops starts the event loops: by default one per CPU the runtime uses (GOMAXPROCS; duet-proxy passes its
// thread count). TCP-mode tunnels are spread over all of them; HTTP connections over the first half, at least one
// (httpLoops), or over all of them when the loops block (Options.BlockingLoops). Why: runners that wait on the
// netpoller share its single blocking waiter, and on this project's 2-CPU measurements (resources/proxy/README.md)
// two of them serving HTTP halved the median but took the p99 from 2.5-3 ms to 6 ms; for TCP mode, whose work
// per wake-up is a read and a write, two runners did 1.1x haproxy's requests against 0.87-0.92x for one.
func (s *Server) startLoops() {
	n := s.opts.Loops
	if n == 0 {
		n = goruntime.GOMAXPROCS(0)
	}
	blocking := s.opts.BlockingLoops && n > 0
	if blocking && goruntime.GOMAXPROCS(0) <= n {
		s.log.Warn("event loops wait on the netpoller: GOMAXPROCS must exceed the loop count for blocking loops",
			"loops", n, "gomaxprocs", goruntime.GOMAXPROCS(0))
		blocking = false
	}
	loops := make([]*evloop, 0, max(n, 0))
	for range max(n, 0) {
		l, err := newEvloop(s, n > 1 && !blocking, blocking)
		if err != nil {
			s.log.Warn("HTTP connections keep a goroutine each", "err", err)
			for _, l := range loops {
				l.closeFDs()
			}
			return
		}
		loops = append(loops, l)
	}
	s.loops = loops
	s.httpLoops = max(1, len(loops)/2)
	if blocking {
		s.httpLoops = len(loops) // each runner has a thread of its own: HTTP on all of them (README: event loops)
	}
	for i, l := range loops {
		if blocking && i < len(s.opts.LoopCPUs) && len(s.opts.LoopCPUs[i]) > 0 && len(s.opts.Unbound) > 0 {
			l.cpus, l.unbound = s.opts.LoopCPUs[i], s.opts.Unbound
			l.stream.on = s.opts.UnbindStreaming
		}
		s.wg.Add(1)
		l.start()
	}
}

func (s *Server) stopLoops() {
	for _, l := range s.loops {
		l.stop((*httpConn).close)
	}
}

// parkedCount is the number of connections waiting in the event loops.
func (s *Server) parkedCount() int {
	n := 0
	for _, l := range s.loops {
		n += l.count()
	}
	return n
}

// Stop closes the listeners and sockets, stops the checks, waits for established connections to finish until
// ctx is done, then closes what is left and waits for every goroutine. It is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.running {
		s.stopped = true
		s.mu.Unlock()
		return nil
	}
	s.running, s.stopped = false, true
	s.closeAllLocked()
	rt := s.rt.Load()
	s.stopChecks(rt)
	s.mu.Unlock()
	// like haproxy's soft stop: idle keep-alive connections close now, busy ones after their response
	s.draining.Store(true)
	for _, ss := range s.sessionList() {
		if h := ss.http.Load(); h != nil && h.idle.Load() {
			_ = h.c.Conn.Close()
		}
	}
	s.stopLoops()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("stop proxy: %w", ctx.Err())
	}
	s.cancel()
	s.connMu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.connMu.Unlock()
	for _, ss := range s.sessionList() {
		_ = ss.client.Close()
	}
	<-done
	for _, be := range rt.backends {
		for _, sv := range be.servers {
			sv.closeIdle()
		}
	}
	_ = s.logs.Close()
	s.log.Info("proxy stopped")
	return err
}

// Healthy reports nil when the proxy runs and every listener is bound; otherwise why not. It does not block.
func (s *Server) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return errors.New("proxy not running")
	}
	rt := s.rt.Load()
	for _, fe := range rt.frontends {
		for _, b := range fe.cfg.Binds {
			for _, a := range b.Addrs {
				if _, ok := s.listeners[a.Network+" "+a.Address]; !ok {
					return fmt.Errorf("frontend %s: listener %s not bound", fe.cfg.Name, a.Address)
				}
			}
		}
	}
	return nil
}

// Config returns the configuration in effect.
func (s *Server) Config() *config.Config { return s.rt.Load().cfg }

// Addrs returns the bound listener addresses by frontend name (useful with port 0 in tests).
func (s *Server) Addrs() map[string][]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]net.Addr{}
	keys := make([]string, 0, len(s.listeners))
	for k := range s.listeners {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := s.listeners[k]
		fe := l.fe.Load()
		out[fe.cfg.Name] = append(out[fe.cfg.Name], l.ln.Addr())
	}
	return out
}

// sessionList is a snapshot of the live client connections.
func (s *Server) sessionList() []*session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

func (s *Server) track(c net.Conn) {
	s.connMu.Lock()
	s.conns[c] = struct{}{}
	s.connMu.Unlock()
}

func (s *Server) untrack(c net.Conn) {
	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
}

// build creates a runtime generation for cfg, carrying state from old (may be nil).
func (s *Server) build(cfg *config.Config, old *runtime) (*runtime, error) {
	rt := &runtime{cfg: cfg, backends: map[string]*backend{}, frontends: map[string]*frontend{}}
	for _, px := range cfg.Proxies {
		if px.Disabled {
			continue
		}
		prt := &proxyRT{cfg: px}
		if px.Cap&config.CapBE != 0 {
			be := &backend{cfg: px, s: s, byName: map[string]*srv{}, cnt: &counters{}, lastChg: time.Now()}
			var oldBE *backend
			if old != nil {
				oldBE = old.backends[px.Name]
				if oldBE != nil {
					be.cnt = oldBE.cnt
					be.lastChg = oldBE.lastChg
				}
			}
			if px.StickTable != nil {
				if oldBE != nil && oldBE.stick != nil && oldBE.stick.cfg.Type == px.StickTable.Type {
					// stick tables survive reloads
					oldBE.stick.mu.Lock()
					oldBE.stick.cfg = *px.StickTable
					oldBE.stick.mu.Unlock()
					be.stick = oldBE.stick
				} else {
					be.stick = newStickTable(*px.StickTable)
				}
			}
			var lbs []*balance.Server
			for i, sc := range px.Servers {
				sv := &srv{cfg: sc, be: be}
				if strings.HasPrefix(sc.Addr, "unix@") {
					sv.network, sv.host = "unix", strings.TrimPrefix(sc.Addr, "unix@")
				} else {
					sv.network, sv.host, sv.port, sv.portRelative = "tcp", resolveOnce(sc.Addr), sc.Port, sc.PortRelative
				}
				var st *srvState
				if oldBE != nil {
					if o := oldBE.byName[sc.Name]; o != nil {
						st = o.st
					}
				}
				if st == nil {
					st = &srvState{weight: sc.Weight, iweight: sc.Weight, lastChange: time.Now()}
					if sc.Disabled {
						st.admin = "maint"
					}
				}
				st.mu.Lock()
				if st.iweight != sc.Weight {
					// the configured weight changed: the new configuration wins
					st.iweight, st.weight = sc.Weight, sc.Weight
				}
				if sc.Check && st.health == nil {
					st.health = health.NewState(sc.Rise, sc.Fall)
				} else if !sc.Check {
					st.health = nil
				} else {
					st.health.Rise, st.health.Fall = sc.Rise, sc.Fall
				}
				st.mu.Unlock()
				sv.st = st
				sv.lb = &balance.Server{Index: i, ID: sc.ID, Name: sc.Name, IWeight: sc.Weight, Weight: st.weight,
					Backup: sc.Backup, Maxconn: sc.Maxconn, Maxqueue: sc.Maxqueue}
				lbs = append(lbs, sv.lb)
				be.servers = append(be.servers, sv)
				be.byName[sc.Name] = sv
			}
			be.sel = balance.NewWithFactor(px.Balance, px.HashType, px.Options.AllBackups, lbs, uint64(time.Now().UnixNano()), px.HashBalance)
			be.repo, _ = be.sel.(balance.Repositioner)
			be.mu.Lock()
			be.refreshLocked()
			be.mu.Unlock()
			rt.backends[px.Name] = be
			prt.be = be
		}
		rt.proxies = append(rt.proxies, prt)
	}
	for _, prt := range rt.proxies {
		px := prt.cfg
		if px.Cap&config.CapFE == 0 {
			continue
		}
		fe := &frontend{cfg: px, cnt: &counters{}, tlsConfig: map[string]*tls.Config{}}
		if old != nil {
			if o := old.frontends[px.Name]; o != nil {
				fe.cnt = o.cnt
			}
		}
		if px.Maxconn > 0 {
			fe.sem = make(chan struct{}, px.Maxconn)
		}
		if px.DefaultBackend != "" {
			fe.defBE = rt.backends[px.DefaultBackend]
		}
		for _, ub := range px.UseBackends {
			if ub.Dynamic != nil {
				fe.useBackends = append(fe.useBackends, useBackend{cond: ub.Cond, name: ub.Dynamic, backends: rt.backends})
				continue
			}
			if b := rt.backends[ub.Backend]; b != nil {
				fe.useBackends = append(fe.useBackends, useBackend{be: b, cond: ub.Cond})
			}
		}
		if fe.defBE == nil && prt.be != nil {
			fe.defBE = prt.be
		}
		for _, b := range px.Binds {
			if !b.SSL {
				continue
			}
			tc, err := loadTLS(b)
			if err != nil {
				return nil, fmt.Errorf("frontend %s: bind %s: %w", px.Name, b.Spec, err)
			}
			fe.tlsConfig[b.Spec] = tc
		}
		rt.frontends[px.Name] = fe
		prt.fe = fe
	}
	return rt, nil
}

// resolveOnce resolves a server host name when the configuration is loaded (like haproxy's libc init-addr), so
// that connections do not pay a DNS lookup each; a name that does not resolve yet is kept and resolved when
// connecting (haproxy would refuse to start without init-addr none).
func resolveOnce(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return host
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap().String()
		}
	}
	return addrs[0].String()
}

// loadTLS loads the bind's certificates: PEM files holding a certificate chain and its key, or directories of them.
func loadTLS(b config.Bind) (*tls.Config, error) {
	var certs []tls.Certificate
	for _, p := range b.Certs {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			ents, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("read certificate directory: %w", err)
			}
			files = files[:0]
			for _, e := range ents {
				if !e.IsDir() && !strings.HasSuffix(e.Name(), ".key") && !strings.HasSuffix(e.Name(), ".ocsp") && !strings.HasSuffix(e.Name(), ".issuer") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("load certificate: %w", err)
			}
			keyData := data
			if kd, err := os.ReadFile(strings.TrimSuffix(f, filepath.Ext(f)) + ".key"); err == nil && !strings.Contains(string(data), "PRIVATE KEY") {
				keyData = kd
			}
			c, err := tls.X509KeyPair(data, keyData)
			if err != nil {
				return nil, fmt.Errorf("load certificate %s: %w", f, err)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found")
	}
	alpn := b.ALPN
	if len(alpn) == 0 {
		alpn = []string{"http/1.1"}
	}
	var filtered []string
	for _, p := range alpn {
		if p != "h2" {
			filtered = append(filtered, p)
		}
	}
	return &tls.Config{Certificates: certs, NextProtos: filtered, MinVersion: tls.VersionTLS12}, nil
}

// listener is one bound socket; its frontend may change on reload.
type listener struct {
	key string
	ln  net.Listener
	// acceptFile is a duplicate of a TCP listener's socket in the netpoller, through whose RawConn plain
	// connections are accepted with accept4 (acceptOwned: net's own listener RawConn cannot wait); nil for
	// other listeners, or when it could not be made
	acceptFile *os.File
	closed     atomic.Bool
	fe         atomic.Pointer[frontend]
	bind       atomic.Pointer[config.Bind]
	sem        chan struct{} // bind maxconn
}

// close closes the listening socket (both descriptors).
func (l *listener) close() {
	l.closed.Store(true)
	_ = l.ln.Close()
	if l.acceptFile != nil {
		_ = l.acceptFile.Close()
	}
}

// applyListeners makes the bound sockets match rt's binds. Caller holds s.mu.
func (s *Server) applyListeners(ctx context.Context, rt *runtime) error {
	want := map[string]bool{}
	var opened []*listener
	for _, prt := range rt.proxies {
		fe := prt.fe
		if fe == nil {
			continue
		}
		for i := range fe.cfg.Binds {
			b := &fe.cfg.Binds[i]
			for _, a := range b.Addrs {
				key := a.Network + " " + a.Address
				want[key] = true
				if l, ok := s.listeners[key]; ok {
					l.fe.Store(fe)
					l.bind.Store(b)
					continue
				}
				ln, err := listen(ctx, a, b, !rt.cfg.Global.NoReusePort)
				if err != nil {
					for _, l := range opened {
						l.close()
						delete(s.listeners, l.key)
					}
					return fmt.Errorf("frontend %s: cannot bind socket [%s]: %w", fe.cfg.Name, a.Address, err)
				}
				l := &listener{key: key, ln: ln, acceptFile: acceptFile(ln)}
				if b.Maxconn > 0 {
					l.sem = make(chan struct{}, b.Maxconn)
				}
				l.fe.Store(fe)
				l.bind.Store(b)
				s.listeners[key] = l
				opened = append(opened, l)
			}
		}
	}
	for k, l := range s.listeners {
		if !want[k] {
			l.close()
			delete(s.listeners, k)
		}
	}
	for _, l := range opened {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	return nil
}

// listen binds one address with SO_REUSEADDR, SO_REUSEPORT (unless reusePort is false) and IP_FREEBIND (a VIP
// may not be configured yet).
func listen(ctx context.Context, a config.BindAddr, b *config.Bind, reusePort bool) (net.Listener, error) {
	switch a.Network {
	case "unix":
		_ = os.Remove(a.Address)
		ln, err := net.Listen("unix", a.Address)
		if err != nil {
			return nil, err
		}
		if b.Mode != 0 {
			_ = os.Chmod(a.Address, os.FileMode(b.Mode))
		}
		return ln, nil
	case "fd":
		fd, _ := strconv.Atoi(a.Address)
		f := os.NewFile(uintptr(fd), "fd@"+a.Address)
		if f == nil {
			return nil, fmt.Errorf("invalid file descriptor %d", fd)
		}
		defer f.Close()
		return net.FileListener(f)
	}
	lc := net.ListenConfig{KeepAlive: -1, Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if strings.HasSuffix(network, "6") {
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, 75 /* IPV6_FREEBIND */, 1)
				if b.V6Only {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
				}
			} else {
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_FREEBIND, 1)
			}
			if reusePort {
				// like haproxy: lets a new process bind before the old one leaves (-sf); "noreuseport" disables it
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
			}
			if b.Transparent {
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TRANSPARENT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	network := a.Network
	if network == "tcp6" && strings.HasPrefix(a.Address, "[::]") && !b.V6Only {
		network = "tcp" // dual stack like haproxy's "::" with v4v6 on Linux defaults
	}
	return lc.Listen(ctx, network, a.Address)
}

func (s *Server) acceptLoop(l *listener) {
	defer s.wg.Done()
	for {
		// process maxconn, then frontend and bind maxconn: stop accepting while full, like haproxy
		select {
		case s.global <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		fe := l.fe.Load()
		var c net.Conn
		var err error
		if l.acceptFile != nil && len(s.loops) > 0 && !l.bind.Load().SSL {
			// plain TCP for the event loops: the socket stays out of Go's netpoller (loopConn)
			c, err = acceptOwned(l.acceptFile, l.ln.Addr(), fe.cfg.Options.CliTCPKA || fe.cfg.Options.TCPKA)
			if errors.Is(err, os.ErrClosed) {
				err = net.ErrClosed
			}
		} else {
			c, err = l.ln.Accept()
			if tc, ok := c.(*net.TCPConn); ok && err == nil && (fe.cfg.Options.CliTCPKA || fe.cfg.Options.TCPKA) {
				_ = tc.SetKeepAlive(true) // the listener turns Go's default probes off, as haproxy does
			}
		}
		if err != nil {
			<-s.global
			if errors.Is(err, net.ErrClosed) || l.closed.Load() || s.ctx.Err() != nil {
				return
			}
			s.log.Warn("accept", "frontend", fe.cfg.Name, "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		fe = l.fe.Load()
		bind := l.bind.Load()
		if fe.sem != nil {
			select {
			case fe.sem <- struct{}{}:
			default:
				// frontend full: wait for a slot (haproxy pauses the listener)
				select {
				case fe.sem <- struct{}{}:
				case <-s.ctx.Done():
					_ = c.Close()
					<-s.global
					return
				}
			}
		}
		sess := &session{id: s.sessID.Add(1), s: s, fe: fe, client: c, accept: time.Now()}
		s.sessMu.Lock()
		s.sessions[sess.id] = sess
		s.sessMu.Unlock()
		s.wg.Add(1)
		go s.serveAccepted(sess, l, bind)
	}
}

func (s *Server) serveAccepted(sess *session, l *listener, bind *config.Bind) {
	defer s.wg.Done()
	s.serve(sess, l, bind)
}

// dial connects to a server with the connect timeout.
func (s *Server) dial(ctx context.Context, sv *srv, dstPort int, timeout time.Duration) (*beConn, error) {
	network, addr := sv.dialAddr(dstPort)
	d := net.Dialer{Timeout: timeout}
	if sv.be.cfg.Options.SrvTCPKA || sv.be.cfg.Options.TCPKA {
		d.KeepAlive = 0
	} else {
		d.KeepAlive = -1
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s/%s at %s: %w", sv.be.cfg.Name, sv.cfg.Name, addr, err)
	}
	if sv.cfg.SSL {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: sv.cfg.Verify != "required", ServerName: sv.host})
		hctx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("tls handshake with %s/%s: %w", sv.be.cfg.Name, sv.cfg.Name, err)
		}
		c = tc
	}
	if len(s.loops) > 0 && !sv.cfg.SSL {
		c = ownConn(c) // out of Go's netpoller, for the event loops (loopConn)
	}
	s.track(c)
	t := sv.be.cfg.Timeouts
	dc := &dconn{Conn: c, rto: t.Server, wto: t.Server, raw: newRawSock(c)}
	return &beConn{c: dc, br: getReader(dc), bw: getWriter(dc), fd: socketFD(c)}, nil
}

// event logs a server or backend state change to slog and to the backend's log targets.
func (s *Server) event(be *backend, level int, msg string) {
	if level <= logfmt.LevelAlert {
		s.log.Warn(msg, "backend", be.cfg.Name)
	} else {
		s.log.Info(msg, "backend", be.cfg.Name)
	}
	if s.logs != nil {
		s.logs.Send(be.cfg.Logs, level, msg, time.Now())
	}
}

func (s *Server) startChecks(rt *runtime) {
	ctx, cancel := context.WithCancel(s.ctx)
	rt.checkStop = cancel
	for _, be := range rt.backends {
		for _, sv := range be.servers {
			if !sv.cfg.Check {
				continue
			}
			rt.checkWG.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer rt.checkWG.Done()
				sv.checkLoop(ctx)
			}()
		}
	}
}

func (s *Server) stopChecks(rt *runtime) {
	if rt.checkStop != nil {
		rt.checkStop()
		rt.checkWG.Wait()
	}
}

// lookup finds a backend and server by name or "#id" in the current runtime.
func (s *Server) lookup(b, sv string) (*srv, error) {
	rt := s.rt.Load()
	var be *backend
	if strings.HasPrefix(b, "#") {
		id, _ := strconv.Atoi(b[1:])
		for _, x := range rt.backends {
			if x.cfg.ID == id {
				be = x
			}
		}
	} else {
		be = rt.backends[b]
	}
	if be == nil {
		return nil, errors.New("No such backend.")
	}
	if strings.HasPrefix(sv, "#") {
		id, _ := strconv.Atoi(sv[1:])
		for _, x := range be.servers {
			if x.cfg.ID == id {
				return x, nil
			}
		}
	} else if x := be.byName[sv]; x != nil {
		return x, nil
	}
	return nil, errors.New("No such server.")
}
