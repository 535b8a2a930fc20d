package crmsh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

// Statements is what a text defines: the objects in text order as a partial CIB, and where each came from.
// Apply it with Update (load update) or Replace (load replace).
type Statements struct {
	File   string
	Config cib.CIB
	// Lines maps an object id (for attribute sets: "property", "rsc_defaults", "op_defaults"; for nodes:
	// "node NAME") to the line of its statement.
	Lines map[string]int
}

// Parse reads crmsh configuration text (the body of `crm configure load update FILE`). It reports every
// problem in one pass; the returned Statements hold what parsed cleanly even when errors occurred, but
// callers must not apply them then (see HasErrors). file only names the source in diagnostics.
func Parse(file, text string) (*Statements, []Diagnostic) {
	p := newParser(file)
	stmts, lexErrs := lex(text)
	for _, e := range lexErrs {
		p.diags = append(p.diags, Diagnostic{File: file, Line: e.Line, Msg: e.Msg})
	}
	for _, s := range stmts {
		p.statement(s)
	}
	return p.st, p.diags
}

// ParseArgs reads one statement given as command-line words, as in `crm configure primitive vip IPaddr2
// params ip=192.0.2.10`: args[0] is the statement keyword and each further arg is one word (the shell has
// already removed the quotes). Diagnostics name the file "<command line>" and line 1.
func ParseArgs(args []string) (*Statements, []Diagnostic) {
	p := newParser("<command line>")
	if len(args) == 0 {
		p.diags = append(p.diags, Diagnostic{File: p.st.File, Line: 1, Msg: "empty command"})
		return p.st, p.diags
	}
	s := statement{Line: 1}
	for _, a := range args {
		s.Toks = append(s.Toks, token{Text: a, Line: 1, Quoted: strings.ContainsAny(a, " \t")})
	}
	p.statement(s)
	return p.st, p.diags
}

type parser struct {
	st    *Statements
	diags []Diagnostic
	ids   map[string]string // object id -> "primitive vip", to catch duplicates within the text
}

func newParser(file string) *parser {
	return &parser{st: &Statements{File: file, Lines: map[string]int{}}, ids: map[string]string{}}
}

// stmtCtx collects the diagnostics of one statement.
type stmtCtx struct {
	p      *parser
	object string
	line   int
	failed bool
}

func (c *stmtCtx) errorf(t token, format string, args ...any) {
	c.failed = true
	c.p.diags = append(c.p.diags, Diagnostic{File: c.p.st.File, Line: t.Line, Object: c.object, Word: t.Text, Msg: fmt.Sprintf(format, args...)})
}

func (c *stmtCtx) warnf(t token, format string, args ...any) {
	c.p.diags = append(c.p.diags, Diagnostic{File: c.p.st.File, Line: t.Line, Severity: Warning, Object: c.object, Word: t.Text, Msg: fmt.Sprintf(format, args...)})
}

var statementKeywords = []string{"node", "primitive", "group", "clone", "ms", "master", "location", "colocation",
	"collocation", "order", "property", "rsc_defaults", "op_defaults"}

var unsupportedStatements = []string{"rsc_template", "fencing_topology", "tag", "alert", "rsc_ticket", "role", "acl_target",
	"acl_group", "user", "bundle", "template"}

func (p *parser) statement(s statement) {
	kw := s.Toks[0]
	c := &stmtCtx{p: p, object: kw.Text, line: s.Line}
	rest := s.Toks[1:]
	switch kw.Text {
	case "node":
		p.node(c, kw, rest)
	case "primitive":
		p.primitive(c, kw, rest)
	case "group":
		p.group(c, kw, rest)
	case "clone", "ms", "master":
		p.clone(c, kw, rest)
	case "location":
		p.location(c, kw, rest)
	case "colocation", "collocation":
		p.colocation(c, kw, rest)
	case "order":
		p.order(c, kw, rest)
	case "property", "rsc_defaults", "op_defaults":
		p.attrSet(c, kw, rest)
	default:
		c.object = ""
		if contains(unsupportedStatements, kw.Text) {
			c.errorf(kw, "%q is not supported yet", kw.Text)
			return
		}
		if sug := cib.Suggest(kw.Text, statementKeywords); sug != "" {
			c.errorf(kw, "unknown statement %q (did you mean %q?)", kw.Text, sug)
			return
		}
		c.errorf(kw, "unknown statement %q", kw.Text)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// claimID checks an object id's syntax and uniqueness within the text.
func (p *parser) claimID(c *stmtCtx, t token) bool {
	if !validID(t.Text) {
		c.errorf(t, "invalid id %q (use letters, digits, '_', '.', '-'; start with a letter or '_')", t.Text)
		return false
	}
	if prev, dup := p.ids[t.Text]; dup {
		c.errorf(t, "id %q is already used by %s", t.Text, prev)
		return false
	}
	p.ids[t.Text] = c.object
	p.st.Lines[t.Text] = t.Line
	return true
}

// validID follows XML's NCName loosely, as pacemaker's schema does.
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127
		if i == 0 && !letter {
			return false
		}
		if !letter && !(r >= '0' && r <= '9') && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// nv splits name=value; ok is false when the word has no '=' or the name is not a plain word.
func nv(t token) (name, value string, ok bool) {
	name, value, ok = strings.Cut(t.Text, "=")
	if !ok || !validName(name) {
		return "", "", false
	}
	return name, value, true
}

// validName accepts attribute names: letters, digits and _ . - : # $ @ +.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r == '_' || r == '.' || r == '-' || r == ':' || r == '#' || r == '$' || r == '@' || r == '+' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127
		if !ok {
			return false
		}
	}
	return true
}

