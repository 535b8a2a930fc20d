package crmsh

import (
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

var primitiveKeywords = []string{"params", "meta", "op", "utilization", "op_params", "op_meta", "description="}

// agentClasses are the resource classes Duet knows; service is systemd or lsb, whichever exists.
var agentClasses = []string{"ocf", "lsb", "systemd", "service", "stonith"}

// parseAgent reads class:provider:type, class:type or a bare type (= ocf:heartbeat:type, as crmsh resolves
// the unique agents it shows abbreviated).
func parseAgent(c *stmtCtx, t token, p *cib.Primitive) bool {
	if strings.HasPrefix(t.Text, "@") {
		c.errorf(t, "resource templates (%s) are not supported yet", t.Text)
		return false
	}
	parts := strings.Split(t.Text, ":")
	if len(parts) > 1 && !contains(agentClasses, parts[0]) {
		if s := cib.Suggest(parts[0], agentClasses); s != "" {
			c.errorf(t, "unknown agent class %q (did you mean %q?)", parts[0], s)
		} else {
			c.errorf(t, "unknown agent class %q (want %s)", parts[0], strings.Join(agentClasses, ", "))
		}
		return false
	}
	for _, s := range parts {
		if !validAgentPart(s) {
			c.errorf(t, "invalid agent %q (want class:provider:type, class:type or type)", t.Text)
			return false
		}
	}
	switch len(parts) {
	case 1:
		p.Class, p.Provider, p.Type = "ocf", "heartbeat", parts[0]
	case 2:
		p.Class, p.Type = parts[0], parts[1]
		if p.Class == "ocf" {
			c.errorf(t, "agent %q: ocf agents need a provider (ocf:heartbeat:%s)", t.Text, p.Type)
			return false
		}
	case 3:
		p.Class, p.Provider, p.Type = parts[0], parts[1], parts[2]
		if p.Class != "ocf" {
			c.errorf(t, "agent %q: only ocf agents have a provider", t.Text)
			return false
		}
	default:
		c.errorf(t, "invalid agent %q (want class:provider:type, class:type or type)", t.Text)
		return false
	}
	return true
}

func (p *parser) primitive(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 2 {
		c.errorf(kw, "usage: primitive <id> <class>:[<provider>:]<type> [params ...] [meta ...] [op ...]")
		return
	}
	c.object = "primitive " + toks[0].Text
	if !p.claimID(c, toks[0]) {
		return
	}
	prim := cib.Primitive{ID: toks[0].Text}
	if !parseAgent(c, toks[1], &prim) {
		return
	}
	var params, meta attrs
	var op *cib.Op
	var opAttrs attrs
	finishOp := func() {
		if op != nil {
			op.Attrs = opAttrs.m
			if len(op.Attrs) == 0 {
				op.Attrs = nil
			}
			prim.Ops = append(prim.Ops, *op)
			op, opAttrs = nil, attrs{}
		}
	}
	section := "params"
	explicit := false
	for i := 2; i < len(toks); i++ {
		t := toks[i]
		if !t.Quoted {
			switch t.Text {
			case "params", "meta":
				finishOp()
				section, explicit = t.Text, true
				continue
			case "op":
				finishOp()
				if i+1 >= len(toks) || strings.Contains(toks[i+1].Text, "=") {
					c.errorf(t, "op: operation name missing")
					section = "op"
					continue
				}
				i++
				if !validID(toks[i].Text) {
					c.errorf(toks[i], "invalid operation name %q", toks[i].Text)
				}
				op = &cib.Op{Name: toks[i].Text}
				section = "op"
				continue
			case "op_params", "op_meta":
				if op == nil {
					c.errorf(t, "%q must follow an op", t.Text)
				}
				continue // their attributes belong to the op
			case "utilization", "operations":
				c.errorf(t, "%q is not supported yet", t.Text)
				section = "ignore"
				continue
			}
		}
		k, v, ok := nv(t)
		if !ok {
			unknownWord(c, t, primitiveKeywords)
			continue
		}
		if k == "description" && !explicit && section == "params" && op == nil {
			prim.Description = v
			continue
		}
		switch section {
		case "params":
			params.set(c, t, k, v)
		case "meta":
			if err := checkMetaValue(k, v); err != nil {
				c.errorf(t, "meta %s: %v", k, err)
			}
			meta.set(c, t, k, v)
		case "op":
			if op != nil {
				opAttr(c, t, op, &opAttrs, k, v)
			}
		}
	}
	finishOp()
	prim.Params, prim.ParamOrder = params.m, params.order
	prim.Meta, prim.MetaOrder = meta.m, meta.order
	if c.failed {
		return
	}
	p.st.Config.Primitives = append(p.st.Config.Primitives, prim)
}

var onFailValues = []string{"ignore", "block", "stop", "restart", "standby", "fence", "demote", "restart-container"}

// opAttr stores one attribute of an op: interval, timeout and on-fail go to typed fields, all of them
// to Text, the rest to Attrs.
func opAttr(c *stmtCtx, t token, op *cib.Op, rest *attrs, k, v string) {
	for _, x := range op.Text {
		if x.Name == k {
			c.errorf(t, "op %s: attribute %q given twice", op.Name, k)
			return
		}
	}
	switch k {
	case "interval", "timeout":
		d, err := cib.ParseDuration(v)
		if err != nil {
			c.errorf(t, "op %s: %s: %v", op.Name, k, err)
			return
		}
		if k == "interval" {
			op.Interval = d
		} else {
			op.Timeout = d
		}
	case "on-fail":
		if !contains(onFailValues, v) {
			c.errorf(t, "op %s: on-fail %q is not one of %s", op.Name, v, strings.Join(onFailValues, ", "))
			return
		}
		op.OnFail = v
	case "start-delay", "interval-origin":
		if k == "start-delay" {
			if _, err := cib.ParseDuration(v); err != nil {
				c.errorf(t, "op %s: %s: %v", op.Name, k, err)
				return
			}
		}
		rest.set(c, t, k, v)
	default:
		rest.set(c, t, k, v)
	}
	op.Text = append(op.Text, cib.NV{Name: k, Value: v})
}

// containerAttrs reads [description=...] [meta k=v...] [params k=v...] after a group's or clone's members.
func containerAttrs(c *stmtCtx, toks []token, desc *string, meta, params *attrs, isClone bool) {
	section := ""
	for _, t := range toks {
		if !t.Quoted && (t.Text == "meta" || t.Text == "params") {
			section = t.Text
			continue
		}
		k, v, ok := nv(t)
		if !ok {
			unknownWord(c, t, []string{"meta", "params", "description="})
			continue
		}
		switch {
		case k == "description" && section == "":
			*desc = v
		case section == "meta":
			if err := checkMetaValue(k, v); err != nil {
				c.errorf(t, "meta %s: %v", k, err)
			}
			meta.set(c, t, k, v)
		case section == "params":
			params.set(c, t, k, v)
		default:
			c.errorf(t, "%q: write meta or params before attributes", t.Text)
		}
	}
}

func (p *parser) group(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 2 {
		c.errorf(kw, "usage: group <id> <rsc> [<rsc>...] [meta ...]")
		return
	}
	c.object = "group " + toks[0].Text
	if !p.claimID(c, toks[0]) {
		return
	}
	g := cib.Group{ID: toks[0].Text}
	i := 1
	for ; i < len(toks); i++ {
		t := toks[i]
		if strings.Contains(t.Text, "=") || (!t.Quoted && (t.Text == "meta" || t.Text == "params")) {
			break
		}
		if !validID(t.Text) {
			c.errorf(t, "invalid resource id %q", t.Text)
			continue
		}
		if contains(g.Members, t.Text) {
			c.errorf(t, "resource %q listed twice", t.Text)
			continue
		}
		if t.Text == g.ID {
			c.errorf(t, "a group cannot contain itself")
			continue
		}
		g.Members = append(g.Members, t.Text)
	}
	if len(g.Members) == 0 {
		c.errorf(toks[0], "group %s has no members", g.ID)
	}
	var meta, params attrs
	containerAttrs(c, toks[i:], &g.Description, &meta, &params, false)
	g.Meta, g.MetaOrder, g.Params, g.ParamOrder = meta.m, meta.order, params.m, params.order
	if c.failed {
		return
	}
	p.st.Config.Groups = append(p.st.Config.Groups, g)
}

func (p *parser) clone(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 2 {
		c.errorf(kw, "usage: clone <id> <rsc> [meta ...] [params ...]")
		return
	}
	c.object = "clone " + toks[0].Text
	if kw.Text != "clone" {
		c.object = kw.Text + " " + toks[0].Text
	}
	if !p.claimID(c, toks[0]) {
		return
	}
	cl := cib.Clone{ID: toks[0].Text, Child: toks[1].Text}
	if !validID(cl.Child) || strings.Contains(toks[1].Text, "=") {
		c.errorf(toks[1], "invalid resource id %q", toks[1].Text)
	}
	if cl.Child == cl.ID {
		c.errorf(toks[1], "a clone cannot contain itself")
	}
	var meta, params attrs
	containerAttrs(c, toks[2:], &cl.Description, &meta, &params, true)
	if kw.Text != "clone" {
		c.warnf(kw, "%q is deprecated; stored as: clone %s %s meta promotable=true", kw.Text, cl.ID, cl.Child)
		if _, set := meta.m["promotable"]; !set {
			meta.set(c, kw, "promotable", "true")
		}
	}
	cl.Meta, cl.MetaOrder, cl.Params, cl.ParamOrder = meta.m, meta.order, params.m, params.order
	if c.failed {
		return
	}
	p.st.Config.Clones = append(p.st.Config.Clones, cl)
}

// validAgentPart accepts a class, provider or type: letters, digits and _ . - @ +.
func validAgentPart(s string) bool {
	return validName(s) && !strings.ContainsAny(s, ":#$")
}
