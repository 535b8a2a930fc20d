package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

// buildTops finds the units of placement: clones, uncontained groups and uncontained primitives.
func (s *state) buildTops() {
	for i := range s.c.Clones {
		cl := &s.c.Clones[i]
		t := &top{id: cl.ID, kind: "clone", clone: cl}
		if g := s.c.FindGroup(cl.Child); g != nil {
			t.group = g
			t.members = slices.Clone(g.Members)
			s.topOf[g.ID] = t
		} else if s.c.FindPrimitive(cl.Child) != nil {
			t.members = []string{cl.Child}
		}
		s.add(t)
	}
	for i := range s.c.Groups {
		g := &s.c.Groups[i]
		if s.topOf[g.ID] != nil {
			continue
		}
		s.add(&top{id: g.ID, kind: "group", group: g, members: slices.Clone(g.Members)})
	}
	for _, p := range s.c.Primitives {
		if s.topOf[p.ID] == nil {
			s.add(&top{id: p.ID, kind: "primitive", members: []string{p.ID}})
		}
	}
}

func (s *state) add(t *top) {
	var kept []string
	for _, m := range t.members {
		if s.c.FindPrimitive(m) != nil && s.topOf[m] == nil {
			kept = append(kept, m)
			s.topOf[m] = t
		}
	}
	t.members = kept
	s.topOf[t.id] = t
	s.tops = append(s.tops, t)
}

// placementOrder returns the tops with every colocation's primary before its dependent, otherwise by
// priority (highest first) and id.
func (s *state) placementOrder() []*top {
	roots := slices.Clone(s.tops)
	sort.SliceStable(roots, func(i, j int) bool {
		pi, pj := s.metaScore(roots[i].id, "priority", 0), s.metaScore(roots[j].id, "priority", 0)
		if pi != pj {
			return pi > pj
		}
		return roots[i].id < roots[j].id
	})
	var out []*top
	state := map[*top]int{} // 1 visiting, 2 done
	var visit func(t *top)
	visit = func(t *top) {
		if state[t] != 0 {
			return
		}
		state[t] = 1
		for _, col := range s.c.Colocations {
			if s.topOf[col.Rsc] == t && col.Score != 0 {
				if p := s.topOf[col.WithRsc]; p != nil && p != t {
					visit(p)
				}
			}
		}
		state[t] = 2
		out = append(out, t)
	}
	for _, t := range roots {
		visit(t)
	}
	return out
}

// active returns the nodes where the primitive is running or failed on a node whose state counts.
func (s *state) activeNodes(id string) (active, fenced []string) {
	for _, n := range s.nodes {
		r, ok := s.obs[id][n]
		if !ok || (r.State != Running && r.State != Failed && r.State != StopFailed) || s.gone(n) {
			continue
		}
		if s.fenceWhy[n] != "" {
			fenced = append(fenced, n)
			continue
		}
		active = append(active, n)
	}
	return active, fenced
}

// locationSheet scores the locations constraints that name id.
func (s *state) locationSheet(id string, sh *sheet) {
	for _, l := range s.c.Locations {
		if l.Rsc != id || (l.Role != "" && !strings.EqualFold(l.Role, "Started")) {
			continue
		}
		if !l.Expires.IsZero() && !s.in.Now.Before(l.Expires) {
			continue
		}
		for _, n := range s.nodes {
			if l.Rule != "" {
				r, err := cib.ParseRule(l.Rule)
				if err != nil || !r.Eval(s.nodeAttrs(n)) {
					continue
				}
			} else if l.Node != n {
				continue
			}
			switch {
			case l.Score <= -cib.Infinity:
				sh.add(n, l.Score, n+" banned by "+l.ID)
			case l.Score < 0:
				sh.add(n, l.Score, n+" avoided by "+l.ID+" ("+l.Score.String()+")")
			default:
				sh.add(n, l.Score, "+preferred by "+l.ID+" ("+l.Score.String()+")")
			}
		}
	}
}

// nodeAttrs is what rules see: permanent then transient attributes and the built-ins #uname, #id, #kind.
func (s *state) nodeAttrs(node string) map[string]string {
	m := map[string]string{}
	if n, ok := s.c.Node(node); ok {
		for k, v := range n.Attributes {
			m[k] = v
		}
		m["#id"] = strconv.Itoa(n.ID)
	}
	for k, v := range s.ns[node].Attributes {
		m[k] = v
	}
	m["#uname"], m["#kind"] = node, "cluster"
	return m
}

