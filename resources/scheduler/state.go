package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// state is one Schedule call's working data; nothing outlives the call.
type state struct {
	in       Input
	c        *cib.CIB
	nodes    []string // every known node, sorted
	ns       map[string]NodeState
	obs      map[string]map[string]ResourceState // primitive -> node -> state
	notes    []string
	stonith  bool   // stonith-enabled
	noQuorum string // the no-quorum policy in force, "" when quorate or policy ignore
	maint    bool   // maintenance-mode
	noStart  string // why no normal resource may start (no STONITH device), or ""

	fenceWhy map[string]string // node -> why it must be fenced (pending, not yet confirmed)
	fenceOK  bool              // fence actions may be emitted (quorum or ignore)

	tops     []*top
	topOf    map[string]*top // any resource id (primitive, group, clone) -> its top-level resource
	assigned map[string][]string
	load     map[string]int
	prims    map[string]*primPlan
	pl       map[string]*Placement
}

// top is a resource placed as one unit: an uncontained primitive, a group, or a clone.
type top struct {
	id, kind string
	members  []string // the primitives, in start order (one for a primitive)
	clone    *cib.Clone
	group    *cib.Group // for a group, or a clone of a group
}

// primPlan is the decision for one primitive.
type primPlan struct {
	id      string
	top     *top
	desired []string
	reason  string // placement reason (why there, or why not)
	blocked string // why no actions may be taken, or ""
	managed bool
	// restartAll: multiple-active=stop_start — stop everywhere, start on the chosen node.
	restartAll   bool
	stopOnlyElse bool     // multiple-active=stop_unexpected: stop only where not desired
	active       []string // nodes where it is running or failed (and the node's state counts)
	fencedOn     []string // nodes where it was active that are waiting for fencing
}

func newState(in Input) *state {
	s := &state{in: in, c: in.CIB, ns: map[string]NodeState{}, obs: map[string]map[string]ResourceState{},
		fenceWhy: map[string]string{}, topOf: map[string]*top{}, assigned: map[string][]string{},
		load: map[string]int{}, prims: map[string]*primPlan{}, pl: map[string]*Placement{}}
	if s.c == nil {
		s.c = &cib.CIB{}
	}
	for _, n := range s.c.Nodes {
		s.ns[n.Name] = NodeState{Name: n.Name}
	}
	for _, n := range in.Nodes {
		s.ns[n.Name] = n
	}
	for name := range s.ns {
		s.nodes = append(s.nodes, name)
	}
	sort.Strings(s.nodes)
	for _, r := range in.Resources {
		if s.obs[r.Resource] == nil {
			s.obs[r.Resource] = map[string]ResourceState{}
		}
		s.obs[r.Resource][r.Node] = r
	}
	s.stonith = cib.IsTrue(s.c.Property("stonith-enabled"))
	s.maint = cib.IsTrue(s.c.Property("maintenance-mode"))
	if s.maint {
		s.notes = append(s.notes, "maintenance-mode: resource management is disabled")
	}
	policy := in.NoQuorumPolicy
	if policy == "" {
		policy = s.c.Property("no-quorum-policy")
	}
	if policy == "suicide" {
		policy = "fence"
	}
	if policy == "fence" && !s.stonith {
		policy = "stop" // pacemaker resets it: fence needs fencing
	}
	if !in.Quorate && policy != "ignore" {
		s.noQuorum = policy
		s.notes = append(s.notes, "no quorum: policy "+policy)
	}
	s.fenceOK = s.stonith && (in.Quorate || policy == "ignore" || policy == "fence") && !s.maint
	if s.stonith && !s.c.HasStonith() {
		s.noStart = "start-up disabled: stonith-enabled=true but no STONITH resource is defined"
		s.notes = append(s.notes, s.noStart)
	}
	// Nodes that must be fenced: lost unclean, or a stop failed there.
	for _, n := range s.nodes {
		st := s.ns[n]
		if !s.stonith || st.Fenced {
			continue
		}
		if st.Unclean {
			s.fenceWhy[n] = "node " + n + " is unclean"
			continue
		}
		if st.FenceRequested {
			s.fenceWhy[n] = "fencing of " + n + " was requested"
			continue
		}
		for _, id := range s.primIDs() {
			if r, ok := s.obs[id][n]; ok && r.State == StopFailed {
				s.fenceWhy[n] = "stop of " + id + " failed on " + n
				break
			}
		}
	}
	if s.noQuorum == "fence" {
		for _, n := range s.nodes {
			if s.ns[n].Online && s.fenceWhy[n] == "" {
				s.fenceWhy[n] = "no quorum: policy fence"
			}
		}
	}
	return s
}

func (s *state) primIDs() []string {
	ids := make([]string, 0, len(s.c.Primitives))
	for _, p := range s.c.Primitives {
		ids = append(ids, p.ID)
	}
	return ids
}

