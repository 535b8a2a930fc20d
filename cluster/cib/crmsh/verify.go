package crmsh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/cluster/cib"
)

// MetadataFunc returns an agent's meta-data for the parameter checks of Verify; agent is the full name
// (ocf:heartbeat:IPaddr2). Returning (nil, nil) skips the checks for that agent; an error is reported.
type MetadataFunc func(agent string) (*agents.Metadata, error)

// Verify runs crm_verify's checks on a configuration and returns errors and warnings: everything
// integrity checks (duplicate ids, dangling references, a resource in two containers, self-references),
// fencing enabled without a fence device, property values, unknown meta attributes and operation names,
// duplicate monitors, rule syntax, and, when meta is not nil, agent parameters against the agent's
// meta-data (missing required parameters, unknown ones, wrong types). Diagnostics carry no file or line.
func Verify(c *cib.CIB, meta MetadataFunc) []Diagnostic {
	diags := integrity(c)
	add := func(sev Severity, object, word, format string, args ...any) {
		diags = append(diags, Diagnostic{Severity: sev, Object: object, Word: word, Msg: fmt.Sprintf(format, args...)})
	}
	if cib.IsTrue(c.Property("stonith-enabled")) && !c.HasStonith() {
		add(Error, "", "stonith-enabled", "Resource start-up disabled since no STONITH resources have been defined")
		add(Error, "", "stonith-enabled", "Either configure some or disable STONITH with the stonith-enabled option")
		add(Error, "", "stonith-enabled", "NOTE: Clusters with shared data need STONITH to ensure data integrity")
	}
	if c.Property("no-quorum-policy") == "fence" && !cib.IsTrue(c.Property("stonith-enabled")) {
		add(Error, "", "no-quorum-policy", "no-quorum-policy=fence needs stonith-enabled=true (pacemaker falls back to stop)")
	}
	for _, k := range cib.SortedKeys(c.Properties) {
		if _, err := cib.ValidateProperty(k, c.Properties[k]); err != nil {
			add(Error, "property", k, "%v", err)
		}
	}
	checkMetaSet(add, "rsc_defaults", c.RscDefaults, append(append([]string{}, resourceMeta...), cloneMeta...))
	for _, k := range cib.SortedKeys(c.OpDefaults) {
		if !contains(opDefaultKeys, k) {
			add(Warning, "op_defaults", k, "unknown attribute %q%s", k, suggestion(k, opDefaultKeys))
		}
		if k == "timeout" || k == "interval" {
			if _, err := cib.ParseDuration(c.OpDefaults[k]); err != nil {
				add(Error, "op_defaults", k, "%s: %v", k, err)
			}
		}
	}
	for _, p := range c.Primitives {
		obj := "primitive " + p.ID
		checkMetaSet(add, obj, p.Meta, resourceMeta)
		seen := map[string]bool{}
		for _, op := range p.Ops {
			if !contains(knownOps, op.Name) {
				add(Warning, obj, op.Name, "unknown operation %q%s", op.Name, suggestion(op.Name, knownOps))
			}
			key := op.Name + "/" + op.Interval.String() + "/" + op.Attrs["role"]
			if seen[key] {
				add(Error, obj, op.Name, "duplicate %s operation with interval %s", op.Name, FormatDuration(op.Interval))
			}
			seen[key] = true
			if op.Interval != 0 && op.Name != "monitor" {
				add(Warning, obj, op.Name, "only monitor operations should have a non-zero interval (op %s interval=%s)", op.Name, FormatDuration(op.Interval))
			}
			if op.Timeout < 0 || op.Interval < 0 {
				add(Error, obj, op.Name, "negative duration in op %s", op.Name)
			}
		}
		if meta != nil {
			diags = append(diags, checkParams(p, meta)...)
		}
	}
	for _, g := range c.Groups {
		checkMetaSet(add, "group "+g.ID, g.Meta, append(append([]string{}, resourceMeta...), groupMeta...))
	}
	for _, cl := range c.Clones {
		checkMetaSet(add, "clone "+cl.ID, cl.Meta, append(append([]string{}, resourceMeta...), cloneMeta...))
	}
	for _, l := range c.Locations {
		obj := "location " + l.ID
		if l.Rule != "" {
			if _, err := cib.ParseRule(l.Rule); err != nil {
				add(Error, obj, "rule", "%v", err)
			}
		} else if _, ok := c.Node(l.Node); !ok && len(c.Nodes) > 0 {
			add(Warning, obj, l.Node, "referenced node %s does not exist", l.Node)
		}
		if p := c.Parent(l.Rsc); p != "" && c.FindClone(p) != nil {
			add(Warning, obj, l.Rsc, "resource %s ambiguous, apply constraints to container %s", l.Rsc, p)
		}
	}
	for _, col := range c.Colocations {
		for _, r := range []string{col.Rsc, col.WithRsc} {
			if p := c.Parent(r); p != "" && c.FindGroup(p) != nil {
				add(Warning, "colocation "+col.ID, r, "resource %s is grouped, constraints should apply to the group", r)
			}
		}
	}
	return diags
}

func checkMetaSet(add func(Severity, string, string, string, ...any), obj string, m map[string]string, known []string) {
	for _, k := range cib.SortedKeys(m) {
		if !contains(known, k) {
			add(Warning, obj, k, "unknown meta attribute %q%s", k, suggestion(k, known))
		}
		if err := checkMetaValue(k, m[k]); err != nil {
			add(Error, obj, k, "meta %s: %v", k, err)
		}
	}
}

