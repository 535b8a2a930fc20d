// Package crmmon renders a node's status the way pacemaker's crm_mon does (text and XML), plus Duet's
// failover timeline, and runs the crm_mon command (one shot or live, redrawn in place on every change).
package crmmon

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/store"
)

// Rsc is one primitive's observed state.
type Rsc struct {
	ID       string
	Agent    string
	Parent   string   // group or clone id
	Running  []string // nodes where it runs
	Failed   []string // nodes where its last op failed and it may still be there
	Disabled bool     // target-role=Stopped
	Managed  bool
	Blocked  string // the scheduler's reason when the cluster cannot act on it (crm_mon's "blocked")
	Why      string // the scheduler's reason why it runs nowhere, when it is neither blocked nor disabled
}

// top is the id of the resource crm_mon lists at the top level: the group or clone, else the primitive.
func (r Rsc) top() string {
	if r.Parent != "" {
		return r.Parent
	}
	return r.ID
}

// Role is crm_mon's role word for the resource on one node.
func (r Rsc) Role() string {
	switch {
	case len(r.Failed) > 0:
		return "FAILED"
	case len(r.Running) > 0:
		return "Started"
	}
	return "Stopped"
}

// Resources derives every primitive's state from the CIB and the replicated op history, in configuration
// order (groups and clones keep their members together).
func Resources(st *api.Status) []Rsc {
	c := st.CIB
	if c == nil {
		return nil
	}
	parent := map[string]string{}
	for _, g := range c.Groups {
		for _, m := range g.Members {
			parent[m] = g.ID
		}
	}
	for _, cl := range c.Clones {
		parent[cl.Child] = cl.ID
		for _, g := range c.Groups {
			if g.ID == cl.Child {
				for _, m := range g.Members {
					parent[m] = cl.ID
				}
			}
		}
	}
	var out []Rsc
	for _, p := range c.Primitives {
		r := Rsc{ID: p.ID, Agent: p.Agent(), Parent: parent[p.ID], Managed: true}
		r.Disabled = p.Meta["target-role"] == "Stopped" || metaOf(c, r.Parent, "target-role") == "Stopped"
		if v, ok := p.Meta["is-managed"]; ok && !cib.IsTrue(v) {
			r.Managed = false
		}
		for _, node := range sortedNodes(st.Store.Ops) {
			rec, ok := st.Store.Ops[node][p.ID]
			if !ok {
				continue
			}
			if rec.Failed && rec.Running {
				r.Failed = append(r.Failed, node)
			} else if rec.Running {
				r.Running = append(r.Running, node)
			}
		}
		if tr := st.Store.Transition; tr != nil {
			why := tr.Reason[p.ID]
			switch {
			case tr.Blocked[p.ID]:
				r.Blocked = strings.TrimPrefix(why, "blocked: ")
				if r.Blocked == "" {
					r.Blocked = "blocked"
				}
			case !r.Disabled:
				r.Why = why
			}
		}
		out = append(out, r)
	}
	return out
}

// Configured counts resource instances as crm_mon's summary does: a clone's child counts once per instance
// (clone-max, by default one per node that runs resources); it returns the total and the disabled ones.
func Configured(st *api.Status, rscs []Rsc) (total, disabled int) {
	perClone := 0
	for _, n := range st.Nodes {
		if !n.Witness {
			perClone++
		}
	}
	for _, r := range rscs {
		n := 1
		if cl, ok := cloneByID(st.CIB, r.Parent); ok {
			n = perClone
			if v, err := strconv.Atoi(cl.Meta["clone-max"]); err == nil && v >= 0 {
				n = v
			}
		}
		total += n
		if r.Disabled {
			disabled += n
		}
	}
	return total, disabled
}

func metaOf(c *cib.CIB, id, key string) string {
	for _, g := range c.Groups {
		if g.ID == id {
			return g.Meta[key]
		}
	}
	for _, cl := range c.Clones {
		if cl.ID == id {
			return cl.Meta[key]
		}
	}
	return ""
}

func sortedNodes[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// execStatus is pacemaker's execution status of an operation with this result code: "complete" when the
// agent ran and exited, "Timed Out" or "Error" for Duet's codes of an operation that timed out or could
// not run at all.
func execStatus(rc int) string {
	switch agents.RC(rc) {
	case agents.Timeout:
		return "Timed Out"
	case agents.ExecErr:
		return "Error"
	}
	return "complete"
}

// FailedAction is one line of "Failed Resource Actions".
type FailedAction struct {
	Rsc, Node string
	Op        store.FailedOp
}

// FailedActions lists the last failure of each resource on each node, oldest first.
func FailedActions(st *api.Status) []FailedAction {
	var out []FailedAction
	for _, node := range sortedNodes(st.Store.Ops) {
		for _, rsc := range sortedNodes(st.Store.Ops[node]) {
			if f := st.Store.Ops[node][rsc].LastFailure; f != nil {
				out = append(out, FailedAction{Rsc: rsc, Node: node, Op: *f})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b FailedAction) int { return a.Op.When.Compare(b.Op.When) })
	return out
}
