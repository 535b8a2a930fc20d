package scheduler

import (
	"fmt"
	"strings"
)

// String prints the action as one line: `#3 start vip on n2 (timeout 20s) after #1,#2: reason`.
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", a.ID, a.Kind)
	if a.Resource != "" {
		b.WriteString(" " + a.Resource)
	}
	if a.Clone != "" {
		b.WriteString(" (" + a.Clone + ")")
	}
	if a.Kind == Fence {
		b.WriteString(" " + a.Node)
	} else {
		b.WriteString(" on " + a.Node)
	}
	if a.Kind == Monitor {
		b.WriteString(" every " + fmtDuration(a.Interval))
	}
	if len(a.After) > 0 {
		ids := make([]string, len(a.After))
		for i, id := range a.After {
			ids[i] = fmt.Sprintf("#%d", id)
		}
		b.WriteString(" after " + strings.Join(ids, ","))
	}
	b.WriteString(": " + a.Reason)
	return b.String()
}

// String prints the placement as one line: `vip: n2 (now n1): reason`, `vip: stopped: reason`.
func (p Placement) String() string {
	var b strings.Builder
	b.WriteString(p.Resource + ": ")
	if len(p.Nodes) == 0 {
		b.WriteString("stopped")
	} else {
		b.WriteString(strings.Join(p.Nodes, " "))
	}
	if len(p.Current) > 0 {
		b.WriteString(" (now " + strings.Join(p.Current, " ") + ")")
	}
	if p.Blocked {
		b.WriteString(" [blocked]")
	}
	if !p.Managed {
		b.WriteString(" [unmanaged]")
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// String prints the whole plan: notes, actions in order, then placements; stable for golden tests.
func (p Plan) String() string {
	var b strings.Builder
	for _, n := range p.Notes {
		b.WriteString("note: " + n + "\n")
	}
	if len(p.Actions) == 0 {
		b.WriteString("no actions\n")
	}
	for _, a := range p.Actions {
		b.WriteString(a.String() + "\n")
	}
	for _, pl := range p.Placements {
		b.WriteString(pl.String() + "\n")
	}
	return b.String()
}
