package crmsh

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// Show prints the configuration as `crm configure show` does: objects grouped by kind (nodes, primitives,
// groups, clones, locations, colocations, orders, property, rsc_defaults, op_defaults) and sorted by id
// within a kind, attribute sets on continuation lines (" \" + newline + tab), values quoted when they hold
// anything but letters, digits, '_', '.', '-', and ocf:heartbeat agents abbreviated to their type. The
// output parses back to the same configuration. Show does not change c.
func Show(c *cib.CIB) string {
	var b strings.Builder
	emit := func(parts []string) {
		b.WriteString(strings.Join(parts, " \\\n\t"))
		b.WriteString("\n")
	}
	nodes := append([]cib.Node(nil), c.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodeSortKey(nodes[i]) < nodeSortKey(nodes[j]) })
	for _, n := range nodes {
		emit(showNode(n))
	}
	prims := append([]cib.Primitive(nil), c.Primitives...)
	sort.SliceStable(prims, func(i, j int) bool { return prims[i].ID < prims[j].ID })
	for _, p := range prims {
		emit(showPrimitive(p))
	}
	groups := append([]cib.Group(nil), c.Groups...)
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	for _, g := range groups {
		emit(showContainer("group "+g.ID+" "+strings.Join(g.Members, " "), g.Description, g.Meta, g.MetaOrder, g.Params, g.ParamOrder))
	}
	clones := append([]cib.Clone(nil), c.Clones...)
	sort.SliceStable(clones, func(i, j int) bool { return clones[i].ID < clones[j].ID })
	for _, cl := range clones {
		emit(showContainer("clone "+cl.ID+" "+cl.Child, cl.Description, cl.Meta, cl.MetaOrder, cl.Params, cl.ParamOrder))
	}
	// Real crmsh output lists locations, then colocations, then orders, each by id.
	locs := append([]cib.Location(nil), c.Locations...)
	sort.SliceStable(locs, func(i, j int) bool { return locs[i].ID < locs[j].ID })
	for _, l := range locs {
		emit(showLocation(l))
	}
	cols := append([]cib.Colocation(nil), c.Colocations...)
	sort.SliceStable(cols, func(i, j int) bool { return cols[i].ID < cols[j].ID })
	for _, col := range cols {
		emit([]string{showColocation(col)})
	}
	ords := append([]cib.Order(nil), c.Orders...)
	sort.SliceStable(ords, func(i, j int) bool { return ords[i].ID < ords[j].ID })
	for _, o := range ords {
		emit([]string{showOrder(o)})
	}
	d := c.Display
	showSet(emit, "property", orDefault(d.PropertySetID, DefaultPropertySetID), c.Properties, d.PropertyOrder)
	showSet(emit, "rsc_defaults", orDefault(d.RscDefaultsSetID, DefaultRscDefaultsSetID), c.RscDefaults, d.RscDefaultsOrder)
	showSet(emit, "op_defaults", orDefault(d.OpDefaultsSetID, DefaultOpDefaultsSetID), c.OpDefaults, d.OpDefaultsOrder)
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nodeSortKey(n cib.Node) string {
	if n.ID != 0 {
		return strconv.Itoa(n.ID)
	}
	return n.Name
}

var noQuotes = regexp.MustCompile(`^[\w.-]+$`)

