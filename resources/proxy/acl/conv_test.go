package acl

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConverters renders converter expressions; the expected values are what haproxy 2.6.12 returned for the
// same request (http-request return ... lf-string, see the commit that added this test).
func TestConverters(t *testing.T) {
	dir := t.TempDir()
	mapf := filepath.Join(dir, "m.map")
	ipmap := filepath.Join(dir, "ip.map")
	must(t, os.WriteFile(mapf, []byte("# comment\n/a   value with  spaces  \n/b\tv2 # not comment?\n/keyonly\n  /indented ind\n/a second\n/p/ prefix\n/p/q/ longer\n"), 0o644))
	must(t, os.WriteFile(ipmap, []byte("127.0.0.0/8 loop\n10.0.0.0/8 ten\n127.0.0.1 exact\n"), 0o644))
	mk := func(path string, h map[string][]string) *txn {
		return &txn{src: netip.MustParseAddrPort("127.0.0.1:40000"), dst: netip.MustParseAddrPort("127.0.0.1:18999"),
			method: "GET", uri: path, ver: "1.1", hdrs: h}
	}
	h1 := map[string][]string{"host": {"[::1]:8080"}, "x-ip": {"2001:db8::1234:5678"}, "x-j": {"a\"b\\\u00e9"},
		"x-b": {"aGVsbG8="}, "x-n": {"12abc"}}
	h2 := map[string][]string{"x-ip": {"2001:db8::1234:5678"}, "x-j": {"a/b\tc"}, "x-n": {"-5"}}
	h3 := map[string][]string{"x-ip": {"10.1.2.3"}, "x-j": {"é€"}, "x-n": {"0"}}
	for _, tc := range []struct {
		t    *txn
		expr string
		want string
	}{
		{mk("/a", h1), "%[path,map(" + mapf + ",DEF)]", "value with  spaces"},
		{mk("/b", h1), "%[path,map(" + mapf + ",DEF)]", "v2 # not comment?"},
		{mk("/keyonly", h1), "%[path,map(" + mapf + ",DEF)]", ""},
		{mk("/indented", h1), "%[path,map_str(" + mapf + ")]", "ind"},
		{mk("/p/q/r", h1), "%[path,map(" + mapf + ",DEF)]", "DEF"},
		{mk("/p/q/r", h1), "%[path,map_beg(" + mapf + ")]", "longer"},
		{mk("/%41x", h1), "%[path,map_beg(" + mapf + ")]", ""},
		{mk("/x/a", h1), "%[path,map_end(" + mapf + ")]", "value with  spaces"},
		{mk("/x/p/y", h1), "%[path,map_sub(" + mapf + ",no)]", "prefix"},
		{mk("/a", h1), "%[src,map_ip(" + ipmap + ",none)]", "exact"},
		{mk("/a", h1), "%[req.hdr(x-ip),map_ip(" + ipmap + ",none)]", "none"},
		{mk("/a.b//c///d/", h1), "%[path,regsub('/+','/','g')]", "/a.b/c/d/"},
		{mk("/a.b//c///d/", h1), "%[path,regsub(\\.,X)]", "/aXb//c///d/"},
		{mk("/Ab/cD/e", h2), "%[path,regsub('/(.)','<\\1>','g')]", "<A>b<c>D<e>"},
		{mk("/Ab/cD/e", h2), "%[path,regsub(A,z,gi)]", "/zb/cD/e"},
		{mk("/p/q/r", h1), "%[path,field(2,/)]", "p"},
		{mk("/p/q/r", h1), "%[path,field(-2,/,0)]", "/p/q"},
		{mk("/a", h1), "%[path,field(-2,/,0)]", ""},
		{mk("/p/q/r", h1), "%[path,word(2,/)]", "q"},
		{mk("/p/q/r", h1), "%[path,word(-1,/,2)]", "q/r"},
		{mk("/a", h1), "%[path,word(-1,/,2)]", "/a"},
		{mk("/a.b//c///d/", h1), "%[path,word(-1,/,2)]", "c///d"},
		{mk("/a.b//c///d/", h1), "%[path,field(-2,/,0)]", "/a.b//c///d"},
		{mk("/Ab/cD/e", h2), "%[path,field(9,/)]", ""},
		{mk("/Ab/cD/e", h2), "%[path,word(1,/,5)]", "Ab/cD/e"},
		{mk("/Ab/cD/e", h2), "%[path,field(2,/,2)]", "Ab/cD"},
		{mk("/%41x?q=%20a+b", h1), "%[url,url_dec]", "/Ax?q= a b"},
		{mk("/", h1), "%[req.hdr(x-ip),ipmask(24,64)]", "2001:db8::"},
		{mk("/", h2), "%[req.hdr(x-ip),ipmask(24)]", ""},
		{mk("/", h3), "%[req.hdr(x-ip),ipmask(24)]", "10.1.2.0"},
		{mk("/", h3), "%[req.hdr(x-ip),ipmask(255.255.0.0)]", "10.1.0.0"},
		{mk("/", h1), "%[req.hdr(x-j),json]", `a\"b\\\u00c3\u00a9`},
		{mk("/", h2), "%[req.hdr(x-j),json]", `a\/b\tc`},
		{mk("/", h3), "%[req.hdr(x-j),json]", `\u00c3\u00a9\u00e2\u0082\u00ac`},
		{mk("/", h3), "%[req.hdr(x-j),json(utf8)]", `\u00e9\u20ac`},
		{mk("/a", h1), "%[path,hex]", "2F61"},
		{mk("/a", h1), "%[path,base64]", "L2E="},
		{mk("/a", h1), "%[req.hdr(x-b),b64dec]", "hello"},
		{mk("/keyonly", h1), "%[path,bytes(1,3)]", "key"},
		{mk("/Ab/cD/e", h2), "%[path,bytes(2,100)]", "b/cD/e"},
		{mk("/x", h2), "%[path,bytes(2)]", ""},
		{mk("/x", h2), "%[path,bytes(-1)]", ""},
		{mk("/keyonly", h1), "%[path,length]", "8"},
		{mk("/a", h1), "%[src_port,div(0)]", "9223372036854775807"},
		{mk("/a", h1), "%[src_port,mod(0)]", "0"},
		{mk("/a", h1), "%[path,djb2]", "5861557"},
		{mk("/a", h1), "%[path,crc32]", "1768979292"},
		{mk("/a", h1), "%[path,wt6(1)]", "652714202"},
		{mk("/a", h1), "%[path,sdbm]", "3083250"},
		{mk("/b", h1), "%[path,crc32]", "4034472678"},
		{mk("/Ab/cD/e", h2), "%[path,crc32c]", "2263099471"},
		{mk("/x", h3), "%[path,crc32c]", "2463273711"},
		{mk("/a", h1), "%[path,concat(<,,>)]", "/a<>"},
		{mk("/a.b//c///d/", h1), "%[path,ltrim(/),rtrim(/)]", "a.b//c///d"},
		{mk("/a", h1), "%[req.hdr(host),host_only]", "[::1]"},
		{mk("/a", h1), "%[req.hdr(host),port_only]", "8080"},
		{mk("/a", h1), "%[req.hdr(x-n),add(3)]", "15"},
		{mk("/a", h1), "%[req.hdr(x-n),bool]", "1"},
		{mk("/a", h3), "%[req.hdr(x-n),bool]", "0"},
		{mk("/a", h2), "%[req.hdr(x-n),neg]", "5"},
		{mk("/a", h2), "%[req.hdr(x-n),add(9223372036854775807)]", "9223372036854775802"},
		{mk("/a", h3), "%[req.hdr(x-n),add(9223372036854775807)]", "9223372036854775807"},
		{mk("/a", h1), "%[src,add(0)]", "2130706433"},
		{mk("/a", h1), "%[path,upper]", "/A"},
		{mk("/a", h1), "%[src,bytes(0,2),hex]", "7F00"},
		{mk("/a", h1), "%[ssl_fc,iif(y,n)]", "n"},
		{mk("/Ab/cD/e", h2), "%[path,lower,length]", "8"},
		{mk("/Ab/cD/e", h2), "%[path,hex2i]", ""},
		{mk("/a", h1), "%[path,,lower]", "/a"},
		{mk("/a", h1), "%[src_port,and(3),or(4),xor(1),mul(2)]", "10"},
		{mk("/a", h1), "%[src_port,odd]%[src_port,even]%[src_port,not]", "010"},
	} {
		f, err := ParseFormat(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := f.Render(tc.t); got != tc.want {
			t.Errorf("%s on %s = %q, want %q", tc.expr, tc.t.uri, got, tc.want)
		}
	}
}

// TestConverterErrors lists expressions haproxy -c refuses (and a few it accepts), with the words of its error.
func TestConverterErrors(t *testing.T) {
	for _, tc := range []struct{ expr, err string }{
		{"%[path,lowr]", "unknown converter 'lowr', did you mean 'lower' ?"},
		{"%[path,lower,]", "unknown converter ''"},
		{"%[path,regsub(a,b,gz)]", "invalid regex flag 'z', only 'i' and 'g' are supported"},
		{"%[path,regsub([,b)]", "regex '[' is invalid"},
		{"%[path,map(/nonexistent/x.map)]", "failed to open pattern file </nonexistent/x.map>"},
		{"%[path,field(1)]", "invalid arg 2 in converter 'field' : missing arguments (got 1/2)"},
		{"%[path,word(0,/)]", "Unexpected value 0 for index"},
		{"%[path,field(1,/,x)]", "failed to parse 'x' as type 'integer' at position 3"},
		{"%[path,json(foo)]", "Unexpected input code type"},
		{"%[path,lower(1)]", "invalid arg 1 in converter 'lower'"},
		{"%[path,add(x)]", "expects an integer or a variable name"},
		{"%[path,add(proc.x)]", "the 'proc' scope is not supported by Duet yet"},
		{"%[path,strcmp(foo)]", "invalid variable name 'foo'"},
		{"%[var(bad.x)]", "unknown scope 'bad'"},
		{"%[path,add(txn.x)]", ""}, {"%[path,strcmp(txn.foo)]", ""}, {"%[path,concat(<,txn.a,>)]", ""},
		{"%[src,ipmask(33)]", "failed to parse '33' as type 'IPv4 mask' at position 1"},
		{"%[ssl_fc,ipmask(24)]", "converter 'ipmask' cannot be applied"},
		{"%[ssl_fc,map_ip(/dev/null)]", "converter 'map_ip' cannot be applied"},
		{"%[path,b64dec,add(1)]", "converter 'add' cannot be applied"},
		{"%[path,xxh32]", "converter 'xxh32' is not supported by Duet yet"},
		{"%[path,ipmask(24)]", ""}, {"%[src,lower]", ""}, {"%[path,add]", ""}, {"%[src_port,ipmask(24)]", ""},
		{"%[ssl_fc,hex]", ""}, {"%[src,json]", ""}, {"%[path,map_str(/dev/null,def)]", ""}, {"%[path,host_only,lower]", ""},
		{"%[src,ipmask(24,64)]", ""}, {"%[path,concat(a,,b)]", ""},
	} {
		_, err := ParseFormat(tc.expr)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.expr, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error with %q", tc.expr, err, tc.err)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.map")
	must(t, os.WriteFile(bad, []byte("# x\nvm foo\n"), 0o644))
	if _, err := ParseFormat("%[src,map_ip(" + bad + ")]"); err == nil || !strings.Contains(err.Error(), "'vm' is not a valid IPv4 or IPv6 address at line 2 of file") {
		t.Errorf("bad map_ip file: %v", err)
	}
}

// TestConvertersInACLs checks converters in ACL criteria, stick/balance samples and conditions.
func TestConvertersInACLs(t *testing.T) {
	r := req()
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"req.hdr(host),lower -m str www.example.com:80", true},
		{"req.hdr(host),lower,host_only www.example.com", true},
		{"hdr(host),lower -m end .com:80", true},
		{"src,ipmask(24) 10.0.0.0", true},
		{"src,ipmask(16) -m ip 10.0.0.0/16", true},
		{"path,lower -m end .png", true},
		{"path,length gt 10", true},
		{"req.hdr(x-list),lower c", true},
		{"urlp(id),add(1) 43", true},
		{"urlp(id),mul(2),bool", true},
		{"path,word(1,/) img", true},
	} {
		s := NewSet()
		if err := s.Add("a", strings.Fields(tc.line)); err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		c, err := ParseCond([]string{"if", "a"}, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Eval(r); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.line, got, tc.want)
		}
	}
	if err := NewSet().Add("a", []string{"hdr_beg(host),lower", "www"}); err == nil {
		t.Errorf("converter after an ACL keyword accepted")
	}
	smp, err := ParseSample("src,ipmask(16)")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := smp.Fetch(r); !ok || v != "10.0.0.0" {
		t.Errorf("stick sample = %q %v", v, ok)
	}
	if b, ok := smp.FetchBin(r); !ok || string(b) != "\x0a\x00\x00\x00" {
		t.Errorf("binary sample = %q %v", b, ok)
	}
	smp, _ = ParseSample("src_port,add(1)")
	if b, ok := smp.FetchBin(r); !ok || string(b) != "\x00\x00\x00\x00\x00\x00\x9c\x41" {
		t.Errorf("binary integer sample = %q %v", b, ok)
	}
}

