// Package quorum decides, as a pure function of the membership view, whether this partition has quorum and
// what the no-quorum-policy tells it to do. It follows corosync votequorum (votes, expected votes, two_node,
// wait_for_all) and pacemaker's no-quorum-policy. No clocks, no I/O: the caller passes what it saw.
package quorum

import (
	"fmt"
	"strings"
)

// Policy is pacemaker's no-quorum-policy.
type Policy string

// The policies. Suicide is the older name of Fence; both are accepted and Fence is reported.
const (
	Stop    Policy = "stop"
	Freeze  Policy = "freeze"
	Ignore  Policy = "ignore"
	Demote  Policy = "demote"
	Fence   Policy = "fence"
	Suicide Policy = "suicide"
)

// ParsePolicy reads a no-quorum-policy value.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(s)); p {
	case Stop, Freeze, Ignore, Demote, Fence:
		return p, nil
	case Suicide:
		return Fence, nil
	case "":
		return Stop, nil
	}
	return "", fmt.Errorf("no-quorum-policy %q: want stop, freeze, ignore, demote, fence or suicide", s)
}

// Member is one configured voter as this node sees it.
type Member struct {
	Name    string
	Votes   int  // usually 1
	Witness bool // a voter that runs no resources
	Alive   bool // in this node's partition now
}

// Config is the quorum configuration (corosync's quorum section).
type Config struct {
	// TwoNode lowers quorum to one vote when exactly two voters are configured (corosync two_node: 1).
	// It is ignored when more than two votes are configured, as corosync disables it then.
	TwoNode bool
	// WaitForAll keeps the partition inquorate until every configured member has been seen alive at once
	// since this node started (corosync wait_for_all; on by default with TwoNode).
	WaitForAll bool
	// Policy is the no-quorum-policy; StonithEnabled is the stonith-enabled property, which Fence needs.
	Policy         Policy
	StonithEnabled bool
}

// View is what this node knows of the membership.
type View struct {
	Members []Member
	// SeenAll reports whether every configured member was alive together at least once since this node started.
	SeenAll bool
	// EverQuorate reports whether this node's partition had quorum at some point since it started.
	EverQuorate bool
}

// Action is what the resource layer must do in this partition.
type Action string

const (
	// Manage: schedule normally (quorate, or policy ignore).
	Manage Action = "manage"
	// FreezeRunning: keep what runs here and manage it, but recover nothing from nodes outside the partition.
	FreezeRunning Action = "freeze"
	// StopAll: stop every resource in this partition.
	StopAll Action = "stop"
	// DemoteAll: demote promotable resources and stop everything else.
	DemoteAll Action = "demote"
	// FenceSelf: fence every node of this partition (pacemaker's fence / suicide).
	FenceSelf Action = "fence"
)

// Verdict is the decision with its reasons, for crm_mon and the logs.
type Verdict struct {
	Quorate  bool     `json:"quorate"`
	Votes    int      `json:"votes"`    // votes of alive members
	Expected int      `json:"expected"` // votes of all configured members
	Quorum   int      `json:"quorum"`   // votes needed
	Flags    []string `json:"flags,omitempty"`
	// Policy is the effective no-quorum-policy (fence without stonith, or fence in a partition that never had
	// quorum, falls back to stop, as pacemaker does).
	Policy Policy `json:"policy"`
	Action Action `json:"action"`
	Reason string `json:"reason"`
}

// Decide computes the verdict. It never fails: a configuration error is reported in Reason and resolved
// the safe way (stop).
func Decide(cfg Config, v View) Verdict {
	var vd Verdict
	voters := 0
	for _, m := range v.Members {
		votes := m.Votes
		if votes < 0 {
			votes = 0
		}
		vd.Expected += votes
		if votes > 0 {
			voters++
		}
		if m.Alive {
			vd.Votes += votes
		}
	}
	vd.Quorum = vd.Expected/2 + 1
	twoNode := cfg.TwoNode && vd.Expected == 2 && voters == 2
	if twoNode {
		vd.Quorum = 1
		vd.Flags = append(vd.Flags, "2Node")
	}
	waiting := cfg.WaitForAll && !v.SeenAll
	vd.Quorate = vd.Expected > 0 && vd.Votes >= vd.Quorum && !waiting
	if vd.Quorate {
		vd.Flags = append(vd.Flags, "Quorate")
	}
	if cfg.WaitForAll {
		vd.Flags = append(vd.Flags, "WaitForAll")
	}

	policy, err := ParsePolicy(string(cfg.Policy))
	var notes []string
	if err != nil {
		notes = append(notes, err.Error()+"; using stop")
		policy = Stop
	}
	if policy == Fence && !cfg.StonithEnabled {
		notes = append(notes, "no-quorum-policy=fence needs stonith-enabled=true; using stop")
		policy = Stop
	}
	// As pacemaker's unpack_config: fence is honoured only by a partition that has (or had) quorum; the other
	// policies apply as they are.
	if policy == Fence && !v.EverQuorate && !vd.Quorate {
		notes = append(notes, "partition never had quorum; using stop instead of fence")
		policy = Stop
	}
	vd.Policy = policy

	switch {
	case vd.Quorate:
		vd.Action = Manage
		vd.Reason = fmt.Sprintf("partition with quorum (%d of %d votes, %d needed)", vd.Votes, vd.Expected, vd.Quorum)
	default:
		why := fmt.Sprintf("partition WITHOUT quorum (%d of %d votes, %d needed)", vd.Votes, vd.Expected, vd.Quorum)
		if waiting && vd.Votes >= vd.Quorum {
			why = fmt.Sprintf("partition WITHOUT quorum: wait_for_all: not every node has been seen since start (%d of %d votes)", vd.Votes, vd.Expected)
		}
		vd.Action = map[Policy]Action{Stop: StopAll, Freeze: FreezeRunning, Ignore: Manage, Demote: DemoteAll, Fence: FenceSelf}[policy]
		vd.Reason = why + "; no-quorum-policy=" + string(policy)
	}
	if len(notes) > 0 {
		vd.Reason += " (" + strings.Join(notes, "; ") + ")"
	}
	return vd
}
