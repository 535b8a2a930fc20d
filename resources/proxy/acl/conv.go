package acl

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/duet-ha/duet/resources/proxy/hashfn"
)

// convDef describes one converter: its input and output types, how many arguments it takes and how it compiles
// them. types, when set, derives the types from the name (the map_* family).
type convDef struct {
	in, out        smpType
	min, max       int
	optionalParens bool // haproxy accepts the name alone although arguments are mandatory (add, sub ...)
	types          func(name string) (in, out smpType)
	build          func(name string, args []string) (convFn, error)
}

type convFn = func(Txn, value) (value, bool)

func simple(fn convFn) func(string, []string) (convFn, error) {
	return func(string, []string) (convFn, error) { return fn, nil }
}

func strConv(fn func(string) (string, bool)) func(string, []string) (convFn, error) {
	return simple(func(t Txn, v value) (value, bool) {
		s, ok := fn(v.s)
		return value{t: tStr, s: s}, ok
	})
}

// converters are the converters Duet implements, with haproxy 2.6's types (haproxy -dKcnv).
var converters = map[string]convDef{
	"lower": {in: tStr, out: tStr, build: strConv(func(s string) (string, bool) { return asciiCase(s, false), true })},
	"upper": {in: tStr, out: tStr, build: strConv(func(s string) (string, bool) { return asciiCase(s, true), true })},
	"ltrim": {in: tStr, out: tStr, min: 1, max: 1, build: func(_ string, a []string) (convFn, error) {
		return strConv(func(s string) (string, bool) { return strings.TrimLeft(s, a[0]), true })("", nil)
	}},
	"rtrim": {in: tStr, out: tStr, min: 1, max: 1, build: func(_ string, a []string) (convFn, error) {
		return strConv(func(s string) (string, bool) { return strings.TrimRight(s, a[0]), true })("", nil)
	}},
	"cut_crlf": {in: tStr, out: tStr, build: strConv(func(s string) (string, bool) {
		if i := strings.IndexAny(s, "\r\n"); i >= 0 {
			s = s[:i]
		}
		return s, true
	})},
	"regsub": {in: tStr, out: tStr, min: 2, max: 3, build: buildRegsub},
	"field":  {in: tStr, out: tStr, min: 2, max: 3, build: buildField},
	"word":   {in: tStr, out: tStr, min: 2, max: 3, build: buildField},
	"bytes":  {in: tBin, out: tBin, min: 1, max: 2, build: buildBytes},
	"length": {in: tStr, out: tSint, build: simple(func(t Txn, v value) (value, bool) { return value{t: tSint, n: int64(len(v.s))}, true })},
	"hex": {in: tBin, out: tStr, build: simple(func(t Txn, v value) (value, bool) {
		return value{t: tStr, s: strings.ToUpper(hex.EncodeToString([]byte(v.s)))}, true
	})},
	"hex2i":     {in: tStr, out: tSint, build: simple(hex2i)},
	"base64":    {in: tBin, out: tStr, build: simple(b64enc(base64.StdEncoding))},
	"ub64enc":   {in: tBin, out: tStr, build: simple(b64enc(base64.RawURLEncoding))},
	"b64dec":    {in: tStr, out: tBin, build: simple(b64dec(base64.StdEncoding))},
	"ub64dec":   {in: tStr, out: tBin, build: simple(b64dec(base64.RawURLEncoding))},
	"url_dec":   {in: tStr, out: tStr, max: 1, build: buildURLDec},
	"json":      {in: tStr, out: tStr, max: 1, build: buildJSON},
	"ipmask":    {in: tAddr, out: tAddr, min: 1, max: 2, build: buildIPMask},
	"concat":    {in: tStr, out: tStr, max: 3, build: buildConcat},
	"utime":     {in: tSint, out: tStr, min: 1, max: 2, build: buildTime},
	"ltime":     {in: tSint, out: tStr, min: 1, max: 2, build: buildTime},
	"url_enc":   {in: tStr, out: tStr, max: 1, build: buildURLEnc},
	"host_only": {in: tStr, out: tStr, build: strConv(hostOnly)},
	"port_only": {in: tStr, out: tSint, build: simple(portOnly)},
	"iif":       {in: tBool, out: tStr, min: 2, max: 2, build: buildIif},
	"add":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"sub":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"mul":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"div":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"mod":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"and":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"or":        {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"xor":       {in: tSint, out: tSint, min: 1, max: 1, optionalParens: true, build: buildArith},
	"neg":       {in: tSint, out: tSint, build: intConv(func(n int64) int64 { return -n })},
	"cpl":       {in: tSint, out: tSint, build: intConv(func(n int64) int64 { return ^n })},
	"bool":      {in: tSint, out: tBool, build: boolConv(func(n int64) bool { return n != 0 })},
	"not":       {in: tSint, out: tBool, build: boolConv(func(n int64) bool { return n == 0 })},
	"odd":       {in: tSint, out: tBool, build: boolConv(func(n int64) bool { return n&1 == 1 })},
	"even":      {in: tSint, out: tBool, build: boolConv(func(n int64) bool { return n&1 == 0 })},
	"djb2":      {in: tBin, out: tSint, max: 1, build: buildHash(hashfn.DJB2)},
	"sdbm":      {in: tBin, out: tSint, max: 1, build: buildHash(hashfn.SDBM)},
	"wt6":       {in: tBin, out: tSint, max: 1, build: buildHash(hashfn.WT6)},
	"crc32":     {in: tBin, out: tSint, max: 1, build: buildHash(hashfn.CRC32)},
	"crc32c": {in: tBin, out: tSint, max: 1, build: buildHash(func(b []byte) uint32 {
		return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	})},
	"sha1": {in: tBin, out: tBin, build: simple(func(t Txn, v value) (value, bool) {
		h := sha1.Sum([]byte(v.s))
		return value{t: tBin, s: string(h[:])}, true
	})},
	"sha2":          {in: tBin, out: tBin, max: 1, build: buildSHA2},
	"strcmp":        {in: tStr, out: tSint, min: 1, max: 1, build: buildVarCmp},
	"map":           mapDef,
	"map_str":       mapDef,
	"map_beg":       mapDef,
	"map_sub":       mapDef,
	"map_dir":       mapDef,
	"map_dom":       mapDef,
	"map_end":       mapDef,
	"map_reg":       mapDef,
	"map_regm":      mapDef,
	"map_ip":        mapDef,
	"map_int":       mapDef,
	"secure_memcmp": {in: tBin, out: tBool, min: 1, max: 1, build: buildVarCmp},
}

func init() {
	// the map_<match>_<output> forms
	for _, m := range []string{"str", "beg", "sub", "dir", "dom", "end", "reg", "ip", "int"} {
		converters["map_"+m+"_int"] = mapDef
		converters["map_"+m+"_ip"] = mapDef
	}
}

var mapDef = convDef{min: 1, max: 2, types: mapTypes, build: buildMap}

func converterNames() []string {
	names := make([]string, 0, len(converters))
	for n := range converters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// buildVarCmp compiles strcmp(var) (the sign of comparing the input with the variable, as strcmp(3)) and
// secure_memcmp(var) (equality); a missing variable drops the sample.
func buildVarCmp(name string, a []string) (convFn, error) {
	if err := CheckVarName(a[0]); err != nil {
		return nil, err
	}
	return func(t Txn, v value) (value, bool) {
		x, ok := varOf(t, a[0])
		if !ok {
			return value{}, false
		}
		if name == "secure_memcmp" {
			b, _ := cast(x, tBin)
			return value{t: tBool, n: map[bool]int64{true: 1, false: 0}[b.s == v.s]}, true
		}
		s, _ := cast(x, tStr)
		return value{t: tSint, n: int64(strings.Compare(v.s, s.s))}, true
	}, nil
}

// isVarName reports whether s names a variable (proc., sess., txn., req. or res. scope).
func isVarName(s string) bool {
	for _, p := range []string{"proc.", "sess.", "txn.", "req.", "res."} {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return true
		}
	}
	return false
}

func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		if upper && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		} else if !upper && c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func intConv(fn func(int64) int64) func(string, []string) (convFn, error) {
	return simple(func(t Txn, v value) (value, bool) { return value{t: tSint, n: fn(v.n)}, true })
}

