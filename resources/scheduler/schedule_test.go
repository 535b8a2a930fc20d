package scheduler

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

func twoNodes() []NodeState {
	return []NodeState{{Name: "n1", Online: true, DC: true}, {Name: "n2", Online: true}}
}

func vipCIB() *cib.CIB {
	return &cib.CIB{
		Nodes:      []cib.Node{{ID: 1, Name: "n1"}, {ID: 2, Name: "n2"}},
		Properties: map[string]string{"stonith-enabled": "false"},
		Primitives: []cib.Primitive{{ID: "vip", Class: "ocf", Provider: "heartbeat", Type: "IPaddr2",
			Ops: []cib.Op{{Name: "monitor", Interval: 10 * time.Second, Timeout: 5 * time.Second}, {Name: "start", Timeout: 30 * time.Second}}}},
	}
}

func TestScheduleTable(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		mod     func(*Input)
		actions []string // Kind resource node
		where   string   // placement of vip: its nodes, or "stopped"
		reason  string   // a substring of vip's placement reason
	}{
		{"fresh", func(*Input) {}, []string{"start vip n1", "monitor vip n1"}, "n1", "equal scores"},
		{"timeouts from ops", func(in *Input) {}, []string{"start vip n1", "monitor vip n1"}, "n1", ""},
		{"running stays", func(in *Input) {
			in.Resources = []ResourceState{{Resource: "vip", Node: "n2", State: Running, Monitors: []time.Duration{10 * time.Second}}}
		}, nil, "n2", "already on n2"},
		{"offline node", func(in *Input) { in.Nodes[0].Online = false }, []string{"start vip n2", "monitor vip n2"}, "n2", "n1 offline"},
		{"ban with expiry passed", func(in *Input) {
			in.CIB.Locations = []cib.Location{{ID: "cli-ban-vip-on-n1", Rsc: "vip", Score: -cib.Infinity, Node: "n1", Expires: now.Add(-time.Minute)}}
		}, []string{"start vip n1", "monitor vip n1"}, "n1", ""},
		{"ban with expiry ahead", func(in *Input) {
			in.CIB.Locations = []cib.Location{{ID: "cli-ban-vip-on-n1", Rsc: "vip", Score: -cib.Infinity, Node: "n1", Expires: now.Add(time.Minute)}}
		}, []string{"start vip n2", "monitor vip n2"}, "n2", "n1 banned by cli-ban-vip-on-n1"},
		{"negative score avoids", func(in *Input) {
			in.CIB.Locations = []cib.Location{{ID: "l", Rsc: "vip", Score: -10, Node: "n1"}, {ID: "l2", Rsc: "vip", Score: -10, Node: "n2"}}
		}, nil, "stopped", "avoided by l"},
		{"migration-threshold from rsc_defaults", func(in *Input) {
			in.CIB.RscDefaults = map[string]string{"migration-threshold": "2"}
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Failed}}
			in.Failures = []FailCount{{Resource: "vip", Node: "n1", Count: 2, Op: "monitor", LastFailure: now}}
		}, []string{"stop vip n1", "start vip n2", "monitor vip n2"}, "n2", "failed 2 times (migration-threshold=2)"},
		{"migration-threshold 0 disables", func(in *Input) {
			in.CIB.RscDefaults = map[string]string{"migration-threshold": "0"}
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Failed}}
			in.Failures = []FailCount{{Resource: "vip", Node: "n1", Count: 50, LastFailure: now}}
		}, []string{"stop vip n1", "start vip n1", "monitor vip n1"}, "n1", ""},
		{"unclean without fencing counts as stopped", func(in *Input) {
			in.Nodes[0] = NodeState{Name: "n1", Unclean: true}
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Running}}
		}, []string{"start vip n2", "monitor vip n2"}, "n2", "n1 unclean"},
		{"no quorum, stop", func(in *Input) {
			in.Quorate = false
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Running}}
		}, []string{"stop vip n1"}, "stopped", "no quorum: policy stop"},
		{"no quorum, demote", func(in *Input) {
			in.Quorate, in.NoQuorumPolicy = false, "demote"
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Running}}
		}, []string{"stop vip n1"}, "stopped", "no quorum: policy demote"},
		{"no quorum, fence without stonith falls back to stop", func(in *Input) {
			in.Quorate, in.NoQuorumPolicy = false, "fence"
		}, nil, "stopped", "no quorum: policy stop"},
		{"no quorum, freeze keeps a failed resource in place", func(in *Input) {
			in.Quorate, in.NoQuorumPolicy = false, "freeze"
			in.Resources = []ResourceState{{Resource: "vip", Node: "n2", State: Failed}}
		}, []string{"stop vip n2", "start vip n2", "monitor vip n2"}, "n2", ""},
		{"maintenance attribute on the resource", func(in *Input) {
			in.CIB.Primitives[0].Meta = map[string]string{"maintenance": "true"}
			in.Resources = []ResourceState{{Resource: "vip", Node: "n1", State: Failed}}
		}, nil, "n1", "maintenance=true"},
		{"target-role Stopped, not running", func(in *Input) {
			in.CIB.Primitives[0].Meta = map[string]string{"target-role": "Stopped"}
		}, nil, "stopped", "target-role=Stopped"},
		{"unknown node in a location is harmless", func(in *Input) {
			in.CIB.Locations = []cib.Location{{ID: "l", Rsc: "vip", Score: 100, Node: "ghost"}, {ID: "l2", Rsc: "ghost-rsc", Score: 1, Node: "n1"}}
		}, []string{"start vip n1", "monitor vip n1"}, "n1", ""},
		{"no nodes at all", func(in *Input) {
			in.CIB.Nodes, in.Nodes = nil, nil
		}, nil, "stopped", "no node allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{CIB: vipCIB(), Nodes: twoNodes(), Quorate: true, Now: now}
			tt.mod(&in)
			plan := Schedule(in)
			var got []string
			for _, a := range plan.Actions {
				got = append(got, fmt.Sprintf("%s %s %s", a.Kind, a.Resource, a.Node))
			}
			if strings.Join(got, "; ") != strings.Join(tt.actions, "; ") {
				t.Errorf("actions = %q, want %q\n%s", got, tt.actions, plan)
			}
			pl, ok := plan.Placement("vip")
			if !ok {
				t.Fatalf("no placement for vip:\n%s", plan)
			}
			where := strings.Join(pl.Nodes, " ")
			if where == "" {
				where = "stopped"
			}
			if where != tt.where || !strings.Contains(pl.Reason, tt.reason) {
				t.Errorf("placement = %v, want %s with %q", pl, tt.where, tt.reason)
			}
		})
	}
}