// memberSheet scores one primitive: its locations, failures, stickiness, target-role and management.
func (s *state) memberSheet(t *top, id string) *sheet {
	sh := newSheet()
	if id != t.id {
		s.locationSheet(id, sh) // a primitive's own unit already scored them in baseSheet
	}
	active, _ := s.activeNodes(id)
	if why := s.unmanagedWhy(id); why != "" {
		for _, n := range s.nodes {
			if slices.Contains(active, n) {
				sh.add(n, cib.Infinity, "+"+why+", stays on "+n)
			} else {
				sh.add(n, -cib.Infinity, n+": "+id+" is "+why)
			}
		}
		return sh
	}
	if s.c.Parent(id) != "" && s.stoppedByRole(id) && !s.stoppedByRole(t.id) {
		for _, n := range s.nodes {
			sh.add(n, -cib.Infinity, id+" has target-role=Stopped")
		}
	}
	threshold := s.metaScore(id, "migration-threshold", cib.Infinity)
	for _, n := range s.nodes {
		count, cause := s.failures(id, n)
		switch cause.kind {
		case "fatal":
			sh.add(n, -cib.Infinity, fmt.Sprintf("%s: %s of %s on %s returned %d (fatal: banned from every node)", n, cause.op, id, cause.node, cause.rc))
			continue
		case "hard":
			sh.add(n, -cib.Infinity, fmt.Sprintf("%s: %s of %s returned %d (hard error)", n, cause.op, id, cause.rc))
			continue
		}
		if count > 0 && threshold > 0 && cib.Score(count) >= threshold {
			if cause.kind == "start" {
				sh.add(n, -cib.Infinity, fmt.Sprintf("%s: start of %s failed (start-failure-is-fatal)", n, id))
			} else {
				sh.add(n, -cib.Infinity, fmt.Sprintf("%s: %s failed %s (migration-threshold=%s)", n, id, plural(count, "time", "times"), threshold))
			}
		}
	}
	def := cib.Score(0)
	if t.kind == "clone" {
		def = 1
	}
	stick := s.metaScore(id, "resource-stickiness", def)
	if stick != 0 {
		for _, n := range active {
			sh.add(n, stick, "+resource-stickiness "+stick.String()+" of "+id)
		}
	}
	return sh
}

// baseSheet scores what applies to the whole unit: node eligibility, symmetric-cluster, quorum,
// locations on the unit, target-role.
func (s *state) baseSheet(t *top, current []string) *sheet {
	sh := newSheet()
	for _, n := range s.nodes {
		if why := s.cannotRun(n); why != "" {
			sh.add(n, -cib.Infinity, why)
		}
	}
	loc := newSheet()
	s.locationSheet(t.id, loc)
	if t.kind == "clone" && t.group != nil {
		s.locationSheet(t.group.ID, loc)
	}
	if !cib.IsTrue(s.c.Property("symmetric-cluster")) {
		allowed := map[string]bool{}
		for _, id := range append([]string{t.id}, t.members...) {
			for _, l := range s.c.Locations {
				if l.Rsc == id && l.Score > -cib.Infinity {
					if l.Rule != "" {
						for _, n := range s.nodes {
							if r, err := cib.ParseRule(l.Rule); err == nil && r.Eval(s.nodeAttrs(n)) {
								allowed[n] = true
							}
						}
					} else {
						allowed[l.Node] = true
					}
				}
			}
		}
		for _, n := range s.nodes {
			if !allowed[n] {
				sh.add(n, -cib.Infinity, n+" not allowed (symmetric-cluster=false)")
			}
		}
	}
	sh = sh.plus(loc)
	freeze := ""
	if s.noQuorum == "freeze" {
		freeze = "no quorum: policy freeze"
	} else if s.noStart != "" && !s.isStonith(t) {
		freeze = s.noStart
	}
	if freeze != "" {
		for _, n := range s.nodes {
			if !slices.Contains(current, n) {
				sh.add(n, -cib.Infinity, freeze)
			}
		}
	}
	return sh
}

func (s *state) isStonith(t *top) bool {
	for _, m := range t.members {
		if p := s.c.FindPrimitive(m); p == nil || !p.IsStonith() {
			return false
		}
	}
	return len(t.members) > 0
}

