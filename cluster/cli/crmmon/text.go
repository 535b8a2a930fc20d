package crmmon

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
)

// Options selects crm_mon's optional sections.
type Options struct {
	Inactive     bool // -r: list inactive resources too ("Full List of Resources")
	FailCounts   bool // -f: Migration Summary
	FenceHistory bool // -m
	Timeline     bool // Duet's last failover timeline (on by default)
	ByNode       bool // -n: each node with the resources it runs; the rest under "Inactive Resources" (with -r)
}

// ctime formats like C's ctime(), as crm_mon prints times.
func ctime(t time.Time) string { return t.Local().Format("Mon Jan _2 15:04:05 2006") }

// Text renders the status as crm_mon -1 prints it.
func Text(st *api.Status, o Options) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	c := st.CIB
	if c == nil {
		c = &cib.CIB{}
	}
	p("Cluster Summary:\n")
	p("  * Stack: %s\n", st.Stack)
	if st.DC == "" {
		p("  * Current DC: NONE\n")
	} else {
		q := "partition with quorum"
		if !st.Quorum.Quorate {
			q = "partition WITHOUT quorum"
		}
		p("  * Current DC: %s (version %s) - %s\n", st.DC, st.Version, q)
	}
	p("  * Last updated: %s on %s\n", ctime(st.LastUpdated), st.Node)
	if !c.LastChange.When.IsZero() {
		p("  * Last change:  %s", ctime(c.LastChange.When))
		if c.LastChange.User != "" {
			p(" by %s", c.LastChange.User)
		}
		if c.LastChange.Via != "" {
			p(" via %s", c.LastChange.Via)
		}
		if c.LastChange.Node != "" {
			p(" on %s", c.LastChange.Node)
		}
		p("\n")
	}
	p("  * %d nodes configured\n", len(st.Nodes))
	rscs := Resources(st)
	total, disabled := Configured(st, rscs)
	if disabled > 0 {
		p("  * %d resource instances configured (%d DISABLED)\n", total, disabled)
	} else {
		p("  * %d resource instances configured\n", total)
	}
	p("  * CIB epoch: %d (admin_epoch %d)\n", c.Epoch, c.AdminEpoch)
	if cib.IsTrue(c.Property("maintenance-mode")) {
		p("\n              *** Resource management is DISABLED ***\n")
		p("  The cluster will not attempt to start, stop or recover services\n")
	}
	if !st.Quorum.Quorate && st.Quorum.Reason != "" {
		p("  * Quorum: %s\n", st.Quorum.Reason)
	}

	p("\nNode List:\n")
	if o.ByNode {
		writeNodesWithResources(&b, st, rscs)
		if o.Inactive {
			p("\nInactive Resources:\n")
			writeResourceList(&b, st, notFullyActive(st, rscs), true, "No inactive resources")
		}
	}
	var online, offline []string
	for _, n := range st.Nodes {
		if o.ByNode {
			break
		}
		name := n.Name
		if n.Witness {
			name += "(witness)"
		}
		switch {
		case n.Unclean && !n.Online:
			p("  * Node %s: UNCLEAN (offline)\n", n.Name)
		case n.Standby && n.Online:
			if hasActive(rscs, n.Name) {
				p("  * Node %s: standby (with active resources)\n", n.Name)
			} else {
				p("  * Node %s: standby\n", n.Name)
			}
		case n.Standby:
			p("  * Node %s: OFFLINE (standby)\n", n.Name)
		case n.Maintenance && n.Online:
			p("  * Node %s: maintenance\n", n.Name)
		case n.Pending && n.Online:
			p("  * Node %s: pending\n", n.Name)
		case n.Online:
			online = append(online, name)
		default:
			offline = append(offline, name)
		}
	}
	if len(online) > 0 {
		p("  * Online: [ %s ]\n", strings.Join(online, " "))
	}
	if len(offline) > 0 {
		p("  * OFFLINE: [ %s ]\n", strings.Join(offline, " "))
	}

	switch {
	case o.ByNode:
	case o.Inactive:
		p("\nFull List of Resources:\n")
		writeResources(&b, st, rscs, true)
	default:
		p("\nActive Resources:\n")
		writeResources(&b, st, rscs, false)
	}

	if o.FailCounts {
		writeFailCounts(&b, st)
	}
	if fa := FailedActions(st); len(fa) > 0 {
		p("\nFailed Resource Actions:\n")
		for _, f := range fa {
			p("  * %s ", f.Rsc)
			if f.Op.Interval > 0 {
				p("%s-interval ", readableInterval(f.Op.Interval))
			}
			action := f.Op.Op
			if action == "monitor" && f.Op.Interval == 0 {
				action = "probe" // as pacemaker names a one-shot monitor
			}
			if status := execStatus(f.Op.RC); status != "complete" {
				// An operation that did not run to an exit code, in pacemaker's words.
				p("%s on %s could not be executed (%s", action, f.Node, status)
				if f.Op.Reason != "" {
					p(": %s", f.Op.Reason)
				}
				p(")")
			} else {
				p("%s on %s returned '%s'", action, f.Node, f.Op.RCText)
				if f.Op.Reason != "" {
					p(" (%s)", f.Op.Reason)
				}
			}
			p(" at %s", ctime(f.Op.When))
			if f.Op.Exec >= time.Millisecond {
				p(" after %s", readableInterval(f.Op.Exec))
			}
			p("\n")
		}
	}
	if o.FenceHistory && len(st.Store.Fencing) > 0 {
		p("\nFencing History:\n")
		for i := len(st.Store.Fencing) - 1; i >= 0; i-- {
			f := st.Store.Fencing[i]
			state := "successful"
			if !f.OK {
				state = "failed"
			}
			p("  * %s of %s %s: delegate=%s, client=clusterd, origin=%s, completed='%s'", f.Action, f.Target, state, f.Device, f.By, ctime(f.Completed))
			if f.Reason != "" {
				p(" (%s)", f.Reason)
			}
			p("\n")
		}
	}
	notices := st.Notices
	if tr := st.Store.Transition; tr != nil && tr.Reason["*"] != "" {
		for _, n := range strings.Split(strings.TrimSuffix(tr.Reason["*"], "; "), "; ") {
			notices = append(notices, "DC: "+n)
		}
	}
	if len(notices) > 0 {
		p("\nCluster Notices:\n")
		for _, n := range notices {
			p("  * %s\n", n)
		}
	}
	if o.Timeline && st.Store.Timeline != nil && len(st.Store.Timeline.Events) > 0 {
		tl := st.Store.Timeline
		p("\nLast Failover (recorded by %s, %s):\n", tl.Node, ctime(tl.Start))
		for _, e := range tl.Events {
			p("  * %+8.1f ms  %s\n", float64(e.At.Microseconds())/1000, e.What)
		}
	}
	return b.String()
}

