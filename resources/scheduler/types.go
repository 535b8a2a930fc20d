// Package scheduler decides what the cluster should do: Schedule is a pure function of the configuration
// (the CIB), the observed state of nodes and resources, fail counts, the quorum verdict and the time, and
// returns a Plan — ordered actions (fence, probe, stop, start, monitor), each with the ids of the actions it
// waits for and a human reason, plus where each resource should run and why, or why it cannot. It does no
// I/O, reads no clock, starts no goroutines and logs nothing; the DC calls it on every change and hands the
// actions to the executors.
package scheduler

import (
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// Input is everything Schedule looks at. Nodes and Resources not listed are taken as offline and stopped.
type Input struct {
	CIB       *cib.CIB
	Nodes     []NodeState
	Resources []ResourceState // observed state of each primitive on each node (clone children by primitive id)
	Failures  []FailCount
	// Quorate is the quorum verdict for this partition; NoQuorumPolicy (stop, freeze, ignore, demote, fence
	// or suicide) is what to do without quorum; empty means the CIB's no-quorum-policy property.
	Quorate        bool
	NoQuorumPolicy string
	Now            time.Time // for failure-timeout and location lifetimes
}

// NodeState is one cluster node as the membership and fencing layers see it. Standby and the other
// permanent attributes come from the CIB node entry; Attributes adds transient (status) attributes such as
// standby for lifetime=reboot or pingd, which take precedence.
type NodeState struct {
	Name    string
	Online  bool
	Unclean bool // lost without a clean shutdown: must be fenced before its resources count as stopped
	DC      bool // informational: the scheduler runs on the DC, fence actions name only their target
	// Witness marks a Raft voter that runs no resources (also taken from the CIB node entry).
	Witness bool
	// FenceRequested asks for this node to be fenced (crm node fence).
	FenceRequested bool
	// Fenced reports that fencing of this node was confirmed (after Unclean, a failed stop or a request).
	Fenced     bool
	Attributes map[string]string
}

// RunState is what the op history says about a resource on a node.
type RunState int

const (
	Stopped    RunState = iota // probed or stopped cleanly
	Running                    // started, last monitor fine
	Failed                     // a start or monitor failed: needs recovery (stop, then start somewhere)
	StopFailed                 // a stop failed: the node must be fenced before the resource runs anywhere
	Unknown                    // never probed on this node: a probe comes first
)

var runStateNames = [...]string{"stopped", "running", "failed", "stop-failed", "unknown"}

func (s RunState) String() string {
	if int(s) < len(runStateNames) {
		return runStateNames[s]
	}
	return "invalid"
}

// ResourceState is the observed state of one primitive on one node.
type ResourceState struct {
	Resource string // primitive id
	Node     string
	State    RunState
	// Monitors are the intervals of the recurring monitors active for a running resource; a configured
	// monitor missing here is (re)scheduled.
	Monitors []time.Duration
}

// FailCount is the failure history of one primitive on one node. Op is the failed operation (start,
// monitor, stop); a failed start with start-failure-is-fatal=true counts as INFINITY failures. RC is the
// OCF exit code of the last failure: as in pacemaker, 2-5 (OCF_ERR_ARGS, _UNIMPLEMENTED, _PERM, _INSTALLED)
// are hard errors that ban the resource from this node, and 6 (OCF_ERR_CONFIGURED) is a fatal error that
// bans it from every node; other codes are soft (counted against migration-threshold).
type FailCount struct {
	Resource    string
	Node        string
	Count       int
	Op          string
	RC          int
	LastFailure time.Time
}

// The OCF exit codes whose failures are not soft (Pacemaker Administration, OCF return codes).
const (
	rcFirstHard  = 2 // OCF_ERR_ARGS
	rcLastHard   = 5 // OCF_ERR_INSTALLED
	rcConfigured = 6 // OCF_ERR_CONFIGURED: fatal
)

// Kind is what an Action does.
type Kind string

const (
	Start   Kind = "start"
	Stop    Kind = "stop"
	Monitor Kind = "monitor" // recurring, with Interval
	Probe   Kind = "probe"   // one-shot monitor (interval 0) to learn the state
	Fence   Kind = "fence"   // fence Node (the target); the DC picks the device
)

// Action is one step of a Plan. After lists the ids of the actions that must complete first; Plan.Actions
// is in an order that respects it.
type Action struct {
	ID       int
	Kind     Kind
	Resource string // primitive id; empty for fence
	Clone    string // the clone id when Resource is a clone's child (or a member of a cloned group)
	Node     string // where it runs; for fence, the node to fence
	Interval time.Duration
	Timeout  time.Duration // from the op definition, op_defaults, or 20s
	After    []int
	Reason   string
}

// Placement explains one resource (primitive, group or clone): where it should run, where it runs now,
// and why — or why it cannot run.
type Placement struct {
	Resource string
	Kind     string   // primitive, group, clone
	Nodes    []string // where it should run after the plan (sorted); empty when it should not run
	Current  []string // where it runs now (sorted)
	Reason   string   // why there, or why not at all: "no node allowed: n1 standby, n2 banned by cli-ban-vip-on-n2"
	Blocked  bool     // the cluster cannot act on it now (waiting for fencing, unmanaged, multiple-active=block...)
	Managed  bool
}

// Plan is Schedule's result.
type Plan struct {
	Actions    []Action
	Placements []Placement // sorted by resource id
	// Notes are cluster-wide facts that shaped the plan (maintenance-mode, no quorum, no STONITH device).
	Notes []string
}

// Placement returns the placement of a resource by id.
func (p Plan) Placement(id string) (Placement, bool) {
	for _, pl := range p.Placements {
		if pl.Resource == id {
			return pl, true
		}
	}
	return Placement{}, false
}