func boolConv(fn func(int64) bool) func(string, []string) (convFn, error) {
	return simple(func(t Txn, v value) (value, bool) {
		if fn(v.n) {
			return value{t: tBool, n: 1}, true
		}
		return value{t: tBool}, true
	})
}

// buildArith compiles add/sub/mul/div/mod/and/or/xor with an integer argument; haproxy saturates on overflow,
// divides by zero into the largest integer and takes a modulo by zero as 0.
func buildArith(name string, a []string) (convFn, error) {
	var k int64
	if len(a) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(a[0]), 10, 64)
		if err != nil {
			if !isVarName(a[0]) {
				return nil, fmt.Errorf("expects an integer or a variable name")
			}
			if err := CheckVarName(a[0]); err != nil {
				return nil, err
			}
			return varArith(name, a[0])
		}
		k = n
	}
	op := func(n int64) int64 {
		switch name {
		case "add":
			return satAdd(n, k)
		case "sub":
			if k == math.MinInt64 {
				return satAdd(satAdd(n, math.MaxInt64), 1)
			}
			return satAdd(n, -k)
		case "mul":
			return satMul(n, k)
		case "div":
			if k == 0 {
				return math.MaxInt64
			}
			if n == math.MinInt64 && k == -1 {
				return math.MaxInt64
			}
			return n / k
		case "mod":
			if k == 0 || k == -1 {
				return 0
			}
			return n % k
		case "and":
			return n & k
		case "or":
			return n | k
		}
		return n ^ k
	}
	return intConv(op)(name, a)
}

