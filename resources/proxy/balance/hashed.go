package balance

import (
	"sort"
	"strings"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// keyFunc returns the function computing the hash key of a request, or ok=false when the key is missing
// (then the selector falls back to round robin over the same map or ring, like haproxy).
func keyFunc(b config.Balance, ht config.HashType) func(r *Request) (uint32, bool) {
	fn := HashFunc(ht.Function)
	finish := func(h uint32) uint32 {
		if ht.Avalanche {
			return FullHash(h)
		}
		return h
	}
	switch b.Algo {
	case config.AlgoSource:
		return func(r *Request) (uint32, bool) {
			if !r.Src.IsValid() {
				return 0, false
			}
			return finish(SourceKey(r.Src.AsSlice())), true
		}
	case config.AlgoURI:
		return func(r *Request) (uint32, bool) {
			k, ok := URIKey(r.URI, b)
			if !ok {
				return 0, false
			}
			return finish(fn([]byte(k))), true
		}
	case config.AlgoURLParam:
		return func(r *Request) (uint32, bool) {
			v, ok := URLParam(r.URI, b.Param)
			if !ok && r.Body != nil {
				v, ok = PostParam(r.Body, b.Param)
			}
			if !ok {
				return 0, false
			}
			return finish(fn([]byte(v))), true
		}
	case config.AlgoHdr:
		return func(r *Request) (uint32, bool) {
			v, ok := HdrKey(r, b.Header, b.DomainOnly)
			if !ok {
				return 0, false
			}
			return finish(fn([]byte(v))), true
		}
	case config.AlgoRDPCookie:
		return func(r *Request) (uint32, bool) {
			v, ok := RDPCookie(r.Payload, b.RDPCookie)
			if !ok {
				return 0, false
			}
			return finish(fn([]byte(v))), true
		}
	case config.AlgoHash:
		if smp := b.HashSample; smp != nil {
			return func(r *Request) (uint32, bool) {
				if r.Txn == nil {
					return 0, false
				}
				v, ok := smp.FetchBin(r.Txn)
				if !ok {
					return 0, false
				}
				return finish(fn(v)), true
			}
		}
		return func(r *Request) (uint32, bool) {
			v, ok := sampleExpr(r, b.HashExpr)
			if !ok {
				return 0, false
			}
			return finish(fn(v)), true
		}
	}
	return func(*Request) (uint32, bool) { return 0, false }
}

// SourceKey is balance source's key: the XOR of the address's 32-bit big-endian words (no string hash).
func SourceKey(ip []byte) uint32 {
	var h uint32
	for i := 0; i+4 <= len(ip); i += 4 {
		h ^= uint32(ip[i])<<24 | uint32(ip[i+1])<<16 | uint32(ip[i+2])<<8 | uint32(ip[i+3])
	}
	return h
}

// URIKey is what balance uri hashes: optionally from the path only, truncated to len, stopped at the
// depth-th slash after the first, and at '?' unless whole.
func URIKey(uri string, b config.Balance) (string, bool) {
	if uri == "" {
		return "", false
	}
	if b.URIPathOnly {
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			j := strings.IndexByte(rest, '/')
			if j < 0 {
				return "", false
			}
			uri = rest[j:]
		}
	}
	if b.URILen > 0 && len(uri) > b.URILen {
		uri = uri[:b.URILen]
	}
	slashes := 0
	end := 0
	for end < len(uri) {
		c := uri[end]
		if c == '/' {
			slashes++
			if b.URIDepth > 0 && slashes == b.URIDepth+1 {
				break
			}
		} else if c == '?' && !b.URIWhole {
			break
		}
		end++
	}
	return uri[:end], true
}