// attrs is an ordered attribute map under construction.
type attrs struct {
	m     map[string]string
	order []string
}

func (a *attrs) set(c *stmtCtx, t token, name, value string) {
	if a.m == nil {
		a.m = map[string]string{}
	}
	if _, dup := a.m[name]; dup {
		c.warnf(t, "attribute %q given twice; the last value wins", name)
	} else {
		a.order = append(a.order, name)
	}
	a.m[name] = value
}

// unknownWord reports a word that is neither a keyword nor name=value, suggesting a keyword.
func unknownWord(c *stmtCtx, t token, keywords []string) {
	if s := cib.Suggest(t.Text, keywords); s != "" {
		c.errorf(t, "unknown keyword %q (did you mean %q?)", t.Text, s)
		return
	}
	c.errorf(t, "unknown keyword %q (expected one of %s, or name=value)", t.Text, strings.Join(keywords, ", "))
}

func (p *parser) node(c *stmtCtx, kw token, toks []token) {
	if len(toks) == 0 {
		c.errorf(kw, "node name missing")
		return
	}
	n := cib.Node{}
	i := 0
	if id, ok := strings.CutSuffix(toks[0].Text, ":"); ok && !toks[0].Quoted {
		v, err := strconv.Atoi(id)
		if err != nil || v < 0 {
			c.errorf(toks[0], "node id %q is not a non-negative integer", id)
			return
		}
		n.ID = v
		i++
	} else if name, v, ok := nv(toks[0]); ok && name == "$id" {
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 {
			c.errorf(toks[0], "node id %q is not a non-negative integer", v)
			return
		}
		n.ID = id
		i++
	}
	if i >= len(toks) {
		c.errorf(kw, "node name missing")
		return
	}
	nameTok := toks[i]
	name, typ, hasType := strings.Cut(nameTok.Text, ":")
	n.Name = name
	c.object = "node " + name
	if !validNodeName(name) {
		c.errorf(nameTok, "invalid node name %q", name)
		return
	}
	if hasType {
		switch typ {
		case "member", "normal":
		case "witness":
			n.Witness = true
		default:
			c.errorf(nameTok, "node type %q is not supported (member or witness)", typ)
		}
	}
	if prev, dup := p.ids["node "+name]; dup {
		c.errorf(nameTok, "node %q is already defined (%s)", name, prev)
		return
	}
	p.ids["node "+name] = c.object
	var a attrs
	section := ""
	for _, t := range toks[i+1:] {
		if !t.Quoted && (t.Text == "attributes" || t.Text == "utilization") {
			section = t.Text
			if section == "utilization" {
				c.errorf(t, "%q is not supported yet", t.Text)
			}
			continue
		}
		k, v, ok := nv(t)
		if !ok {
			unknownWord(c, t, []string{"attributes", "description="})
			continue
		}
		if k == "description" && section == "" {
			n.Description = v
			continue
		}
		a.set(c, t, k, v)
	}
	n.Attributes, n.AttrOrder = a.m, a.order
	if c.failed {
		return
	}
	p.st.Lines["node "+name] = nameTok.Line
	p.st.Config.Nodes = append(p.st.Config.Nodes, n)
}

func validNodeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '\'' || r == '=' || r == ':' || r == '\\' {
			return false
		}
	}
	return true
}