func TestActionTimeoutsAndMonitorIntervals(t *testing.T) {
	in := Input{CIB: vipCIB(), Nodes: twoNodes(), Quorate: true}
	in.CIB.OpDefaults = map[string]string{"timeout": "90s"}
	plan := Schedule(in)
	if len(plan.Actions) != 2 {
		t.Fatalf("plan:\n%s", plan)
	}
	start, mon := plan.Actions[0], plan.Actions[1]
	if start.Timeout != 30*time.Second || mon.Timeout != 5*time.Second || mon.Interval != 10*time.Second || !reflect.DeepEqual(mon.After, []int{start.ID}) {
		t.Errorf("start %+v monitor %+v", start, mon)
	}
	in.CIB.Primitives[0].Ops = nil
	in.CIB.Primitives[0].Ops = []cib.Op{{Name: "monitor", Interval: time.Second}}
	if a := Schedule(in).Actions[0]; a.Timeout != 90*time.Second {
		t.Errorf("start timeout from op_defaults = %v", a.Timeout)
	}
}

// randomInput builds an arbitrary, possibly inconsistent input from r.
func randomInput(r *rand.Rand) Input {
	nodes := []string{"n1", "n2", "n3"}[:r.IntN(3)+1]
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	c := &cib.CIB{Properties: map[string]string{}}
	for i, n := range nodes {
		c.Nodes = append(c.Nodes, cib.Node{ID: i + 1, Name: n, Witness: r.IntN(6) == 0,
			Attributes: map[string]string{"standby": pick("on", "off", "off")}})
	}
	rscs := []string{"a", "b", "c", "d", "e"}[:r.IntN(5)+1]
	for _, id := range rscs {
		p := cib.Primitive{ID: id, Class: pick("ocf", "lsb", "stonith"), Type: "x",
			Ops:  []cib.Op{{Name: "monitor", Interval: time.Duration(r.IntN(3)) * time.Second}},
			Meta: map[string]string{}}
		for range r.IntN(3) {
			p.Meta[pick("target-role", "is-managed", "resource-stickiness", "migration-threshold", "multiple-active", "failure-timeout")] =
				pick("Stopped", "false", "100", "3", "block", "stop_only", "60s", "inf", "garbage")
		}
		c.Primitives = append(c.Primitives, p)
	}
	if len(rscs) >= 3 && r.IntN(2) == 0 {
		c.Groups = append(c.Groups, cib.Group{ID: "g", Members: []string{"a", "b"}})
	}
	if r.IntN(2) == 0 {
		c.Clones = append(c.Clones, cib.Clone{ID: "cl", Child: rscs[len(rscs)-1], Meta: map[string]string{"clone-max": pick("1", "2", "x")}})
	}
	all := append(append([]string{}, rscs...), "g", "cl", "ghost")
	scores := []cib.Score{cib.Infinity, -cib.Infinity, 0, 50, -50}
	for i := range r.IntN(4) {
		c.Locations = append(c.Locations, cib.Location{ID: fmt.Sprintf("l%d", i), Rsc: pick(all...), Score: scores[r.IntN(5)], Node: pick(append(nodes, "ghost")...),
			Rule: pick("", "", "#uname eq n1", "pingd gt 0", "bad rule (")})
	}
	for i := range r.IntN(4) {
		c.Colocations = append(c.Colocations, cib.Colocation{ID: fmt.Sprintf("c%d", i), Score: scores[r.IntN(5)], Rsc: pick(all...), WithRsc: pick(all...)})
		c.Orders = append(c.Orders, cib.Order{ID: fmt.Sprintf("o%d", i), Kind: pick("", "Optional", "Serialize"), First: pick(all...), Then: pick(all...), FirstAction: pick("", "stop")})
	}
	for _, p := range []string{"stonith-enabled", "symmetric-cluster", "maintenance-mode", "stop-all-resources", "start-failure-is-fatal", "no-quorum-policy"} {
		if r.IntN(3) == 0 {
			c.Properties[p] = pick("true", "false", "freeze", "ignore", "fence")
		}
	}
	in := Input{CIB: c, Quorate: r.IntN(4) != 0, NoQuorumPolicy: pick("", "stop", "freeze", "ignore", "fence", "bogus"), Now: time.Unix(1000, 0)}
	for _, n := range append(nodes, "stranger") {
		in.Nodes = append(in.Nodes, NodeState{Name: n, Online: r.IntN(4) != 0, Unclean: r.IntN(6) == 0, Fenced: r.IntN(6) == 0,
			Attributes: map[string]string{"pingd": pick("0", "10")}})
	}
	for _, id := range append(rscs, "ghost") {
		for _, n := range nodes {
			if r.IntN(2) == 0 {
				in.Resources = append(in.Resources, ResourceState{Resource: id, Node: n, State: RunState(r.IntN(6))})
			}
			if r.IntN(4) == 0 {
				in.Failures = append(in.Failures, FailCount{Resource: id, Node: n, Count: r.IntN(5), Op: pick("start", "monitor"), LastFailure: time.Unix(int64(r.IntN(2000)), 0)})
			}
		}
	}
	return in
}

