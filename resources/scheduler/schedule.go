package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// Schedule computes the plan for one moment. It is a pure function: the same Input always gives the
// same Plan, and it neither keeps nor changes anything (the CIB is only read). Bad input (dangling
// references, unknown nodes) never panics; what cannot be placed is explained in Placements.
func Schedule(in Input) Plan {
	s := newState(in)
	s.buildTops()
	for _, t := range s.placementOrder() {
		s.place(t)
	}
	s.enforceOrders()
	s.settle()
	b := s.actions()
	return Plan{Actions: b.number(), Placements: s.placements(), Notes: s.notes}
}

// settle records where each primitive is active and applies the rules that override placement:
// multiple-active, failed stops, fencing and management.
func (s *state) settle() {
	for _, id := range s.primOrder() {
		p := s.prims[id]
		p.active, p.fencedOn = s.activeNodes(id)
		if !p.managed {
			p.desired = p.active
			if why := s.unmanagedWhy(id); why != "" {
				p.reason = why
			}
			continue
		}
		for _, n := range s.nodes {
			if r, ok := s.obs[id][n]; ok && r.State == StopFailed && !s.gone(n) {
				if !s.stonith {
					p.blocked = fmt.Sprintf("blocked: stop failed on %s and fencing is disabled (crm resource cleanup %s when it is really stopped)", n, id)
				} else if !s.fenceOK {
					p.blocked = fmt.Sprintf("blocked: stop failed on %s, waiting for fencing, which needs quorum", n)
				} else {
					p.reason = fmt.Sprintf("blocked: stop failed on %s, waiting for fencing; then %s", n, p.reason)
				}
			}
		}
		for _, n := range p.fencedOn {
			if !s.fenceOK {
				if p.blocked == "" {
					p.blocked = fmt.Sprintf("blocked: waiting for fencing of %s (%s), which needs quorum", n, s.fenceWhy[n])
					if !s.stonith {
						p.blocked = fmt.Sprintf("blocked: waiting for fencing of %s", n)
					}
				}
			} else if !strings.HasPrefix(p.reason, "blocked:") {
				p.reason = fmt.Sprintf("blocked: waiting for fencing of %s (%s); then %s", n, s.fenceWhy[n], p.reason)
			}
		}
		if p.top.kind != "clone" && len(p.active) > 1 {
			policy, _ := s.meta(id, "multiple-active")
			switch policy {
			case "block":
				p.blocked = fmt.Sprintf("blocked: active on %s (multiple-active=block)", joinNodes(p.active))
			case "stop_only":
				p.desired, p.reason = nil, fmt.Sprintf("active on %s: stopping everywhere (multiple-active=stop_only)", joinNodes(p.active))
			case "stop_unexpected":
			default:
				p.restartAll = true
			}
		}
		if p.blocked != "" {
			p.desired = p.active
		}
	}
}

// placements lists every resource: primitives, groups and clones, by id.
func (s *state) placements() []Placement {
	var out []Placement
	for _, id := range s.primOrder() {
		p := s.prims[id]
		pl := Placement{Resource: id, Kind: "primitive", Nodes: sortedCopy(p.desired), Current: sortedCopy(append(append([]string{}, p.active...), p.fencedOn...)),
			Reason: p.reason, Managed: p.managed}
		if p.blocked != "" {
			pl.Blocked, pl.Reason = true, p.blocked
		} else if strings.HasPrefix(p.reason, "blocked:") {
			pl.Blocked = true
		} else if s.noStart != "" && !s.isStonith(p.top) && len(p.desired) > 0 && !subset(p.desired, p.active) {
			pl.Blocked, pl.Reason = true, "blocked: "+s.noStart
		}
		if s.maint {
			pl.Reason = "maintenance-mode"
		}
		if len(pl.Nodes) == 0 {
			pl.Nodes = nil
		}
		if len(pl.Current) == 0 {
			pl.Current = nil
		}
		out = append(out, pl)
	}
	for _, t := range s.tops {
		if t.kind == "primitive" {
			continue
		}
		pl := *s.pl[t.id]
		pl.Managed = true
		var cur []string
		for _, m := range t.members {
			p := s.prims[m]
			pl.Managed = pl.Managed && p.managed
			if p.blocked != "" || strings.HasPrefix(p.reason, "blocked:") {
				pl.Blocked = true
				pl.Reason = p.blocked
				if pl.Reason == "" {
					pl.Reason = p.reason
				}
			}
			for _, n := range append(append([]string{}, p.active...), p.fencedOn...) {
				if !contains(cur, n) {
					cur = append(cur, n)
				}
			}
		}
		pl.Current = sortedCopy(cur)
		if len(pl.Current) == 0 {
			pl.Current = nil
		}
		if s.maint {
			pl.Reason = "maintenance-mode"
		}
		out = append(out, pl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}
