// Package store is the replicated state machine: the CIB plus the cluster status that must survive a DC
// change (resource operation history, fail counts, the last failover's timeline). It implements raft.FSM.
// Commands are JSON; Decode is the only way bytes from the log become a Command.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/duet-ha/duet/cluster/cib"
)

// State is everything Raft replicates.
type State struct {
	CIB    *cib.CIB `json:"cib"`
	Status Status   `json:"status"`
}

// Status is the replicated part of the cluster status.
type Status struct {
	// Timeline is the last failover, as the node that recovered recorded it.
	Timeline *Timeline `json:"timeline,omitempty"`
	// Ops is each resource's last operations per node: Ops[node][rsc].
	Ops map[string]map[string]OpRecord `json:"ops,omitempty"`
	// FailCounts[node][rsc].
	FailCounts map[string]map[string]FailCount `json:"fail_counts,omitempty"`
	// Transition is the DC's current plan, which every node's executor follows.
	Transition *Transition `json:"transition,omitempty"`
	// Fencing is the fence history, newest last.
	Fencing []FenceEvent `json:"fencing,omitempty"`
	// FenceRequests are nodes a user asked to fence (crm node fence); the DC serves and clears them.
	FenceRequests []string `json:"fence_requests,omitempty"`
}

// Timeline is a failover's events with times relative to the first.
type Timeline struct {
	Start  time.Time       `json:"start"`
	Node   string          `json:"node"` // the node that recorded it
	Events []TimelineEvent `json:"events"`
}

// TimelineEvent is one step: peer lost, fenced, DC elected, resource started.
type TimelineEvent struct {
	At   time.Duration `json:"at"` // since Start
	What string        `json:"what"`
}

// OpRecord is the last result of one operation kind of a resource on a node.
type OpRecord struct {
	Op       string        `json:"op"`
	Interval time.Duration `json:"interval,omitempty"`
	RC       int           `json:"rc"`
	Reason   string        `json:"reason,omitempty"`
	Running  bool          `json:"running"` // the resource's state after this op
	Failed   bool          `json:"failed"`
	When     time.Time     `json:"when"`
	Exec     time.Duration `json:"exec"`
	// Monitors are the recurring monitor intervals active after this op.
	Monitors []time.Duration `json:"monitors,omitempty"`
	// LastFailure is the last failed op on this resource and node, kept for crm_mon's Failed Resource Actions.
	LastFailure *FailedOp `json:"last_failure,omitempty"`
}

// FailedOp describes a failed operation.
type FailedOp struct {
	Op       string        `json:"op"`
	Interval time.Duration `json:"interval,omitempty"`
	RC       int           `json:"rc"`
	RCText   string        `json:"rc_text"`
	Reason   string        `json:"reason,omitempty"`
	When     time.Time     `json:"when"`
	Exec     time.Duration `json:"exec"`
}

// FailCount counts failures of a resource on a node.
type FailCount struct {
	Count       int       `json:"count"`
	Op          string    `json:"op,omitempty"` // the op of the last failure
	RC          int       `json:"rc,omitempty"` // its exit code (the scheduler bans on hard and fatal codes)
	LastFailure time.Time `json:"last_failure"`
}

// Transition is the DC's plan: the desired role of every resource per node, and fence requests.
type Transition struct {
	ID     uint64              `json:"id"`
	DC     string              `json:"dc"`
	Placed map[string][]string `json:"placed"` // node -> resources to run there, in start order
	Reason map[string]string   `json:"reason,omitempty"`
	// Blocked marks the resources the cluster cannot act on now (waiting for fencing, unmanaged,
	// multiple-active=block...): crm_mon flags them "blocked"; a resource that merely has no node to run
	// on is not blocked.
	Blocked map[string]bool `json:"blocked,omitempty"`
}

// FenceEvent is one fencing action in the history.
type FenceEvent struct {
	Target    string    `json:"target"`
	Action    string    `json:"action"`
	By        string    `json:"by"`
	Device    string    `json:"device,omitempty"`
	OK        bool      `json:"ok"`
	Reason    string    `json:"reason,omitempty"`
	Completed time.Time `json:"completed"`
}

// Store is the FSM. Raft calls Apply, Snapshot and Restore; everything else may read State at any time.
type Store struct {
	mu      sync.Mutex
	state   State
	changed chan struct{}
}

// New returns an empty store.
func New() *Store {
	return &Store{state: State{CIB: &cib.CIB{}}, changed: make(chan struct{})}
}

// Reset empties the store; a node that discards its history calls it before Raft replays the leader's.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = State{CIB: &cib.CIB{}}
	s.notifyLocked()
}

// View returns the current state without copying it. Apply never changes a published state (it builds the
// next one and swaps it in), so the view stays consistent; the caller must not modify it.
func (s *Store) View() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// State returns a deep copy of the current state.
func (s *Store) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.clone()
}

// Epoch returns the CIB epoch.
func (s *Store) Epoch() (admin, epoch uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.CIB.AdminEpoch, s.state.CIB.Epoch
}

// Changed returns a channel that is closed at the next change of state.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (st State) clone() State {
	b, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("store: marshal state: %v", err))
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("store: unmarshal own state: %v", err))
	}
	if out.CIB == nil {
		out.CIB = &cib.CIB{}
	}
	return out
}

// Result is what Apply returns to the proposer.
type Result struct {
	Epoch uint64
	Err   error
}

// Apply implements raft.FSM.
func (s *Store) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return Result{}
	}
	cmd, err := Decode(l.Data)
	if err != nil {
		return Result{Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.state.clone()
	configChanged, err := next.apply(cmd)
	if err != nil {
		return Result{Epoch: s.state.CIB.Epoch, Err: err}
	}
	if configChanged {
		next.CIB.Epoch = s.state.CIB.Epoch + 1
		next.CIB.LastChange = cmd.Change
	}
	s.state = next
	s.notifyLocked()
	return Result{Epoch: next.CIB.Epoch}
}

// Snapshot implements raft.FSM.
func (s *Store) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.state)
	if err != nil {
		return nil, fmt.Errorf("snapshot state: %w", err)
	}
	return snapshot(b), nil
}

// Restore implements raft.FSM.
func (s *Store) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	st, err := DecodeState(b)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
	s.notifyLocked()
	return nil
}

// DecodeState decodes a snapshot or a saved state file.
func DecodeState(b []byte) (State, error) {
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("decode state: %w", err)
	}
	if st.CIB == nil {
		return State{}, errors.New("decode state: no cib")
	}
	return st, nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (s snapshot) Release() {}