// checkParams compares a primitive's params with its agent's meta-data.
func checkParams(p cib.Primitive, meta MetadataFunc) []Diagnostic {
	obj := "primitive " + p.ID
	md, err := meta(p.Agent())
	if err != nil {
		return []Diagnostic{{Object: obj, Word: p.Agent(), Msg: fmt.Sprintf("%s: got no meta-data, does this RA exist? (%v)", p.Agent(), err)}}
	}
	if md == nil {
		return nil
	}
	var diags []Diagnostic
	names := make([]string, 0, len(md.Parameters))
	for _, prm := range md.Parameters {
		names = append(names, prm.Name)
		v, set := p.Params[prm.Name]
		if prm.Required && !set {
			diags = append(diags, Diagnostic{Object: obj, Word: prm.Name, Msg: fmt.Sprintf("required parameter %s not defined", prm.Name)})
			continue
		}
		if !set {
			continue
		}
		switch strings.ToLower(prm.Type) {
		case "integer":
			if _, err := strconv.Atoi(v); err != nil {
				diags = append(diags, Diagnostic{Object: obj, Word: prm.Name, Msg: fmt.Sprintf("parameter %s=%q is not an integer", prm.Name, v)})
			}
		case "boolean":
			if _, ok := cib.ParseBool(v); !ok {
				diags = append(diags, Diagnostic{Object: obj, Word: prm.Name, Msg: fmt.Sprintf("parameter %s=%q is not a boolean", prm.Name, v)})
			}
		}
	}
	for _, k := range cib.SortedKeys(p.Params) {
		if _, ok := md.Param(k); !ok && !(p.IsStonith() && strings.HasPrefix(k, "pcmk_")) {
			diags = append(diags, Diagnostic{Severity: Warning, Object: obj, Word: k,
				Msg: fmt.Sprintf("parameter %s does not exist in %s%s", k, p.Agent(), suggestion(k, names))})
		}
	}
	return diags
}

// eachObject calls fn for every resource and constraint of c, with its kind ("primitive", "group", ...).
func eachObject(c *cib.CIB, fn func(kind, id string)) {
	for _, p := range c.Primitives {
		fn("primitive", p.ID)
	}
	for _, g := range c.Groups {
		fn("group", g.ID)
	}
	for _, cl := range c.Clones {
		fn("clone", cl.ID)
	}
	for _, l := range c.Locations {
		fn("location", l.ID)
	}
	for _, x := range c.Colocations {
		fn("colocation", x.ID)
	}
	for _, x := range c.Orders {
		fn("order", x.ID)
	}
}

// integrity finds what makes a configuration not hold together: duplicate ids, references to resources
// that do not exist, group members that are not primitives, a resource in two containers, constraints
// naming one resource twice. Update and Replace refuse a result with any of these.
func integrity(c *cib.CIB) []Diagnostic {
	var diags []Diagnostic
	add := func(object, word, format string, args ...any) {
		diags = append(diags, Diagnostic{Object: object, Word: word, Msg: fmt.Sprintf(format, args...)})
	}
	owner := map[string]string{}
	eachObject(c, func(kind, id string) {
		if prev, dup := owner[id]; dup {
			add(kind+" "+id, id, "id %q is already used by %s", id, prev)
			return
		}
		owner[id] = kind + " " + id
	})
	names := map[string]bool{}
	for _, n := range c.Nodes {
		if names[n.Name] {
			add("node "+n.Name, n.Name, "node %s is defined twice", n.Name)
		}
		names[n.Name] = true
	}
	container := map[string]string{}
	contain := func(by, id string) {
		if prev, ok := container[id]; ok {
			add(by, id, "resource %s is already in %s", id, prev)
			return
		}
		container[id] = by
	}
	for _, g := range c.Groups {
		obj := "group " + g.ID
		if len(g.Members) == 0 {
			add(obj, g.ID, "group %s has no members", g.ID)
		}
		for _, m := range g.Members {
			switch c.ResourceKind(m) {
			case "primitive":
				contain(obj, m)
			case "":
				add(obj, m, "resource %s does not exist", m)
			default:
				add(obj, m, "%s is a %s; groups contain primitives only", m, c.ResourceKind(m))
			}
		}
	}
	for _, cl := range c.Clones {
		obj := "clone " + cl.ID
		switch c.ResourceKind(cl.Child) {
		case "primitive", "group":
			contain(obj, cl.Child)
		case "":
			add(obj, cl.Child, "resource %s does not exist", cl.Child)
		default:
			add(obj, cl.Child, "%s is a clone; a clone contains a primitive or a group", cl.Child)
		}
	}
	ref := func(obj, id string) {
		if c.ResourceKind(id) == "" {
			add(obj, id, "resource %s does not exist", id)
		}
	}
	for _, l := range c.Locations {
		ref("location "+l.ID, l.Rsc)
	}
	for _, x := range c.Colocations {
		obj := "colocation " + x.ID
		ref(obj, x.Rsc)
		ref(obj, x.WithRsc)
		if x.Rsc == x.WithRsc {
			add(obj, x.Rsc, "resource %s is colocated with itself", x.Rsc)
		}
	}
	for _, x := range c.Orders {
		obj := "order " + x.ID
		ref(obj, x.First)
		ref(obj, x.Then)
		if x.First == x.Then {
			add(obj, x.First, "resource %s is ordered after itself", x.First)
		}
	}
	return diags
}
