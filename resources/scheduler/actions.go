package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// builder collects actions and their ordering before they are numbered.
type builder struct {
	acts  []*Action
	after map[*Action][]*Action
}

func (b *builder) add(a *Action) *Action {
	b.acts = append(b.acts, a)
	return a
}

// order makes then wait for first. An edge that would close a cycle (conflicting constraints) is
// dropped: the edges added earlier — a resource's own stop before start, group order — win.
func (b *builder) order(first, then *Action) {
	if first == nil || then == nil || first == then || slices.Contains(b.after[then], first) || b.waitsFor(first, then) {
		return
	}
	b.after[then] = append(b.after[then], first)
}

// waitsFor reports whether a already waits, directly or not, for x.
func (b *builder) waitsFor(a, x *Action) bool {
	seen := map[*Action]bool{}
	stack := []*Action{a}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, f := range b.after[cur] {
			if f == x {
				return true
			}
			if !seen[f] {
				seen[f] = true
				stack = append(stack, f)
			}
		}
	}
	return false
}

func (b *builder) find(kind Kind, rsc, node string) *Action {
	for _, a := range b.acts {
		if a.Kind == kind && a.Resource == rsc && a.Node == node {
			return a
		}
	}
	return nil
}

func (b *builder) all(kind Kind, rsc string) []*Action {
	var out []*Action
	for _, a := range b.acts {
		if a.Kind == kind && a.Resource == rsc {
			out = append(out, a)
		}
	}
	return out
}

