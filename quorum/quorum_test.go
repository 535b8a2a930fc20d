package quorum

import (
	"fmt"
	"strings"
	"testing"
)

// TestDecideExhaustive walks every combination of: two or three configured voters (with and without a
// witness), each member alive or not, wait_for_all satisfied or not, ever quorate or not, every policy,
// stonith on and off; it checks each verdict against an independent statement of votequorum's and
// pacemaker's rules.
func TestDecideExhaustive(t *testing.T) {
	policies := []Policy{Stop, Freeze, Ignore, Demote, Fence, Suicide}
	type topo struct {
		name    string
		members []Member
		twoNode bool
	}
	topos := []topo{
		{"two-node", []Member{{Name: "n1", Votes: 1}, {Name: "n2", Votes: 1}}, true},
		{"two-plain", []Member{{Name: "n1", Votes: 1}, {Name: "n2", Votes: 1}}, false},
		{"witness", []Member{{Name: "n1", Votes: 1}, {Name: "n2", Votes: 1}, {Name: "w", Votes: 1, Witness: true}}, true},
	}
	count := 0
	for _, tp := range topos {
		for mask := 0; mask < 1<<len(tp.members); mask++ {
			for _, wfa := range []bool{false, true} {
				for _, seenAll := range []bool{false, true} {
					for _, ever := range []bool{false, true} {
						for _, pol := range policies {
							for _, stonith := range []bool{false, true} {
								members := make([]Member, len(tp.members))
								copy(members, tp.members)
								alive := 0
								for i := range members {
									members[i].Alive = mask&(1<<i) != 0
									if members[i].Alive {
										alive++
									}
								}
								cfg := Config{TwoNode: tp.twoNode, WaitForAll: wfa, Policy: pol, StonithEnabled: stonith}
								v := View{Members: members, SeenAll: seenAll, EverQuorate: ever}
								got := Decide(cfg, v)
								count++
								name := fmt.Sprintf("%s/alive=%b/wfa=%v/seen=%v/ever=%v/%s/stonith=%v", tp.name, mask, wfa, seenAll, ever, pol, stonith)

								expected := len(members)
								need := expected/2 + 1
								if tp.twoNode && expected == 2 {
									need = 1
								}
								wantQ := alive >= need && (!wfa || seenAll)
								if got.Quorate != wantQ || got.Votes != alive || got.Expected != expected || got.Quorum != need {
									t.Fatalf("%s: got quorate=%v votes=%d exp=%d q=%d, want %v %d %d %d", name, got.Quorate, got.Votes, got.Expected, got.Quorum, wantQ, alive, expected, need)
								}
								eff := pol
								if eff == Suicide {
									eff = Fence
								}
								if eff == Fence && !stonith {
									eff = Stop
								}
								if eff == Fence && !ever && !wantQ {
									eff = Stop
								}
								if got.Policy != eff {
									t.Fatalf("%s: effective policy %s, want %s", name, got.Policy, eff)
								}
								wantA := Manage
								if !wantQ {
									wantA = map[Policy]Action{Stop: StopAll, Freeze: FreezeRunning, Ignore: Manage, Demote: DemoteAll, Fence: FenceSelf}[eff]
								}
								if got.Action != wantA {
									t.Fatalf("%s: action %s, want %s", name, got.Action, wantA)
								}
								if got.Reason == "" {
									t.Fatalf("%s: empty reason", name)
								}
							}
						}
					}
				}
			}
		}
	}
	if count != (4+4+8)*2*2*2*6*2 {
		t.Fatalf("walked %d cases", count)
	}
}

func TestTwoNodeSurvivor(t *testing.T) {
	cfg := Config{TwoNode: true, WaitForAll: true, Policy: Stop}
	members := []Member{{Name: "n1", Votes: 1, Alive: true}, {Name: "n2", Votes: 1}}
	if v := Decide(cfg, View{Members: members, SeenAll: true, EverQuorate: true}); !v.Quorate {
		t.Fatalf("survivor of a two-node cluster that saw its peer lost quorum: %+v", v)
	}
	v := Decide(cfg, View{Members: members})
	if v.Quorate || v.Action != StopAll {
		t.Fatalf("lone booting node is quorate despite wait_for_all: %+v", v)
	}
	if want := "wait_for_all"; !strings.Contains(v.Reason, want) {
		t.Fatalf("reason %q does not mention %s", v.Reason, want)
	}
	if got := Decide(cfg, View{Members: members, SeenAll: true, EverQuorate: true}).Flags; fmt.Sprint(got) != "[2Node Quorate WaitForAll]" {
		t.Fatalf("flags %v", got)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"stop": Stop, "SUICIDE": Fence, "fence": Fence, "": Stop, "ignore": Ignore} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q)=%v,%v", in, got, err)
		}
	}
	if _, err := ParsePolicy("panic"); err == nil {
		t.Error("ParsePolicy(panic) accepted")
	}
	if v := Decide(Config{Policy: "bogus"}, View{Members: []Member{{Name: "a", Votes: 1}}}); v.Action != StopAll || !strings.Contains(v.Reason, "bogus") {
		t.Errorf("bad policy: %+v", v)
	}
}
