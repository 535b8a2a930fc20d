package agents

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "ocf:heartbeat:IPaddr2", want: "ocf:heartbeat:IPaddr2"},
		{in: "IPaddr2", want: "ocf:heartbeat:IPaddr2"},
		{in: "OCF:pacemaker:Dummy", want: "ocf:pacemaker:Dummy"},
		{in: "ocf:duet:vip", want: "ocf:duet:vip"},
		{in: "lsb:haproxy", want: "lsb:haproxy"},
		{in: "systemd:nginx", want: "systemd:nginx"},
		{in: "systemd:getty@tty1.service", want: "systemd:getty@tty1.service"},
		{in: "service:nginx", want: "service:nginx"},
		{in: "stonith:fence_xvm", want: "stonith:fence_xvm"},
		{in: "", wantErr: "empty name"},
		{in: "ocf:Dummy", wantErr: "did you mean ocf:heartbeat:Dummy"},
		{in: "lsb:x:haproxy", wantErr: "only the ocf class takes a provider"},
		{in: "a:b:c:d", wantErr: "too many"},
		{in: "foo:bar", wantErr: `unknown class "foo"`},
		{in: "lsb:../../bin/sh", wantErr: "invalid character '/'"},
		{in: "ocf:..:Dummy", wantErr: `invalid provider ".."`},
		{in: "ocf:heartbeat:", wantErr: "empty type"},
		{in: "lsb:-rf", wantErr: "invalid type"},
		{in: "ocf:heart beat:x", wantErr: "invalid character ' ' in provider"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseName(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseName(%q) = %v, %v; want error containing %q", tt.in, n, err, tt.wantErr)
				}
				return
			}
			if err != nil || n.String() != tt.want {
				t.Fatalf("ParseName(%q) = %q, %v; want %q", tt.in, n, err, tt.want)
			}
		})
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"ocf:heartbeat:IPaddr2", "IPaddr2", "lsb:haproxy", "systemd:nginx", "ocf:duet:vip", "a:b:c:d", "lsb:../x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(n.Type+n.Provider, "/\x00 ") || n.Type == ".." || n.Provider == ".." {
			t.Fatalf("ParseName(%q) accepted a path-like name %+v", s, n)
		}
		again, err := ParseName(n.String())
		if err != nil || again != n {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", s, n, n.String(), again, err)
		}
	})
}

func TestParseMetadata(t *testing.T) {
	b, err := os.ReadFile("testdata/sample-meta.xml")
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Metadata{
		Name: "Sample", Version: "1.1", ShortDesc: "Sample agent",
		Parameters: []Parameter{
			{Name: "ip", Required: true, Unique: true, Type: "string", ShortDesc: "IPv4 or IPv6 address"},
			{Name: "count", Type: "integer", Default: "5", ShortDesc: "How many"},
			{Name: "flag", Type: "boolean", Default: "false"},
			{Name: "bare", Type: "string"},
		},
		Actions: []ActionSpec{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "meta-data", Timeout: 500 * time.Millisecond},
			{Name: "reload-agent", Timeout: 2 * time.Minute},
		},
	}
	if !reflect.DeepEqual(md, want) {
		t.Fatalf("ParseMetadata:\n got %+v\nwant %+v", md, want)
	}
	again, err := ParseMetadata(md.XML())
	if err != nil || !reflect.DeepEqual(again, md) {
		t.Fatalf("round trip through XML():\n got %+v, %v\nwant %+v\n%s", again, err, md, md.XML())
	}
}

func TestParseMetadataErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"garbage", "this is not xml", "parse meta-data"},
		{"empty", "", "EOF"},
		{"wrong root", "<agent name='x'/>", "expected element type <resource-agent>"},
		{"no name", "<resource-agent/>", "has no name"},
		{"param without name", "<resource-agent name='x'><parameters><parameter/></parameters></resource-agent>", "parameter 1 has no name"},
		{"duplicate param", "<resource-agent name='x'><parameters><parameter name='a'/><parameter name='a'/></parameters></resource-agent>", `"a" given twice`},
		{"bad timeout", "<resource-agent name='x'><actions><action name='start' timeout='soon'/></actions></resource-agent>", "action start timeout"},
		{"bad unit", "<resource-agent name='x'><actions><action name='start' timeout='5 fortnights'/></actions></resource-agent>", "unknown unit"},
		{"unclosed", "<resource-agent name='x'><parameters>", "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := ParseMetadata([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseMetadata(%q) = %+v, %v; want error containing %q", tt.in, md, err, tt.wantErr)
			}
		})
	}
}

