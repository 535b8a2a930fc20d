package crmsh

import (
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

// Default set ids crmsh uses when the statement names none.
const (
	DefaultPropertySetID    = "cib-bootstrap-options"
	DefaultRscDefaultsSetID = "rsc-options"
	DefaultOpDefaultsSetID  = "op-options"
)

// attrSet reads property, rsc_defaults and op_defaults: [<set_id>:] [$id=<set_id>] name=value...
func (p *parser) attrSet(c *stmtCtx, kw token, toks []token) {
	c.object = kw.Text
	setID := ""
	i := 0
	if len(toks) > 0 && !toks[0].Quoted {
		if id, ok := strings.CutSuffix(toks[0].Text, ":"); ok && !strings.Contains(id, "=") {
			setID = id
			i++
		} else if k, v, ok := nv(toks[0]); ok && k == "$id" {
			setID = v
			i++
		}
	}
	if setID != "" && !validID(setID) {
		c.errorf(toks[0], "invalid set id %q", setID)
	}
	if i >= len(toks) {
		c.errorf(kw, "no name=value given")
		return
	}
	cfg := &p.st.Config
	var m *map[string]string
	var order *[]string
	var idField *string
	switch kw.Text {
	case "property":
		m, order, idField = &cfg.Properties, &cfg.Display.PropertyOrder, &cfg.Display.PropertySetID
	case "rsc_defaults":
		m, order, idField = &cfg.RscDefaults, &cfg.Display.RscDefaultsOrder, &cfg.Display.RscDefaultsSetID
	default:
		m, order, idField = &cfg.OpDefaults, &cfg.Display.OpDefaultsOrder, &cfg.Display.OpDefaultsSetID
	}
	if setID != "" {
		if *idField != "" && *idField != setID {
			c.errorf(toks[0], "a second %s set %q is not supported yet (the first is %q)", kw.Text, setID, *idField)
			return
		}
		*idField = setID
	}
	type pair struct {
		t    token
		k, v string
	}
	var pairs []pair
	for _, t := range toks[i:] {
		if t.Text == "rule" && !t.Quoted {
			c.errorf(t, "rules in %s are not supported yet", kw.Text)
			return
		}
		k, v, ok := nv(t)
		if !ok {
			c.errorf(t, "expected name=value, found %q", t.Text)
			continue
		}
		switch kw.Text {
		case "property":
			canon, err := cib.ValidateProperty(k, v)
			if err != nil {
				c.errorf(t, "%v", err)
				continue
			}
			k = canon
		case "rsc_defaults":
			if err := checkMetaValue(k, v); err != nil {
				c.errorf(t, "%s: %v", k, err)
				continue
			}
			if !contains(resourceMeta, k) && !contains(cloneMeta, k) {
				c.warnf(t, "unknown attribute %q%s", k, suggestion(k, resourceMeta))
			}
		case "op_defaults":
			if k == "timeout" || k == "interval" {
				if _, err := cib.ParseDuration(v); err != nil {
					c.errorf(t, "%s: %v", k, err)
					continue
				}
			}
			if !contains(opDefaultKeys, k) {
				c.warnf(t, "unknown attribute %q%s", k, suggestion(k, opDefaultKeys))
			}
		}
		pairs = append(pairs, pair{t, k, v})
	}
	if c.failed {
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	for _, pr := range pairs {
		if _, dup := (*m)[pr.k]; dup {
			c.warnf(pr.t, "%q given twice; the last value wins", pr.k)
		} else {
			*order = append(*order, pr.k)
		}
		(*m)[pr.k] = pr.v
	}
	if _, seen := p.st.Lines[kw.Text]; !seen {
		p.st.Lines[kw.Text] = kw.Line
	}
}

func suggestion(s string, candidates []string) string {
	if x := cib.Suggest(s, candidates); x != "" {
		return " (did you mean \"" + x + "\"?)"
	}
	return ""
}