// varArith is an arithmetic converter whose operand is a variable (read at each evaluation; a missing or
// non-integer variable drops the sample).
func varArith(name, vname string) (convFn, error) {
	return func(t Txn, v value) (value, bool) {
		x, ok := varOf(t, vname)
		if !ok {
			return value{}, false
		}
		if x, ok = cast(x, tSint); !ok {
			return value{}, false
		}
		fn, _ := buildArith(name, []string{strconv.FormatInt(x.n, 10)})
		return fn(t, v)
	}, nil
}

func satAdd(a, b int64) int64 {
	s := a + b
	if a > 0 && b > 0 && s < 0 {
		return math.MaxInt64
	}
	if a < 0 && b < 0 && s >= 0 {
		return math.MinInt64
	}
	return s
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		if (a < 0) != (b < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return p
}

func buildHash(h func([]byte) uint32) func(string, []string) (convFn, error) {
	return func(name string, a []string) (convFn, error) {
		aval := false
		if len(a) > 0 && a[0] != "" {
			n, err := strconv.Atoi(a[0])
			if err != nil {
				return nil, fmt.Errorf("failed to parse '%s' as type 'integer'", a[0])
			}
			aval = n != 0
		}
		return func(t Txn, v value) (value, bool) {
			x := h([]byte(v.s))
			if aval {
				x = hashfn.FullHash(x)
			}
			return value{t: tSint, n: int64(x)}, true
		}, nil
	}
}

func buildSHA2(_ string, a []string) (convFn, error) {
	bits := 256
	if len(a) > 0 && a[0] != "" {
		n, err := strconv.Atoi(a[0])
		if err != nil || n != 224 && n != 256 && n != 384 && n != 512 {
			return nil, fmt.Errorf("Unsupported number of bits: '%s'", a[0])
		}
		bits = n
	}
	return func(t Txn, v value) (value, bool) {
		var out []byte
		switch bits {
		case 224:
			h := sha256.Sum224([]byte(v.s))
			out = h[:]
		case 256:
			h := sha256.Sum256([]byte(v.s))
			out = h[:]
		case 384:
			h := sha512.Sum384([]byte(v.s))
			out = h[:]
		default:
			h := sha512.Sum512([]byte(v.s))
			out = h[:]
		}
		return value{t: tBin, s: string(out)}, true
	}, nil
}

func hex2i(_ Txn, v value) (value, bool) {
	s := v.s
	if s == "" || len(s)%2 != 0 {
		return value{}, false
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return value{}, false
	}
	return value{t: tSint, n: int64(n)}, true
}

func b64enc(enc *base64.Encoding) convFn {
	return func(t Txn, v value) (value, bool) { return value{t: tStr, s: enc.EncodeToString([]byte(v.s))}, true }
}

func b64dec(enc *base64.Encoding) convFn {
	return func(t Txn, v value) (value, bool) {
		b, err := enc.DecodeString(v.s)
		if err != nil {
			return value{}, false
		}
		return value{t: tBin, s: string(b)}, true
	}
}

// buildRegsub compiles regsub(regex,subst[,flags]): flags i (ignore case) and g (every match); \1 to \9 in
// subst are the groups.
func buildRegsub(_ string, a []string) (convFn, error) {
	global, expr := false, a[0]
	if len(a) > 2 {
		for _, f := range a[2] {
			switch f {
			case 'i':
				expr = "(?i)" + expr
			case 'g':
				global = true
			default:
				return nil, fmt.Errorf("invalid regex flag '%c', only 'i' and 'g' are supported", f)
			}
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regex '%s' is invalid: %v", a[0], err)
	}
	subst := a[1]
	return func(t Txn, v value) (value, bool) {
		s := v.s
		var b strings.Builder
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, map[bool]int{true: -1, false: 1}[global]) {
			b.WriteString(s[last:m[0]])
			for k := 0; k < len(subst); k++ {
				c := subst[k]
				if c == '\\' && k+1 < len(subst) && subst[k+1] >= '0' && subst[k+1] <= '9' {
					g := int(subst[k+1] - '0')
					if 2*g+1 < len(m) && m[2*g] >= 0 {
						b.WriteString(s[m[2*g]:m[2*g+1]])
					}
					k++
					continue
				}
				b.WriteByte(c)
			}
			last = m[1]
		}
		b.WriteString(s[last:])
		return value{t: tStr, s: b.String()}, true
	}, nil
}

// buildField compiles field(index,delims[,count]) and word(...): fields are separated by any delimiter
// character; words are the non-empty fields. A negative index counts from the end; count (0 = all) takes that
// many fields from the index onwards (backwards for a negative index), with the delimiters between them.
func buildField(name string, a []string) (convFn, error) {
	idx, err := strconv.Atoi(a[0])
	if err != nil {
		return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 1", a[0])
	}
	if idx == 0 {
		return nil, fmt.Errorf("Unexpected value 0 for index")
	}
	if a[1] == "" {
		return nil, fmt.Errorf("empty separators list")
	}
	count := 1
	if len(a) > 2 {
		if count, err = strconv.Atoi(a[2]); err != nil || count < 0 {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 3", a[2])
		}
	}
	delims, words := a[1], name == "word"
	return func(t Txn, v value) (value, bool) {
		s := v.s
		type span struct{ a, b int }
		var spans []span
		start := 0
		for k := 0; k <= len(s); k++ {
			if k == len(s) || strings.IndexByte(delims, s[k]) >= 0 {
				if !words || k > start {
					spans = append(spans, span{start, k})
				}
				start = k + 1
			}
		}
		n := len(spans)
		if idx > 0 {
			if idx > n {
				return value{}, false
			}
			first := idx - 1
			end := len(s)
			if count > 0 && first+count <= n {
				end = spans[first+count-1].b
			}
			return value{t: tStr, s: s[spans[first].a:end]}, true
		}
		if -idx > n {
			return value{}, false
		}
		last := n + idx
		begin := 0
		if count > 0 && last-count+1 >= 0 {
			begin = spans[last-count+1].a
		}
		return value{t: tStr, s: s[begin:spans[last].b]}, true
	}, nil
}

func buildBytes(_ string, a []string) (convFn, error) {
	off, err := strconv.Atoi(a[0])
	if err != nil {
		return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 1", a[0])
	}
	ln := -1
	if len(a) > 1 {
		if ln, err = strconv.Atoi(a[1]); err != nil {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 2", a[1])
		}
	}
	return func(t Txn, v value) (value, bool) {
		s := v.s
		if off < 0 || off >= len(s) || ln == 0 || ln < -1 {
			return value{}, false
		}
		s = s[off:]
		if ln > 0 && ln < len(s) {
			s = s[:ln]
		}
		return value{t: tBin, s: s}, true
	}, nil
}

// buildURLDec compiles url_dec([in_form]): %XX decoded; '+' is a space after a '?', or everywhere with a
// non-zero in_form. A bad escape drops the sample.
func buildURLDec(_ string, a []string) (convFn, error) {
	form := false
	if len(a) > 0 && a[0] != "" {
		n, err := strconv.Atoi(a[0])
		if err != nil {
			return nil, fmt.Errorf("failed to parse '%s' as type 'integer' at position 1", a[0])
		}
		form = n != 0
	}
	return func(t Txn, v value) (value, bool) {
		s, query := v.s, form
		b := make([]byte, 0, len(s))
		for k := 0; k < len(s); k++ {
			switch c := s[k]; {
			case c == '?':
				query = true
				b = append(b, c)
			case c == '+' && query:
				b = append(b, ' ')
			case c == '%':
				if k+2 >= len(s) {
					return value{}, false
				}
				x, err := strconv.ParseUint(s[k+1:k+3], 16, 8)
				if err != nil {
					return value{}, false
				}
				b = append(b, byte(x))
				k += 2
			default:
				b = append(b, c)
			}
		}
		return value{t: tStr, s: string(b)}, true
	}, nil
}

// buildJSON compiles json([input-code]): quotes, backslash, slash and control characters escaped; in ascii mode
// (the default) every byte above 0x7f is \u00XX, in the utf8 modes a valid sequence is its code point and an
// invalid one drops the sample (utf8, utf8p) or is skipped (utf8s, utf8ps).
func buildJSON(_ string, a []string) (convFn, error) {
	mode := "ascii"
	if len(a) > 0 && a[0] != "" {
		mode = a[0]
	}
	switch mode {
	case "ascii", "utf8", "utf8s", "utf8p", "utf8ps":
	default:
		return nil, fmt.Errorf("Unexpected input code type. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'")
	}
	return func(t Txn, v value) (value, bool) {
		s := v.s
		var b strings.Builder
		for k := 0; k < len(s); {
			c := s[k]
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '/':
				b.WriteString(`\/`)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f || c >= 0x80 && mode == "ascii":
				fmt.Fprintf(&b, `\u%04x`, c)
			case c >= 0x80:
				r, size := utf8.DecodeRuneInString(s[k:])
				if r == utf8.RuneError && size <= 1 {
					if mode == "utf8" || mode == "utf8p" {
						return value{}, false
					}
					k++
					continue
				}
				fmt.Fprintf(&b, `\u%04x`, r)
				k += size
				continue
			default:
				b.WriteByte(c)
			}
			k++
		}
		return value{t: tStr, s: b.String()}, true
	}, nil
}

