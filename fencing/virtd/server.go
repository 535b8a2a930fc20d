// Package virtd is Duet's fence_virtd: it reads fence_virt.conf, listens for fence_xvm requests by
// multicast (IPv4 or IPv6) or TCP, authenticates them with the shared key, applies the static map and the
// 10-second de-duplication, and carries them out on a backend. A backend is any fencing.Device; this
// package provides libvirt (through virsh), exec (a command per action) and netns (the test topology).
package virtd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
)

// Options configures a Server. Device is required; zero values elsewhere take the real daemon's defaults.
type Options struct {
	Device  fencing.Device
	Key     []byte       // shared key; may be empty only with MinHash and Auth none
	MinHash xvm.HashType // weakest request signature accepted
	Auth    xvm.HashType // challenge-response algorithm
	Groups  []Group      // static map; empty allows everything
	Logger  *slog.Logger
	Rand    io.Reader
	Now     func() time.Time
	// MaxConcurrent bounds requests handled at once (callback + authentication run in parallel; backend
	// operations are serialized). Default 8.
	MaxConcurrent int
	// CallbackTimeout bounds the connect back to a multicast client (default 5 s); StepTimeout each
	// read or write of the exchange (default 10 s).
	CallbackTimeout, StepTimeout time.Duration
}

// Server handles fence requests. Listeners (Start) feed it; it is safe for concurrent use.
type Server struct {
	o    Options
	log  *slog.Logger
	hist *history
	opMu sync.Mutex // serializes backend operations
	sem  chan struct{}
}

// NewServer returns a Server for o.
func NewServer(o Options) (*Server, error) {
	if o.Device == nil {
		return nil, errors.New("create fence server: no backend device")
	}
	if (o.MinHash != xvm.HashNone || o.Auth != xvm.HashNone) && len(o.Key) == 0 {
		return nil, fmt.Errorf("create fence server: hash %s / auth %s need a key", o.MinHash, o.Auth)
	}
	if len(o.Key) > xvm.MaxKeyLen {
		o.Key = o.Key[:xvm.MaxKeyLen]
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 8
	}
	if o.CallbackTimeout <= 0 {
		o.CallbackTimeout = 5 * time.Second
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Second
	}
	return &Server{o: o, log: o.Logger, hist: newHistory(), sem: make(chan struct{}, o.MaxConcurrent)}, nil
}

// admit verifies and decodes a received request and claims it in the history. On false the request
// is dropped (already logged).
func (s *Server) admit(pkt []byte, src string) (xvm.Request, bool) {
	if err := xvm.Verify(pkt, s.o.Key, s.o.MinHash); err != nil {
		s.log.Warn("dropping fence request", "src", src, "len", len(pkt), "err", err)
		return xvm.Request{}, false
	}
	req, err := xvm.Decode(pkt)
	if err != nil {
		s.log.Warn("dropping fence request", "src", src, "err", err)
		return req, false
	}
	if !s.hist.claim(req, s.o.Now()) {
		s.log.Info("dropping repeated fence request", "src", src, "op", req.Op.String(), "domain", req.Domain, "seqno", req.Seqno)
		return req, false
	}
	return req, true
}

