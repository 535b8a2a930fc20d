package crmsh

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// randomCIB builds a consistent configuration from r: every reference resolves.
func randomCIB(r *rand.Rand) *cib.CIB {
	c := &cib.CIB{}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	values := []string{"1", "x y", "a;b", `q"uote`, "/etc/x", "192.0.2.1", "node1:port1", "", "é", `back\slash`}
	for i := range r.IntN(3) + 1 {
		n := cib.Node{ID: i + 1, Name: fmt.Sprintf("n%d", i+1), Witness: r.IntN(5) == 0}
		if r.IntN(2) == 0 {
			n.Attributes = map[string]string{"standby": pick("on", "off")}
		}
		c.Nodes = append(c.Nodes, n)
	}
	nprim := r.IntN(6) + 1
	for i := range nprim {
		p := cib.Primitive{ID: fmt.Sprintf("p%d", i)}
		switch r.IntN(4) {
		case 0:
			p.Class, p.Provider, p.Type = "ocf", "heartbeat", pick("IPaddr2", "Dummy", "apache")
		case 1:
			p.Class, p.Type = "lsb", "svc"
		case 2:
			p.Class, p.Type = "stonith", "fence_xvm"
		default:
			p.Class, p.Provider, p.Type = "ocf", "duet", "vip"
		}
		if r.IntN(3) == 0 {
			p.Description = pick(values...)
		}
		for range r.IntN(3) {
			if p.Params == nil {
				p.Params = map[string]string{}
			}
			p.Params[pick("ip", "nic", "a_b", "x-y")] = pick(values...)
		}
		if r.IntN(2) == 0 {
			p.Meta = map[string]string{pick("target-role", "is-managed"): pick("Stopped", "Started")}
			if p.Meta["is-managed"] != "" {
				p.Meta["is-managed"] = pick("true", "false")
			}
		}
		for j := range r.IntN(3) {
			op := cib.Op{Name: pick("monitor", "start", "stop"), Timeout: time.Duration(r.IntN(3)) * 10 * time.Second}
			if op.Name == "monitor" {
				op.Interval = time.Duration(j+1) * 5 * time.Second
			}
			if r.IntN(3) == 0 {
				op.OnFail = pick("block", "restart")
			}
			if !hasOp(p.Ops, op) {
				p.Ops = append(p.Ops, op)
			}
		}
		c.Primitives = append(c.Primitives, p)
	}
	free := []string{}
	for _, p := range c.Primitives {
		free = append(free, p.ID)
	}
	resources := append([]string{}, free...)
	if len(free) >= 2 && r.IntN(2) == 0 {
		g := cib.Group{ID: "g", Members: free[:2]}
		if r.IntN(2) == 0 {
			g.Meta = map[string]string{"target-role": "Stopped"}
		}
		c.Groups = append(c.Groups, g)
		free = free[2:]
		resources = append(resources, "g")
	}
	if len(free) >= 1 && r.IntN(2) == 0 {
		c.Clones = append(c.Clones, cib.Clone{ID: "cl", Child: free[0], Meta: map[string]string{"clone-max": "2"}})
		resources = append(resources, "cl")
	}
	scores := []cib.Score{cib.Infinity, -cib.Infinity, 0, 100, -5}
	for i := range r.IntN(3) {
		l := cib.Location{ID: fmt.Sprintf("loc%d", i), Rsc: pick(resources...), Score: scores[r.IntN(len(scores))]}
		if r.IntN(3) == 0 {
			l.Rule = pick("#uname eq n1", "not_defined pingd or pingd number:lte 0", "defined x and y gt 3")
		} else {
			l.Node = pick("n1", "n2")
			if r.IntN(2) == 0 {
				l.Role = "Started"
			}
			if r.IntN(4) == 0 {
				l.Expires = time.Date(2026, 1, 1, r.IntN(24), 0, 0, 0, time.UTC)
			}
		}
		c.Locations = append(c.Locations, l)
	}
	if len(resources) >= 2 {
		for i := range r.IntN(3) {
			a, b := resources[0], resources[len(resources)-1]
			c.Colocations = append(c.Colocations, cib.Colocation{ID: fmt.Sprintf("col%d", i), Score: scores[r.IntN(len(scores))], Rsc: a, WithRsc: b})
			o := cib.Order{ID: fmt.Sprintf("ord%d", i), Kind: pick("", "Mandatory", "Optional", "Serialize"), First: b, Then: a}
			if r.IntN(2) == 0 {
				o.FirstAction = "start"
				f := false
				o.Symmetrical = &f
			}
			c.Orders = append(c.Orders, o)
		}
	}
	if r.IntN(2) == 0 {
		c.Properties = map[string]string{"stonith-enabled": pick("true", "false"), "no-quorum-policy": pick("stop", "ignore")}
	}
	if r.IntN(2) == 0 {
		c.RscDefaults = map[string]string{"resource-stickiness": "100", "migration-threshold": "3"}
	}
	if r.IntN(3) == 0 {
		c.OpDefaults = map[string]string{"timeout": "600"}
	}
	return c
}