// opTimeout returns the timeout for an operation: the op's own, then op_defaults, then 20s.
func (s *state) opTimeout(id, name string, interval time.Duration) time.Duration {
	if p := s.c.FindPrimitive(id); p != nil {
		for _, op := range p.Ops {
			if op.Name == name && op.Interval == interval && op.Timeout > 0 {
				return op.Timeout
			}
		}
		for _, op := range p.Ops {
			if op.Name == name && op.Timeout > 0 {
				return op.Timeout
			}
		}
	}
	if v, ok := s.c.OpDefaults["timeout"]; ok {
		if d, err := cib.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return 20 * time.Second
}

// monitors returns a primitive's recurring monitor intervals (role-specific ones other than Started are
// for promotable clones, which Duet does not promote).
func (s *state) monitors(id string) []time.Duration {
	var out []time.Duration
	p := s.c.FindPrimitive(id)
	if p == nil {
		return nil
	}
	for _, op := range p.Ops {
		if op.Name != "monitor" || op.Interval <= 0 {
			continue
		}
		if r := op.Attrs["role"]; r != "" && !strings.EqualFold(r, "Started") {
			continue
		}
		if v, ok := op.Attrs["enabled"]; ok && !cib.IsTrue(v) {
			continue
		}
		out = append(out, op.Interval)
	}
	return out
}

// actions turns the placement into fence, probe, stop, start and monitor actions with their ordering.
func (s *state) actions() *builder {
	b := &builder{after: map[*Action][]*Action{}}
	if s.maint {
		return b
	}
	fence := map[string]*Action{}
	if s.fenceOK {
		for _, n := range s.nodes {
			if why := s.fenceWhy[n]; why != "" {
				fence[n] = b.add(&Action{Kind: Fence, Node: n, Reason: why})
			}
		}
	}
	order := s.primOrder()
	// Probes: the state of a primitive on an online node is not known yet.
	for _, id := range order {
		for _, n := range s.nodes {
			r, ok := s.obs[id][n]
			if !ok || r.State != Unknown || !s.ns[n].Online || s.fenceWhy[n] != "" {
				continue
			}
			if s.witness(n) {
				continue
			}
			b.add(&Action{Kind: Probe, Resource: id, Node: n, Timeout: s.opTimeout(id, "monitor", 0),
				Reason: "state of " + id + " on " + n + " unknown"})
		}
	}
	// Stops, in reverse start order.
	for i := len(order) - 1; i >= 0; i-- {
		p := s.prims[order[i]]
		if p == nil || !p.managed || p.blocked != "" {
			continue
		}
		for _, n := range p.active {
			r := s.obs[p.id][n]
			wanted := slices.Contains(p.desired, n)
			var why string
			switch {
			case p.restartAll:
				why = fmt.Sprintf("%s is active on %s (multiple-active=stop_start)", p.id, joinNodes(p.active))
			case r.State == Failed && wanted:
				why = fmt.Sprintf("recover %s on %s: it failed there", p.id, n)
			case r.State == Failed:
				why = fmt.Sprintf("%s failed on %s; %s", p.id, n, moveWhy(p))
			case !wanted:
				why = moveWhy(p)
			default:
				continue
			}
			b.add(&Action{Kind: Stop, Resource: p.id, Clone: s.cloneOf(p), Node: n, Timeout: s.opTimeout(p.id, "stop", 0), Reason: why})
		}
	}
	restartWhy := s.dependentStops(b)
	// Starts and their monitors.
	for _, id := range order {
		p := s.prims[id]
		if p == nil || !p.managed || p.blocked != "" {
			continue
		}
		for _, n := range p.desired {
			if b.find(Stop, id, n) == nil && slices.Contains(p.active, n) {
				s.missingMonitors(b, p, n, nil)
				continue
			}
			if s.noStart != "" && !s.isStonith(p.top) {
				continue
			}
			why := strings.TrimPrefix(p.reason, "blocked: ")
			if w, ok := restartWhy[id+"@"+n]; ok {
				why = w
			} else if b.find(Stop, id, n) != nil {
				why = "restart " + id + " on " + n + " after recovery"
			}
			st := b.add(&Action{Kind: Start, Resource: id, Clone: s.cloneOf(p), Node: n, Timeout: s.opTimeout(id, "start", 0), Reason: why})
			for _, stop := range b.all(Stop, id) {
				if p.top.kind != "clone" || stop.Node == n {
					b.order(stop, st)
				}
			}
			for _, pr := range b.all(Probe, id) {
				b.order(pr, st)
			}
			for _, fn := range p.fencedOn {
				b.order(fence[fn], st)
			}
			s.missingMonitors(b, p, n, st)
		}
	}
	s.groupOrdering(b)
	s.orderConstraints(b)
	return b
}

func moveWhy(p *primPlan) string {
	if len(p.desired) > 0 {
		return fmt.Sprintf("moving to %s: %s", joinNodes(p.desired), p.reason)
	}
	return p.reason
}

// dependentStops stops what depends on a resource that stops: the later members of a group on that
// node, and the "then" side of mandatory orders. Where they stay placed, the start loop starts them again,
// so a recovery restarts the dependents too, as pacemaker does. It returns the reasons for those restarts.
func (s *state) dependentStops(b *builder) map[string]string {
	why := map[string]string{}
	stopDep := func(id, n, cause string) bool {
		p := s.prims[id]
		if p == nil || !p.managed || p.blocked != "" || !slices.Contains(p.active, n) || b.find(Stop, id, n) != nil {
			return false
		}
		reason := cause
		if slices.Contains(p.desired, n) {
			reason = "restart " + id + " on " + n + ": " + cause
			why[id+"@"+n] = reason
		}
		b.add(&Action{Kind: Stop, Resource: id, Clone: s.cloneOf(p), Node: n, Timeout: s.opTimeout(id, "stop", 0), Reason: reason})
		return true
	}
	for changed := true; changed; {
		changed = false
		for _, t := range s.tops {
			if t.group == nil {
				continue
			}
			for i, m := range t.members {
				for _, st := range b.all(Stop, m) {
					for _, later := range t.members[i+1:] {
						if stopDep(later, st.Node, m+" stops first (group "+t.id+")") {
							changed = true
						}
					}
				}
			}
		}
		for _, o := range s.c.Orders {
			if o.EffectiveKind() != "Mandatory" || (o.FirstAction != "" && o.FirstAction != "start") {
				continue
			}
			for _, f := range s.primsOf(o.First) {
				if len(b.all(Stop, f)) == 0 {
					continue
				}
				for _, t := range s.primsOf(o.Then) {
					if p := s.prims[t]; p != nil {
						for _, n := range p.active {
							if stopDep(t, n, fmt.Sprintf("%s stops first (order %s)", f, o.ID)) {
								changed = true
							}
						}
					}
				}
			}
		}
	}
	return why
}

// missingMonitors schedules the recurring monitors after a start, or those not active on a running resource.
func (s *state) missingMonitors(b *builder, p *primPlan, n string, start *Action) {
	var have []time.Duration
	if start == nil {
		have = s.obs[p.id][n].Monitors
	}
	for _, iv := range s.monitors(p.id) {
		if slices.Contains(have, iv) {
			continue
		}
		why := fmt.Sprintf("monitor %s every %s", p.id, fmtDuration(iv))
		if start == nil {
			why += " (not active)"
		}
		m := b.add(&Action{Kind: Monitor, Resource: p.id, Clone: s.cloneOf(p), Node: n, Interval: iv, Timeout: s.opTimeout(p.id, "monitor", iv), Reason: why})
		b.order(start, m)
	}
}

func (s *state) cloneOf(p *primPlan) string {
	if p.top.kind == "clone" {
		return p.top.id
	}
	return ""
}

// primOrder lists primitives by placement unit, members in start order.
func (s *state) primOrder() []string {
	var out []string
	for _, t := range s.tops {
		out = append(out, t.members...)
	}
	return out
}

// groupOrdering: members start in order on a node and stop in reverse.
func (s *state) groupOrdering(b *builder) {
	for _, t := range s.tops {
		if t.group == nil {
			continue
		}
		for i := 1; i < len(t.members); i++ {
			prev, cur := t.members[i-1], t.members[i]
			for _, st := range b.all(Start, cur) {
				b.order(b.find(Start, prev, st.Node), st)
				// A member starting after a move waits for the earlier members' stops too.
				for _, stop := range b.all(Stop, prev) {
					if t.kind != "clone" || stop.Node == st.Node {
						b.order(stop, st)
					}
				}
			}
			for _, sp := range b.all(Stop, prev) {
				b.order(b.find(Stop, cur, sp.Node), sp)
			}
		}
	}
}

// orderConstraints adds the edges of order constraints (Mandatory and Optional alike; Serialize adds none).
func (s *state) orderConstraints(b *builder) {
	inverse := map[string]string{"start": "stop", "stop": "start", "promote": "demote", "demote": "promote"}
	edge := func(first, fa, then, ta string) {
		for _, f := range s.primsOf(first) {
			for _, fa := range b.all(Kind(fa), f) {
				for _, t := range s.primsOf(then) {
					for _, ta := range b.all(Kind(ta), t) {
						b.order(fa, ta)
					}
				}
			}
		}
	}
	for _, o := range s.c.Orders {
		if o.EffectiveKind() == "Serialize" {
			continue
		}
		fa := o.FirstAction
		if fa == "" {
			fa = "start"
		}
		ta := o.ThenAction
		if ta == "" {
			ta = fa
		}
		edge(o.First, fa, o.Then, ta)
		if o.IsSymmetrical() && inverse[fa] != "" && inverse[ta] != "" {
			edge(o.Then, inverse[ta], o.First, inverse[fa])
		}
	}
}

// number assigns ids in an order that respects every edge (Kahn's algorithm, ties by creation order).
func (b *builder) number() []Action {
	idx := map[*Action]int{}
	for i, a := range b.acts {
		idx[a] = i
	}
	indeg := make([]int, len(b.acts))
	next := map[*Action][]*Action{}
	for then, firsts := range b.after {
		for _, f := range firsts {
			indeg[idx[then]]++
			next[f] = append(next[f], then)
		}
	}
	var ready []int
	for i := range b.acts {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	var seq []int
	done := make([]bool, len(b.acts))
	for len(seq) < len(b.acts) {
		if len(ready) == 0 {
			// An ordering cycle (from conflicting constraints): release the earliest action left.
			for i := range b.acts {
				if !done[i] {
					ready = append(ready, i)
					break
				}
			}
		}
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		if done[i] {
			continue
		}
		done[i] = true
		seq = append(seq, i)
		for _, t := range next[b.acts[i]] {
			indeg[idx[t]]--
			if indeg[idx[t]] == 0 && !done[idx[t]] {
				ready = append(ready, idx[t])
			}
		}
	}
	id := map[*Action]int{}
	for n, i := range seq {
		id[b.acts[i]] = n + 1
	}
	out := make([]Action, 0, len(seq))
	for _, i := range seq {
		a := *b.acts[i]
		a.ID = id[b.acts[i]]
		for _, f := range b.after[b.acts[i]] {
			a.After = append(a.After, id[f])
		}
		sort.Ints(a.After)
		out = append(out, a)
	}
	return out
}

func fmtDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Minute == 0 && d >= time.Minute:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