// serve runs a claimed request: connect back (multicast, conn nil) or use conn (TCP), authenticate, act,
// answer. source is the address the static map checks. It releases the claim.
func (s *Server) serve(ctx context.Context, req xvm.Request, source string, conn net.Conn) {
	answered := false
	defer func() { s.hist.finish(req, answered, s.o.Now()) }()
	log := s.log.With("op", req.Op.String(), "domain", req.Domain, "seqno", req.Seqno, "src", source)
	if conn == nil {
		c, err := s.callback(ctx, req)
		if err != nil {
			log.Warn("fence request abandoned", "err", err)
			return
		}
		conn = c
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetDeadline(time.Now().Add(2 * s.o.StepTimeout))
	if err := xvm.DaemonAuth(conn, s.o.Key, s.o.Auth, s.o.Rand); err != nil {
		log.Warn("fence request abandoned", "err", err)
		return
	}
	res, hosts := s.execute(ctx, req, source, log)
	conn.SetDeadline(time.Now().Add(s.o.StepTimeout))
	var err error
	if res == xvm.ResultHostList {
		err = xvm.WriteHostList(conn, hosts, xvm.ResultSuccess)
	} else {
		_, err = conn.Write([]byte{byte(res)})
	}
	if err != nil {
		log.Warn("send fence result", "err", err)
	}
	if res == xvm.ResultSuccess && (req.Op == xvm.OpOff || req.Op == xvm.OpOn || req.Op == xvm.OpReboot) {
		log.Info("fenced")
	}
	// Recorded whatever happened to the write: the action was carried out.
	answered = true
}

func (s *Server) callback(ctx context.Context, req xvm.Request) (net.Conn, error) {
	network := ""
	switch {
	case req.Family == xvm.FamilyInet && req.Address.Is4():
		network = "tcp4"
	case req.Family == xvm.FamilyInet6 && req.Address.Is6():
		network = "tcp6"
	default:
		return nil, fmt.Errorf("connect back: request family %d has no callback address", req.Family)
	}
	if req.Port == 0 || req.Address.IsUnspecified() || req.Address.IsMulticast() {
		return nil, fmt.Errorf("connect back: bad callback address %s port %d", req.Address, req.Port)
	}
	addr := netip.AddrPortFrom(req.Address, req.Port).String()
	d := net.Dialer{Timeout: s.o.CallbackTimeout, KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect back to %s: %w", addr, err)
	}
	return c, nil
}

// execute carries out an authenticated request and returns the result byte (and hosts for a hostlist).
func (s *Server) execute(ctx context.Context, req xvm.Request, source string, log *slog.Logger) (xvm.Result, []xvm.HostRecord) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	groups := staticMap(s.o.Groups)
	dev := s.o.Device
	switch req.Op {
	case xvm.OpOff, xvm.OpOn, xvm.OpReboot, xvm.OpStatus:
		if !groups.allowed(source, req.Domain) {
			log.Warn("fence request denied by static map")
			return xvm.ResultPerm, nil
		}
	}
	switch req.Op {
	case xvm.OpOff, xvm.OpOn, xvm.OpReboot:
		act := map[xvm.Op]fencing.Action{xvm.OpOff: fencing.Off, xvm.OpOn: fencing.On, xvm.OpReboot: fencing.Reboot}[req.Op]
		if err := dev.Fence(ctx, req.Domain, act); err != nil {
			log.Error("fence failed", "err", err)
			return xvm.ResultFail, nil
		}
		return xvm.ResultSuccess, nil // logged by serve once the answer is sent
	case xvm.OpStatus:
		st, err := dev.Status(ctx, req.Domain)
		switch {
		case errors.Is(err, fencing.ErrNotFound):
			log.Info("status of unknown domain: off")
			return xvm.ResultOff, nil
		case err != nil:
			log.Error("status failed", "err", err)
			return xvm.ResultFail, nil
		case st == fencing.PoweredOff:
			return xvm.ResultOff, nil
		}
		return xvm.ResultSuccess, nil
	case xvm.OpDevStatus:
		if err := dev.Monitor(ctx); err != nil {
			log.Error("monitor failed", "err", err)
			return xvm.ResultFail, nil
		}
		return xvm.ResultSuccess, nil
	case xvm.OpHostList:
		hosts, err := dev.List(ctx)
		if err != nil {
			log.Error("list failed", "err", err)
			return xvm.ResultFail, nil
		}
		hosts = groups.filter(source, hosts)
		slices.SortStableFunc(hosts, func(a, b fencing.Host) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
		recs := make([]xvm.HostRecord, 0, len(hosts))
		for _, h := range hosts {
			st := xvm.StateNoState
			switch h.State {
			case fencing.PoweredOn:
				st = xvm.StateRunning
			case fencing.PoweredOff:
				st = xvm.StateShutoff
			}
			recs = append(recs, xvm.HostRecord{Domain: h.Name, UUID: h.UUID, State: st})
		}
		return xvm.ResultHostList, recs
	}
	log.Warn("unsupported operation")
	return xvm.ResultFail, nil
}
