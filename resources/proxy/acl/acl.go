// Package acl implements haproxy's sample expressions and ACLs: sample fetches with their derived match methods,
// converters with haproxy's types (map files included), flags (-i, -m, -n, -f, --), integer operators, the
// predefined ACLs, conditions ("if"/"unless", implicit AND, "or"/"||", "!", anonymous "{ ... }") and log-format
// strings. Parsing returns errors (map and pattern files are read then); evaluation reads a Txn and has no side
// effect other than Payloader.MoreWanted.
package acl

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/resources/proxy/auth"
)

// Txn is what ACLs look at for one request.
type Txn interface {
	Src() netip.AddrPort
	Dst() netip.AddrPort
	Method() string
	URI() string                  // request-target as received
	Version() string              // "1.0" or "1.1"
	Headers(name string) []string // every value, in order; name case-insensitive
	SSL() bool
	SNI() string
	// Status and ResHeaders describe the response (http-response rules); Status is 0 before a response.
	Status() int
	ResHeaders(name string) []string
}

// match methods
const (
	mFound = "found"
	mBool  = "bool"
	mInt   = "int"
	mIP    = "ip"
	mStr   = "str"
	mSub   = "sub"
	mReg   = "reg"
	mBeg   = "beg"
	mEnd   = "end"
	mDir   = "dir"
	mDom   = "dom"
	mLen   = "len"
	mBin   = "bin" // patterns are hex strings matched against the sample's bytes
)

type kind int

const (
	kStr kind = iota
	kInt
	kIP
	kBool
)

// fetch returns the sample values of a criterion (several for multi-valued headers).
type fetch struct {
	name string
	auth *auth.Registry // http_auth, http_auth_group
	arg  string
	occ  int // header occurrence (0 = all)
	k    kind
	get  func(t Txn, f *fetch) ([]string, bool)
	ref  *Ref // a userlist or backend the fetch names, checked by the configuration
	// convs are the converters after the fetch (already applied by get; k is their output kind).
	convs []*conv
}

// ACL is one named ACL (all its lines ORed) or an anonymous one.
type ACL struct {
	Name  string
	terms []*term
}

// term is one "acl" line: a fetch, a match method and its patterns.
type term struct {
	f        *fetch
	method   string
	icase    bool
	strs     []string
	regs     []*regexp.Regexp
	nets     []netip.Prefix
	ints     []intPat
	boolOnly bool
}

type intPat struct {
	op     string // eq ge gt le lt, or range lo:hi
	lo, hi int64
}

// Set holds a proxy's named ACLs.
type Set struct {
	acls map[string]*ACL
	// Auth answers http_auth() and http_auth_group(); the configuration fills it with its userlists.
	Auth *auth.Registry
	refs []Ref // names referenced by the lines parsed since the last TakeRefs
}

// TakeRefs returns the userlists and backends named by the ACL lines and anonymous ACLs parsed since the last
// call, for the configuration to check.
func (s *Set) TakeRefs() []Ref {
	r := s.refs
	s.refs = nil
	return r
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{acls: map[string]*ACL{}} }

// Clone copies a set (for sections inheriting from named defaults).
func (s *Set) Clone() *Set {
	n := NewSet()
	n.Auth = s.Auth
	for k, v := range s.acls {
		c := *v
		c.terms = append([]*term(nil), v.terms...)
		n.acls[k] = &c
	}
	return n
}

// Add parses one "acl NAME criterion [flags] [operator] [values...]" line (args start at the criterion) and ORs it
// into the ACL NAME.
func (s *Set) Add(name string, args []string) error {
	if name == "" {
		return fmt.Errorf("'acl' expects an ACL name")
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("ACL name '%s' contains invalid character '%c'", name, c)
		}
	}
	if _, ok := predefined[name]; ok {
		return fmt.Errorf("ACL name '%s' is reserved (predefined ACL)", name)
	}
	t, err := parseTermAuth(args, s.Auth)
	if err != nil {
		return err
	}
	if t.f.ref != nil {
		r := *t.f.ref
		r.ACL = name
		if t.f.name == "http_auth_group" {
			r.Groups = t.strs
		}
		s.refs = append(s.refs, r)
	}
	a := s.acls[name]
	if a == nil {
		a = &ACL{Name: name}
		s.acls[name] = a
	}
	a.terms = append(a.terms, t)
	return nil
}

