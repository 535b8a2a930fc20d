package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is the haproxy version Duet's configuration dialect follows; version_atleast() compares with it.
const Version = "2.6.12"

// features are the names feature() reports as built in.
var features = map[string]bool{"EPOLL": true, "OPENSSL": true, "LINUX_SPLICE": true, "TPROXY": true,
	"LINUX_TPROXY": true, "GETADDRINFO": true, "THREAD": true, "POLL": true, "CRYPT_H": true}

// EvalCond evaluates the condition of a .if or .elif line (its words after the directive), with haproxy
// 2.6's grammar: integers, defined(), feature(), streq(), strneq(), version_atleast(), version_before(),
// '!', parentheses, '&&' binding tighter than '||'. env answers defined().
func EvalCond(words []string, env Env) (bool, error) {
	p := &condParser{s: strings.Join(words, " "), env: env}
	p.skip()
	if p.i >= len(p.s) {
		return false, nil
	}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	p.skip()
	if p.i < len(p.s) {
		return false, fmt.Errorf("unparsable conditional expression '%s' near '%s'", p.s, p.s[p.i:])
	}
	return v, nil
}

type condParser struct {
	s   string
	i   int
	env Env
}

func (p *condParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *condParser) or() (bool, error) {
	v, err := p.and()
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "||") {
			return v, nil
		}
		p.i += 2
		w, err := p.and()
		if err != nil {
			return false, err
		}
		v = v || w
	}
}

func (p *condParser) and() (bool, error) {
	v, err := p.term()
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "&&") {
			return v, nil
		}
		p.i += 2
		w, err := p.term()
		if err != nil {
			return false, err
		}
		v = v && w
	}
}

func (p *condParser) term() (bool, error) {
	p.skip()
	if p.i >= len(p.s) {
		return false, fmt.Errorf("missing term in conditional expression '%s'", p.s)
	}
	switch c := p.s[p.i]; {
	case c == '!':
		p.i++
		v, err := p.term()
		return !v, err
	case c == '(':
		p.i++
		v, err := p.or()
		if err != nil {
			return false, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return false, fmt.Errorf("missing ')' in conditional expression '%s'", p.s)
		}
		p.i++
		return v, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return false, fmt.Errorf("invalid number in conditional expression '%s'", p.s)
		}
		p.i = j
		return n != 0, nil
	}
	j := p.i
	for j < len(p.s) && (p.s[j] == '_' || (p.s[j] >= 'a' && p.s[j] <= 'z')) {
		j++
	}
	name := p.s[p.i:j]
	if j >= len(p.s) || p.s[j] != '(' {
		return false, fmt.Errorf("unknown term '%s' in conditional expression '%s'", p.s[p.i:], p.s)
	}
	end := strings.IndexByte(p.s[j:], ')')
	if end < 0 {
		return false, fmt.Errorf("missing ')' after '%s' in conditional expression", name)
	}
	args := strings.Split(p.s[j+1:j+end], ",")
	p.i = j + end + 1
	want := map[string]int{"defined": 1, "feature": 1, "streq": 2, "strneq": 2, "version_atleast": 1, "version_before": 1}
	n, ok := want[name]
	if !ok {
		return false, fmt.Errorf("unknown conditional predicate '%s'", name)
	}
	if len(args) != n {
		return false, fmt.Errorf("predicate '%s' expects %d argument(s)", name, n)
	}
	switch name {
	case "defined":
		if p.env == nil {
			return false, nil
		}
		_, ok := p.env(args[0])
		return ok, nil
	case "feature":
		return features[args[0]], nil
	case "streq":
		return args[0] == args[1], nil
	case "strneq":
		return args[0] != args[1], nil
	case "version_atleast":
		return compareVersion(Version, args[0]) >= 0, nil
	default:
		return compareVersion(Version, args[0]) < 0, nil
	}
}

// compareVersion compares dotted versions numerically (missing parts count as 0; trailing text is ignored).
func compareVersion(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for k := 0; k < max(len(pa), len(pb)); k++ {
		var x, y int
		if k < len(pa) {
			x = leadingInt(pa[k])
		}
		if k < len(pb) {
			y = leadingInt(pb[k])
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

func leadingInt(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<20; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
