package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/resources/scheduler"
)

func find(actions []scheduler.Action, kind scheduler.Kind, rsc, node string) (scheduler.Action, bool) {
	for _, a := range actions {
		if a.Kind == kind && a.Resource == rsc && a.Node == node {
			return a, true
		}
	}
	return scheduler.Action{}, false
}

func TestMigrateFirst(t *testing.T) {
	for _, migrate := range []string{"true", "false"} {
		c := &cib.CIB{
			Properties: map[string]string{"stonith-enabled": "false"},
			Nodes:      []cib.Node{{ID: 1, Name: "n1", Attributes: map[string]string{"standby": "on"}}, {ID: 2, Name: "n2"}},
			Primitives: []cib.Primitive{{ID: "vip", Class: "ocf", Provider: "duet", Type: "vip", Meta: map[string]string{"allow-migrate": migrate}}},
		}
		in := scheduler.Input{CIB: c, Quorate: true, Now: time.Now(),
			Nodes: []scheduler.NodeState{{Name: "n1", Online: true}, {Name: "n2", Online: true}},
			Resources: []scheduler.ResourceState{{Resource: "vip", Node: "n1", State: scheduler.Running},
				{Resource: "vip", Node: "n2", State: scheduler.Stopped}}}
		plan := scheduler.Schedule(in)
		out := migrateFirst(in, plan.Actions)
		stop, ok1 := find(out, scheduler.Stop, "vip", "n1")
		start, ok2 := find(out, scheduler.Start, "vip", "n2")
		if !ok1 || !ok2 {
			t.Fatalf("allow-migrate=%s: plan lacks the move: %v", migrate, plan.Actions)
		}
		stopAfterStart := slices.Contains(stop.After, start.ID)
		startAfterStop := slices.Contains(start.After, stop.ID)
		if migrate == "true" && (!stopAfterStart || startAfterStop) {
			t.Errorf("allow-migrate=true: want start on n2 first, then stop on n1: stop.After=%v start.After=%v", stop.After, start.After)
		}
		if migrate == "false" && (stopAfterStart || !startAfterStop) {
			t.Errorf("allow-migrate=false: want stop first: stop.After=%v start.After=%v", stop.After, start.After)
		}
		// make-before-break: the old holder stops announcing before the new one starts
		rel, ok := find(out, release, "vip", "n1")
		if migrate == "true" && (!ok || !slices.Contains(start.After, rel.ID) || len(rel.After) != 0) {
			t.Errorf("allow-migrate=true: want a release on n1 before the start on n2: release %+v (found %v), start.After=%v", rel, ok, start.After)
		}
		if migrate == "false" && ok {
			t.Errorf("allow-migrate=false: unexpected release %+v", rel)
		}
		ids := map[int]bool{}
		for _, a := range out {
			if ids[a.ID] {
				t.Errorf("allow-migrate=%s: action id %d used twice: %v", migrate, a.ID, out)
			}
			ids[a.ID] = true
		}
	}
}