func hasActive(rscs []Rsc, node string) bool {
	for _, r := range rscs {
		for _, n := range r.Running {
			if n == node {
				return true
			}
		}
	}
	return false
}

// nodeStatus is crm_mon's word for a node in the by-node list (pacemaker's node_text_status).
func nodeStatus(n api.NodeStatus, rscs []Rsc) string {
	switch {
	case n.Unclean && n.Online:
		return "UNCLEAN (online)"
	case n.Unclean:
		return "UNCLEAN (offline)"
	case n.Pending:
		return "pending"
	case n.Standby && !n.Online:
		return "OFFLINE (standby)"
	case n.Standby && hasActive(rscs, n.Name):
		return "standby (with active resources)"
	case n.Standby:
		return "standby"
	case n.Maintenance && n.Online:
		return "maintenance"
	case n.Maintenance:
		return "OFFLINE (maintenance)"
	case n.Online:
		return "online"
	}
	return "OFFLINE"
}

// writeNodesWithResources is crm_mon -n's node list: every node, then the primitives running there, each
// without its node (pacemaker's "rsc_only" form).
func writeNodesWithResources(b *strings.Builder, st *api.Status, rscs []Rsc) {
	for _, n := range st.Nodes {
		fmt.Fprintf(b, "  * Node %s: %s:\n    * Resources:\n", n.Name, nodeStatus(n, rscs))
		for _, r := range rscs {
			if slices.Contains(r.Running, n.Name) || slices.Contains(r.Failed, n.Name) {
				fmt.Fprintf(b, "      * %s\t(%s):\t %s\n", r.ID, r.Agent, r.Role())
			}
		}
	}
}

