package acl

import (
	"fmt"
	"strconv"
	"strings"
)

// Format is a compiled log-format string as http-request actions take it: literal text, %[fetch] sample
// expressions and the aliases %ci, %cp, %fi, %fp, %H (Host), %% .
type Format struct {
	parts []fmtPart
}

type fmtPart struct {
	lit  string
	f    *fetch
	var_ string
}

// ParseFormat compiles s.
func ParseFormat(s string) (*Format, error) {
	fm := &Format{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			fm.parts = append(fm.parts, fmtPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("log-format '%s': '%%' at the end", s)
		}
		switch n := s[i+1]; {
		case n == '%':
			lit.WriteByte('%')
			i++
		case n == '[':
			j := closingBracket(s, i+2) - i
			if j < 0 {
				return nil, fmt.Errorf("log-format '%s': missing ']'", s)
			}
			expr := s[i+2 : i+j]
			f, m, err := parseExpr(expr)
			if err != nil {
				return nil, fmt.Errorf("log-format '%s': %w", s, err)
			}
			if !fetchForm(m) {
				return nil, fmt.Errorf("log-format '%s': '%s' is an ACL match form, not a sample fetch", s, expr)
			}
			flush()
			fm.parts = append(fm.parts, fmtPart{f: f})
			i += j
		default:
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			v := s[i+1 : j]
			switch v {
			case "ci", "cp", "fi", "fp", "H":
			default:
				return nil, fmt.Errorf("log-format '%s': variable '%%%s' is not supported by Duet yet", s, v)
			}
			flush()
			fm.parts = append(fm.parts, fmtPart{var_: v})
			i = j - 1
		}
	}
	flush()
	return fm, nil
}

// closingBracket returns the index of the ']' that ends the sample expression starting at from, or -1. As in
// haproxy, brackets inside a fetch's or converter's parenthesised arguments (a regex such as regsub(^/[ab]/,/))
// do not end it.
func closingBracket(s string, from int) int {
	depth := 0
	for k := from; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ']':
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// Render evaluates the format for t.
func (fm *Format) Render(t Txn) string {
	var b strings.Builder
	for _, p := range fm.parts {
		switch {
		case p.f != nil:
			if vals, ok := p.f.get(t, p.f); ok && len(vals) > 0 {
				v := vals[0]
				if p.f.name == "hdr" || p.f.name == "req.hdr" {
					v = vals[len(vals)-1] // sample fetch semantics: last occurrence
				}
				b.WriteString(v)
			}
		case p.var_ == "ci":
			b.WriteString(t.Src().Addr().Unmap().String())
		case p.var_ == "cp":
			b.WriteString(strconv.Itoa(int(t.Src().Port())))
		case p.var_ == "fi":
			b.WriteString(t.Dst().Addr().Unmap().String())
		case p.var_ == "fp":
			b.WriteString(strconv.Itoa(int(t.Dst().Port())))
		case p.var_ == "H":
			if h := t.Headers("host"); len(h) > 0 {
				b.WriteString(h[0])
			}
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// Sample is one sample fetch expression (as "stick on" and "balance hash" take): it returns the first value
// (the last occurrence for headers, like haproxy's hdr() sample fetch).
type Sample struct {
	f *fetch
}

// ParseSample compiles a sample fetch expression such as "src", "req.hdr(host)" or "cook(SESSION)".
func ParseSample(expr string) (*Sample, error) {
	f, m, err := parseExpr(expr)
	if err != nil {
		return nil, err
	}
	if !fetchForm(m) {
		return nil, fmt.Errorf("'%s' is an ACL match form, not a sample fetch", expr)
	}
	return &Sample{f: f}, nil
}

// Fetch evaluates the sample; ok is false when it is absent.
func (s *Sample) Fetch(t Txn) (string, bool) {
	vals, ok := s.f.get(t, s.f)
	if !ok || len(vals) == 0 {
		return "", false
	}
	if s.f.name == "hdr" || s.f.name == "req.hdr" {
		return vals[len(vals)-1], true
	}
	return vals[0], true
}

// L4Only reports whether the sample needs no request (usable in TCP mode).
func (s *Sample) L4Only() bool { return l4Fetch(s.f.name) }

// FetchBin evaluates the sample as binary data, as haproxy casts a sample for hashing (balance hash): an IPv4
// address is its 4 bytes, IPv6 its 16, an integer 8 bytes big-endian, a string its bytes.
func (s *Sample) FetchBin(t Txn) ([]byte, bool) {
	txt, ok := s.Fetch(t)
	if !ok {
		return nil, false
	}
	v, ok := fromFetch(txt, s.f.k)
	if !ok {
		return nil, false
	}
	b, ok := cast(v, tBin)
	return []byte(b.s), ok
}

// Refs returns the userlists and backends the format's fetches name.
func (fm *Format) Refs() []Ref {
	var out []Ref
	for _, p := range fm.parts {
		if p.f != nil && p.f.ref != nil {
			out = append(out, *p.f.ref)
		}
	}
	return out
}

// Refs returns the userlist or backend the sample's fetch names.
func (s *Sample) Refs() []Ref {
	if s.f.ref == nil {
		return nil
	}
	return []Ref{*s.f.ref}
}

// Static reports whether the format is plain text: it renders the same for every request (a nil Txn is fine).
func (fm *Format) Static() bool {
	for _, p := range fm.parts {
		if p.f != nil || p.var_ != "" {
			return false
		}
	}
	return true
}

// ResponseOK reports whether the sample uses only connection-level and response fetches.
func (s *Sample) ResponseOK() bool {
	return l4Fetch(s.f.name) || resFetch(s.f.name) || s.f.name == "var"
}