func FuzzParseMetadata(f *testing.F) {
	b, err := os.ReadFile("testdata/sample-meta.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("<resource-agent name='x'><parameters><parameter name='a' required='1'/></parameters></resource-agent>"))
	f.Add([]byte("<resource-agent name='x'><actions><action name='start' timeout='1.5min'/></actions></resource-agent>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := ParseMetadata(b)
		if err != nil {
			return
		}
		if md.Name == "" {
			t.Fatal("accepted meta-data without a name")
		}
		// What the parser accepts, the renderer writes back in a form the parser reads the same.
		again, err := ParseMetadata(md.XML())
		if err != nil {
			t.Fatalf("re-parse of rendered meta-data: %v\n%s", err, md.XML())
		}
		for i := range md.Actions { // XML() writes whole milliseconds
			md.Actions[i].Timeout = md.Actions[i].Timeout.Truncate(time.Millisecond)
			md.Actions[i].Interval = md.Actions[i].Interval.Truncate(time.Millisecond)
		}
		if !reflect.DeepEqual(normalize(again), normalize(md)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", again, md)
		}
	})
}

// normalize clears what XML() cannot keep exactly: surrounding space that the parser trims and
// the difference between a zero-length interval and none.
func normalize(md *Metadata) *Metadata {
	c := *md
	c.Parameters = append([]Parameter(nil), md.Parameters...)
	for i := range c.Parameters {
		c.Parameters[i].ShortDesc = strings.TrimSpace(c.Parameters[i].ShortDesc)
		c.Parameters[i].Default = strings.ReplaceAll(c.Parameters[i].Default, "\r", "\n")
	}
	return &c
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "20s", want: 20 * time.Second}, {in: "20", want: 20 * time.Second}, {in: "200ms", want: 200 * time.Millisecond},
		{in: "2min", want: 2 * time.Minute}, {in: "1h", want: time.Hour}, {in: "1.5s", want: 1500 * time.Millisecond},
		{in: " 10 sec ", want: 10 * time.Second}, {in: "", bad: true}, {in: "s", bad: true}, {in: "-1s", bad: true},
		{in: "1..2s", bad: true}, {in: "99999999999999999999h", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.bad != (err != nil) || (!tt.bad && got != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func sampleMeta(t *testing.T) *Metadata {
	t.Helper()
	b, err := os.ReadFile("testdata/sample-meta.xml")
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestCheckParams(t *testing.T) {
	md := sampleMeta(t)
	tests := []struct {
		name      string
		params    map[string]string
		wantField string
		wantErr   string
	}{
		{name: "ok", params: map[string]string{"ip": "10.0.0.1", "count": "3", "flag": "yes"}},
		{name: "only required", params: map[string]string{"ip": "10.0.0.1"}},
		{name: "missing required", params: map[string]string{"count": "3"}, wantField: "ip", wantErr: "parameter ip is required but missing"},
		{name: "empty required", params: map[string]string{"ip": " "}, wantField: "ip", wantErr: "required"},
		{name: "unknown", params: map[string]string{"ip": "x", "cuont": "1"}, wantField: "cuont", wantErr: "is not a parameter of Sample (did you mean count?)"},
		{name: "unknown far", params: map[string]string{"ip": "x", "zzzzzzzz": "1"}, wantField: "zzzzzzzz", wantErr: "is not a parameter of Sample"},
		{name: "bad integer", params: map[string]string{"ip": "x", "count": "many"}, wantField: "count", wantErr: `must be an integer, not "many"`},
		{name: "bad boolean", params: map[string]string{"ip": "x", "flag": "perhaps"}, wantField: "flag", wantErr: "must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckParams("ocf:test:Sample", md, tt.params)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckParams = %v, want nil", err)
				}
				return
			}
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckParams = %v; want a ParamError on %s containing %q", err, tt.wantField, tt.wantErr)
			}
			if r := ErrorResult(err, ErrGeneric); r.RC != ErrConfigured || !strings.Contains(r.Reason, tt.wantField) {
				t.Fatalf("ErrorResult = %+v, want ErrConfigured naming %s", r, tt.wantField)
			}
		})
	}
}

