package config

import (
	"strings"
	"testing"
	"time"
)

func TestTokenize(t *testing.T) {
	env := func(k string) (string, bool) {
		m := map[string]string{"A": "x", "B": "p q  r", "E": ""}
		v, ok := m[k]
		return v, ok
	}
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"bind :80", []string{"bind", ":80"}, ""},
		{"  a\t b  ", []string{"a", "b"}, ""},
		{"global#comment", []string{"global"}, ""},
		{"a \\# b", []string{"a", "#", "b"}, ""},
		{`a\ b "c d" 'e f'`, []string{"a b", "c d", "e f"}, ""},
		{`"%{+Q}o %t"' %s'\ %{-Q}r`, []string{"%{+Q}o %t %s %{-Q}r"}, ""},
		{`x\ty \x41 \1`, []string{"x\ty", "A", `\1`}, ""},
		{`"${A}" '${A}' $A ${A}`, []string{"x", "${A}", "x", "x"}, ""},
		{`"${NOPE-def}" "${A-def}"`, []string{"def", "x"}, ""},
		{`w "${B[*]}" z`, []string{"w", "p", "q", "r", "z"}, ""},
		{`"a\$b"`, []string{"a$b"}, ""},
		{`a "" b`, []string{"a"}, ""},
		{`"unterminated`, nil, "unmatched quote"},
		{`\xZZ`, nil, "hexadecimal"},
		{strings.Repeat("w ", 65), nil, "too many words"},
		{`"${.LINE}" "${.FILE}"`, []string{"7", "f.cfg"}, ""},
	} {
		got, err := Tokenize(tc.in, env, map[string]string{".LINE": "7", ".FILE": "f.cfg"})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Tokenize(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Tokenize(%q) err = %v", tc.in, err)
			continue
		}
		if strings.Join(got.Words, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got.Words, tc.want)
		}
	}
}

