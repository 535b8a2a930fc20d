package crmsh

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/cluster/cib"
)

func load(t *testing.T, text string) *cib.CIB {
	t.Helper()
	st, diags := Parse("t.crm", text)
	if err := AsError(diags); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := &cib.CIB{}
	if err := Update(c, st); err != nil {
		t.Fatalf("Update: %v", err)
	}
	return c
}

func TestSeedLoadsAndShowsVerbatim(t *testing.T) {
	seed, err := os.ReadFile("testdata/seed.crm")
	if err != nil {
		t.Fatal(err)
	}
	c := load(t, string(seed))
	if got := Show(c); got != string(seed) {
		t.Errorf("Show differs from crm configure show:\n--- got\n%s--- want\n%s", got, seed)
	}
	f := c.FindPrimitive("fence_nodes")
	if f == nil || f.Class != "stonith" || f.Type != "fence_xvm" || f.Params["pcmk_host_map"] != "node1:vm-node1;node2:vm-node2" {
		t.Errorf("stonith primitive not stored: %+v", f)
	}
	vip := c.FindPrimitive("vip")
	if vip.Agent() != "ocf:heartbeat:IPaddr2" || vip.Ops[0].Interval != 30*time.Second || vip.Ops[0].Timeout != 20*time.Second {
		t.Errorf("vip = %+v", vip)
	}
	if c.Property("no-quorum-policy") != "ignore" || c.RscDefaults["migration-threshold"] != "3" {
		t.Errorf("properties %v defaults %v", c.Properties, c.RscDefaults)
	}
	if d := Verify(c, nil); HasErrors(d) {
		t.Errorf("Verify(seed) = %v", d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // each a diagnostic's full text
	}{
		{"typo keyword", "node 1: n1\nprimitive vip IPaddr2 \\\n\tparms ip=1.2.3.4\n",
			[]string{`crm.txt:3: primitive vip: unknown keyword "parms" (did you mean "params"?)`}},
		{"all errors in one pass", "primitve x Dummy\nproperty no-quorum-polcy=stop\norder o Sometimes: a b\n",
			[]string{`crm.txt:1: unknown statement "primitve" (did you mean "primitive"?)`,
				`crm.txt:2: property: unknown property "no-quorum-polcy" (did you mean "no-quorum-policy"?)`,
				`crm.txt:3: order o: unknown order kind "Sometimes:" (want Mandatory, Optional, Serialize or a score)`}},
		{"bad duration", "primitive p lsb:x op monitor interval=10parsecs",
			[]string{`crm.txt:1: primitive p: op monitor: interval: "10parsecs": unknown duration unit "parsecs" (use ms, s, min or h)`}},
		{"colocation set", "colocation c inf: a ( b c )",
			[]string{`crm.txt:1: colocation c: resource sets ("(") are not supported yet`}},
		{"colocation self", "colocation c inf: a a",
			[]string{`crm.txt:1: colocation c: resource "a" cannot be colocated with itself`}},
		{"duplicate id", "primitive a lsb:x\ngroup a b",
			[]string{`crm.txt:2: group a: id "a" is already used by primitive a`}},
		{"unterminated", "primitive a lsb:x params foo=\"bar\n",
			[]string{`crm.txt:1: unterminated quote "`}},
		{"unsupported rule form", "location l a rule -inf: date lt 2020",
			[]string{`crm.txt:1: location l: rule: "date" expressions are not supported yet`}},
		{"bad property value", "property stonith-enabled=perhaps",
			[]string{`crm.txt:1: property: property stonith-enabled: "perhaps" is not a boolean (true/false, yes/no, on/off, 1/0)`}},
		{"bad meta", "primitive a lsb:x meta target-role=Running",
			[]string{`crm.txt:1: primitive a: meta target-role: "Running" is not one of Started, Stopped, Promoted, Unpromoted, Master, Slave`}},
		{"template", "rsc_template t lsb:x", []string{`crm.txt:1: "rsc_template" is not supported yet`}},
		{"bad class", "primitive a osf:heartbeat:x", []string{`crm.txt:1: primitive a: unknown agent class "osf" (did you mean "ocf"?)`}},
		{"location without node", "location l a 100:", []string{`crm.txt:1: location l: node name missing after "100:"`}},
		{"order action", "order o Mandatory: a:strat b", []string{`crm.txt:1: order o: unknown action "strat" (did you mean "start"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("crm.txt", tt.text)
			var got []string
			for _, d := range diags {
				if d.Severity == Error {
					got = append(got, d.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMsIsDeprecatedClone(t *testing.T) {
	st, diags := Parse("t", "primitive s ocf:pacemaker:Stateful\nms m s meta notify=true\n")
	if HasErrors(diags) || len(diags) != 1 || diags[0].Severity != Warning || !strings.Contains(diags[0].String(), "deprecated") {
		t.Fatalf("diags = %v", diags)
	}
	c := &cib.CIB{}
	if err := Update(c, st); err != nil {
		t.Fatal(err)
	}
	want := "primitive s ocf:pacemaker:Stateful\nclone m s \\\n\tmeta notify=true promotable=true\n"
	if got := Show(c); got != want {
		t.Errorf("Show = %q, want %q", got, want)
	}
}

func TestShowForms(t *testing.T) {
	in := `node 1: n1 \
	attributes standby=on
node 2: n2
node 3: w:witness
primitive a ocf:pacemaker:Dummy \
	description="the a resource" \
	params state="/run/a state" \
	meta target-role=Stopped resource-stickiness=inf \
	op monitor interval=10s timeout=20s on-fail=restart \
	op start interval=0 timeout=1min
primitive b lsb:b
primitive c systemd:c
primitive d Dummy
clone cl d \
	meta clone-max=2 interleave=true
group g a b \
	meta target-role=Started
location cli-ban-g-on-n2 g role=Started -inf: n2
location l-ping g \
	rule -inf: not_defined pingd or pingd number:lte 0
location l-uname c \
	rule #uname eq n1
colocation col -inf: c:Started g
order o Optional: g:start c:stop symmetrical=false
order o2 inf: c cl
property cib-bootstrap-options: \
	no-quorum-policy=stop
rsc_defaults rsc-options: \
	resource-stickiness=1
op_defaults op-options: \
	timeout=600
`
	c := load(t, in)
	want := strings.Replace(in, "primitive d Dummy", "primitive d ocf:heartbeat:Dummy", 1)
	// crmsh sorts by kind and then by id: clone after group, constraints by id.
	want = strings.Replace(want, "clone cl d \\\n\tmeta clone-max=2 interleave=true\ngroup g a b \\\n\tmeta target-role=Started\n",
		"group g a b \\\n\tmeta target-role=Started\nclone cl d \\\n\tmeta clone-max=2 interleave=true\n", 1)
	if got := Show(c); got != want {
		t.Errorf("Show:\n%s\nwant:\n%s", got, want)
	}
	if !c.Nodes[2].Witness || !c.Nodes[0].Standby() {
		t.Errorf("nodes = %+v", c.Nodes)
	}
}

func TestUpdateMergesAndRefusesDanglingRefs(t *testing.T) {
	c := load(t, "primitive a lsb:a\nproperty stonith-enabled=false\n")
	c.Epoch = 7
	st, _ := Parse("u.crm", "primitive a lsb:a2\nproperty no-quorum-policy=ignore\n")
	if err := Update(c, st); err != nil {
		t.Fatal(err)
	}
	if c.FindPrimitive("a").Type != "a2" || c.Property("stonith-enabled") != "false" || c.Property("no-quorum-policy") != "ignore" || c.Epoch != 7 {
		t.Errorf("after update: %+v", c)
	}
	st, _ = Parse("u.crm", "\n\ngroup g a missing\n")
	err := Update(c, st)
	var de *DiagnosticsError
	if !errors.As(err, &de) || err.Error() != "u.crm:3: group g: resource missing does not exist" {
		t.Errorf("Update dangling = %v", err)
	}
	if c.FindGroup("g") != nil {
		t.Error("failed Update changed the CIB")
	}
	st, _ = Parse("u.crm", "primitive b lsb:b\ngroup g1 a\ngroup g2 a b\n")
	if err := Update(c, st); err == nil || !strings.Contains(err.Error(), "u.crm:3: group g2: resource a is already in group g1") {
		t.Errorf("two containers: %v", err)
	}
}

func TestReplaceKeepsNodesDropsRest(t *testing.T) {
	c := load(t, "node 1: n1\nprimitive a lsb:a\nproperty stonith-enabled=false\n")
	st, _ := Parse("r", "primitive b lsb:b\n")
	if err := Replace(c, st); err != nil {
		t.Fatal(err)
	}
	if got, want := Show(c), "node 1: n1\nprimitive b lsb:b\n"; got != want {
		t.Errorf("Show = %q want %q", got, want)
	}
}

func TestCommand(t *testing.T) {
	c := &cib.CIB{}
	if _, err := Command(c, []string{"primitive", "vip", "IPaddr2", "params", "ip=192.0.2.10", "description=a b", "op", "monitor", "interval=10s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Command(c, []string{"group", "g", "vip"}); err != nil {
		t.Fatal(err)
	}
	_, err := Command(c, []string{"primitive", "x", "lsb:x", "parms", "a=b"})
	if err == nil || err.Error() != `<command line>:1: primitive x: unknown keyword "parms" (did you mean "params"?)` {
		t.Errorf("Command typo: %v", err)
	}
	// as crmsh: an id in use is refused, whatever kind of object holds it, and nothing changes
	for _, args := range [][]string{
		{"primitive", "vip", "IPaddr2", "params", "ip=192.0.2.99"},
		{"primitive", "g", "lsb:x"},
		{"location", "vip", "g", "10:", "n1"},
	} {
		_, err := Command(c, args)
		if err == nil || !strings.HasSuffix(err.Error(), args[1]+": id is already in use") {
			t.Errorf("Command(%q) = %v, want the id refused as in use", args, err)
		}
	}
	want := "primitive vip IPaddr2 \\\n\tparams ip=192.0.2.10 description=\"a b\" \\\n\top monitor interval=10s\ngroup g vip\n"
	if got := Show(c); got != want {
		t.Errorf("Show = %q want %q", got, want)
	}
}

func TestDelete(t *testing.T) {
	base := `primitive a lsb:a
primitive b lsb:b
primitive c lsb:c
primitive d lsb:d
group g a b
clone cl d
location l1 a 10: n1
location l2 g 10: n1
colocation col inf: c g
order o Mandatory: g c
`
	tests := []struct {
		ids  []string
		want string
	}{
		{[]string{"a"}, "primitive b lsb:b\nprimitive c lsb:c\nprimitive d lsb:d\ngroup g b\nclone cl d\nlocation l2 g 10: n1\ncolocation col inf: c g\norder o Mandatory: g c\n"},
		{[]string{"a", "b"}, "primitive c lsb:c\nprimitive d lsb:d\nclone cl d\n"},
		{[]string{"g"}, "primitive c lsb:c\nprimitive d lsb:d\nclone cl d\n"},
		{[]string{"d"}, "primitive a lsb:a\nprimitive b lsb:b\nprimitive c lsb:c\ngroup g a b\nlocation l1 a 10: n1\nlocation l2 g 10: n1\ncolocation col inf: c g\norder o Mandatory: g c\n"},
		{[]string{"col", "o"}, "primitive a lsb:a\nprimitive b lsb:b\nprimitive c lsb:c\nprimitive d lsb:d\ngroup g a b\nclone cl d\nlocation l1 a 10: n1\nlocation l2 g 10: n1\n"},
	}
	for _, tt := range tests {
		c := load(t, base)
		if err := Delete(c, tt.ids...); err != nil {
			t.Fatal(err)
		}
		if got := Show(c); got != tt.want {
			t.Errorf("Delete(%v):\n%s\nwant:\n%s", tt.ids, got, tt.want)
		}
	}
	c := load(t, base)
	if err := Delete(c, "a", "nope"); err == nil || Show(c) != Show(load(t, base)) {
		t.Errorf("Delete of an unknown id: err=%v, or the CIB changed", err)
	}
}

func TestVerify(t *testing.T) {
	md := func(agent string) (*agents.Metadata, error) {
		switch agent {
		case "ocf:heartbeat:IPaddr2":
			return &agents.Metadata{Parameters: []agents.Parameter{{Name: "ip", Required: true}, {Name: "cidr_netmask", Type: "integer"}}}, nil
		case "lsb:gone":
			return nil, errors.New("no such script")
		}
		return nil, nil
	}
	c := &cib.CIB{
		Primitives: []cib.Primitive{
			{ID: "vip", Class: "ocf", Provider: "heartbeat", Type: "IPaddr2", Params: map[string]string{"cidr_netmask": "x24", "nic": "eth0"},
				Meta: map[string]string{"target-rol": "Stopped"}, Ops: []cib.Op{{Name: "monitr", Interval: time.Second}}},
			{ID: "old", Class: "lsb", Type: "gone"},
		},
		Groups:      []cib.Group{{ID: "g", Members: []string{"vip", "ghost"}}, {ID: "g2", Members: []string{"vip"}}},
		Colocations: []cib.Colocation{{ID: "c", Score: cib.Infinity, Rsc: "g", WithRsc: "g"}},
		Orders:      []cib.Order{{ID: "o", First: "nothere", Then: "g"}},
		Locations:   []cib.Location{{ID: "g", Rsc: "g", Score: 1, Node: "n1"}},
	}
	var got []string
	for _, d := range Verify(c, md) {
		got = append(got, d.String())
	}
	want := []string{
		`location g: id "g" is already used by group g`,
		`group g: resource ghost does not exist`,
		`group g2: resource vip is already in group g`,
		`colocation c: resource g is colocated with itself`,
		`order o: resource nothere does not exist`,
		`Resource start-up disabled since no STONITH resources have been defined`,
		`Either configure some or disable STONITH with the stonith-enabled option`,
		`NOTE: Clusters with shared data need STONITH to ensure data integrity`,
		`WARNING: primitive vip: unknown meta attribute "target-rol" (did you mean "target-role"?)`,
		`WARNING: primitive vip: unknown operation "monitr" (did you mean "monitor"?)`,
		`WARNING: primitive vip: only monitor operations should have a non-zero interval (op monitr interval=1s)`,
		`primitive vip: required parameter ip not defined`,
		`primitive vip: parameter cidr_netmask="x24" is not an integer`,
		`WARNING: primitive vip: parameter nic does not exist in ocf:heartbeat:IPaddr2 (did you mean "ip"?)`,
		`primitive old: lsb:gone: got no meta-data, does this RA exist? (no such script)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Verify:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRuleEval(t *testing.T) {
	c := load(t, "primitive a lsb:a\nlocation l a rule -inf: not_defined pingd or pingd number:lte 0\n")
	r, err := cib.ParseRule(c.Locations[0].Rule)
	if err != nil {
		t.Fatal(err)
	}
	for attrs, want := range map[string]bool{"": true, "pingd=0": true, "pingd=100": false, "pingd=-5": true} {
		m := map[string]string{"#uname": "n1"}
		if k, v, ok := strings.Cut(attrs, "="); ok {
			m[k] = v
		}
		if got := r.Eval(m); got != want {
			t.Errorf("eval with %q = %v want %v", attrs, got, want)
		}
	}
}

func TestLifetimeRoundTrip(t *testing.T) {
	c := load(t, "primitive vip lsb:v\n")
	exp := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if _, err := c.Ban("vip", "n2", exp); err != nil {
		t.Fatal(err)
	}
	want := "primitive vip lsb:v\nlocation cli-ban-vip-on-n2 vip role=Started \\\n\trule -inf: #uname eq n2 and date lt \"2026-11-25 12:00:00 +00:00\"\n"
	got := Show(c)
	if got != want {
		t.Fatalf("Show = %q\nwant %q", got, want)
	}
	back := load(t, got)
	if l := back.Locations[0]; !l.Expires.Equal(exp) || l.Node != "n2" || l.Score != -cib.Infinity || l.Role != "Started" || l.Rule != "" {
		t.Errorf("parsed back %+v", l)
	}
}

func TestShowIDs(t *testing.T) {
	seed, _ := os.ReadFile("testdata/seed.crm")
	c := load(t, string(seed))
	got, err := ShowIDs(c, "vip", "g_web", "property")
	want := "primitive vip IPaddr2 \\\n\tparams ip=192.0.2.10 cidr_netmask=24 \\\n\top monitor interval=30s timeout=20s\ngroup g_web vip haproxy\n" +
		"property cib-bootstrap-options: \\\n\tstonith-enabled=false \\\n\tno-quorum-policy=ignore \\\n\tcluster-name=hacluster\n"
	if err != nil || got != want {
		t.Errorf("ShowIDs = %q, %v\nwant %q", got, err, want)
	}
	if _, err := ShowIDs(c, "nope"); err == nil {
		t.Error("ShowIDs of an unknown id succeeded")
	}
}