// quote wraps a value in double quotes unless it is made of word characters, '.' and '-' only.
func quote(v string) string {
	if noQuotes.MatchString(v) {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}

func nvText(k, v string) string { return k + "=" + quote(v) }

// ordered returns m's keys: those in order first (once each, present in m), then the rest sorted.
func ordered(m map[string]string, order []string) []string {
	keys := make([]string, 0, len(m))
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	for _, k := range cib.SortedKeys(m) {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

func nvList(m map[string]string, order []string) string {
	var parts []string
	for _, k := range ordered(m, order) {
		parts = append(parts, nvText(k, m[k]))
	}
	return strings.Join(parts, " ")
}

func showNode(n cib.Node) []string {
	head := "node "
	if n.ID != 0 {
		head += strconv.Itoa(n.ID) + ": "
	}
	head += n.Name
	if n.Witness {
		head += ":witness"
	}
	parts := []string{head}
	if n.Description != "" {
		parts = append(parts, nvText("description", n.Description))
	}
	if len(n.Attributes) > 0 {
		parts = append(parts, "attributes "+nvList(n.Attributes, n.AttrOrder))
	}
	return parts
}

// abbreviated lists ocf:heartbeat types that also exist under another provider, so crmsh keeps them long.
var notUnique = map[string]bool{"Dummy": true, "Stateful": true, "ping": true}

// AgentSpec returns the agent as crmsh shows it: ocf:heartbeat:IPaddr2 becomes IPaddr2.
func AgentSpec(p cib.Primitive) string {
	if p.Class == "ocf" && p.Provider == "heartbeat" && !notUnique[p.Type] {
		return p.Type
	}
	return p.Agent()
}

func showPrimitive(p cib.Primitive) []string {
	parts := []string{"primitive " + p.ID + " " + AgentSpec(p)}
	if p.Description != "" {
		parts = append(parts, nvText("description", p.Description))
	}
	if len(p.Params) > 0 {
		parts = append(parts, "params "+nvList(p.Params, p.ParamOrder))
	}
	if len(p.Meta) > 0 {
		parts = append(parts, "meta "+nvList(p.Meta, p.MetaOrder))
	}
	for _, op := range p.Ops {
		parts = append(parts, showOp(op))
	}
	return parts
}

// opPairs returns an op's attributes as written where they still agree with the typed fields, then any
// typed field or attribute the text lacks.
func opPairs(op cib.Op) []cib.NV {
	var out []cib.NV
	done := map[string]bool{}
	for _, x := range op.Text {
		if done[x.Name] {
			continue
		}
		switch x.Name {
		case "interval":
			if d, err := cib.ParseDuration(x.Value); err != nil || d != op.Interval {
				continue
			}
		case "timeout":
			if d, err := cib.ParseDuration(x.Value); err != nil || d != op.Timeout || op.Timeout == 0 {
				continue
			}
		case "on-fail":
			if x.Value != op.OnFail {
				continue
			}
		default:
			if v, ok := op.Attrs[x.Name]; !ok || v != x.Value {
				continue
			}
		}
		out = append(out, x)
		done[x.Name] = true
	}
	if !done["interval"] {
		if op.Interval != 0 || hasName(op.Text, "interval") {
			out = append(out, cib.NV{Name: "interval", Value: FormatDuration(op.Interval)})
		}
	}
	if !done["timeout"] && op.Timeout != 0 {
		out = append(out, cib.NV{Name: "timeout", Value: FormatDuration(op.Timeout)})
	}
	if !done["on-fail"] && op.OnFail != "" {
		out = append(out, cib.NV{Name: "on-fail", Value: op.OnFail})
	}
	for _, k := range cib.SortedKeys(op.Attrs) {
		if !done[k] {
			out = append(out, cib.NV{Name: k, Value: op.Attrs[k]})
		}
	}
	return out
}

func hasName(l []cib.NV, name string) bool {
	for _, x := range l {
		if x.Name == name {
			return true
		}
	}
	return false
}

func showOp(op cib.Op) string {
	s := "op " + op.Name
	for _, x := range opPairs(op) {
		s += " " + nvText(x.Name, x.Value)
	}
	return s
}

// FormatDuration prints a duration the way pacemaker users write it: 0, 500ms, 30s, 2min, 1h.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "min"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
}

func showContainer(head, desc string, meta map[string]string, metaOrder []string, params map[string]string, paramOrder []string) []string {
	parts := []string{head}
	if desc != "" {
		parts = append(parts, nvText("description", desc))
	}
	if len(meta) > 0 {
		parts = append(parts, "meta "+nvList(meta, metaOrder))
	}
	if len(params) > 0 {
		parts = append(parts, "params "+nvList(params, paramOrder))
	}
	return parts
}

func showLocation(l cib.Location) []string {
	head := "location " + l.ID + " " + l.Rsc
	if l.Role != "" && l.Rule == "" {
		head += " role=" + l.Role
	}
	if l.Discovery != "" {
		head += " resource-discovery=" + l.Discovery
	}
	if l.Rule == "" && !l.Expires.IsZero() {
		// crm_resource writes a lifetime as a rule: the node and an end date.
		rule := "rule "
		if l.Score != cib.Infinity {
			rule += l.Score.String() + ": "
		}
		return []string{head, rule + "#uname eq " + l.Node + " and date lt " + quote(l.Expires.UTC().Format(lifetimeLayout))}
	}
	if l.Rule == "" {
		return []string{head + " " + l.Score.String() + ": " + l.Node}
	}
	rule := "rule "
	if l.Role != "" {
		rule += "$role=" + l.Role + " "
	}
	if l.Score != cib.Infinity {
		rule += l.Score.String() + ": "
	}
	return []string{head, rule + l.Rule}
}

// lifetimeLayout is how crm_resource writes the end of a constraint's lifetime.
const lifetimeLayout = "2006-01-02 15:04:05 -07:00"

func withQual(rsc, q string) string {
	if q == "" {
		return rsc
	}
	return rsc + ":" + q
}

func showColocation(c cib.Colocation) string {
	return "colocation " + c.ID + " " + c.Score.String() + ": " + withQual(c.Rsc, c.RscRole) + " " + withQual(c.WithRsc, c.WithRole)
}

func showOrder(o cib.Order) string {
	s := "order " + o.ID + " "
	switch {
	case o.Kind != "":
		s += o.Kind + ": "
	case o.Score != nil:
		s += o.Score.String() + ": "
	}
	s += withQual(o.First, o.FirstAction) + " " + withQual(o.Then, o.ThenAction)
	if o.Symmetrical != nil {
		s += " symmetrical=" + strconv.FormatBool(*o.Symmetrical)
	}
	return s
}

func showSet(emit func([]string), kw, id string, m map[string]string, order []string) {
	if len(m) == 0 {
		return
	}
	head := kw + " " + id + ":"
	if !noQuotes.MatchString(id) {
		head = kw + ` $id="` + id + `"`
	}
	parts := []string{head}
	for _, k := range ordered(m, order) {
		parts = append(parts, nvText(k, m[k]))
	}
	emit(parts)
}

// ShowIDs prints only the named objects (`crm configure show vip g_web`), in Show's format and order. An id
// names a resource, a constraint or a node; "property", "rsc_defaults" and "op_defaults" name those sets.
// An unknown id is an error.
func ShowIDs(c *cib.CIB, ids ...string) (string, error) {
	want := map[string]bool{}
	for _, id := range ids {
		switch id {
		case "property", "rsc_defaults", "op_defaults":
		default:
			if !exists(c, id) {
				return "", fmt.Errorf("show %s: object %q does not exist", id, id)
			}
		}
		want[id] = true
	}
	f := &cib.CIB{Display: c.Display}
	for _, n := range c.Nodes {
		if want[n.Name] {
			f.Nodes = append(f.Nodes, n)
		}
	}
	for _, p := range c.Primitives {
		if want[p.ID] {
			f.Primitives = append(f.Primitives, p)
		}
	}
	for _, g := range c.Groups {
		if want[g.ID] {
			f.Groups = append(f.Groups, g)
		}
	}
	for _, x := range c.Clones {
		if want[x.ID] {
			f.Clones = append(f.Clones, x)
		}
	}
	for _, x := range c.Locations {
		if want[x.ID] {
			f.Locations = append(f.Locations, x)
		}
	}
	for _, x := range c.Colocations {
		if want[x.ID] {
			f.Colocations = append(f.Colocations, x)
		}
	}
	for _, x := range c.Orders {
		if want[x.ID] {
			f.Orders = append(f.Orders, x)
		}
	}
	if want["property"] {
		f.Properties = c.Properties
	}
	if want["rsc_defaults"] {
		f.RscDefaults = c.RscDefaults
	}
	if want["op_defaults"] {
		f.OpDefaults = c.OpDefaults
	}
	return Show(f), nil
}