// colocate applies the colocations in which t is the dependent, against primaries already placed.
func (s *state) colocate(t *top, sh *sheet) {
	for _, col := range s.c.Colocations {
		p := s.topOf[col.WithRsc]
		if s.topOf[col.Rsc] != t || p == nil || p == t {
			continue
		}
		on, placed := s.assigned[p.id]
		if !placed {
			continue // a colocation cycle; pacemaker ignores the later one too
		}
		for _, n := range s.nodes {
			there := slices.Contains(on, n)
			switch {
			case col.Score >= cib.Infinity && !there:
				if len(on) == 0 {
					sh.add(n, -cib.Infinity, fmt.Sprintf("colocated with %s (%s), which is not running", col.WithRsc, col.ID))
				} else {
					sh.add(n, -cib.Infinity, fmt.Sprintf("%s: colocated with %s (%s), which runs on %s", n, col.WithRsc, col.ID, joinNodes(on)))
				}
			case col.Score <= -cib.Infinity && there:
				sh.add(n, -cib.Infinity, fmt.Sprintf("%s: anti-colocated with %s (%s)", n, col.WithRsc, col.ID))
			case there && col.Score > 0:
				sh.add(n, col.Score, fmt.Sprintf("+colocation %s with %s (%s)", col.ID, col.WithRsc, col.Score))
			case there && col.Score < 0:
				sh.add(n, col.Score, fmt.Sprintf("%s: colocation %s with %s (%s)", n, col.ID, col.WithRsc, col.Score))
			}
		}
	}
}

// attract adds the preferences of not yet placed dependents colocated with t (pacemaker merges them into
// the primary's scores, scaled by score/INFINITY); their bans count only while some node stays allowed.
func (s *state) attract(t *top, sh *sheet) {
	for _, col := range s.c.Colocations {
		d := s.topOf[col.Rsc]
		if s.topOf[col.WithRsc] != t || d == nil || d == t || col.Score <= 0 {
			continue
		}
		if _, placed := s.assigned[d.id]; placed {
			continue
		}
		ds := newSheet()
		s.locationSheet(d.id, ds)
		for _, m := range d.members {
			ds = ds.plus(s.memberSheet(d, m))
		}
		trial := newSheet().plus(sh)
		for _, n := range s.nodes {
			v := ds.score[n]
			switch {
			case v <= -cib.Infinity && col.Score >= cib.Infinity:
				trial.add(n, -cib.Infinity, fmt.Sprintf("%s (colocated %s)", ds.banned(n), d.id))
			case v > -cib.Infinity && v != 0:
				scaled := cib.Score(int64(v) * int64(col.Score) / int64(cib.Infinity))
				if scaled != 0 {
					sign := "+"
					if scaled < 0 {
						sign = n + ": "
					}
					trial.add(n, scaled, fmt.Sprintf("%s%s of colocated %s (%s)", sign, scaled, d.id, col.ID))
				}
			}
		}
		if s.anyAllowed(trial) {
			*sh = *trial
		}
	}
}

func (s *state) anyAllowed(sh *sheet) bool {
	for _, n := range s.nodes {
		if sh.score[n] >= 0 {
			return true
		}
	}
	return false
}

// rank orders candidate nodes: score, then the current node, then fewer resources assigned, then name.
func (s *state) rank(nodes []string, score func(string) cib.Score, current []string) {
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if sa, sb := score(a), score(b); sa != sb {
			return sa > sb
		}
		if ca, cb := slices.Contains(current, a), slices.Contains(current, b); ca != cb {
			return ca
		}
		if s.load[a] != s.load[b] {
			return s.load[a] < s.load[b]
		}
		return a < b
	})
}

