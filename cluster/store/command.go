package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// Kind names a command.
type Kind string

// The commands.
const (
	SetProperty  Kind = "set-property" // Name, Value ("" with Delete)
	SetNodeAttr  Kind = "set-node-attr"
	EnsureNodes  Kind = "ensure-nodes" // Nodes: add missing configured nodes
	ReplaceCIB   Kind = "replace-cib"  // CIB: replace the configuration (epoch checked by ExpectEpoch)
	SetTimeline  Kind = "set-timeline"
	RecordOp     Kind = "record-op"     // Node, Rsc, Op
	ClearFail    Kind = "clear-fail"    // Node ("" = all), Rsc ("" = all)
	SetFail      Kind = "set-fail"      // Node, Rsc, Value
	SetPlan      Kind = "set-plan"      // Transition
	RecordFence  Kind = "record-fence"  // Fence
	ForgetNode   Kind = "forget-ops"    // Node: drop a fenced node's op history (its resources are stopped)
	RequestFence Kind = "request-fence" // Node: a user asks the DC to fence it (Delete clears the request)
	// ConfirmDown is crm node clearstate (stonith_admin --confirm): a user vouches that Node is down. The node
	// that receives it acts on it at once (it may be the survivor that cannot fence and is not DC yet); it is
	// never applied to the replicated state as such.
	ConfirmDown Kind = "confirm-down"
)

// ErrConflict is returned when a command's ExpectEpoch is not the CIB's epoch any more.
var ErrConflict = errors.New("the CIB changed meanwhile")

// Command is one change to the replicated state.
type Command struct {
	Kind   Kind       `json:"kind"`
	Change cib.Change `json:"change"`
	// ExpectEpoch, when non-zero, makes the command fail unless the CIB is still at that epoch
	// (crmsh's "commit refuses if the live CIB changed meanwhile").
	ExpectEpoch uint64 `json:"expect_epoch,omitempty"`

	Name       string      `json:"name,omitempty"`
	Value      string      `json:"value,omitempty"`
	Delete     bool        `json:"delete,omitempty"`
	Node       string      `json:"node,omitempty"`
	Rsc        string      `json:"rsc,omitempty"`
	Nodes      []cib.Node  `json:"nodes,omitempty"`
	CIB        *cib.CIB    `json:"cib,omitempty"`
	Timeline   *Timeline   `json:"timeline,omitempty"`
	Op         *OpRecord   `json:"op,omitempty"`
	Transition *Transition `json:"transition,omitempty"`
	Fence      *FenceEvent `json:"fence,omitempty"`
}

// maxCommand bounds one command; the CIB of a two-node cluster is a few kilobytes.
const maxCommand = 8 << 20

// Encode serialises a command for the Raft log.
func (c Command) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", c.Kind, err)
	}
	return b, nil
}

// Decode reads a command from the log or the network, checking the fields its kind needs.
func Decode(b []byte) (Command, error) {
	var c Command
	if len(b) > maxCommand {
		return c, fmt.Errorf("decode command: %d bytes is over the %d limit", len(b), maxCommand)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode command: %w", err)
	}
	need := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("decode %s command: missing %s", c.Kind, field)
		}
		return nil
	}
	switch c.Kind {
	case SetProperty:
		return c, need(c.Name != "", "name")
	case SetNodeAttr:
		if err := need(c.Node != "", "node"); err != nil {
			return c, err
		}
		return c, need(c.Name != "", "name")
	case EnsureNodes:
		return c, need(len(c.Nodes) > 0, "nodes")
	case ReplaceCIB:
		return c, need(c.CIB != nil, "cib")
	case SetTimeline:
		return c, need(c.Timeline != nil, "timeline")
	case RecordOp:
		if err := need(c.Op != nil && c.Node != "" && c.Rsc != "", "node, rsc and op"); err != nil {
			return c, err
		}
		return c, nil
	case ClearFail, ForgetNode:
		return c, nil
	case RequestFence, ConfirmDown:
		return c, need(c.Node != "", "node")
	case SetFail:
		return c, need(c.Node != "" && c.Rsc != "", "node and rsc")
	case SetPlan:
		return c, need(c.Transition != nil, "transition")
	case RecordFence:
		return c, need(c.Fence != nil, "fence")
	case "":
		return c, errors.New("decode command: missing kind")
	}
	return c, fmt.Errorf("decode command: unknown kind %q", c.Kind)
}

