package acl

import (
	"fmt"
	"strings"
)

// Cond is a compiled "if"/"unless" condition: an OR of ANDs of (possibly negated) ACLs.
type Cond struct {
	unless bool
	ors    [][]condTerm
	text   string
}

type condTerm struct {
	neg    bool
	acl    *ACL
	pred   func(Txn) bool
	l4pred bool // a predefined ACL that needs no request (TRUE, FALSE, LOCALHOST)
}

// String returns the condition as written.
func (c *Cond) String() string { return c.text }

// Eval evaluates the condition; a nil condition is true.
func (c *Cond) Eval(t Txn) bool {
	if c == nil {
		return true
	}
	res := false
	for _, and := range c.ors {
		ok := true
		for _, tm := range and {
			var v bool
			if tm.pred != nil {
				v = tm.pred(t)
			} else {
				v = tm.acl.eval(t)
			}
			if tm.neg {
				v = !v
			}
			if !v {
				ok = false
				break
			}
		}
		if ok {
			res = true
			break
		}
	}
	if c.unless {
		return !res
	}
	return res
}

// SplitCond finds "if" or "unless" in a rule's words and returns the words before it and the condition words
// (including the keyword); cond is nil when the rule has no condition.
func SplitCond(words []string) (before, cond []string) {
	for i, w := range words {
		if w == "if" || w == "unless" {
			return words[:i], words[i:]
		}
	}
	return words, nil
}

// ParseCond compiles words starting with "if" or "unless" against the named ACLs of set.
func ParseCond(words []string, set *Set) (*Cond, error) {
	if len(words) == 0 {
		return nil, nil
	}
	c := &Cond{text: strings.Join(words, " ")}
	switch words[0] {
	case "if":
	case "unless":
		c.unless = true
	default:
		return nil, fmt.Errorf("expects 'if' or 'unless' followed by a condition, got '%s'", words[0])
	}
	rest := words[1:]
	if len(rest) == 0 {
		return nil, fmt.Errorf("missing condition after '%s'", words[0])
	}
	var and []condTerm
	neg := false
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		for len(w) > 1 && w[0] == '!' {
			neg = !neg
			w = w[1:]
		}
		switch {
		case w == "or" || w == "||":
			if len(and) == 0 || neg {
				return nil, fmt.Errorf("'%s' without a term before it", w)
			}
			c.ors = append(c.ors, and)
			and = nil
			continue
		case w == "!":
			neg = !neg
			continue
		case w == "{":
			j := i + 1
			for j < len(rest) && rest[j] != "}" {
				j++
			}
			if j >= len(rest) {
				return nil, fmt.Errorf("missing closing '}' in condition")
			}
			t, err := parseTermAuth(rest[i+1:j], set.Auth)
			if err != nil {
				return nil, fmt.Errorf("anonymous ACL: %w", err)
			}
			if t.f.ref != nil {
				r := *t.f.ref
				if t.f.name == "http_auth_group" {
					r.Groups = t.strs
				}
				set.refs = append(set.refs, r)
			}
			and = append(and, condTerm{neg: neg, acl: &ACL{Name: "anonymous", terms: []*term{t}}})
			neg = false
			i = j
			continue
		case strings.HasPrefix(w, "{") || strings.HasSuffix(w, "}") && w != "}":
			return nil, fmt.Errorf("braces of an anonymous ACL must be separated by spaces ('%s')", w)
		}
		if p, ok := predefined[w]; ok {
			and = append(and, condTerm{neg: neg, pred: p, l4pred: w == "TRUE" || w == "FALSE" || w == "LOCALHOST"})
		} else if a := set.acls[w]; a != nil {
			and = append(and, condTerm{neg: neg, acl: a})
		} else {
			return nil, fmt.Errorf("no such ACL : '%s'", w)
		}
		neg = false
	}
	if len(and) == 0 {
		return nil, fmt.Errorf("condition ends with '%s'", rest[len(rest)-1])
	}
	c.ors = append(c.ors, and)
	return c, nil
}

// ResponseOK reports whether the condition uses only connection-level and response fetches (what haproxy allows in
// http-response rules).
func (c *Cond) ResponseOK() bool {
	return c.uses(func(n string) bool { return l4Fetch(n) || resFetch(n) })
}

// L4Only reports whether the condition uses only connection-level fetches (addresses, ports, ssl_fc), so that it
// may be evaluated where no request is available (tcp-request connection).
func (c *Cond) L4Only() bool { return c.uses(l4Fetch) }

func (c *Cond) uses(allowed func(string) bool) bool {
	if c == nil {
		return true
	}
	for _, and := range c.ors {
		for _, tm := range and {
			if tm.pred != nil {
				if !tm.l4pred {
					return false
				}
				continue
			}
			for _, t := range tm.acl.terms {
				if !allowed(t.f.name) {
					return false
				}
			}
		}
	}
	return true
}

// ResponseOK reports whether the format uses only connection-level and response fetches.
func (fm *Format) ResponseOK() bool {
	for _, p := range fm.parts {
		if p.f != nil && !l4Fetch(p.f.name) && !resFetch(p.f.name) || p.var_ == "H" {
			return false
		}
	}
	return true
}

func resFetch(name string) bool {
	switch name {
	case "status", "res.hdr", "shdr", "res.fhdr", "res.cook", "scook", "set-cookie", "res.ver", "resp_ver":
		return true
	}
	return false
}

func l4Fetch(name string) bool {
	switch name {
	case "src", "dst", "src_port", "dst_port", "ssl_fc", "always_true", "always_false", "str", "int", "bool", "nbsrv",
		"be_conn", "fe_conn", "queue", "fe_name", "be_name", "var", "src_is_local", "dst_is_local", "date", "rand",
		"uuid", "hostname", "env":
		return true
	}
	return false
}