// place decides where the unit runs and records a primPlan for each member.
func (s *state) place(t *top) {
	var current []string
	for _, m := range t.members {
		a, _ := s.activeNodes(m)
		for _, n := range a {
			if !slices.Contains(current, n) {
				current = append(current, n)
			}
		}
	}
	for _, m := range t.members {
		s.prims[m] = &primPlan{id: m, top: t, managed: s.unmanagedWhy(m) == ""}
	}
	stopAll := ""
	switch {
	case s.noQuorum == "stop" || s.noQuorum == "demote" || s.noQuorum == "fence":
		stopAll = "no quorum: policy " + s.noQuorum
	case cib.IsTrue(s.c.Property("stop-all-resources")):
		stopAll = "stop-all-resources=true"
	case s.stoppedByRole(t.id):
		stopAll = "target-role=Stopped"
	case len(t.members) == 0:
		stopAll = "no primitives"
	}
	base := s.baseSheet(t, current)
	s.colocate(t, base)
	s.attract(t, base)
	mem := make([]*sheet, len(t.members))
	for i, m := range t.members {
		mem[i] = s.memberSheet(t, m)
	}
	allUnmanaged := true
	for _, m := range t.members {
		allUnmanaged = allUnmanaged && !s.prims[m].managed
	}
	if allUnmanaged && len(t.members) > 0 {
		// The cluster leaves it alone: it is where it is, and dependents follow.
		for _, m := range t.members {
			a, _ := s.activeNodes(m)
			s.prims[m].desired, s.prims[m].reason = a, s.unmanagedWhy(m)
		}
		s.assigned[t.id] = sortedCopy(current)
		s.pl[t.id] = &Placement{Resource: t.id, Kind: t.kind, Nodes: sortedCopy(current), Current: sortedCopy(current), Reason: s.unmanagedWhy(t.members[0])}
		return
	}
	if stopAll != "" {
		// Unmanaged members stay where they are even so.
		for i, m := range t.members {
			if !s.prims[m].managed {
				a, _ := s.activeNodes(m)
				s.prims[m].desired, s.prims[m].reason = a, mem[i].posWhy(firstOr(a))
				continue
			}
			s.prims[m].reason = stopAll
		}
		s.assigned[t.id] = nil
		s.pl[t.id] = &Placement{Resource: t.id, Kind: t.kind, Reason: stopAll}
		return
	}
	if t.kind == "clone" {
		s.placeClone(t, base, mem, current)
		return
	}
	s.placeOne(t, base, mem, current)
}

