package acl

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// mapTypes gives a map converter's types from its name: map_<match>[_<output>]. The match decides the input
// (int: an integer, ip: an address, else a string), the output suffix the output (int, ip, else a string).
func mapTypes(name string) (in, out smpType) {
	match, outS := mapParts(name)
	in, out = tStr, tStr
	switch match {
	case "int":
		in = tSint
	case "ip":
		in = tAddr
	}
	switch outS {
	case "int":
		out = tSint
	case "ip":
		out = tAddr
	}
	return in, out
}

func mapParts(name string) (match, out string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(name, "map"), "_")
	match, out, _ = strings.Cut(rest, "_")
	if match == "" {
		match = "str"
	}
	return match, out
}

// mapEntry is one "key value" line of a map file.
type mapEntry struct {
	key, val string
	line     int
	re       *regexp.Regexp
	net      netip.Prefix
	lo, hi   int64
}

// mapFile is a loaded map file, matched as one map_<match> converter does.
type mapFile struct {
	match   string
	entries []mapEntry
}

// parseMap reads a map file's text in haproxy's format: one "key value" a line, the key is the first word and
// the value the rest of the line (leading and trailing blanks removed, may be empty), blank lines and lines
// starting with '#' skipped. Keys must parse for the match (ip: an address or network, int: an integer or lo:hi,
// reg and regm: a regular expression). name is used in errors.
func parseMap(text, name, match string) (*mapFile, error) {
	m := &mapFile{match: match}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimLeft(strings.TrimRight(line, " \t\r"), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		key, val := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			key, val = line[:i], strings.TrimLeft(line[i:], " \t")
		}
		e := mapEntry{key: key, val: val, line: n + 1}
		switch match {
		case "ip":
			p, ok := parseNet(key)
			if !ok {
				return nil, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address at line %d of file '%s'", key, n+1, name)
			}
			e.net = p
		case "int":
			lo, hi, ok := parseRange(key)
			if !ok {
				return nil, fmt.Errorf("'%s' is not a valid integer or range at line %d of file '%s'", key, n+1, name)
			}
			e.lo, e.hi = lo, hi
		case "reg", "regm":
			re, err := regexp.Compile(key)
			if err != nil {
				return nil, fmt.Errorf("regex '%s' is invalid at line %d of file '%s': %v", key, n+1, name, err)
			}
			e.re = re
		}
		m.entries = append(m.entries, e)
	}
	return m, nil
}

func parseNet(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-map[bool]int{true: 96, false: 0}[p.Addr().Is4In6()]).Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	if i := strings.IndexByte(s, '/'); i > 0 {
		a, err := netip.ParseAddr(s[:i])
		if err == nil && a.Is4() {
			if bits, err := parseMask4(s[i+1:]); err == nil {
				return netip.PrefixFrom(a, bits).Masked(), true
			}
		}
	}
	return netip.Prefix{}, false
}

func parseRange(s string) (int64, int64, bool) {
	lo, hi := s, s
	if j := strings.IndexByte(s[min(1, len(s)):], ':'); j >= 0 {
		lo, hi = s[:j+1], s[j+2:]
	}
	a, e1 := strconv.ParseInt(lo, 10, 64)
	z, e2 := strconv.ParseInt(hi, 10, 64)
	if lo == "" {
		a, e1 = -1<<63, nil
	}
	if hi == "" {
		z, e2 = 1<<63-1, nil
	}
	return a, z, e1 == nil && e2 == nil
}

// lookup returns the value for v: exact string (first line wins), longest prefix (beg) and longest network (ip)
// as haproxy's trees find them, the first matching line for the other methods.
func (m *mapFile) lookup(v value) (string, bool) {
	best, bestLen := -1, -1
	for i := range m.entries {
		e := &m.entries[i]
		switch m.match {
		case "str":
			if v.s == e.key {
				return e.val, true
			}
		case "beg":
			if strings.HasPrefix(v.s, e.key) && len(e.key) > bestLen {
				best, bestLen = i, len(e.key)
			}
		case "ip":
			if e.net.Contains(v.ip.Unmap()) && e.net.Bits() > bestLen {
				best, bestLen = i, e.net.Bits()
			}
		case "int":
			if v.n >= e.lo && v.n <= e.hi {
				return e.val, true
			}
		case "sub":
			if strings.Contains(v.s, e.key) {
				return e.val, true
			}
		case "end":
			if strings.HasSuffix(v.s, e.key) {
				return e.val, true
			}
		case "dir":
			if delimited(v.s, e.key, "/") {
				return e.val, true
			}
		case "dom":
			if delimited(v.s, e.key, "/.?") {
				return e.val, true
			}
		case "reg":
			if e.re.MatchString(v.s) {
				return e.val, true
			}
		case "regm":
			if sm := e.re.FindStringSubmatchIndex(v.s); sm != nil {
				return string(e.re.ExpandString(nil, Backrefs(e.val), v.s, sm)), true
			}
		}
	}
	if best >= 0 {
		return m.entries[best].val, true
	}
	return "", false
}

// Backrefs turns haproxy's \1 references into Go's ${1} for regexp.Expand (and escapes a literal '$'); the
// configuration's replace-* rules use it too.
func Backrefs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			b.WriteString("$$")
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// maxMapSize bounds what a map file may hold (a path such as /dev/zero must not hang the configuration check).
const maxMapSize = 64 << 20

// readBounded reads a pattern or map file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open pattern file <%s>", name)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read pattern file <%s>: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("pattern file <%s> is larger than %d bytes", name, limit)
	}
	return b, nil
}

// buildMap compiles map_<match>[_<output>](file[,default]): the file is read now (a missing file is a
// configuration error); no match gives the default, or no sample without one.
func buildMap(name string, a []string) (convFn, error) {
	match, _ := mapParts(name)
	switch match {
	case "str", "beg", "sub", "dir", "dom", "end", "reg", "regm", "ip", "int":
	default:
		return nil, fmt.Errorf("unknown match method '%s'", match)
	}
	_, out := mapTypes(name)
	if a[0] == "" {
		return nil, fmt.Errorf("missing map file name")
	}
	text, err := readBounded(a[0], maxMapSize)
	if err != nil {
		return nil, err
	}
	m, err := parseMap(string(text), a[0], match)
	if err != nil {
		return nil, err
	}
	typed := func(s string) (value, bool) { return cast(value{t: tStr, s: s}, out) }
	for _, e := range m.entries {
		if _, ok := typed(e.val); !ok && out != tStr {
			return nil, fmt.Errorf("'%s' is not a valid %s value at line %d of file '%s'", e.val, out, e.line, a[0])
		}
	}
	var def *value
	if len(a) > 1 {
		d, ok := typed(a[1])
		if !ok {
			return nil, fmt.Errorf("'%s' is not a valid %s default value", a[1], out)
		}
		def = &d
	}
	return func(t Txn, v value) (value, bool) {
		if s, ok := m.lookup(v); ok {
			return typed(s)
		}
		if def != nil {
			return *def, true
		}
		return value{}, false
	}, nil
}
