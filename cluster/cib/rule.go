package cib

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule is a parsed location rule expression (crmsh: `rule -inf: not_defined pingd or pingd number:lte 0`,
// without the score). All expressions are joined by one boolean operator, as in pacemaker's XML.
type Rule struct {
	Op    string // "and" or "or"
	Exprs []Expr
}

// Expr is one rule expression: defined ATTR, not_defined ATTR, or ATTR [TYPE:]CMP VALUE.
type Expr struct {
	Kind  string // defined, not_defined, compare
	Attr  string
	Type  string // string, number, integer, version or "" (pacemaker's default)
	Cmp   string // lt, gt, lte, gte, eq, ne
	Value string
}

var ruleCmps = []string{"lt", "gt", "lte", "gte", "eq", "ne"}

// ParseRule parses a rule expression. Date expressions and nested rules are rejected with an error that
// names the word.
func ParseRule(text string) (*Rule, error) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return nil, fmt.Errorf("empty rule expression")
	}
	r := &Rule{}
	for i := 0; i < len(words); {
		if i > 0 {
			op := words[i]
			if op != "and" && op != "or" {
				return nil, fmt.Errorf("rule: expected \"and\" or \"or\", found %q", op)
			}
			if r.Op != "" && r.Op != op {
				return nil, fmt.Errorf("rule: mixing \"and\" and \"or\" in one rule is not supported (found %q)", op)
			}
			r.Op = op
			i++
			if i == len(words) {
				return nil, fmt.Errorf("rule: expression missing after %q", op)
			}
		}
		w := words[i]
		switch w {
		case "defined", "not_defined":
			if i+1 >= len(words) {
				return nil, fmt.Errorf("rule: attribute name missing after %q", w)
			}
			r.Exprs = append(r.Exprs, Expr{Kind: w, Attr: words[i+1]})
			i += 2
		case "date", "date_spec", "in_range", "(", ")":
			return nil, fmt.Errorf("rule: %q expressions are not supported yet", w)
		default:
			if i+2 >= len(words) {
				return nil, fmt.Errorf("rule: incomplete expression at %q (want ATTR [TYPE:]OP VALUE)", w)
			}
			typ, cmp, ok := strings.Cut(words[i+1], ":")
			if !ok {
				typ, cmp = "", words[i+1]
			}
			if !contains(ruleCmps, cmp) {
				if s := Suggest(cmp, ruleCmps); s != "" {
					return nil, fmt.Errorf("rule: unknown operator %q (did you mean %q?)", words[i+1], s)
				}
				return nil, fmt.Errorf("rule: unknown operator %q (want lt, gt, lte, gte, eq or ne)", words[i+1])
			}
			switch typ {
			case "", "string", "number", "integer", "version":
			default:
				return nil, fmt.Errorf("rule: unknown type %q in %q (want string, number, integer or version)", typ, words[i+1])
			}
			r.Exprs = append(r.Exprs, Expr{Kind: "compare", Attr: w, Type: typ, Cmp: cmp, Value: words[i+2]})
			i += 3
		}
	}
	if r.Op == "" {
		r.Op = "and"
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String prints the rule in crmsh syntax.
func (r *Rule) String() string {
	parts := make([]string, 0, len(r.Exprs))
	for _, e := range r.Exprs {
		switch e.Kind {
		case "defined", "not_defined":
			parts = append(parts, e.Kind+" "+e.Attr)
		default:
			op := e.Cmp
			if e.Type != "" {
				op = e.Type + ":" + e.Cmp
			}
			parts = append(parts, e.Attr+" "+op+" "+e.Value)
		}
	}
	return strings.Join(parts, " "+r.Op+" ")
}

// Eval evaluates the rule against a node's attributes. attrs should include the built-ins #uname (the
// node name), #id and #kind as pacemaker defines them.
func (r *Rule) Eval(attrs map[string]string) bool {
	for _, e := range r.Exprs {
		v := e.Eval(attrs)
		if r.Op == "or" && v {
			return true
		}
		if r.Op != "or" && !v {
			return false
		}
	}
	return r.Op != "or"
}

// Eval evaluates one expression. An undefined attribute satisfies only not_defined and ne.
func (e Expr) Eval(attrs map[string]string) bool {
	v, ok := attrs[e.Attr]
	switch e.Kind {
	case "defined":
		return ok
	case "not_defined":
		return !ok
	}
	if !ok {
		return e.Cmp == "ne"
	}
	c, comparable := compareValues(v, e.Value, e.Type)
	if !comparable {
		return e.Cmp == "ne"
	}
	switch e.Cmp {
	case "lt":
		return c < 0
	case "gt":
		return c > 0
	case "lte":
		return c <= 0
	case "gte":
		return c >= 0
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	}
	return false
}

// compareValues compares a and b as typ; with no type, ordering uses numbers when both are numbers.
func compareValues(a, b, typ string) (int, bool) {
	switch typ {
	case "number", "integer", "":
		fa, errA := strconv.ParseFloat(a, 64)
		fb, errB := strconv.ParseFloat(b, 64)
		if errA == nil && errB == nil {
			switch {
			case fa < fb:
				return -1, true
			case fa > fb:
				return 1, true
			}
			return 0, true
		}
		if typ != "" {
			return 0, false
		}
	case "version":
		return compareVersions(a, b), true
	}
	return strings.Compare(a, b), true
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