// apply changes st; it reports whether the configuration (and so the epoch) changed.
func (st *State) apply(c Command) (bool, error) {
	if c.ExpectEpoch != 0 && c.ExpectEpoch != st.CIB.Epoch {
		return false, fmt.Errorf("%w (epoch %d, expected %d): reload and retry", ErrConflict, st.CIB.Epoch, c.ExpectEpoch)
	}
	switch c.Kind {
	case SetProperty:
		if st.CIB.Properties == nil {
			st.CIB.Properties = map[string]string{}
		}
		if c.Delete {
			if _, ok := st.CIB.Properties[c.Name]; !ok {
				return false, fmt.Errorf("property %s is not set", c.Name)
			}
			delete(st.CIB.Properties, c.Name)
			return true, nil
		}
		name, err := cib.ValidateProperty(c.Name, c.Value)
		if err != nil {
			return false, err
		}
		st.CIB.Properties[name] = c.Value
		return true, nil
	case SetNodeAttr:
		i := slices.IndexFunc(st.CIB.Nodes, func(n cib.Node) bool { return n.Name == c.Node })
		if i < 0 {
			return false, fmt.Errorf("unknown node %q", c.Node)
		}
		n := &st.CIB.Nodes[i]
		if c.Delete {
			delete(n.Attributes, c.Name)
		} else {
			if n.Attributes == nil {
				n.Attributes = map[string]string{}
			}
			n.Attributes[c.Name] = c.Value
		}
		return true, nil
	case EnsureNodes:
		changed := false
		for _, want := range c.Nodes {
			i := slices.IndexFunc(st.CIB.Nodes, func(n cib.Node) bool { return n.Name == want.Name })
			if i < 0 {
				st.CIB.Nodes = append(st.CIB.Nodes, cib.Node{ID: want.ID, Name: want.Name, Witness: want.Witness})
				changed = true
			} else if st.CIB.Nodes[i].ID != want.ID || st.CIB.Nodes[i].Witness != want.Witness {
				st.CIB.Nodes[i].ID, st.CIB.Nodes[i].Witness = want.ID, want.Witness
				changed = true
			}
		}
		slices.SortFunc(st.CIB.Nodes, func(a, b cib.Node) int { return a.ID - b.ID })
		return changed, nil
	case ReplaceCIB:
		next := c.CIB.Clone()
		next.AdminEpoch = max(next.AdminEpoch, st.CIB.AdminEpoch)
		next.Epoch = st.CIB.Epoch
		// Nodes are the cluster's, not the file's: keep the membership, take attributes from the new CIB.
		nodes := st.CIB.Nodes
		for i := range nodes {
			if n, ok := next.Node(nodes[i].Name); ok {
				nodes[i].Attributes = n.Attributes
			}
		}
		for _, n := range next.Nodes {
			if _, ok := st.CIB.Node(n.Name); !ok {
				return false, fmt.Errorf("node %q is not a member of this cluster", n.Name)
			}
		}
		next.Nodes = nodes
		st.CIB = next
		return true, nil
	case SetTimeline:
		st.Status.Timeline = c.Timeline
		return false, nil
	case RecordOp:
		if st.Status.Ops == nil {
			st.Status.Ops = map[string]map[string]OpRecord{}
		}
		if st.Status.Ops[c.Node] == nil {
			st.Status.Ops[c.Node] = map[string]OpRecord{}
		}
		prev := st.Status.Ops[c.Node][c.Rsc]
		// A failure committed twice (a report delivered again after its first commit went through) is a
		// replay: it neither counts again nor overwrites what was recorded since (a restart's start, say,
		// which a replayed failure would turn back into "failed" and restart once more).
		again := prev.LastFailure != nil && c.Op.LastFailure != nil && prev.LastFailure.When.Equal(c.Op.LastFailure.When) &&
			prev.LastFailure.Op == c.Op.LastFailure.Op && prev.LastFailure.Interval == c.Op.LastFailure.Interval
		if again {
			return false, nil
		}
		rec := *c.Op
		if rec.LastFailure == nil {
			rec.LastFailure = prev.LastFailure
		}
		st.Status.Ops[c.Node][c.Rsc] = rec
		if c.Op.Failed && c.Op.LastFailure != nil {
			if st.Status.FailCounts == nil {
				st.Status.FailCounts = map[string]map[string]FailCount{}
			}
			if st.Status.FailCounts[c.Node] == nil {
				st.Status.FailCounts[c.Node] = map[string]FailCount{}
			}
			fc := st.Status.FailCounts[c.Node][c.Rsc]
			fc.Count++
			fc.LastFailure = c.Op.When
			fc.Op = c.Op.Op
			fc.RC = c.Op.LastFailure.RC
			st.Status.FailCounts[c.Node][c.Rsc] = fc
		}
		return false, nil
	case ClearFail:
		for node, m := range st.Status.FailCounts {
			if c.Node != "" && node != c.Node {
				continue
			}
			for rsc := range m {
				if c.Rsc == "" || rsc == c.Rsc {
					delete(m, rsc)
				}
			}
		}
		for node, m := range st.Status.Ops {
			if c.Node != "" && node != c.Node {
				continue
			}
			for rsc, rec := range m {
				if c.Rsc == "" || rsc == c.Rsc {
					rec.LastFailure = nil
					rec.Failed = false
					m[rsc] = rec
				}
			}
		}
		return false, nil
	case SetFail:
		var n int
		if _, err := fmt.Sscan(c.Value, &n); err != nil || n < 0 {
			return false, fmt.Errorf("fail count %q: want a non-negative integer", c.Value)
		}
		if st.Status.FailCounts == nil {
			st.Status.FailCounts = map[string]map[string]FailCount{}
		}
		if st.Status.FailCounts[c.Node] == nil {
			st.Status.FailCounts[c.Node] = map[string]FailCount{}
		}
		st.Status.FailCounts[c.Node][c.Rsc] = FailCount{Count: n, LastFailure: c.Change.When}
		return false, nil
	case SetPlan:
		st.Status.Transition = c.Transition
		return false, nil
	case RecordFence:
		st.Status.Fencing = append(st.Status.Fencing, *c.Fence)
		if len(st.Status.Fencing) > 50 {
			st.Status.Fencing = st.Status.Fencing[len(st.Status.Fencing)-50:]
		}
		return false, nil
	case ForgetNode:
		delete(st.Status.Ops, c.Node)
		return false, nil
	case RequestFence:
		if c.Delete {
			st.Status.FenceRequests = slices.DeleteFunc(st.Status.FenceRequests, func(n string) bool { return n == c.Node })
			return false, nil
		}
		if slices.IndexFunc(st.CIB.Nodes, func(n cib.Node) bool { return n.Name == c.Node }) < 0 {
			return false, fmt.Errorf("unknown node %q", c.Node)
		}
		if !slices.Contains(st.Status.FenceRequests, c.Node) {
			st.Status.FenceRequests = append(st.Status.FenceRequests, c.Node)
		}
		return false, nil
	}
	return false, fmt.Errorf("unknown command kind %q", c.Kind)
}

// Now is a helper for proposers: a Change stamped with the current time.
func Now(user, via, node string) cib.Change {
	return cib.Change{When: time.Now().UTC().Truncate(time.Millisecond), User: user, Via: via, Node: node}
}
