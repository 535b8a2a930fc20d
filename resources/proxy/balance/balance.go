// Package balance implements haproxy 2.6's server selection, one small Selector per balance algorithm, with the
// exact arithmetic of lb_fwrr.c, lb_map.c, lb_chash.c, lb_fwlc.c, lb_fas.c and backend.c, so that Duet and haproxy
// pick the same server for the same input. It does no I/O and starts no goroutines; selectors are not safe for
// concurrent use: the owner (a backend) calls them under its own lock.
package balance

import (
	"net/netip"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/config"
)

// Server is a selector's view of one server. The owner sets the exported fields (under the lock it also holds
// when calling the selector) and calls Selector.Update after changing Usable or Weight.
type Server struct {
	Index   int    // position in the backend, 0-based
	ID      int    // haproxy's puid: explicit "id" or position+1; consistent hashing depends on it
	Name    string // for messages only
	IWeight int    // initial user weight (0..256)
	Weight  int    // current user weight (0..256)
	Backup  bool
	Usable  bool // up or stopping, and not in maintenance or drain

	Served   int // connections currently served
	Queued   int // requests waiting in this server's queue
	Maxconn  int // 0 = unlimited
	Maxqueue int // 0 = unlimited

	// selector state
	eweight int
	npos    int
	lpos    int
	rweight int
	tree    *tree
	seq     uint64
}

// Full reports whether the server cannot take one more connection now (its maxconn is reached or it has a queue).
func (s *Server) Full() bool {
	return s.Maxconn > 0 && (s.Served >= s.Maxconn || s.Queued > 0)
}

func (s *Server) inLB() bool { return s.Usable && s.Weight > 0 }

// Request is what the hashing algorithms may look at.
type Request struct {
	Src     netip.Addr
	URI     string                     // request-target as received ("" in TCP mode)
	Headers func(name string) []string // every value of a header, in order (name case-insensitive); nil in TCP mode
	Payload []byte                     // first bytes of a TCP stream (rdp-cookie)
	Body    []byte                     // POST only: the body bytes that came with the head, de-chunked (url_param)
	Host    string                     // Host header value, for the "base" sample
	Txn     acl.Txn                    // the request for balance hash expressions with converters; may be nil
}

// Selector picks servers for one backend with one algorithm.
type Selector interface {
	// Select returns the server for r, skipping avoid unless nothing else is left, or nil when no server can
	// take the request now (the request then waits in the backend queue). It does not change Served.
	Select(r *Request, avoid *Server) *Server
	// Update recomputes the selector's state after servers went up or down or changed weight.
	Update()
}

// Repositioner is implemented by selectors whose order depends on load (leastconn): the owner calls
// Reposition after changing a server's Served or Queued.
type Repositioner interface {
	Reposition(s *Server)
}

// New returns the selector for a backend's balance and hash-type lines over servers (in declaration order).
// seed feeds the random algorithm.
func New(b config.Balance, ht config.HashType, allBackups bool, servers []*Server, seed uint64) Selector {
	return NewWithFactor(b, ht, allBackups, servers, seed, 0)
}

// NewWithFactor is New with hash-balance-factor (0 = unbounded; otherwise > 100, consistent hashing only).
func NewWithFactor(b config.Balance, ht config.HashType, allBackups bool, servers []*Server, seed uint64, factor int) Selector {
	g := &groups{servers: servers, allBackups: allBackups}
	g.gcd = gcdWeights(servers)
	var sel Selector
	switch b.Algo {
	case config.AlgoStaticRR:
		sel = &staticRR{g: g}
	case config.AlgoLeastConn:
		sel = &leastConn{g: g}
	case config.AlgoFirst:
		sel = &first{g: g}
	case config.AlgoRandom:
		sel = &random{g: g, draws: max(b.Draws, 1), state: seed | 1}
	case config.AlgoSource, config.AlgoURI, config.AlgoURLParam, config.AlgoHdr, config.AlgoRDPCookie, config.AlgoHash:
		h := &hashed{g: g, key: keyFunc(b, ht), consistent: ht.Consistent, balanceFactor: factor}
		sel = h
	default:
		sel = &roundRobin{g: g}
	}
	sel.Update()
	return sel
}

// groups holds the servers and computes which group (active or backup) takes load.
type groups struct {
	servers    []*Server
	allBackups bool
	gcd        int
	seq        uint64
}

// current returns the servers that take load-balanced traffic now: the usable active servers, else the first
// usable backup (or all usable backups with option allbackups).
func (g *groups) current() []*Server {
	var act, bck []*Server
	for _, s := range g.servers {
		if !s.inLB() {
			continue
		}
		if s.Backup {
			bck = append(bck, s)
		} else {
			act = append(act, s)
		}
	}
	if len(act) > 0 {
		return act
	}
	if len(bck) > 0 && !g.allBackups {
		return bck[:1]
	}
	return bck
}

func gcdWeights(servers []*Server) int {
	g := 0
	for _, s := range servers {
		if s.IWeight > 0 {
			g = gcd(g, s.IWeight)
		}
	}
	if g == 0 {
		return 1
	}
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
