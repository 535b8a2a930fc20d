package systemd

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

// fakeSystemctl keeps each unit's ActiveState in <dir>/<unit> (a unit without a file is not-found) and
// logs every call to <dir>/log. <dir>/<unit>.start holds the state a start leaves (default active).
const fakeSystemctl = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/log"
cmd=$1; shift
while [ "${1#-}" != "$1" ]; do shift; done
unit=$1
case "$cmd" in
daemon-reload) exit 0 ;;
show)
  [ -f "$dir/$unit" ] || { printf 'LoadState=not-found\nActiveState=inactive\n'; exit 0; }
  printf 'LoadState=loaded\nActiveState=%s\n' "$(cat "$dir/$unit")"
  [ -f "$dir/$unit.after-show" ] && mv "$dir/$unit.after-show" "$dir/$unit"
  exit 0 ;;
start)
  [ -f "$dir/$unit.fail" ] && { echo "Job for $unit failed because the control process exited with error code." >&2; exit 1; }
  if [ -f "$dir/$unit.start" ]; then cp "$dir/$unit.start" "$dir/$unit"; else echo active > "$dir/$unit"; fi; exit 0 ;;
stop) echo inactive > "$dir/$unit"; exit 0 ;;
esac
echo "unknown command $cmd" >&2; exit 1
`

func newFake(t *testing.T, units map[string]string) (*Agent, string, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	for u, s := range units {
		if err := os.WriteFile(filepath.Join(bin, u), []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run")
	a := New("nginx.service", Options{Systemctl: filepath.Join(bin, "systemctl"), RuntimeDir: run, PollEvery: time.Millisecond})
	return a, bin, run
}

func readLog(t *testing.T, bin string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(bin, "log"))
	_ = os.Remove(filepath.Join(bin, "log"))
	return string(b)
}

func TestStartStop(t *testing.T) {
	a, bin, run := newFake(t, map[string]string{"nginx.service": "inactive"})
	ctx := context.Background()
	if res := a.Monitor(ctx, agents.Request{}); res.RC != agents.NotRunning {
		t.Fatalf("monitor = %+v", res)
	}
	readLog(t, bin)
	if res := a.Start(ctx, agents.Request{}); res.RC != agents.Success {
		t.Fatalf("start = %+v", res)
	}
	wantLog := "show --property=LoadState,ActiveState -- nginx.service\ndaemon-reload\nstart --job-mode=replace -- nginx.service\nshow --property=LoadState,ActiveState -- nginx.service\n"
	if got := readLog(t, bin); got != wantLog {
		t.Fatalf("systemctl calls:\n%s\nwant:\n%s", got, wantLog)
	}
	b, err := os.ReadFile(filepath.Join(run, "nginx.service.d", "50-pacemaker.conf"))
	if err != nil {
		t.Fatal(err)
	}
	wantDropIn := "[Unit]\nDescription=Cluster Controlled nginx\nBefore=clusterd.service\n\n[Service]\nRestart=no\n"
	if string(b) != wantDropIn {
		t.Fatalf("drop-in:\n%s\nwant:\n%s", b, wantDropIn)
	}
	if res := a.Monitor(ctx, agents.Request{}); res.RC != agents.Success {
		t.Fatalf("monitor = %+v", res)
	}
	if res := a.Stop(ctx, agents.Request{}); res.RC != agents.Success {
		t.Fatalf("stop = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(run, "nginx.service.d")); !os.IsNotExist(err) {
		t.Fatalf("drop-in directory left after stop: %v", err)
	}
	if !strings.Contains(readLog(t, bin), "stop --job-mode=replace -- nginx.service\ndaemon-reload\n") {
		t.Fatal("stop did not reload after removing the drop-in")
	}
}

func TestStates(t *testing.T) {
	tests := []struct {
		name  string
		units map[string]string
		op    string
		want  agents.RC
		why   string
	}{
		{"monitor reloading", map[string]string{"nginx.service": "reloading"}, "monitor", agents.Success, ""},
		{"monitor failed", map[string]string{"nginx.service": "failed"}, "monitor", agents.NotRunning, ""},
		{"monitor activating settles", map[string]string{"nginx.service": "activating", "nginx.service.after-show": "active"}, "monitor", agents.Success, ""},
		{"monitor not found", nil, "monitor", agents.NotRunning, ""},
		{"start not found", nil, "start", agents.ErrInstalled, "unit nginx.service not found"},
		{"start fails", map[string]string{"nginx.service": "inactive", "nginx.service.fail": "x"}, "start", agents.ErrGeneric, "exited with code 1: Job for nginx.service failed"},
		{"start leaves it dead", map[string]string{"nginx.service": "inactive", "nginx.service.start": "failed"}, "start", agents.ErrGeneric, "not active after start"},
		{"stop not found", nil, "stop", agents.Success, ""},
		{"validate not found", nil, "validate", agents.ErrInstalled, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := newFake(t, tt.units)
			fn := map[string]func(context.Context, agents.Request) agents.Result{"monitor": a.Monitor, "start": a.Start, "stop": a.Stop, "validate": a.Validate}[tt.op]
			res := fn(context.Background(), agents.Request{})
			if res.RC != tt.want || !strings.Contains(res.Reason, tt.why) {
				t.Fatalf("%s = %v %q; want %v %q", tt.op, res.RC, res.Reason, tt.want, tt.why)
			}
		})
	}
}

func TestPendingUntilTimeout(t *testing.T) {
	a, _, _ := newFake(t, map[string]string{"nginx.service": "activating"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res := a.Monitor(ctx, agents.Request{}); res.RC != agents.Timeout || !strings.Contains(res.Reason, "systemd:nginx") {
		t.Fatalf("monitor of a unit stuck activating = %+v", res)
	}
}

func TestNoSystemctl(t *testing.T) {
	a := New("nginx.service", Options{Systemctl: "/nonexistent/systemctl"})
	if res := a.Start(context.Background(), agents.Request{}); res.RC != agents.ErrInstalled {
		t.Fatalf("%+v", res)
	}
}

// TestRealSystemd needs systemd as PID 1, which containers and CI machines often lack.
func TestRealSystemd(t *testing.T) {
	if !Available() {
		t.Skip("systemd is not running as PID 1 (no /run/systemd/system): the real-systemd test cannot run here")
	}
	if os.Geteuid() != 0 || os.Getenv("DUET_ROOT_TESTS") != "1" {
		t.Skip("root test: run as root with DUET_ROOT_TESTS=1")
	}
	unit := "duet-test-" + strings.ReplaceAll(t.Name(), "/", "-") + ".service"
	path := filepath.Join("/run/systemd/system", unit)
	if err := os.WriteFile(path, []byte("[Service]\nExecStart=/bin/sleep 300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := New(unit, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Cleanup(func() {
		a.Stop(context.Background(), agents.Request{})
		_ = os.Remove(path)
		a.reload(context.Background())
	})
	if res := a.reload(ctx); res != nil {
		t.Fatal(res)
	}
	for _, s := range []struct {
		fn   func(context.Context, agents.Request) agents.Result
		want agents.RC
	}{{a.Monitor, agents.NotRunning}, {a.Start, agents.Success}, {a.Monitor, agents.Success}, {a.Stop, agents.Success}, {a.Monitor, agents.NotRunning}} {
		if res := s.fn(ctx, agents.Request{}); res.RC != s.want {
			t.Fatalf("%+v, want %v", res, s.want)
		}
	}
}