func (a *ACL) eval(t Txn) bool {
	for _, tm := range a.terms {
		if tm.eval(t) {
			return true
		}
	}
	return false
}

// parseTerm parses "criterion [flags] [operator] [values...]".
func parseTerm(args []string) (*term, error) { return parseTermAuth(args, nil) }

func parseTermAuth(args []string, reg *auth.Registry) (*term, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("missing ACL criterion")
	}
	f, method, err := parseExpr(args[0])
	if err != nil {
		return nil, err
	}
	if f.name == "http_auth" || f.name == "http_auth_group" {
		f.auth = reg
	}
	t := &term{f: f, method: method}
	i := 1
	var files []string
	for i < len(args) && strings.HasPrefix(args[i], "-") && len(args[i]) > 1 && !isNumber(args[i]) {
		switch args[i] {
		case "-i":
			t.icase = true
		case "-n":
		case "-m":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'-m' expects a match method")
			}
			m := args[i+1]
			switch m {
			case mFound, mBool, mInt, mIP, mStr, mSub, mReg, mBeg, mEnd, mDir, mDom, mLen, mBin:
			default:
				return nil, fmt.Errorf("unknown match method '%s'", m)
			}
			t.method = m
			i++
		case "-f":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'-f' expects a file name")
			}
			files = append(files, args[i+1])
			i++
		case "-M", "-u":
			return nil, fmt.Errorf("flag '%s' is not supported by Duet yet", args[i])
		case "--":
			i++
			goto values
		default:
			return nil, fmt.Errorf("unknown flag '%s'", args[i])
		}
		i++
	}