// fakeAgent is an Agent with fixed meta-data that counts Close calls.
type fakeAgent struct {
	md     *Metadata
	closed int
}

func (f *fakeAgent) Start(context.Context, Request) Result    { return Result{} }
func (f *fakeAgent) Stop(context.Context, Request) Result     { return Result{} }
func (f *fakeAgent) Monitor(context.Context, Request) Result  { return Result{RC: NotRunning} }
func (f *fakeAgent) Validate(context.Context, Request) Result { return Result{} }
func (f *fakeAgent) MetaData(context.Context) (*Metadata, error) {
	return f.md, nil
}
func (f *fakeAgent) Close() error { f.closed++; return nil }

type scriptAgent struct {
	fakeAgent
	path string
}

func newTestRegistry(t *testing.T) (*Registry, *fakeAgent) {
	t.Helper()
	root := t.TempDir()
	for _, p := range []string{"resource.d/heartbeat/IPaddr2", "resource.d/heartbeat/Dummy", "resource.d/acme/Thing", "init.d/haproxy", "units/nginx.service"} {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "resource.d/heartbeat/NotExec"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dummy := &fakeAgent{md: sampleMeta(t)}
	reg := NewRegistry(RegistryOptions{
		OCFRoot: root, InitDir: filepath.Join(root, "init.d"), UnitDirs: []string{filepath.Join(root, "units")},
		NewOCF:     func(n Name, path string) Agent { return &scriptAgent{path: "ocf " + path} },
		NewLSB:     func(path string) Agent { return &scriptAgent{path: "lsb " + path} },
		NewSystemd: func(unit string) Agent { return &scriptAgent{path: "systemd " + unit} },
		Builtin:    map[string]Agent{"dummy": dummy, "vip": &fakeAgent{}},
		Aliases:    map[string]string{"ocf:pacemaker:Dummy": "ocf:duet:dummy"},
	})
	t.Cleanup(func() { _ = reg.Close() })
	return reg, dummy
}

func TestRegistryLookup(t *testing.T) {
	reg, dummy := newTestRegistry(t)
	root := reg.OCFRoot()
	tests := []struct {
		name    string
		want    string // scriptAgent.path, or "dummy"
		wantErr string
	}{
		{name: "ocf:heartbeat:IPaddr2", want: "ocf " + root + "/resource.d/heartbeat/IPaddr2"},
		{name: "IPaddr2", want: "ocf " + root + "/resource.d/heartbeat/IPaddr2"},
		{name: "ocf:acme:Thing", want: "ocf " + root + "/resource.d/acme/Thing"},
		{name: "lsb:haproxy", want: "lsb " + root + "/init.d/haproxy"},
		{name: "service:haproxy", want: "lsb " + root + "/init.d/haproxy"},
		{name: "systemd:nginx", want: "systemd nginx.service"},
		{name: "service:nginx", want: "systemd nginx.service"},
		{name: "ocf:duet:dummy", want: "dummy"},
		{name: "ocf:pacemaker:Dummy", want: "dummy"},
		{name: "ocf:heartbeat:IPAddr2", wantErr: "unknown agent ocf:heartbeat:IPAddr2: no executable script " + root + "/resource.d/heartbeat/IPAddr2 (did you mean ocf:heartbeat:IPaddr2?)"},
		{name: "IPadr2", wantErr: "did you mean ocf:heartbeat:IPaddr2?"},
		{name: "ocf:duet:vpi", wantErr: "unknown agent ocf:duet:vpi: not a built-in agent of provider duet (did you mean ocf:duet:vip?)"},
		{name: "ocf:heartbeat:NotExec", wantErr: "no executable script"},
		{name: "lsb:haproxx", wantErr: "no init script " + root + "/init.d/haproxx (did you mean lsb:haproxy?)"},
		{name: "systemd:apache2", wantErr: "no unit file apache2.service"},
		{name: "stonith:fence_xvm", wantErr: "unknown agent stonith:fence_xvm: no stonith agent registered"},
		{name: "ocf:heartbeat:Completely_Else", wantErr: "unknown agent ocf:heartbeat:Completely_Else: no executable script"},
		{name: "ocf:x", wantErr: "need a provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := reg.Lookup(tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Lookup(%q) = %v, %v; want error containing %q", tt.name, a, err, tt.wantErr)
				}
				if strings.HasPrefix(tt.wantErr, "unknown agent") && !errors.Is(err, ErrUnknownAgent) {
					t.Fatalf("Lookup(%q) error %v is not ErrUnknownAgent", tt.name, err)
				}
				if strings.Contains(tt.wantErr, "Completely") && strings.Contains(err.Error(), "did you mean") {
					t.Fatalf("Lookup(%q) suggested something for a far name: %v", tt.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.name, err)
			}
			got := "dummy"
			if s, ok := a.(*scriptAgent); ok {
				got = s.path
			} else if a != dummy {
				t.Fatalf("Lookup(%q) = %#v", tt.name, a)
			}
			if got != tt.want {
				t.Fatalf("Lookup(%q) = %s, want %s", tt.name, got, tt.want)
			}
		})
	}
	a1, _ := reg.Lookup("IPaddr2")
	a2, _ := reg.Lookup("ocf:heartbeat:IPaddr2")
	if a1 != a2 {
		t.Fatal("Lookup does not cache script agents by canonical name")
	}
}