// buildIPMask compiles ipmask(v4mask[,v6mask]): an IPv6 address without a v6mask drops the sample.
func buildIPMask(_ string, a []string) (convFn, error) {
	v4, err := parseMask4(a[0])
	if err != nil {
		return nil, fmt.Errorf("failed to parse '%s' as type 'IPv4 mask' at position 1", a[0])
	}
	v6 := -1
	if len(a) > 1 {
		n, err := strconv.Atoi(a[1])
		if err != nil || n < 0 || n > 128 {
			return nil, fmt.Errorf("failed to parse '%s' as type 'IPv6 mask' at position 2", a[1])
		}
		v6 = n
	}
	return func(t Txn, v value) (value, bool) {
		ip := v.ip.Unmap()
		bits := v4
		if ip.Is6() {
			if v6 < 0 {
				return value{}, false
			}
			bits = v6
		}
		p, err := ip.Prefix(bits)
		if err != nil {
			return value{}, false
		}
		return value{t: tAddr, ip: p.Addr()}, true
	}, nil
}

func parseMask4(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 32 {
			return 0, fmt.Errorf("out of range")
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("not a mask")
	}
	b := m.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for x&0x80000000 != 0 {
		n++
		x <<= 1
	}
	if x != 0 {
		return 0, fmt.Errorf("not contiguous")
	}
	return n, nil
}