values:
	pats := append([]string(nil), args[i:]...)
	for _, fn := range files {
		lines, err := readPatternFile(fn)
		if err != nil {
			return nil, err
		}
		pats = append(pats, lines...)
	}
	if t.method == "" {
		switch f.k {
		case kInt:
			t.method = mInt
		case kIP:
			t.method = mIP
		case kBool:
			t.method = mBool
		default:
			t.method = mStr
		}
	}
	switch t.method {
	case mFound, mBool:
		if len(pats) > 0 {
			return nil, fmt.Errorf("match method '%s' takes no pattern (got '%s')", t.method, pats[0])
		}
	case mInt, mLen:
		for k := 0; k < len(pats); k++ {
			p := pats[k]
			switch p {
			case "eq", "ge", "gt", "le", "lt":
				if k+1 >= len(pats) {
					return nil, fmt.Errorf("operator '%s' expects an integer", p)
				}
				v, err := strconv.ParseInt(pats[k+1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("'%s' is not a valid integer", pats[k+1])
				}
				t.ints = append(t.ints, intPat{op: p, lo: v})
				k++
				continue
			}
			lo, hi := p, p
			if j := strings.IndexByte(p[1:], ':'); j >= 0 {
				lo, hi = p[:j+1], p[j+2:]
			}
			a, e1 := strconv.ParseInt(lo, 10, 64)
			z, e2 := strconv.ParseInt(hi, 10, 64)
			if e1 != nil || e2 != nil {
				return nil, fmt.Errorf("'%s' is not a valid integer or range", p)
			}
			t.ints = append(t.ints, intPat{op: "range", lo: a, hi: z})
		}
		if len(t.ints) == 0 {
			return nil, fmt.Errorf("missing integer value for '%s'", args[0])
		}
	case mIP:
		for _, p := range pats {
			if pr, err := netip.ParsePrefix(p); err == nil {
				t.nets = append(t.nets, pr.Masked())
				continue
			}
			if a, err := netip.ParseAddr(p); err == nil {
				t.nets = append(t.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			// a.b.c.d/255.255.0.0 form
			if j := strings.IndexByte(p, '/'); j > 0 {
				if a, err := netip.ParseAddr(p[:j]); err == nil {
					if m, err := netip.ParseAddr(p[j+1:]); err == nil && m.Is4() {
						bits := 0
						for _, b := range m.AsSlice() {
							for b&0x80 != 0 {
								bits++
								b <<= 1
							}
						}
						t.nets = append(t.nets, netip.PrefixFrom(a, bits).Masked())
						continue
					}
				}
			}
			return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", p)
		}
		if len(t.nets) == 0 {
			return nil, fmt.Errorf("missing IP address for '%s'", args[0])
		}
	case mBin:
		for _, p := range pats {
			b, err := hex.DecodeString(p)
			if err != nil {
				return nil, fmt.Errorf("'%s' is not a valid hex string", p)
			}
			t.strs = append(t.strs, string(b))
		}
		if len(t.strs) == 0 {
			return nil, fmt.Errorf("missing pattern for '%s'", args[0])
		}
	case mReg:
		for _, p := range pats {
			expr := p
			if t.icase {
				expr = "(?i)" + p
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("regex '%s' is invalid: %v", p, err)
			}
			t.regs = append(t.regs, re)
		}
		if len(t.regs) == 0 {
			return nil, fmt.Errorf("missing regex for '%s'", args[0])
		}
	default:
		t.strs = pats
		if len(pats) == 0 {
			return nil, fmt.Errorf("missing pattern for '%s'", args[0])
		}
	}
	return t, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func readPatternFile(fn string) ([]string, error) {
	f, err := os.Open(fn)
	if err != nil {
		return nil, fmt.Errorf("failed to open pattern file <%s>: %w", fn, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func (tm *term) eval(t Txn) bool {
	vals, ok := tm.f.get(t, tm.f)
	switch tm.method {
	case mFound:
		return ok && len(vals) > 0
	case mBool:
		if !ok || len(vals) == 0 {
			return false
		}
		v := vals[0]
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n != 0
		}
		return v != ""
	}
	if !ok {
		return false
	}
	for _, v := range vals {
		if tm.match(v) {
			return true
		}
	}
	return false
}

func (tm *term) match(v string) bool {
	switch tm.method {
	case mInt, mLen:
		var n int64
		if tm.method == mLen {
			n = int64(len(v))
		} else {
			var err error
			n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return false
			}
		}
		for _, p := range tm.ints {
			switch p.op {
			case "eq":
				if n == p.lo {
					return true
				}
			case "ge":
				if n >= p.lo {
					return true
				}
			case "gt":
				if n > p.lo {
					return true
				}
			case "le":
				if n <= p.lo {
					return true
				}
			case "lt":
				if n < p.lo {
					return true
				}
			default:
				if n >= p.lo && n <= p.hi {
					return true
				}
			}
		}
		return false
	case mIP:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range tm.nets {
			if n.Contains(a) {
				return true
			}
		}
		return false
	case mReg:
		for _, re := range tm.regs {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	}
	if tm.method == mBin {
		// the sample as binary: an integer is 8 bytes, an address 4 or 16
		if bv, ok := fromFetch(v, tm.f.k); ok {
			if b, ok := cast(bv, tBin); ok {
				v = b.s
			}
		}
		for _, p := range tm.strs {
			if v == p {
				return true
			}
		}
		return false
	}
	if tm.icase {
		v = strings.ToLower(v)
	}
	for _, p := range tm.strs {
		if tm.icase {
			p = strings.ToLower(p)
		}
		switch tm.method {
		case mStr:
			if v == p {
				return true
			}
		case mSub:
			if strings.Contains(v, p) {
				return true
			}
		case mBeg:
			if strings.HasPrefix(v, p) {
				return true
			}
		case mEnd:
			if strings.HasSuffix(v, p) {
				return true
			}
		case mDir:
			if delimited(v, p, "/") {
				return true
			}
		case mDom:
			if delimited(v, p, "/.?") {
				return true
			}
		}
	}
	return false
}

// delimited reports whether p appears in v as a whole run of delimiter-separated parts.
func delimited(v, p, delims string) bool {
	p = strings.Trim(p, delims)
	if p == "" {
		return false
	}
	isD := func(c byte) bool { return strings.IndexByte(delims, c) >= 0 }
	for i := 0; i+len(p) <= len(v); i++ {
		if v[i:i+len(p)] != p {
			continue
		}
		if (i == 0 || isD(v[i-1])) && (i+len(p) == len(v) || isD(v[i+len(p)])) {
			return true
		}
	}
	return false
}