// URLParam returns the raw value of the first name=value in the query string ('&'-separated).
func URLParam(uri, name string) (string, bool) {
	q := strings.IndexByte(uri, '?')
	if q < 0 || name == "" {
		return "", false
	}
	for _, kv := range strings.Split(uri[q+1:], "&") {
		if strings.HasPrefix(kv, name) && len(kv) > len(name) && kv[len(name)] == '=' {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

// HdrKey is balance hdr's key: the first comma-separated value of the header's first occurrence.
func HdrKey(r *Request, name string, domainOnly bool) (string, bool) {
	if r.Headers == nil {
		return "", false
	}
	vals := r.Headers(name)
	if len(vals) == 0 {
		return "", false
	}
	v := vals[0]
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", false
	}
	if domainOnly {
		// hash the label before the last dot: "haproxy.1wt.eu" -> "1wt"
		end := strings.LastIndexByte(v, '.')
		if end > 0 {
			start := strings.LastIndexByte(v[:end], '.') + 1
			v = v[start:end]
		}
	}
	return v, true
}

// RDPCookie finds "Cookie: name=value\r\n" in the first bytes of an RDP stream.
func RDPCookie(p []byte, name string) (string, bool) {
	s := string(p)
	k := "Cookie: " + name + "="
	i := strings.Index(s, k)
	if i < 0 {
		return "", false
	}
	v := s[i+len(k):]
	j := strings.Index(v, "\r\n")
	if j < 0 {
		return "", false
	}
	return v[:j], true
}

// sampleExpr evaluates the few sample expressions balance hash supports.
func sampleExpr(r *Request, e string) ([]byte, bool) {
	switch {
	case e == "src":
		if !r.Src.IsValid() {
			return nil, false
		}
		return r.Src.AsSlice(), true
	case e == "path":
		p := r.URI
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return []byte(p), p != ""
	case e == "url":
		return []byte(r.URI), r.URI != ""
	case e == "base":
		p := r.URI
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return []byte(r.Host + p), r.Host != ""
	case strings.HasSuffix(e, ")"):
		name := e[strings.IndexByte(e, '(')+1 : len(e)-1]
		if r.Headers == nil {
			return nil, false
		}
		var parts []string
		for _, v := range r.Headers(name) {
			for _, x := range strings.Split(v, ",") {
				parts = append(parts, strings.Trim(x, " \t"))
			}
		}
		if len(parts) == 0 {
			return nil, false
		}
		return []byte(parts[len(parts)-1]), true
	}
	return nil, false
}

type point struct {
	key uint32
	s   *Server
}

// hashed is map-based or consistent hashing with round-robin fallback.
type hashed struct {
	g             *groups
	key           func(*Request) (uint32, bool)
	consistent    bool
	balanceFactor int

	grp     []*Server
	m       []*Server
	idx     int
	ring    []point
	last    int // index of the last fallback point, -1 before the first (haproxy's chash.last == NULL)
	started bool
}

func (h *hashed) Update() {
	h.grp = h.g.current()
	if h.consistent {
		h.ring = buildRing(h.grp)
		if h.last >= len(h.ring) || !h.started {
			h.last, h.started = -1, true
		}
		return
	}
	h.m = buildMap(h.grp, h.g.gcd)
	if h.idx >= len(h.m) {
		h.idx = 0
	}
}

// eligible is chash_server_is_eligible: with hash-balance-factor F, a server may take a new connection while
// it serves fewer than its weight-proportional share of ceil((backend served + 1) * F / 100) slots (at least 1).
func (h *hashed) eligible(s *Server) bool {
	served, tot, cum, mine := 0, 0, 0, 0
	for _, x := range h.grp {
		served += x.Served
		ew := x.Weight * weightScale
		if x == s {
			cum, mine = tot, ew
		}
		tot += ew
	}
	if tot == 0 {
		return true
	}
	totSlots := ((served+1)*h.balanceFactor + 99) / 100
	per, rem := totSlots/tot, totSlots%tot
	slots := per*mine + ((cum+mine)*rem)/tot - (cum*rem)/tot
	if slots == 0 {
		slots = 1
	}
	return s.Served < slots
}

// boundedWalk walks the ring forward from the point chosen for k until an eligible server (one full loop at most).
func (h *hashed) boundedWalk(k uint32, avoid *Server) *Server {
	n := sort.Search(len(h.ring), func(i int) bool { return h.ring[i].key >= k })
	for i := 0; i < len(h.ring); i++ {
		s := h.ring[(n+i)%len(h.ring)].s
		if s != avoid && h.eligible(s) {
			return s
		}
	}
	return nil
}

func buildRing(grp []*Server) []point {
	var pts []point
	for _, s := range grp {
		ew := s.Weight * weightScale
		for j := 0; j < ew; j++ {
			pts = append(pts, point{key: FullHash(uint32(s.ID*4096 + j)), s: s})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].key < pts[j].key })
	return pts
}

// ringLookup implements chash_get_server_hash: nearest point, prev wins ties, walking forward past avoid.
func ringLookup(ring []point, h uint32, avoid *Server) *Server {
	if len(ring) == 0 {
		return nil
	}
	n := sort.Search(len(ring), func(i int) bool { return ring[i].key >= h })
	if n == len(ring) {
		n = 0
	}
	p := n - 1
	if p < 0 {
		p = len(ring) - 1
	}
	dp := h - ring[p].key
	dn := ring[n].key - h
	i := n
	if dp <= dn {
		i = p
	}
	for k := 0; k < len(ring); k++ {
		s := ring[(i+k)%len(ring)].s
		if s != avoid {
			return s
		}
	}
	return ring[i].s
}

func (h *hashed) Select(r *Request, avoid *Server) *Server {
	if len(h.grp) == 0 {
		return nil
	}
	if len(h.grp) == 1 {
		return h.grp[0]
	}
	if k, ok := h.key(r); ok {
		if h.consistent {
			s := ringLookup(h.ring, k, avoid)
			if h.balanceFactor > 0 && s != nil && !h.eligible(s) {
				s = h.boundedWalk(k, avoid)
			}
			return s
		}
		return h.m[k%uint32(len(h.m))]
	}
	// fallback: round robin over the same structure
	if h.consistent {
		return ringNext(h.ring, &h.last, avoid)
	}
	return mapNext(h.m, &h.idx, avoid)
}

// ringNext is chash_get_next_server: walk the ring from the point after the last one used (the first point
// the first time), skipping full servers and avoid unless nothing else is left.
func ringNext(ring []point, last *int, avoid *Server) *Server {
	if len(ring) == 0 {
		return nil
	}
	var avoided *Server
	avoidedAt := -1
	for k := 0; k < len(ring); k++ {
		*last = (*last + 1) % len(ring)
		s := ring[*last].s
		if s.Full() {
			continue
		}
		if s == avoid {
			avoided, avoidedAt = s, *last
			continue
		}
		return s
	}
	if avoided != nil {
		*last = avoidedAt
	}
	return avoided
}

// random draws points on the consistent ring and keeps the least loaded (get_server_rnd).
type random struct {
	g     *groups
	grp   []*Server
	ring  []point
	draws int
	state uint64
}

func (r *random) Update() {
	r.grp = r.g.current()
	r.ring = buildRing(r.grp)
}

func (r *random) next() uint32 {
	// xorshift64*: statistical PRNG, like haproxy's statistical_prng
	r.state ^= r.state >> 12
	r.state ^= r.state << 25
	r.state ^= r.state >> 27
	return uint32((r.state * 2685821657736338717) >> 32)
}

func (r *random) Select(_ *Request, avoid *Server) *Server {
	if len(r.ring) == 0 {
		return nil
	}
	var prev *Server
	for d := 0; d < r.draws; d++ {
		cur := ringLookup(r.ring, r.next(), avoid)
		if cur == nil {
			continue
		}
		if prev == nil || (cur.Served+cur.Queued)*prev.Weight < (prev.Served+prev.Queued)*cur.Weight {
			prev = cur
		}
	}
	if prev != nil && prev.Full() {
		return nil
	}
	return prev
}
