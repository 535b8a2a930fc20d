package acl

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// smpType is haproxy's sample type, as converters declare their input and output.
type smpType uint8

const (
	tBool smpType = iota
	tSint
	tAddr
	tStr
	tBin
)

func (t smpType) String() string {
	switch t {
	case tBool:
		return "bool"
	case tSint:
		return "sint"
	case tAddr:
		return "addr"
	case tBin:
		return "bin"
	}
	return "str"
}

// value is one typed sample: s for str and bin, n for bool and sint, ip for addr.
type value struct {
	t  smpType
	s  string
	n  int64
	ip netip.Addr
}

func typeOfKind(k kind) smpType {
	switch k {
	case kInt:
		return tSint
	case kIP:
		return tAddr
	case kBool:
		return tBool
	}
	return tStr
}

func kindOfType(t smpType) kind {
	switch t {
	case tSint:
		return kInt
	case tAddr:
		return kIP
	case tBool:
		return kBool
	}
	return kStr
}

// fromFetch types one value a fetch returned as text.
func fromFetch(s string, k kind) (value, bool) {
	return cast(value{t: tStr, s: s}, typeOfKind(k))
}

// text is the value as the fetch interface carries it (bin as its raw bytes).
func (v value) text() string {
	s, _ := cast(v, tStr)
	return s.s
}

// castable reports whether haproxy accepts, at configuration time, a sample of type from where one of type to
// is expected (sample_casts): booleans never become addresses, binary data never becomes a number or an address.
func castable(from, to smpType) bool {
	switch {
	case from == to:
		return true
	case from == tBool && to == tAddr:
		return false
	case from == tBin && (to == tSint || to == tBool || to == tAddr):
		return false
	}
	return true
}

// cast converts v at run time; ok is false when the value does not convert (the sample is then absent).
func cast(v value, to smpType) (value, bool) {
	if v.t == to {
		return v, true
	}
	switch to {
	case tStr:
		switch v.t {
		case tBool, tSint:
			return value{t: tStr, s: strconv.FormatInt(v.n, 10)}, true
		case tAddr:
			return value{t: tStr, s: v.ip.String()}, true
		case tBin:
			return value{t: tStr, s: v.s}, true
		}
	case tBin:
		switch v.t {
		case tStr:
			return value{t: tBin, s: v.s}, true
		case tBool, tSint:
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(v.n))
			return value{t: tBin, s: string(b[:])}, true
		case tAddr:
			return value{t: tBin, s: string(v.ip.AsSlice())}, true
		}
	case tSint, tBool:
		var n int64
		switch v.t {
		case tBool, tSint:
			n = v.n
		case tStr:
			var ok bool
			if n, ok = leadingInt(v.s); !ok {
				return value{}, false
			}
		case tAddr:
			if !v.ip.Is4() {
				return value{}, false
			}
			n = int64(binary.BigEndian.Uint32(v.ip.AsSlice()))
		default:
			return value{}, false
		}
		if to == tBool && n != 0 {
			n = 1
		}
		return value{t: to, n: n}, true
	case tAddr:
		switch v.t {
		case tStr:
			a, err := netip.ParseAddr(strings.TrimSpace(v.s))
			if err != nil {
				return value{}, false
			}
			return value{t: tAddr, ip: a.Unmap()}, true
		case tSint:
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(v.n))
			return value{t: tAddr, ip: netip.AddrFrom4(b)}, true
		}
	}
	return value{}, false
}

// leadingInt parses an optional sign and the digits that follow, as haproxy's string-to-integer cast does
// ("12abc" is 12); ok is false without digits.
func leadingInt(s string) (int64, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := int64(s[i] - '0')
		if n > (1<<63-1-d)/10 {
			n = 1<<63 - 1
		} else {
			n = n*10 + d
		}
		i++
	}
	if i == start {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// conv is one compiled converter of a sample expression.
type conv struct {
	name    string
	in, out smpType
	fn      convFn
}

// splitExpr cuts a sample expression into its fetch and its converters at the commas outside parentheses and
// quotes. As haproxy, an empty converter between two commas is skipped, a trailing comma is an unknown converter ”.
func splitExpr(expr string) (string, []string) {
	var parts []string
	depth, q, start := 0, byte(0), 0
	for k := 0; k < len(expr); k++ {
		c := expr[k]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				k++
			} else if c == q {
				q = 0
			}
		case c == '\\':
			k++
		case (c == '\'' || c == '"') && depth > 0:
			q = c
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			parts = append(parts, expr[start:k])
			start = k + 1
		}
	}
	parts = append(parts, expr[start:])
	convs := parts[1:]
	out := convs[:0]
	for i, c := range convs {
		if c == "" && i < len(convs)-1 {
			continue
		}
		out = append(out, c)
	}
	return parts[0], out
}