// notFullyActive keeps the resources that crm_mon -n lists under "Inactive Resources": a primitive that runs
// nowhere, and every member of a group or clone that is not active everywhere it should be.
func notFullyActive(st *api.Status, rscs []Rsc) []Rsc {
	nodes := 0
	for _, n := range st.Nodes {
		if !n.Witness {
			nodes++
		}
	}
	active := map[string]bool{} // top-level id -> fully active
	for _, r := range rscs {
		top := r.top()
		ok := r.Role() != "Stopped"
		if _, isClone := cloneByID(st.CIB, r.Parent); isClone {
			ok = len(r.Running) >= nodes
		}
		if prev, seen := active[top]; seen {
			ok = ok && prev
		}
		active[top] = ok
	}
	var out []Rsc
	for _, r := range rscs {
		if !active[r.top()] {
			out = append(out, r)
		}
	}
	return out
}

func writeResources(b *strings.Builder, st *api.Status, rscs []Rsc, inactive bool) {
	empty := "No active resources"
	if inactive {
		empty = "No resources"
	}
	writeResourceList(b, st, rscs, inactive, empty)
}

// writeResourceList writes rscs in crm_mon's resource list form, or "  * EMPTY" when nothing is listed.
func writeResourceList(b *strings.Builder, st *api.Status, rscs []Rsc, inactive bool, empty string) {
	printed := false
	p := func(format string, a ...any) { printed = true; fmt.Fprintf(b, format, a...) }
	byID := map[string]Rsc{}
	for _, r := range rscs {
		byID[r.ID] = r
	}
	line := func(indent string, r Rsc) {
		if !inactive && r.Role() == "Stopped" {
			return
		}
		nodes := r.Running
		if len(r.Failed) > 0 {
			nodes = r.Failed
		}
		p("%s* %s\t(%s):\t %s", indent, r.ID, r.Agent, r.Role())
		if len(nodes) > 0 {
			p(" %s", strings.Join(nodes, " "))
		}
		var flags []string
		if r.Disabled {
			flags = append(flags, "disabled")
		}
		if !r.Managed {
			flags = append(flags, "unmanaged")
		}
		if r.Blocked != "" {
			flags = append(flags, "blocked: "+r.Blocked)
		} else if r.Why != "" && r.Role() == "Stopped" {
			flags = append(flags, r.Why)
		}
		if len(flags) > 0 {
			p(" (%s)", strings.Join(flags, ", "))
		}
		p("\n")
	}
	done := map[string]bool{}
	c := st.CIB
	for _, r := range rscs {
		if done[r.ID] {
			continue
		}
		if r.Parent == "" {
			line("  ", r)
			done[r.ID] = true
			continue
		}
		if cl, ok := cloneByID(c, r.Parent); ok {
			var members []Rsc
			for _, x := range rscs {
				if x.Parent == cl.ID {
					members = append(members, x)
					done[x.ID] = true
				}
			}
			var started []string
			seen := map[string]bool{}
			for _, m := range members {
				for _, n := range m.Running {
					if !seen[n] {
						seen[n] = true
						started = append(started, n)
					}
				}
			}
			if !inactive && len(started) == 0 {
				continue
			}
			p("  * Clone Set: %s [%s]:\n", cl.ID, cl.Child)
			if len(started) > 0 {
				p("    * Started: [ %s ]\n", strings.Join(started, " "))
			}
			var stopped []string
			for _, n := range st.Nodes {
				if !seen[n.Name] && !n.Witness {
					stopped = append(stopped, n.Name)
				}
			}
			if inactive && len(stopped) > 0 {
				p("    * Stopped: [ %s ]\n", strings.Join(stopped, " "))
			}
			continue
		}
		var members []Rsc
		for _, x := range rscs {
			if x.Parent == r.Parent {
				members = append(members, x)
				done[x.ID] = true
			}
		}
		active := 0
		for _, m := range members {
			if m.Role() != "Stopped" {
				active++
			}
		}
		if !inactive && active == 0 {
			continue
		}
		suffix := ""
		if inactive && active < len(members) && active > 0 {
			suffix = fmt.Sprintf(" (%d members inactive)", len(members)-active)
		}
		if metaOf(c, r.Parent, "target-role") == "Stopped" {
			suffix = " (disabled)"
		}
		p("  * Resource Group: %s%s:\n", r.Parent, suffix)
		for _, m := range members {
			line("    ", m)
		}
	}
	// As pacemaker: "No resources" under -r, "No active resources" without it, "No inactive resources" with -n.
	if !printed {
		p("  * %s\n", empty)
	}
}

