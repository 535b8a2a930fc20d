package executor

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/dummy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newExec(t *testing.T) (*Executor, *dummy.Agent, chan Report) {
	t.Helper()
	d := dummy.New()
	reg := agents.NewRegistry(agents.RegistryOptions{Builtin: map[string]agents.Agent{"dummy": d}})
	reports := make(chan Report, 10)
	e := New("n1", reg, slog.New(slog.DiscardHandler), func(r Report) { reports <- r })
	t.Cleanup(e.Close)
	return e, d, reports
}

func TestStartMonitorStop(t *testing.T) {
	e, d, _ := newExec(t)
	ctx := context.Background()
	req := Request{Resource: "r1", Agent: "ocf:duet:dummy", Timeout: 5 * time.Second}
	steps := []struct {
		op              string
		interval        time.Duration
		running, failed bool
		monitors        int
	}{
		{"probe", 0, false, false, 0},
		{"start", 0, true, false, 0},
		{"monitor", time.Hour, true, false, 1},
		{"probe", 0, true, false, 1},
		{"stop", 0, false, false, 0},
		{"probe", 0, false, false, 0},
	}
	for i, s := range steps {
		req.Op, req.Interval = s.op, s.interval
		r := e.Exec(ctx, req)
		if r.Running != s.running || r.Failed != s.failed || len(r.Monitors) != s.monitors {
			t.Fatalf("step %d %s: %+v", i, s.op, r)
		}
	}
	if d.Running("r1") {
		t.Fatal("dummy still running after stop")
	}
}

// releasingDummy is a dummy that counts Release calls (agents.Releaser).
type releasingDummy struct {
	*dummy.Agent
	released []string
}

func (r *releasingDummy) Release(_ context.Context, req agents.Request) agents.Result {
	r.released = append(r.released, req.Resource)
	return agents.Result{RC: agents.Success}
}

// TestRelease: "release" reaches an agent that implements agents.Releaser, is a successful no-op for one that
// does not, and leaves the resource running with its monitors.
func TestRelease(t *testing.T) {
	rd := &releasingDummy{Agent: dummy.New()}
	reg := agents.NewRegistry(agents.RegistryOptions{Builtin: map[string]agents.Agent{"dummy": dummy.New(), "rdummy": rd}})
	e := New("n1", reg, slog.New(slog.DiscardHandler), func(Report) {})
	defer e.Close()
	ctx := context.Background()
	for _, agent := range []string{"ocf:duet:dummy", "ocf:duet:rdummy"} {
		req := Request{Resource: "r1", Agent: agent, Timeout: 5 * time.Second}
		for _, step := range []struct {
			op       string
			interval time.Duration
		}{{"start", 0}, {"monitor", time.Hour}, {"release", 0}} {
			req.Op, req.Interval = step.op, step.interval
			if r := e.Exec(ctx, req); r.Failed || !r.Running || len(r.Monitors) != 1 && step.op == "release" {
				t.Fatalf("%s %s: %+v", agent, step.op, r)
			}
		}
		req.Op = "stop"
		e.Exec(ctx, req)
	}
	if !slices.Equal(rd.released, []string{"r1"}) {
		t.Fatalf("Release calls %q, want one for r1", rd.released)
	}
}

func TestMonitorFailureReported(t *testing.T) {
	e, d, reports := newExec(t)
	ctx := context.Background()
	req := Request{Resource: "r1", Agent: "ocf:duet:dummy", Op: "start"}
	if r := e.Exec(ctx, req); r.Failed {
		t.Fatal(r)
	}
	req.Op, req.Interval = "monitor", 20*time.Millisecond
	if r := e.Exec(ctx, req); r.Failed || len(r.Monitors) != 1 {
		t.Fatal(r)
	}
	d.Crash("r1")
	select {
	case rep := <-reports:
		if !rep.Result.Failed || rep.Result.RC != agents.NotRunning || len(rep.Result.Monitors) != 0 {
			t.Fatalf("report %+v", rep)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report of the crashed resource")
	}
}

// TestMonitorActionFindsItStopped: a resource that stops between its start and the first run of its recurring
// monitor fails that monitor action (it counts towards migration-threshold), and no monitor keeps running.
func TestMonitorActionFindsItStopped(t *testing.T) {
	e, d, _ := newExec(t)
	ctx := context.Background()
	req := Request{Resource: "r1", Agent: "ocf:duet:dummy", Op: "start"}
	if r := e.Exec(ctx, req); r.Failed {
		t.Fatal(r)
	}
	d.Crash("r1")
	req.Op, req.Interval = "monitor", time.Second
	r := e.Exec(ctx, req)
	if !r.Failed || r.Running || r.RC != agents.NotRunning || len(r.Monitors) != 0 {
		t.Fatalf("monitor of a crashed resource: %+v, want failed, not running, no recurring monitor", r)
	}
}

func TestFailuresAreClear(t *testing.T) {
	e, _, _ := newExec(t)
	ctx := context.Background()
	tests := []struct {
		req    Request
		rc     agents.RC
		reason string
	}{
		{Request{Op: "start", Resource: "a", Agent: "ocf:duet:nosuch"}, agents.ErrInstalled, "unknown agent"},
		{Request{Op: "start", Resource: "b", Agent: "ocf:duet:dummy", Params: map[string]string{"hang_start": "true"}, Timeout: 100 * time.Millisecond}, agents.Timeout, "hung"},
		{Request{Op: "start", Resource: "c", Agent: "ocf:duet:dummy", Params: map[string]string{"fail_start": "1"}}, agents.ErrGeneric, "fail_start"},
		{Request{Op: "start", Resource: "d", Agent: "ocf:duet:dummy", Params: map[string]string{"bogus": "1"}}, agents.ErrConfigured, "bogus"},
		{Request{Op: "explode", Resource: "e", Agent: "ocf:duet:dummy"}, agents.ErrUnimplemented, "unknown operation"},
	}
	for _, tt := range tests {
		r := e.Exec(ctx, tt.req)
		if r.RC != tt.rc || !r.Failed || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s %s: %+v, want rc %v reason ~%q", tt.req.Op, tt.req.Resource, r, tt.rc, tt.reason)
		}
	}
}
