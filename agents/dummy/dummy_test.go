package dummy

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duet-ha/duet/agents"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLifecycle(t *testing.T) {
	for _, state := range []string{"", "file"} {
		t.Run("state="+state, func(t *testing.T) {
			a := New()
			p := map[string]string{"fake": "x"}
			if state != "" {
				p["state"] = filepath.Join(t.TempDir(), "d.state")
			}
			r := agents.Request{Resource: "d", Params: p}
			ctx := context.Background()
			steps := []struct {
				fn   func(context.Context, agents.Request) agents.Result
				want agents.RC
			}{
				{a.Monitor, agents.NotRunning}, {a.Start, agents.Success}, {a.Monitor, agents.Success},
				{a.Start, agents.Success}, {a.Stop, agents.Success}, {a.Monitor, agents.NotRunning}, {a.Stop, agents.Success},
			}
			for i, s := range steps {
				if res := s.fn(ctx, r); res.RC != s.want {
					t.Fatalf("step %d = %+v, want %v", i, res, s.want)
				}
			}
			if got := a.Ops("d"); !reflect.DeepEqual(got, []string{"monitor", "start", "monitor", "start", "stop", "monitor", "stop"}) {
				t.Fatalf("ops %q", got)
			}
		})
	}
}

func TestSwitches(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		op     string
		node   string
		want   agents.RC
		why    string
	}{
		{"fail start", map[string]string{"fail_start": "1"}, "start", "", agents.ErrGeneric, "fail_start=1"},
		{"fail monitor", map[string]string{"fail_monitor": "7"}, "monitor", "", agents.NotRunning, ""},
		{"fail stop", map[string]string{"fail_stop": "1"}, "stop", "", agents.ErrGeneric, "fail_stop=1"},
		{"unknown code", map[string]string{"fail_start": "42"}, "start", "", agents.RC(42), "unknown (42)"},
		{"fail on node", map[string]string{"fail_start_on": "n2"}, "start", "n2", agents.ErrGeneric, "fails on node n2"},
		{"not on other node", map[string]string{"fail_start_on": "n2"}, "start", "n1", agents.Success, ""},
		{"bad code", map[string]string{"fail_start": "x"}, "start", "", agents.ErrConfigured, "parameter fail_start must be an integer"},
		{"bad sleep", map[string]string{"op_sleep": "soon"}, "start", "", agents.ErrConfigured, "parameter op_sleep is not a duration"},
		{"unknown param", map[string]string{"fail_strat": "1"}, "start", "", agents.ErrConfigured, "did you mean fail_start?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			fn := map[string]func(context.Context, agents.Request) agents.Result{"start": a.Start, "stop": a.Stop, "monitor": a.Monitor}[tt.op]
			res := fn(context.Background(), agents.Request{Resource: "d", Params: tt.params, Node: tt.node})
			if res.RC != tt.want || !strings.Contains(res.Reason, tt.why) {
				t.Fatalf("%s = %v %q; want %v %q", tt.op, res.RC, res.Reason, tt.want, tt.why)
			}
		})
	}
}

func TestHangAndSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := New()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		res := a.Monitor(ctx, agents.Request{Resource: "d", Params: map[string]string{"hang_monitor": "true"}})
		if res.RC != agents.Timeout || time.Since(start) != 20*time.Second {
			t.Fatalf("hanging monitor = %+v after %v", res, time.Since(start))
		}
		start = time.Now()
		ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel2()
		if res := a.Start(ctx2, agents.Request{Resource: "d", Params: map[string]string{"op_sleep": "1.5"}}); res.RC != agents.Success || time.Since(start) != 1500*time.Millisecond {
			t.Fatalf("op_sleep start = %+v after %v", res, time.Since(start))
		}
		ctx3, cancel3 := context.WithTimeout(context.Background(), time.Second)
		defer cancel3()
		if res := a.Stop(ctx3, agents.Request{Resource: "d", Params: map[string]string{"op_sleep": "5s"}}); res.RC != agents.Timeout {
			t.Fatalf("op_sleep beyond the timeout = %+v", res)
		}
	})
}

func TestInjectedFailures(t *testing.T) {
	a := New()
	ctx := context.Background()
	r := agents.Request{Resource: "d"}
	a.Start(ctx, r)
	a.SetFailure("d", "monitor", agents.ErrGeneric)
	if res := a.Monitor(ctx, r); res.RC != agents.ErrGeneric {
		t.Fatalf("%+v", res)
	}
	a.ClearFailures("d")
	if res := a.Monitor(ctx, r); res.RC != agents.Success {
		t.Fatalf("%+v", res)
	}
	a.Crash("d")
	if res := a.Monitor(ctx, r); res.RC != agents.NotRunning {
		t.Fatalf("after Crash: %+v", res)
	}
}
