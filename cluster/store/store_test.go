package store

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/duet-ha/duet/cluster/cib"
)

func apply(t *testing.T, s *Store, c Command) Result {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return s.Apply(&raft.Log{Type: raft.LogCommand, Data: b}).(Result)
}

func TestApplySequence(t *testing.T) {
	s := New()
	steps := []struct {
		cmd       Command
		wantEpoch uint64
		errSub    string
	}{
		{Command{Kind: EnsureNodes, Nodes: []cib.Node{{ID: 2, Name: "n2"}, {ID: 1, Name: "n1"}}}, 1, ""},
		{Command{Kind: EnsureNodes, Nodes: []cib.Node{{ID: 1, Name: "n1"}}}, 1, ""},
		{Command{Kind: SetProperty, Name: "no-quorum-policy", Value: "ignore"}, 2, ""},
		{Command{Kind: SetProperty, Name: "no-quorum-policy", Value: "sometimes"}, 2, "not one of"},
		{Command{Kind: SetProperty, Name: "no-such-thing", Value: "1"}, 2, "unknown property"},
		{Command{Kind: SetProperty, Name: "fencing-enabled", Value: "false"}, 3, ""},
		{Command{Kind: SetNodeAttr, Node: "n2", Name: "standby", Value: "on"}, 4, ""},
		{Command{Kind: SetNodeAttr, Node: "n9", Name: "standby", Value: "on"}, 4, `unknown node "n9"`},
		{Command{Kind: SetProperty, Name: "cluster-name", Value: "x", ExpectEpoch: 3}, 4, "changed meanwhile"},
		{Command{Kind: SetProperty, Name: "cluster-name", Value: "x", ExpectEpoch: 4}, 5, ""},
		{Command{Kind: SetTimeline, Timeline: &Timeline{Node: "n1"}}, 5, ""},
	}
	for i, st := range steps {
		r := apply(t, s, st.cmd)
		if st.errSub == "" && r.Err != nil || st.errSub != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), st.errSub)) {
			t.Fatalf("step %d (%s): err %v, want %q", i, st.cmd.Kind, r.Err, st.errSub)
		}
		if r.Epoch != st.wantEpoch {
			t.Fatalf("step %d (%s): epoch %d, want %d", i, st.cmd.Kind, r.Epoch, st.wantEpoch)
		}
	}
	st := s.State()
	if st.CIB.Properties["stonith-enabled"] != "false" || !st.CIB.Nodes[1].Standby() || st.CIB.Nodes[0].Name != "n1" {
		t.Fatalf("state %+v", st.CIB)
	}
}

func TestSnapshotRestore(t *testing.T) {
	s := New()
	apply(t, s, Command{Kind: EnsureNodes, Nodes: []cib.Node{{ID: 1, Name: "n1"}}})
	apply(t, s, Command{Kind: SetProperty, Name: "cluster-name", Value: "hacluster"})
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	s2 := New()
	ch := s2.Changed()
	if err := s2.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	<-ch
	if _, e := s2.Epoch(); e != 2 || s2.State().CIB.Properties["cluster-name"] != "hacluster" {
		t.Fatalf("restored %+v", s2.State().CIB)
	}
	if err := s2.Restore(io.NopCloser(strings.NewReader(`{"cib":`))); err == nil {
		t.Fatal("truncated snapshot restored")
	}
	if _, e := s2.Epoch(); e != 2 {
		t.Fatal("a failed restore changed the state")
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"kind":"bogus"}`, `{"kind":"set-property"}`, `{"kind":"set-node-attr","name":"x"}`, `{"kind":"replace-cib"}`, `[1,2]`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) accepted", in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"set-property","name":"no-quorum-policy","value":"stop"}`))
	f.Add([]byte(`{"kind":"replace-cib","cib":{"epoch":3,"nodes":[{"id":1,"name":"a"}]}}`))
	f.Add([]byte(`{"kind":"record-op","node":"a","rsc":"v","op":{"op":"start","rc":1,"failed":true,"last_failure":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		s := New()
		enc, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Apply(&raft.Log{Type: raft.LogCommand, Data: enc})
		_ = s.State()
	})
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

// TestRecordOpKeepsFailureCode checks that a failed op counts once and that the fail count keeps the
// failure's exit code, which the scheduler needs to tell hard and fatal errors from soft ones.
func TestRecordOpKeepsFailureCode(t *testing.T) {
	s := New()
	apply(t, s, Command{Kind: EnsureNodes, Nodes: []cib.Node{{ID: 1, Name: "n1"}}})
	fail := &FailedOp{Op: "monitor", RC: 5, RCText: "not installed"}
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: &OpRecord{Op: "monitor", Failed: true, Running: true, LastFailure: fail}})
	fc := s.State().Status.FailCounts["n1"]["vip"]
	if fc.Count != 1 || fc.Op != "monitor" || fc.RC != 5 {
		t.Fatalf("fail count %+v, want 1 failed monitor with rc 5", fc)
	}
}

// TestRecordOpSameFailureTwice: a retried report whose first commit went through counts once.
func TestRecordOpSameFailureTwice(t *testing.T) {
	s := New()
	apply(t, s, Command{Kind: EnsureNodes, Nodes: []cib.Node{{ID: 1, Name: "n1"}}})
	when := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	rec := func(at time.Time) *OpRecord {
		return &OpRecord{Op: "monitor", Interval: 10 * time.Second, Failed: true, Running: true, When: at,
			LastFailure: &FailedOp{Op: "monitor", Interval: 10 * time.Second, RC: 7, When: at}}
	}
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: rec(when)})
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: rec(when)})
	if n := s.State().Status.FailCounts["n1"]["vip"].Count; n != 1 {
		t.Fatalf("the same failure committed twice counts %d", n)
	}
	// The restart's start, then the same failure delivered once more: the replay must not make the resource
	// look failed again (the DC would restart it once more, undoing whatever happened since).
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: &OpRecord{Op: "start", Running: true, When: when.Add(time.Millisecond)}})
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: rec(when)})
	if op := s.State().Status.Ops["n1"]["vip"]; op.Op != "start" || op.Failed {
		t.Fatalf("a replayed failure replaced the later start: %+v", op)
	}
	apply(t, s, Command{Kind: RecordOp, Node: "n1", Rsc: "vip", Op: rec(when.Add(time.Second))})
	if n := s.State().Status.FailCounts["n1"]["vip"].Count; n != 2 {
		t.Fatalf("a second failure counts %d, want 2", n)
	}
}