func hasOp(ops []cib.Op, op cib.Op) bool {
	for _, o := range ops {
		if o.Name == op.Name && o.Interval == op.Interval {
			return true
		}
	}
	return false
}

// TestShowParseRoundTrip: for random configurations, Show's text parses back to a configuration that
// shows identically (Show ∘ Parse is the identity on Show's output).
func TestShowParseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		c := randomCIB(r)
		text := Show(c)
		st, diags := Parse("rt", text)
		if err := AsError(diags); err != nil {
			t.Fatalf("case %d: Show output does not parse: %v\n%s", i, err, text)
		}
		back := &cib.CIB{}
		if err := Update(back, st); err != nil {
			t.Fatalf("case %d: Update: %v\n%s", i, err, text)
		}
		if again := Show(back); again != text {
			t.Fatalf("case %d: round trip differs:\n--- first\n%s--- second\n%s", i, text, again)
		}
		if a, b := model(c), model(back); a != b {
			t.Fatalf("case %d: the typed model changed across the round trip:\n%s\n%s\n%s", i, text, a, b)
		}
	}
}

// model prints what the scheduler reads, leaving out display-only fields.
func model(c *cib.CIB) string {
	{
		c = c.Clone()
		c.Display = cib.Display{}
		for i := range c.Primitives {
			c.Primitives[i].ParamOrder, c.Primitives[i].MetaOrder = nil, nil
			for j := range c.Primitives[i].Ops {
				c.Primitives[i].Ops[j].Text = nil
			}
		}
		for i := range c.Groups {
			c.Groups[i].MetaOrder, c.Groups[i].ParamOrder = nil, nil
		}
		for i := range c.Clones {
			c.Clones[i].MetaOrder, c.Clones[i].ParamOrder = nil, nil
		}
		for i := range c.Nodes {
			c.Nodes[i].AttrOrder = nil
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
}

// FuzzParse: the parser never panics, every diagnostic has a line, and whatever parses cleanly shows and
// re-parses to the same text.
func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed.crm")
	f.Add(string(seed))
	f.Add("primitive a lsb:a \\\n op monitor interval=10s\ngroup g a\nlocation l g rule -inf: not_defined x or x number:lte 0\n")
	f.Add("node 1: n1 attributes standby=on\nproperty x: stonith-enabled=false\norder o Mandatory: a:start b symmetrical=false\n")
	f.Add("colocation c inf: a ( b c )\nms m s\nprimitive p \"unterminated\n")
	f.Add("# comment\nrsc_defaults resource-stickiness=1\nop_defaults timeout=600\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, diags := Parse("f", text)
		for _, d := range diags {
			if d.Line <= 0 {
				t.Fatalf("diagnostic without a line: %v", d)
			}
		}
		if HasErrors(diags) {
			return
		}
		c := &cib.CIB{}
		if err := Update(c, st); err != nil {
			return // dangling references and the like
		}
		out := Show(c)
		st2, diags2 := Parse("f2", out)
		if err := AsError(diags2); err != nil {
			t.Fatalf("Show output does not parse: %v\n%s", err, out)
		}
		c2 := &cib.CIB{}
		if err := Update(c2, st2); err != nil {
			t.Fatalf("Show output does not load: %v\n%s", err, out)
		}
		if out2 := Show(c2); out2 != out {
			t.Fatalf("not a fixpoint:\n%s\n---\n%s", out, out2)
		}
		_ = Verify(c, nil)
		_ = strings.TrimSpace(out)
	})
}