// attr returns a node attribute: transient first, then the CIB's permanent one.
func (s *state) attr(node, name string) (string, bool) {
	if v, ok := s.ns[node].Attributes[name]; ok {
		return v, true
	}
	if n, ok := s.c.Node(node); ok {
		v, ok := n.Attributes[name]
		return v, ok
	}
	return "", false
}

// gone reports whether resources on the node count as stopped: the node is down cleanly, fenced, or lost
// while fencing is disabled.
func (s *state) gone(node string) bool {
	st := s.ns[node]
	if st.Fenced {
		return true
	}
	if st.Unclean {
		return !s.stonith
	}
	return !st.Online
}

// cannotRun says why no resource may run on the node, or "".
func (s *state) cannotRun(node string) string {
	st := s.ns[node]
	if s.witness(node) {
		return node + " is a witness"
	}
	switch {
	case st.Unclean && !st.Fenced:
		return node + " unclean"
	case s.fenceWhy[node] != "":
		return node + " is to be fenced"
	case !st.Online:
		return node + " offline"
	}
	if v, ok := s.attr(node, "standby"); ok && cib.IsTrue(v) {
		return node + " standby"
	}
	return ""
}

// witness reports whether the node is a witness, by its state or its CIB entry.
func (s *state) witness(node string) bool {
	n, ok := s.c.Node(node)
	return s.ns[node].Witness || (ok && n.Witness)
}

// meta looks a meta attribute up on the resource, then its containers, then rsc_defaults.
func (s *state) meta(id, name string) (string, bool) {
	for cur := id; cur != ""; cur = s.c.Parent(cur) {
		var m map[string]string
		if p := s.c.FindPrimitive(cur); p != nil {
			m = p.Meta
		} else if g := s.c.FindGroup(cur); g != nil {
			m = g.Meta
		} else if cl := s.c.FindClone(cur); cl != nil {
			m = cl.Meta
		}
		if v, ok := m[name]; ok {
			return v, true
		}
	}
	v, ok := s.c.RscDefaults[name]
	return v, ok
}

func (s *state) metaScore(id, name string, def cib.Score) cib.Score {
	if v, ok := s.meta(id, name); ok {
		if sc, err := cib.ParseScore(v); err == nil {
			return sc
		}
	}
	return def
}

// unmanagedWhy says why the cluster leaves a resource alone, or "".
func (s *state) unmanagedWhy(id string) string {
	if s.maint {
		return "maintenance-mode"
	}
	if v, ok := s.meta(id, "is-managed"); ok && !cib.IsTrue(v) {
		return "unmanaged (is-managed=false)"
	}
	if v, ok := s.meta(id, "maintenance"); ok && cib.IsTrue(v) {
		return "unmanaged (maintenance=true)"
	}
	return ""
}

// stoppedByRole reports target-role=Stopped on the resource or a container.
func (s *state) stoppedByRole(id string) bool {
	v, _ := s.meta(id, "target-role")
	return strings.EqualFold(v, "Stopped")
}

// failures returns the effective fail count of a primitive on a node (expired counts are 0) and why it
// bans the node outright: "start" (start-failure-is-fatal), "hard" (an exit code 2-5 on this node) or
// "fatal" (exit code 6 on any node), with that failure's node and exit code.
func (s *state) failures(id, node string) (int, banCause) {
	total := 0
	var cause banCause
	var timeout time.Duration
	if v, ok := s.meta(id, "failure-timeout"); ok {
		timeout, _ = cib.ParseDuration(v)
	}
	for _, f := range s.in.Failures {
		if f.Resource != id || f.Count <= 0 {
			continue
		}
		if timeout > 0 && !f.LastFailure.IsZero() && !s.in.Now.Before(f.LastFailure.Add(timeout)) {
			continue
		}
		if f.Node != node {
			if f.RC == rcConfigured && cause.kind != "fatal" {
				total, cause = int(cib.Infinity), banCause{kind: "fatal", op: f.Op, node: f.Node, rc: f.RC}
			}
			continue
		}
		n := f.Count
		switch {
		case f.RC == rcConfigured:
			n, cause = int(cib.Infinity), banCause{kind: "fatal", op: f.Op, node: f.Node, rc: f.RC}
		case f.RC >= rcFirstHard && f.RC <= rcLastHard && cause.kind != "fatal":
			n, cause = int(cib.Infinity), banCause{kind: "hard", op: f.Op, node: f.Node, rc: f.RC}
		case f.Op == "start" && cib.IsTrue(s.c.Property("start-failure-is-fatal")) && cause.kind == "":
			n, cause = int(cib.Infinity), banCause{kind: "start", op: f.Op, node: f.Node, rc: f.RC}
		}
		total += n
	}
	return min(total, int(cib.Infinity)), cause
}

// banCause says why failures ban a resource from a node regardless of migration-threshold.
type banCause struct {
	kind string // "", "start", "hard" or "fatal"
	op   string
	node string // where the failure happened
	rc   int
}

func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	sort.Strings(out)
	return out
}

func joinNodes(xs []string) string {
	if len(xs) == 0 {
		return "nowhere"
	}
	return strings.Join(xs, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