func FuzzMapFile(f *testing.F) {
	f.Add("# c\n/a v\n/b\tx y \n10.0.0.0/8 ten\n1:5 r\n^/x(.*) \\1\n", "/a")
	f.Fuzz(func(t *testing.T, text, key string) {
		for _, m := range []string{"str", "beg", "sub", "dir", "dom", "end", "reg", "regm", "ip", "int"} {
			mf, err := parseMap(text, "fuzz.map", m)
			if err != nil {
				continue
			}
			v := value{t: tStr, s: key}
			if m == "ip" {
				if v, err = castOrZero(v, tAddr); err != nil {
					continue
				}
			}
			if m == "int" {
				v, _ = castOrZero(v, tSint)
			}
			_, _ = mf.lookup(v)
		}
	})
}

func castOrZero(v value, to smpType) (value, error) {
	out, ok := cast(v, to)
	if !ok {
		return value{t: to}, os.ErrInvalid
	}
	return out, nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFetchAudit checks fetches against what haproxy 2.6.12 answered for the same request
// (GET /p?a=1;b=2&b=3 with Cookie: x=1; n=42; y=3).
func TestFetchAudit(t *testing.T) {
	r := &txn{uri: "/p?a=1;b=2&b=3", hdrs: map[string][]string{"cookie": {"x=1; n=42; y=3"}}}
	f, err := ParseFormat("b=[%[urlp(b)]] first=[%[urlp]] d=[%[urlp(b,;)]] c=[%[req.cook()]] cc=[%[req.cook_cnt()]] cv=[%[cook_val(n)]]")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Render(r); got != "b=[2] first=[1] d=[2] c=[1] cc=[3] cv=[42]" {
		t.Errorf("render = %q", got)
	}
	for _, tc := range []struct {
		line string
		data []byte
		want bool
	}{
		{"req.payload(0,1) -m bin 16", []byte{0x16, 3, 1}, true},
		{"req.payload(0,1) -m bin 17", []byte{0x16, 3, 1}, false},
		{"req.payload(0,2) -m bin 1603 4745", []byte("GET /"), true},
		{"int(258) -m bin 0000000000000102", nil, true},
	} {
		s := NewSet()
		if err := s.Add("a", strings.Fields(tc.line)); err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		c, _ := ParseCond([]string{"if", "a"}, s)
		if got := c.Eval(&payloadTxn{data: tc.data, final: true}); got != tc.want {
			t.Errorf("%s = %v", tc.line, got)
		}
	}
	if err := NewSet().Add("a", []string{"path", "-m", "bin", "zz"}); err == nil {
		t.Error("bad hex accepted")
	}
}

type varTxn struct {
	txn
	vars map[string]Value
}

func (v *varTxn) Var(n string) (Value, bool) { x, ok := v.vars[n]; return x, ok }
func (v *varTxn) SetVar(n string, x Value)   { v.vars[n] = x }
func (v *varTxn) UnsetVar(n string)          { delete(v.vars, n) }

// TestVariables: var() and the converters that read variables (strcmp, secure_memcmp, concat, arithmetic).
func TestVariables(t *testing.T) {
	r := &varTxn{txn: txn{uri: "/a/b", hdrs: map[string][]string{"host": {"x.example"}, "x-n": {"5"}}}, vars: map[string]Value{}}
	for _, set := range []struct{ name, expr string }{{"txn.host", "req.hdr(host)"}, {"txn.n", "req.hdr(x-n),add(2)"}, {"req.p", "path"}} {
		s, err := ParseSample(set.expr)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := s.FetchValue(r)
		if !ok {
			t.Fatalf("%s: no value", set.expr)
		}
		r.SetVar(set.name, v)
	}
	f, err := ParseFormat("%[var(txn.host)] %[var(txn.n),mul(2)] %[var(txn.none,dflt)] %[path,strcmp(req.p)] %[str(a),strcmp(req.p)] " +
		"%[path,concat(<,txn.host,>)] %[int(0),add(txn.n)] %[path,secure_memcmp(req.p)] %[str(z),add(txn.none)]")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Render(r); got != "x.example 14 dflt 0 1 /a/b<x.example> 7 1 " {
		t.Errorf("render = %q", got)
	}
	s := NewSet()
	if err := s.Add("h", []string{"var(txn.host)", "-m", "end", ".example"}); err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCond([]string{"if", "h"}, s)
	if !c.Eval(r) {
		t.Error("var() ACL did not match")
	}
}

func TestMiscFetches(t *testing.T) {
	t.Setenv("DUET_TEST_ENV", "v1")
	r := &txn{uri: "http://10.1.2.3:8080/a/b?x=1", hdrs: map[string][]string{"host": {"h.example"}},
		src: netip.MustParseAddrPort("127.0.0.1:1000"), dst: netip.MustParseAddrPort("192.0.2.1:80")}
	f, err := ParseFormat("%[pathq] %[baseq] %[url_ip] %[url_port] %[src_is_local] %[dst_is_local] %[env(DUET_TEST_ENV)] %[rand(1)] %[uuid,length] %[date,bool]")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Render(r); got != "/a/b?x=1 h.example/a/b?x=1 10.1.2.3 8080 1 0 v1 0 36 1" {
		t.Errorf("render = %q", got)
	}
	// haproxy 2.6.12 answered "/x 10.0.0.1/x 10.0.0.1 80" for this target (Host: 10.0.0.1)
	r.uri, r.hdrs["host"] = "http://10.0.0.1/x", []string{"10.0.0.1"}
	if got := f.Render(r); !strings.HasPrefix(got, "/x 10.0.0.1/x 10.0.0.1 80 ") {
		t.Errorf("render = %q", got)
	}
	r.uri, r.hdrs["host"] = "/p?q", []string{"h.example"}
	if got := f.Render(r); !strings.HasPrefix(got, "/p?q h.example/p?q   1 0") {
		t.Errorf("render = %q", got)
	}
}

// TestTimeConverters: haproxy 2.6.12 (TZ Etc/UTC) answered these for int(1700000000).
func TestTimeConverters(t *testing.T) {
	t.Setenv("TZ", "UTC")
	f, err := ParseFormat("[%[int(1700000000),utime('%Y-%m-%dT%H:%M:%S %a %A %b %B %j %Z %z %e %I %p %y %u %w %s %% %D %T %F %R %h')]] [%[int(1700000000),utime(%d/%b/%Y,3600)]]")
	if err != nil {
		t.Fatal(err)
	}
	want := "[2023-11-14T22:13:20 Tue Tuesday Nov November 318 GMT +0000 14 10 PM 23 2 2 1700000000 % 11/14/23 22:13:20 2023-11-14 22:13 Nov] [14/Nov/2023]"
	if got := f.Render(&txn{}); got != want {
		t.Errorf("render =\n%q, want\n%q", got, want)
	}
}
