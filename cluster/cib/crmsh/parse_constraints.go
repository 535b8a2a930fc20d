package crmsh

import (
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

var roles = []string{"Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"}

// scoreTok reads "SCORE:" (inf:, -inf:, 100:, Mandatory:).
func scoreTok(t token) (cib.Score, bool) {
	s, ok := strings.CutSuffix(t.Text, ":")
	if !ok || t.Quoted {
		return 0, false
	}
	sc, err := cib.ParseScore(s)
	if err != nil {
		return 0, false
	}
	return sc, true
}

func (p *parser) location(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 3 {
		c.errorf(kw, "usage: location <id> <rsc> [role=<role>] {<score>: <node> | rule [<score>:] <expression>}")
		return
	}
	c.object = "location " + toks[0].Text
	if !p.claimID(c, toks[0]) {
		return
	}
	l := cib.Location{ID: toks[0].Text, Rsc: toks[1].Text}
	switch {
	case strings.HasPrefix(l.Rsc, "{") || strings.HasPrefix(l.Rsc, "/"):
		c.errorf(toks[1], "resource sets and patterns in locations (%s) are not supported yet", l.Rsc)
		return
	case !validID(l.Rsc):
		c.errorf(toks[1], "invalid resource id %q", l.Rsc)
		return
	}
	i := 2
	for ; i < len(toks); i++ {
		k, v, ok := nv(toks[i])
		if !ok {
			break
		}
		switch k {
		case "role":
			if !contains(roles, v) {
				c.errorf(toks[i], "role %q is not one of %s", v, strings.Join(roles, ", "))
			}
			l.Role = v
		case "resource-discovery":
			if !contains([]string{"always", "never", "exclusive"}, v) {
				c.errorf(toks[i], "resource-discovery %q is not one of always, never, exclusive", v)
			}
			l.Discovery = v
		default:
			c.errorf(toks[i], "unknown location attribute %q (role or resource-discovery)", k)
		}
	}
	if i >= len(toks) {
		c.errorf(toks[len(toks)-1], "score and node (or rule) missing")
		return
	}
	if toks[i].Text == "rule" && !toks[i].Quoted {
		p.locationRule(c, &l, toks[i+1:], toks[i])
	} else {
		sc, ok := scoreTok(toks[i])
		if !ok {
			if strings.HasSuffix(toks[i].Text, ":") {
				c.errorf(toks[i], "invalid score %q (want an integer, inf or -inf)", toks[i].Text)
			} else {
				c.errorf(toks[i], "expected \"<score>:\" or \"rule\", found %q", toks[i].Text)
			}
			return
		}
		l.Score = sc
		switch n := len(toks) - i - 1; {
		case n == 0:
			c.errorf(toks[i], "node name missing after %q", toks[i].Text)
		case n > 1:
			c.errorf(toks[i+2], "unexpected %q after the node name", toks[i+2].Text)
		case !validNodeName(toks[i+1].Text):
			c.errorf(toks[i+1], "invalid node name %q", toks[i+1].Text)
		default:
			l.Node = toks[i+1].Text
		}
	}
	if c.failed {
		return
	}
	p.st.Config.Locations = append(p.st.Config.Locations, l)
}

func (p *parser) locationRule(c *stmtCtx, l *cib.Location, toks []token, ruleTok token) {
	l.Score = cib.Infinity
	i := 0
	for ; i < len(toks); i++ {
		k, v, ok := nv(toks[i])
		if !ok {
			break
		}
		switch k {
		case "$role", "role":
			if !contains(roles, v) {
				c.errorf(toks[i], "role %q is not one of %s", v, strings.Join(roles, ", "))
			}
			l.Role = v
		case "$id":
		default:
			c.errorf(toks[i], "unknown rule attribute %q", k)
		}
	}
	if i < len(toks) && strings.HasSuffix(toks[i].Text, ":") && !toks[i].Quoted {
		sc, ok := scoreTok(toks[i])
		if !ok {
			c.errorf(toks[i], "invalid rule score %q (score-attribute is not supported yet)", toks[i].Text)
			return
		}
		l.Score = sc
		i++
	}
	if node, exp, ok := lifetimeRule(toks[i:]); ok {
		l.Node, l.Expires = node, exp
		return
	}
	var words []string
	for _, t := range toks[i:] {
		if t.Text == "rule" && !t.Quoted {
			c.errorf(t, "more than one rule per location is not supported yet")
			return
		}
		words = append(words, t.Text)
	}
	if len(words) == 0 {
		c.errorf(ruleTok, "rule expression missing")
		return
	}
	r, err := cib.ParseRule(strings.Join(words, " "))
	if err != nil {
		at := ruleTok
		for _, t := range toks[i:] {
			if strings.Contains(err.Error(), "\""+t.Text+"\"") {
				at = t
				break
			}
		}
		c.errorf(at, "%v", err)
		return
	}
	l.Rule = r.String()
}

// lifetimeRule recognises the rule crm resource move|ban write for a lifetime:
// #uname eq NODE and date lt "END".
func lifetimeRule(toks []token) (string, time.Time, bool) {
	if len(toks) != 7 {
		return "", time.Time{}, false
	}
	w := func(i int) string { return toks[i].Text }
	if w(0) != "#uname" || (w(1) != "eq" && w(1) != "string:eq") || w(3) != "and" || w(4) != "date" || w(5) != "lt" || !validNodeName(w(2)) {
		return "", time.Time{}, false
	}
	for _, layout := range []string{lifetimeLayout, "2006-01-02 15:04:05Z07:00", time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, w(6)); err == nil {
			return w(2), t.UTC(), true
		}
	}
	return "", time.Time{}, false
}