func buildConcat(_ string, a []string) (convFn, error) {
	var pre, post string
	if len(a) > 0 {
		pre = a[0]
	}
	vname := ""
	if len(a) > 1 && a[1] != "" {
		if err := CheckVarName(a[1]); err != nil {
			return nil, err
		}
		vname = a[1]
	}
	if len(a) > 2 {
		post = a[2]
	}
	return func(t Txn, v value) (value, bool) {
		mid := ""
		if vname != "" {
			if x, ok := varOf(t, vname); ok {
				mid = x.text()
			}
		}
		return value{t: tStr, s: v.s + pre + mid + post}, true
	}, nil
}

func buildIif(_ string, a []string) (convFn, error) {
	return func(t Txn, v value) (value, bool) {
		if v.n != 0 {
			return value{t: tStr, s: a[0]}, true
		}
		return value{t: tStr, s: a[1]}, true
	}, nil
}

// hostOnly strips the port of a host[:port] ("[::1]:8080" gives "[::1]").
func hostOnly(s string) (string, bool) {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			return s[:i+1], true
		}
		return s, true
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], true
	}
	return s, true
}

func portOnly(_ Txn, v value) (value, bool) {
	s := v.s
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return value{}, false
		}
		s = s[i+1:]
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return value{}, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return value{}, false
	}
	return value{t: tSint, n: int64(n)}, true
}