// TestScheduleInvariants: on random inputs Schedule never panics, is deterministic, leaves the CIB as it
// was, orders actions after what they wait for, never starts anything on a node that cannot run it, never
// starts a non-clone primitive twice, and acts not at all in maintenance-mode.
func TestScheduleInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		in := randomInput(r)
		before, _ := json.Marshal(in.CIB)
		plan := Schedule(in)
		if after, _ := json.Marshal(in.CIB); string(after) != string(before) {
			t.Fatalf("case %d: Schedule changed the CIB", i)
		}
		if again := Schedule(in); again.String() != plan.String() {
			t.Fatalf("case %d: not deterministic", i)
		}
		s := newState(in)
		starts := map[string]int{}
		for pos, a := range plan.Actions {
			if a.ID != pos+1 {
				t.Fatalf("case %d: action ids not sequential:\n%s", i, plan)
			}
			for _, dep := range a.After {
				if dep >= a.ID {
					t.Fatalf("case %d: action #%d waits for a later #%d:\n%s", i, a.ID, dep, plan)
				}
			}
			if a.Kind == Start {
				if why := s.cannotRun(a.Node); why != "" {
					t.Fatalf("case %d: start on %s (%s):\n%s", i, a.Node, why, plan)
				}
				if a.Clone == "" {
					starts[a.Resource]++
					if starts[a.Resource] > 1 {
						t.Fatalf("case %d: %s started twice:\n%s", i, a.Resource, plan)
					}
				}
			}
		}
		if cib.IsTrue(in.CIB.Property("maintenance-mode")) && len(plan.Actions) > 0 {
			t.Fatalf("case %d: actions in maintenance-mode:\n%s", i, plan)
		}
	}
}