// rscRef reads rsc[:role-or-action] and reports resource sets as unsupported.
func rscRef(c *stmtCtx, t token, allowed []string, what string) (string, string, bool) {
	if strings.ContainsAny(t.Text, "()[]{}") {
		c.errorf(t, "resource sets (%q) are not supported yet", t.Text)
		return "", "", false
	}
	rsc, q, _ := strings.Cut(t.Text, ":")
	if !validID(rsc) {
		c.errorf(t, "invalid resource id %q", rsc)
		return "", "", false
	}
	if q != "" && !contains(allowed, q) {
		if s := cib.Suggest(q, allowed); s != "" {
			c.errorf(t, "unknown %s %q (did you mean %q?)", what, q, s)
		} else {
			c.errorf(t, "unknown %s %q (want %s)", what, q, strings.Join(allowed, ", "))
		}
		return "", "", false
	}
	return rsc, q, true
}

func (p *parser) colocation(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 4 {
		c.errorf(kw, "usage: colocation <id> <score>: <rsc>[:<role>] <with-rsc>[:<role>]")
		return
	}
	c.object = "colocation " + toks[0].Text
	if !p.claimID(c, toks[0]) {
		return
	}
	col := cib.Colocation{ID: toks[0].Text}
	sc, ok := scoreTok(toks[1])
	if !ok {
		c.errorf(toks[1], "invalid score %q (want <score>: such as inf:, -inf: or 100:)", toks[1].Text)
		return
	}
	col.Score = sc
	if setsUnsupported(c, toks[2:]) {
		return
	}
	var refs []token
	for _, t := range toks[2:] {
		if k, v, ok := nv(t); ok {
			if k == "node-attribute" && v == "#uname" {
				continue
			}
			c.errorf(t, "colocation attribute %q is not supported yet", k)
			continue
		}
		refs = append(refs, t)
	}
	if len(refs) > 2 {
		c.errorf(refs[2], "resource sets (more than two resources, at %q) are not supported yet", refs[2].Text)
		return
	}
	if len(refs) < 2 {
		c.errorf(toks[len(toks)-1], "two resources are needed")
		return
	}
	var okA, okB bool
	col.Rsc, col.RscRole, okA = rscRef(c, refs[0], roles, "role")
	col.WithRsc, col.WithRole, okB = rscRef(c, refs[1], roles, "role")
	if okA && okB && col.Rsc == col.WithRsc {
		c.errorf(refs[1], "resource %q cannot be colocated with itself", col.Rsc)
	}
	if c.failed {
		return
	}
	p.st.Config.Colocations = append(p.st.Config.Colocations, col)
}

var orderKinds = []string{"Mandatory", "Optional", "Serialize"}
var orderActions = []string{"start", "stop", "promote", "demote"}

func (p *parser) order(c *stmtCtx, kw token, toks []token) {
	if len(toks) < 3 {
		c.errorf(kw, "usage: order <id> [Mandatory|Optional|Serialize:] <first>[:<action>] <then>[:<action>] [symmetrical=<bool>]")
		return
	}
	c.object = "order " + toks[0].Text
	if !p.claimID(c, toks[0]) {
		return
	}
	o := cib.Order{ID: toks[0].Text}
	rest := toks[1:]
	if s, ok := strings.CutSuffix(rest[0].Text, ":"); ok && !rest[0].Quoted {
		kind := ""
		for _, k := range orderKinds {
			if strings.EqualFold(k, s) {
				kind = k
			}
		}
		if kind != "" {
			o.Kind = kind
		} else if sc, err := cib.ParseScore(s); err == nil {
			o.Score = &sc
		} else {
			c.errorf(rest[0], "unknown order kind %q (want Mandatory, Optional, Serialize or a score)", rest[0].Text)
			return
		}
		rest = rest[1:]
	}
	if setsUnsupported(c, rest) {
		return
	}
	var refs []token
	for _, t := range rest {
		if k, v, ok := nv(t); ok {
			if k != "symmetrical" {
				c.errorf(t, "unknown order attribute %q (symmetrical)", k)
				continue
			}
			b, okb := cib.ParseBool(v)
			if !okb {
				c.errorf(t, "symmetrical=%q is not a boolean", v)
				continue
			}
			o.Symmetrical = &b
			continue
		}
		refs = append(refs, t)
	}
	if len(refs) > 2 {
		c.errorf(refs[2], "resource sets (more than two resources, at %q) are not supported yet", refs[2].Text)
		return
	}
	if len(refs) < 2 {
		c.errorf(toks[len(toks)-1], "two resources are needed")
		return
	}
	var okA, okB bool
	o.First, o.FirstAction, okA = rscRef(c, refs[0], orderActions, "action")
	o.Then, o.ThenAction, okB = rscRef(c, refs[1], orderActions, "action")
	if okA && okB && o.First == o.Then {
		c.errorf(refs[1], "resource %q cannot be ordered after itself", o.First)
	}
	if c.failed {
		return
	}
	p.st.Config.Orders = append(p.st.Config.Orders, o)
}

// setsUnsupported reports the first word that opens or closes a resource set.
func setsUnsupported(c *stmtCtx, toks []token) bool {
	for _, t := range toks {
		if !t.Quoted && strings.ContainsAny(t.Text, "()[]{}") {
			c.errorf(t, "resource sets (%q) are not supported yet", t.Text)
			return true
		}
	}
	return false
}