func cloneByID(c *cib.CIB, id string) (cib.Clone, bool) {
	for _, cl := range c.Clones {
		if cl.ID == id {
			return cl, true
		}
	}
	return cib.Clone{}, false
}

func writeFailCounts(b *strings.Builder, st *api.Status) {
	if len(st.Store.FailCounts) == 0 {
		return
	}
	fmt.Fprintf(b, "\nMigration Summary:\n")
	for _, node := range sortedNodes(st.Store.FailCounts) {
		m := st.Store.FailCounts[node]
		if len(m) == 0 {
			continue
		}
		fmt.Fprintf(b, "  * Node: %s:\n", node)
		for _, rsc := range sortedNodes(m) {
			fc := m[rsc]
			thr := migrationThreshold(st.CIB, rsc)
			fmt.Fprintf(b, "    * %s: migration-threshold=%s fail-count=%d last-failure='%s'\n", rsc, thr, fc.Count, ctime(fc.LastFailure))
		}
	}
}

func migrationThreshold(c *cib.CIB, rsc string) string {
	for _, p := range c.Primitives {
		if p.ID == rsc {
			if v, ok := p.Meta["migration-threshold"]; ok {
				return v
			}
		}
	}
	if v, ok := c.RscDefaults["migration-threshold"]; ok {
		return v
	}
	return "1000000"
}

// readableInterval formats a duration as pacemaker's pcmk__readable_interval does, quirks included: days,
// hours and minutes only when strictly more than one, then N.NNNs above one second, else NNNms ("1000ms",
// "1.001s", "10s", "60s", "1m30s"), and "0s" for nothing.
func readableInterval(d time.Duration) string {
	ms := d.Milliseconds()
	var b strings.Builder
	for _, u := range []struct {
		ms     int64
		suffix string
	}{{24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}} {
		if ms > u.ms {
			fmt.Fprintf(&b, "%d%s", ms/u.ms, u.suffix)
			ms %= u.ms
		}
	}
	switch {
	case ms > 1000:
		fmt.Fprintf(&b, "%d", ms/1000)
		if ms%1000 > 0 {
			fmt.Fprintf(&b, ".%03d", ms%1000)
		}
		b.WriteString("s")
	case ms > 0:
		fmt.Fprintf(&b, "%dms", ms)
	case b.Len() == 0:
		b.WriteString("0s")
	}
	return b.String()
}