// haproxyConverters are the converters haproxy 2.6 knows (haproxy -dKcnv): those Duet lacks are refused as
// not supported rather than unknown.
var haproxyConverters = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`add_item aes_gcm_dec be2dec be2hex capture-req capture-res debug digest
		fix_is_valid fix_tag_value hmac htonl http_date in_table json_query jwt_header_query jwt_payload_query
		jwt_verify language mqtt_field_value mqtt_is_valid nbsrv protobuf set-var srv_queue
		table_bytes_in_rate table_bytes_out_rate table_conn_cnt table_conn_cur table_conn_rate table_expire
		table_gpc table_gpc0 table_gpc0_rate table_gpc1 table_gpc1_rate table_gpc_rate table_gpt table_gpt0
		table_http_err_cnt table_http_err_rate table_http_fail_cnt table_http_fail_rate table_http_req_cnt
		table_http_req_rate table_idle table_kbytes_in table_kbytes_out table_server_id table_sess_cnt
		table_sess_rate table_trackers ungrpc unset-var xxh3 xxh32 xxh64`) {
		m[n] = true
	}
	return m
}()

// buildURLEnc compiles url_enc([query]): every byte but letters, digits and "-._~" becomes %XX (upper case).
func buildURLEnc(_ string, a []string) (convFn, error) {
	if len(a) > 0 && a[0] != "" && a[0] != "query" {
		return nil, fmt.Errorf("Unexpected encode type. Allowed value is 'query'")
	}
	return func(t Txn, v value) (value, bool) {
		var b strings.Builder
		for i := 0; i < len(v.s); i++ {
			c := v.s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
				b.WriteByte(c)
				continue
			}
			fmt.Fprintf(&b, "%%%02X", c)
		}
		return value{t: tStr, s: b.String()}, true
	}, nil
}