// parseArgs splits a converter's parenthesised arguments at commas. Single quotes protect their contents,
// double quotes too with backslash escapes; outside quotes a backslash keeps the next character from splitting
// (and stays, so that a regex such as \. keeps its meaning).
func parseArgs(s string) ([]string, error) {
	var args []string
	var b strings.Builder
	q := byte(0)
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case q == '\'':
			if c == '\'' {
				q = 0
			} else {
				b.WriteByte(c)
			}
		case q == '"':
			switch {
			case c == '"':
				q = 0
			case c == '\\' && k+1 < len(s):
				k++
				b.WriteByte(s[k])
			default:
				b.WriteByte(c)
			}
		case c == '\'' || c == '"':
			q = c
		case c == '\\' && k+1 < len(s):
			b.WriteByte(c)
			k++
			b.WriteByte(s[k])
		case c == ',':
			args = append(args, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	if q != 0 {
		return nil, fmt.Errorf("unterminated quote in arguments '%s'", s)
	}
	return append(args, b.String()), nil
}

// compileConvs compiles converter words against a fetch returning type in, and returns the chain and its
// output type.
func compileConvs(fetchName string, in smpType, words []string) ([]*conv, smpType, error) {
	var chain []*conv
	cur := in
	for _, w := range words {
		name, argStr, hasArgs := w, "", false
		if i := strings.IndexByte(w, '('); i >= 0 {
			if !strings.HasSuffix(w, ")") {
				return nil, 0, fmt.Errorf("missing closing ')' after arguments to converter '%s'", w[:i])
			}
			name, argStr, hasArgs = w[:i], w[i+1:len(w)-1], true
		}
		def, ok := converters[name]
		if !ok {
			if haproxyConverters[name] {
				return nil, 0, fmt.Errorf("converter '%s' is not supported by Duet yet", name)
			}
			return nil, 0, fmt.Errorf("unknown converter '%s'%s", name, didYouMean(name, converterNames()))
		}
		var args []string
		if hasArgs && argStr != "" {
			var err error
			if args, err = parseArgs(argStr); err != nil {
				return nil, 0, fmt.Errorf("invalid args in converter '%s' : %w", name, err)
			}
		}
		if len(args) > def.max {
			if def.max == 0 {
				return nil, 0, fmt.Errorf("invalid arg 1 in converter '%s' : expected ')' before '%s)'", name, argStr)
			}
			return nil, 0, fmt.Errorf("invalid args in converter '%s' : too many arguments (expects at most %d)", name, def.max)
		}
		if len(args) < def.min && (hasArgs || def.min > 0 && !def.optionalParens) {
			return nil, 0, fmt.Errorf("invalid arg %d in converter '%s' : missing arguments (got %d/%d)", len(args)+1, name, len(args), def.min)
		}
		in, out := def.in, def.out
		if def.types != nil {
			in, out = def.types(name)
		}
		if !castable(cur, in) {
			return nil, 0, fmt.Errorf("converter '%s' cannot be applied", name)
		}
		fn, err := def.build(name, args)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid args in converter '%s' : %w", name, err)
		}
		chain = append(chain, &conv{name: name, in: in, out: out, fn: fn})
		cur = out
	}
	return chain, cur, nil
}

// apply runs v through the chain.
func apply(t Txn, chain []*conv, v value) (value, bool) {
	for _, c := range chain {
		var ok bool
		if v, ok = cast(v, c.in); !ok {
			return value{}, false
		}
		if v, ok = c.fn(t, v); !ok {
			return value{}, false
		}
	}
	return v, true
}

// withConverters wraps f so that every value it returns goes through the chain; values the chain drops are
// absent.
func withConverters(f *fetch, chain []*conv, out smpType) {
	get, k := f.get, f.k
	f.convs = chain
	f.k = kindOfType(out)
	f.get = func(t Txn, f *fetch) ([]string, bool) {
		vals, ok := get(t, f)
		if !ok {
			return nil, false
		}
		res := make([]string, 0, len(vals))
		for _, s := range vals {
			v, ok := fromFetch(s, k)
			if !ok {
				continue
			}
			if v, ok = apply(t, chain, v); ok {
				res = append(res, v.text())
			}
		}
		return res, len(res) > 0
	}
}

// parseExpr parses a sample expression: a fetch and its converters. method is the derived ACL match method of
// the fetch keyword (hdr_beg ...), which converters may not follow.
func parseExpr(expr string) (*fetch, string, error) {
	fe, words := splitExpr(expr)
	f, m, err := parseCriterion(fe)
	if err != nil || len(words) == 0 {
		return f, m, err
	}
	if !fetchForm(m) {
		return nil, "", fmt.Errorf("converters may only follow a sample fetch, not the ACL keyword '%s' in '%s'", fe[:strings.IndexAny(fe+"(", "(")], expr)
	}
	chain, out, err := compileConvs(f.name, typeOfKind(f.k), words)
	if err != nil {
		return nil, "", fmt.Errorf("failed to parse sample expression <%s> : %w", expr, err)
	}
	withConverters(f, chain, out)
	return f, "", nil
}

// didYouMean returns ", did you mean 'x' ?" for the closest of names within a small edit distance, or "".
func didYouMean(s string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" || bestD > 2 && bestD*2 > len(s) {
		return ""
	}
	return fmt.Sprintf(", did you mean '%s' ?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fetchForm reports whether a criterion with derived method m is also a sample fetch: the plain fetch, or the
// _cnt, _val and _ip forms (hdr_cnt, cook_val, hdr_ip ...), which return typed values.
func fetchForm(m string) bool { return m == "" || m == mInt || m == mIP }
