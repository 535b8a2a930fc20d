package balance

// weightScale is BE_WEIGHT_SCALE: dynamic algorithms use eweight = 16 * uweight.
const weightScale = 16

// roundRobin is haproxy's FWRR (lb_fwrr.c) for the group in use.
type roundRobin struct {
	g                               *groups
	grp                             []*Server
	currPos, currWeight, nextWeight int
	curr, t0, t1                    tree
	init, next                      *tree
}

func (r *roundRobin) Update() {
	r.grp = r.g.current()
	r.curr.reset()
	r.t0.reset()
	r.t1.reset()
	r.init, r.next = &r.t0, &r.t1
	tot := 0
	for _, s := range r.g.servers {
		s.tree = nil
	}
	for _, s := range r.grp {
		s.eweight = s.Weight * weightScale
		s.npos, s.lpos, s.rweight = 0, 0, 0
		tot += s.eweight
	}
	r.currPos, r.currWeight, r.nextWeight = tot, tot, tot
	for _, s := range r.grp {
		r.queueByWeight(r.init, s)
	}
}

func (r *roundRobin) queueByWeight(t *tree, s *Server) {
	t.insert(uint64(4096-s.eweight), s)
}

func (r *roundRobin) fromGroup() *Server {
	s1 := r.curr.first()
	if s1 != nil && s1.eweight > 0 && s1.npos <= r.currPos {
		return s1
	}
	if s2 := r.init.first(); s2 != nil && s2.eweight > 0 {
		s2.npos, s2.rweight = 0, 0
		return s2
	}
	return s1
}

func (r *roundRobin) requeue(s *Server) {
	if s.npos >= 2*r.currWeight || s.npos >= r.currWeight+r.nextWeight {
		s.npos -= r.currWeight
		r.queueByWeight(r.next, s)
		return
	}
	key := 256*s.npos + int(uint32(4096+s.rweight-s.eweight))/16
	r.curr.insert(uint64(key), s)
}

func (r *roundRobin) Select(_ *Request, avoid *Server) *Server {
	if len(r.grp) == 0 || r.nextWeight == 0 {
		return nil
	}
	var aside []*Server
	var avoided, found *Server
	for tries := 0; tries < 2*len(r.grp)+2; tries++ {
		if r.currWeight == 0 {
			r.currPos, r.currWeight = r.nextWeight, r.nextWeight
		}
		switched := false
		var s *Server
		for {
			s = r.fromGroup()
			if s != nil {
				break
			}
			if switched {
				break
			}
			switched = true
			r.init, r.next = r.next, r.init
			r.currWeight = r.nextWeight
			r.currPos = r.currWeight
		}
		if s == nil {
			break
		}
		if s.npos == 0 {
			s.npos = r.currPos
		}
		s.lpos = s.npos
		s.npos += r.nextWeight / s.eweight
		s.rweight += r.nextWeight % s.eweight
		if s.rweight >= s.eweight {
			s.rweight -= s.eweight
			s.npos++
		}
		if s.tree != nil {
			s.tree.remove(s)
		}
		r.currPos++
		if s.Full() || s == avoid {
			if s == avoid && !s.Full() {
				avoided = s
			}
			aside = append(aside, s)
			continue
		}
		found = s
		r.requeue(s)
		break
	}
	for _, s := range aside {
		r.requeue(s)
	}
	if found == nil {
		found = avoided
	}
	return found
}

// staticRR walks the precomputed map (lb_map.c).
type staticRR struct {
	g   *groups
	m   []*Server
	idx int
}

func (r *staticRR) Update() {
	r.m = buildMap(r.g.current(), r.g.gcd)
	if r.idx >= len(r.m) {
		r.idx = 0
	}
}

func (r *staticRR) Select(_ *Request, avoid *Server) *Server {
	return mapNext(r.m, &r.idx, avoid)
}

// mapNext walks the map from *idx, skipping full servers and avoid unless nothing else is left.
func mapNext(m []*Server, idx *int, avoid *Server) *Server {
	if len(m) == 0 {
		return nil
	}
	if *idx >= len(m) {
		*idx = 0
	}
	var avoided *Server
	start := *idx
	i := start
	for {
		s := m[i]
		i++
		if i >= len(m) {
			i = 0
		}
		if !s.Full() {
			if s != avoid {
				*idx = i
				return s
			}
			avoided = s
		}
		if i == start {
			break
		}
	}
	if avoided != nil {
		*idx = i
	}
	return avoided
}

// buildMap builds haproxy's server map for the group, with eweight = ceil(uweight/gcd).
func buildMap(grp []*Server, g int) []*Server {
	tot := 0
	ew := make([]int, len(grp))
	for i, s := range grp {
		ew[i] = (s.Weight + g - 1) / g
		tot += ew[i]
	}
	if tot == 0 {
		return nil
	}
	m := make([]*Server, 0, tot)
	if tot == 1 {
		for i, s := range grp {
			if ew[i] == 1 {
				return append(m, s)
			}
		}
	}
	score := make([]int, len(grp))
	for o := 0; o < tot; o++ {
		best, mx := -1, 0
		for i := range grp {
			if ew[i] == 0 {
				continue
			}
			score[i] += ew[i]
			v := (score[i] + tot) / tot // Go truncates toward zero like C
			if best < 0 || v > mx {
				mx, best = v, i
			}
		}
		m = append(m, grp[best])
		score[best] -= tot
	}
	return m
}

// leastConn is lb_fwlc.c: smallest (inflight+1)*4096/eweight, FIFO among equals in repositioning order.
type leastConn struct {
	g   *groups
	grp []*Server
	seq uint64
}

func (l *leastConn) Update() {
	l.grp = l.g.current()
	for _, s := range l.grp {
		s.eweight = s.Weight * weightScale
		if s.seq == 0 {
			l.seq++
			s.seq = l.seq
		}
	}
}

func (l *leastConn) Reposition(s *Server) {
	l.seq++
	s.seq = l.seq
}

func lcKey(s *Server) int {
	in := s.Served + s.Queued
	if in == 0 {
		return 0
	}
	return (in + 1) * 4096 / s.eweight
}

func (l *leastConn) Select(_ *Request, avoid *Server) *Server {
	var best, avoided *Server
	bk := 0
	for _, s := range l.grp {
		if s.Maxconn > 0 && s.Served+s.Queued >= s.Maxconn+s.Maxqueue {
			continue
		}
		if s == avoid {
			avoided = s
			continue
		}
		k := lcKey(s)
		if best == nil || k < bk || (k == bk && s.seq < best.seq) {
			best, bk = s, k
		}
	}
	if best == nil {
		return avoided
	}
	return best
}

// first is lb_fas.c: the lowest id with a free slot.
type first struct {
	g   *groups
	grp []*Server
}

func (f *first) Update() { f.grp = f.g.current() }

func (f *first) Select(_ *Request, avoid *Server) *Server {
	var best, avoided *Server
	for _, s := range f.grp {
		if s.Maxconn > 0 && (s.Served >= s.Maxconn || s.Queued > 0) {
			continue
		}
		if s == avoid {
			avoided = s
			continue
		}
		if best == nil || s.ID < best.ID {
			best = s
		}
	}
	if best == nil {
		return avoided
	}
	return best
}