func firstOr(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

// prefix returns how many leading members can run on n, and the sheet with them.
func prefix(base *sheet, mem []*sheet, n string) int {
	total := base.score[n]
	if total < 0 {
		return 0
	}
	k := 0
	for _, m := range mem {
		total = total.Add(m.score[n])
		if total < 0 {
			break
		}
		k++
	}
	return k
}

func (s *state) placeOne(t *top, base *sheet, mem []*sheet, current []string) {
	full := base
	for _, m := range mem {
		full = full.plus(m)
	}
	// The unit runs where the most members can; among those, where the sum of all members' scores is best.
	var bestNode string
	bestK := 0
	cands := slices.Clone(s.nodes)
	s.rank(cands, func(n string) cib.Score {
		k := prefix(base, mem, n)
		sum := base.score[n]
		for _, m := range mem[:k] {
			sum = sum.Add(m.score[n])
		}
		return cib.Score(k)*cib.Score(4*cib.Infinity+1) + sum // members first, then score
	}, current)
	for _, n := range cands {
		if k := prefix(base, mem, n); k > bestK {
			bestNode, bestK = n, k
		}
		break
	}
	if bestK == 0 {
		why := "no node allowed: " + full.negWhy(s.nodes)
		if len(s.nodes) == 0 {
			why = "no node allowed: no nodes"
		}
		for _, m := range t.members {
			s.prims[m].reason = why
		}
		s.assigned[t.id] = nil
		s.pl[t.id] = &Placement{Resource: t.id, Kind: t.kind, Current: sortedCopy(current), Reason: why}
		return
	}
	s.assigned[t.id] = []string{bestNode}
	used := base
	for _, m := range mem[:bestK] {
		used = used.plus(m)
	}
	reason := s.whyHere(used, bestNode, current, t)
	for i, m := range t.members {
		p := s.prims[m]
		switch {
		case i < bestK:
			p.desired = []string{bestNode}
			p.reason = reason
			s.load[bestNode]++
		case i == bestK:
			why := mem[i].banned(bestNode)
			if why == "" {
				why = fmt.Sprintf("score %s on %s", mem[i].score[bestNode], bestNode)
			}
			p.reason = fmt.Sprintf("cannot run on %s with %s: %s", bestNode, t.id, why)
		default:
			p.reason = fmt.Sprintf("cannot run: group member %s before it cannot run", t.members[bestK])
		}
	}
	s.pl[t.id] = &Placement{Resource: t.id, Kind: t.kind, Nodes: []string{bestNode}, Current: sortedCopy(current), Reason: reason}
}

// whyHere explains the choice of node n.
func (s *state) whyHere(full *sheet, n string, current []string, t *top) string {
	if pos := full.posWhy(n); pos != "" {
		return fmt.Sprintf("score %s on %s: %s", full.score[n], n, pos)
	}
	if slices.Contains(current, n) {
		return fmt.Sprintf("already on %s; no node scores higher", n)
	}
	var others []string
	for _, o := range s.nodes {
		if o != n && full.score[o] < 0 {
			if b := full.banned(o); b != "" {
				others = append(others, b)
			}
		}
	}
	if len(others) > 0 {
		return fmt.Sprintf("%s is the only allowed node (%s)", n, strings.Join(others, ", "))
	}
	return "equal scores; fewest resources, then name"
}

func (s *state) placeClone(t *top, base *sheet, mem []*sheet, current []string) {
	max := len(s.nodes)
	if v, ok := s.meta(t.id, "clone-max"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			max = n
		}
	}
	full := base
	for _, m := range mem {
		full = full.plus(m)
	}
	var cands []string
	for _, n := range s.nodes {
		if prefix(base, mem, n) > 0 {
			cands = append(cands, n)
		}
	}
	s.rank(cands, func(n string) cib.Score {
		return cib.Score(prefix(base, mem, n))*cib.Score(4*cib.Infinity+1) + full.score[n]
	}, current)
	if len(cands) > max {
		cands = cands[:max]
	}
	chosen := sortedCopy(cands)
	s.assigned[t.id] = chosen
	for i, m := range t.members {
		p := s.prims[m]
		for _, n := range chosen {
			if prefix(base, mem, n) > i {
				p.desired = append(p.desired, n)
				s.load[n]++
			}
		}
	}
	var reason string
	switch {
	case len(chosen) == 0:
		reason = "no node allowed: " + full.negWhy(s.nodes)
	case len(chosen) == max && max < len(s.nodes):
		reason = fmt.Sprintf("clone-max=%d", max)
	default:
		reason = "one instance per allowed node"
		if neg := full.negWhy(s.nodes); neg != "" {
			reason += "; not on " + neg
		}
	}
	for _, m := range t.members {
		s.prims[m].reason = reason
	}
	s.pl[t.id] = &Placement{Resource: t.id, Kind: t.kind, Nodes: chosen, Current: sortedCopy(current), Reason: reason}
}

// enforceOrders stops the "then" side of mandatory orders whose "first" side will not run.
func (s *state) enforceOrders() {
	for range len(s.c.Orders) + 1 {
		changed := false
		for _, o := range s.c.Orders {
			if o.EffectiveKind() != "Mandatory" || (o.FirstAction != "" && o.FirstAction != "start") {
				continue
			}
			if s.willRun(o.First) {
				continue
			}
			for _, m := range s.primsOf(o.Then) {
				p := s.prims[m]
				if p == nil || len(p.desired) == 0 || !p.managed {
					continue
				}
				p.desired = nil
				p.reason = fmt.Sprintf("cannot run: order %s needs %s started first, and it will not run", o.ID, o.First)
				changed = true
			}
			if pl := s.pl[o.Then]; pl != nil && len(pl.Nodes) > 0 && !s.willRun(o.Then) {
				pl.Nodes, pl.Reason = nil, fmt.Sprintf("cannot run: order %s needs %s started first, and it will not run", o.ID, o.First)
				s.assigned[o.Then] = nil
			}
		}
		if !changed {
			return
		}
	}
}

// primsOf returns the primitives under a resource id.
func (s *state) primsOf(id string) []string {
	if s.c.FindPrimitive(id) != nil {
		return []string{id}
	}
	if g := s.c.FindGroup(id); g != nil {
		return g.Members
	}
	if cl := s.c.FindClone(id); cl != nil {
		return s.primsOf(cl.Child)
	}
	return nil
}

func (s *state) willRun(id string) bool {
	ps := s.primsOf(id)
	if len(ps) == 0 {
		return false
	}
	// A group counts as started when all its members are; a primitive or clone when it runs somewhere.
	for _, m := range ps {
		if p := s.prims[m]; p == nil || len(p.desired) == 0 {
			return false
		}
	}
	return true
}