func TestEvalCond(t *testing.T) {
	env := func(k string) (string, bool) { return "", k == "SET" }
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false}, {"0", false}, {"1", true}, {"-3", true},
		{"defined(SET)", true}, {"defined(UNSET)", false}, {"!defined(UNSET)", true},
		{"streq(a,a) && strneq(a,b)", true}, {"0 || 1 && 0", false}, {"(0 || 1) && 1", true},
		{"version_atleast(2.6)", true}, {"version_atleast(2.7)", false}, {"version_before(2.6.13)", true},
		{"feature(OPENSSL)", true}, {"feature(QUIC)", false},
	} {
		got, err := EvalCond(strings.Fields(tc.in), env)
		if err != nil || got != tc.want {
			t.Errorf("EvalCond(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := EvalCond([]string{"bogus"}, env); err == nil {
		t.Error("EvalCond(bogus) accepted")
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Millisecond, "5s": 5 * time.Second, "2m": 2 * time.Minute,
		"1h": time.Hour, "1d": 24 * time.Hour, "100us": 100 * time.Microsecond, "250ms": 250 * time.Millisecond} {
		if got, err := ParseTime(in); err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "s", "5x", "-1", "99999999999d"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func parse(t *testing.T, text string) (*Config, []Diagnostic) {
	t.Helper()
	cfg, diags, _ := Parse([]Source{{Name: "t.cfg", Data: []byte(text)}}, nil)
	return cfg, diags
}

func TestModelFromConfig(t *testing.T) {
	cfg, diags := parse(t, std+"    option forwardfor\n    retries 2\n"+
		"frontend f\n    bind 127.0.0.1:9001-9002 name web\n    maxconn 50\n    default_backend b\n"+
		"backend b\n    balance uri depth 2\n    hash-type consistent\n    default-server inter 3s fall 5\n"+
		"    option httpchk GET /h HTTP/1.1\n    http-check expect status 200-299\n"+
		"    server s1 10.0.0.1:80 check weight 5\n    server s2 10.0.0.2:+1 backup id 9\n")
	if cfg == nil {
		t.Fatalf("parse failed: %v", diags)
	}
	f := cfg.Proxy("f", CapFE)
	if len(f.Binds) != 1 || len(f.Binds[0].Addrs) != 2 || f.Binds[0].Addrs[1].Address != "127.0.0.1:9002" || f.Binds[0].Name != "web" {
		t.Errorf("binds = %+v", f.Binds)
	}
	if f.Maxconn != 50 || f.DefaultBackend != "b" || f.Options.Forwardfor == nil || f.Options.Forwardfor.Header != "X-Forwarded-For" {
		t.Errorf("frontend = %+v", f)
	}
	b := cfg.Proxy("b", CapBE)
	if b.Balance.Algo != AlgoURI || b.Balance.URIDepth != 2 || !b.HashType.Consistent || !b.HashType.Avalanche || b.HashType.Function != "sdbm" {
		t.Errorf("balance = %+v %+v", b.Balance, b.HashType)
	}
	if b.Retries != 2 || b.Check.Kind != CheckHTTP || b.Check.URI != "/h" || b.Check.Expect == nil || b.Check.Expect.Pattern != "200-299" {
		t.Errorf("check = %+v", b.Check)
	}
	s1, s2 := b.Servers[0], b.Servers[1]
	if s1.Weight != 5 || !s1.Check || s1.Inter != 3*time.Second || s1.Fall != 5 || s1.Rise != 2 || s1.ID != 1 {
		t.Errorf("s1 = %+v", s1)
	}
	if !s2.Backup || s2.ID != 9 || !s2.PortRelative || s2.Port != 1 || !s2.ExplicitID {
		t.Errorf("s2 = %+v", s2)
	}
	if f.ID != 1 || b.ID != 2 {
		t.Errorf("ids = %d %d", f.ID, b.ID)
	}
}

func TestDiagnostics(t *testing.T) {
	_, diags := parse(t, "defaults\n    mode http\nbackend b\n    balanse roundrobin\n    option httpchek\n    server s1 1.1.1.1:80 wieght 3\n    reqrep a b\n")
	want := []struct {
		line int
		kw   string
		msg  string
	}{
		{4, "balanse", "unknown keyword 'balanse' in 'backend' section; did you mean 'balance' maybe ?"},
		{5, "option", "unknown option 'httpchek'; did you mean 'httpchk' maybe ?"},
		{6, "server", "'server b/s1' : unknown keyword 'wieght'; did you mean 'weight' maybe ?"},
		{7, "reqrep", "The 'reqrep' directive is not supported anymore since HAProxy 2.1."},
	}
	var errs []Diagnostic
	for _, d := range diags {
		if d.Severity == Error {
			errs = append(errs, d)
		}
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		d := errs[i]
		if d.Line != w.line || d.Keyword != w.kw || !strings.HasPrefix(d.Message, w.msg) || d.File != "t.cfg" {
			t.Errorf("diag %d = %+v, want line %d kw %s msg %q", i, d, w.line, w.kw, w.msg)
		}
	}
	if s := errs[0].String(); !strings.Contains(s, "parsing [t.cfg:4] : unknown keyword 'balanse'") {
		t.Errorf("String() = %q", s)
	}
}

func TestUnsupportedIsNamed(t *testing.T) {
	_, diags := parse(t, std+"frontend f\n    bind :80\n    use-server s if TRUE\n    compression algo gzip\n")
	var msgs []string
	for _, d := range diags {
		if d.Severity == Error {
			msgs = append(msgs, d.Keyword+": "+d.Message)
		}
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], "'use-server'") || !strings.Contains(msgs[1], "'compression'") {
		t.Errorf("unsupported keywords not named: %q", msgs)
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"bind :80", `"${A}" '$B' \x41 \"`, "a#b", `"${X[*]}"`, `"${.LINE}"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks, err := Tokenize(line, func(string) (string, bool) { return "v w", true }, nil)
		if err == nil && len(toks.Words) > MaxWords {
			t.Fatalf("%d words", len(toks.Words))
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, tc := range corpus {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, diags, err := Parse([]Source{{Name: "f.cfg", Data: []byte(text)}}, nil)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		for _, d := range diags {
			_ = d.String()
		}
	})
}