func TestRegistryRegisterAndClose(t *testing.T) {
	reg, dummy := newTestRegistry(t)
	proxy := &fakeAgent{md: &Metadata{Name: "proxy", Parameters: []Parameter{{Name: "config", Required: true}}}}
	if err := reg.Register("duet", "proxy", proxy); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("duet", "bad/name", proxy); err == nil {
		t.Fatal("Register accepted a type with a slash")
	}
	// A registered agent wins over a script of the same name.
	if err := reg.Register("heartbeat", "Dummy", dummy); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Agent{"ocf:duet:proxy": proxy, "Dummy": dummy} {
		if a, err := reg.Lookup(name); err != nil || a != want {
			t.Fatalf("Lookup(%s) = %v, %v", name, a, err)
		}
	}
	ctx := context.Background()
	err := reg.CheckParams(ctx, Request{Agent: "ocf:duet:proxy", Params: map[string]string{}})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Field != "config" {
		t.Fatalf("CheckParams without config = %v", err)
	}
	if err := reg.CheckParams(ctx, Request{Agent: "ocf:duet:proxy", Params: map[string]string{"config": "/x"}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.CheckParams(ctx, Request{Agent: "ocf:duet:nope"}); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("CheckParams of an unknown agent = %v", err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if dummy.closed != 1 || proxy.closed != 1 {
		t.Fatalf("Close closed dummy %d and proxy %d times, want once each", dummy.closed, proxy.closed)
	}
	if err := reg.Close(); err != nil || dummy.closed != 1 {
		t.Fatal("second Close closed again")
	}
}

func TestRegistryConcurrentLookup(t *testing.T) {
	reg, _ := newTestRegistry(t)
	const n = 8
	got := make(chan Agent, n)
	for range n {
		go func() {
			a, err := reg.Lookup("ocf:heartbeat:IPaddr2")
			if err != nil {
				t.Error(err)
			}
			got <- a
		}()
	}
	first := <-got
	for range n - 1 {
		if a := <-got; a != first {
			t.Fatal("concurrent Lookups returned different agents for one name")
		}
	}
}
