package lsb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// initScript is a small LSB-compliant service whose "daemon" is a state file; EXIT_<action> in a control
// file overrides its exit codes.
const initScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          toy
# Required-Start:    $remote_fs
# Short-Description: Toy service for tests
### END INIT INFO
dir=$(dirname "$0")/..
state=$dir/toy.running
[ -f "$dir/control" ] && . "$dir/control"
eval "override=\${EXIT_$1}"
[ -n "$override" ] && { echo "toy: forced exit $override for $1"; exit "$override"; }
case "$1" in
start) touch "$state"; exit 0 ;;
stop) rm -f "$state"; exit 0 ;;
status) [ -f "$state" ] && { echo "toy is running"; exit 0; }; echo "toy is not running"; exit 3 ;;
*) echo "Usage: $0 {start|stop|status}"; exit 2 ;;
esac
`

func newToy(t *testing.T) (*Agent, string) {
	t.Helper()
	dir := t.TempDir()
	initd := filepath.Join(dir, "init.d")
	if err := os.Mkdir(initd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(initd, "toy"), []byte(initScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return New(filepath.Join(initd, "toy"), Options{}), dir
}

// TestCompliance is the LSB compliance sequence from pacemaker's Administration guide.
func TestCompliance(t *testing.T) {
	a, _ := newToy(t)
	ctx := context.Background()
	r := agents.Request{Resource: "toy"}
	steps := []struct {
		name string
		fn   func(context.Context, agents.Request) agents.Result
		want agents.RC
	}{
		{"status while stopped", a.Monitor, agents.NotRunning},
		{"start", a.Start, agents.Success},
		{"status while running", a.Monitor, agents.Success},
		{"start while running", a.Start, agents.Success},
		{"stop", a.Stop, agents.Success},
		{"status after stop", a.Monitor, agents.NotRunning},
		{"stop while stopped", a.Stop, agents.Success},
	}
	for _, s := range steps {
		if res := s.fn(ctx, r); res.RC != s.want {
			t.Fatalf("%s = %+v, want %v", s.name, res, s.want)
		}
	}
}

func TestExitCodeMapping(t *testing.T) {
	tests := []struct {
		action string
		code   string
		want   agents.RC
		reason string
	}{
		{"status", "1", agents.NotRunning, ""},
		{"status", "2", agents.NotRunning, ""},
		{"status", "4", agents.ErrGeneric, "lsb:toy status exited with code 4: toy: forced exit 4 for status"},
		{"status", "150", agents.ErrInstalled, "code 150"},
		{"status", "151", agents.ErrPerm, "code 151"},
		{"status", "99", agents.ErrGeneric, "code 99, which LSB does not define"},
		{"start", "1", agents.ErrGeneric, "lsb:toy start exited with code 1"},
		{"start", "5", agents.ErrInstalled, "code 5"},
		{"start", "7", agents.NotRunning, ""},
		{"start", "8", agents.ErrGeneric, "code 8, which LSB does not define"},
		{"stop", "150", agents.ErrGeneric, "which LSB does not define"},
	}
	for _, tt := range tests {
		t.Run(tt.action+"-"+tt.code, func(t *testing.T) {
			a, dir := newToy(t)
			if err := os.WriteFile(filepath.Join(dir, "control"), []byte("EXIT_"+tt.action+"="+tt.code+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fn := map[string]func(context.Context, agents.Request) agents.Result{"status": a.Monitor, "start": a.Start, "stop": a.Stop}[tt.action]
			res := fn(context.Background(), agents.Request{})
			if res.RC != tt.want || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("%s exit %s = %v %q; want %v %q", tt.action, tt.code, res.RC, res.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestHangAndMissing(t *testing.T) {
	a, dir := newToy(t)
	if err := os.WriteFile(filepath.Join(dir, "control"), []byte("[ \"$1\" = start ] && exec sleep 300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res := a.Start(ctx, agents.Request{}); res.RC != agents.Timeout || !strings.Contains(res.Reason, "lsb:toy start timed out") {
		t.Fatalf("hanging start = %+v", res)
	}
	missing := New(filepath.Join(dir, "init.d", "nope"), Options{})
	if res := missing.Start(context.Background(), agents.Request{}); res.RC != agents.ErrInstalled {
		t.Fatalf("missing script start = %+v", res)
	}
	if res := missing.Monitor(context.Background(), agents.Request{}); res.RC != agents.NotRunning {
		t.Fatalf("missing script status = %+v", res)
	}
	if res := missing.Validate(context.Background(), agents.Request{}); res.RC != agents.ErrInstalled {
		t.Fatalf("missing script validate = %+v", res)
	}
}

func TestMetaData(t *testing.T) {
	a, _ := newToy(t)
	md, err := a.MetaData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "toy" || md.ShortDesc != "Toy service for tests" || len(md.Parameters) != 0 {
		t.Fatalf("%+v", md)
	}
	if err := agents.CheckParams("lsb:toy", md, map[string]string{"x": "1"}); err == nil {
		t.Fatal("an init script accepted a parameter")
	}
	if res := a.Validate(context.Background(), agents.Request{Params: map[string]string{"x": "1"}}); res.RC != agents.ErrConfigured {
		t.Fatalf("validate with a parameter = %+v", res)
	}
}
