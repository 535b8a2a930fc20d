package ocf

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// Orphans of killed scripts are re-parented to this process, so tests can reap them by PID (PID 1 here
	// does not reap).
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	goleak.VerifyTestMain(m)
}

// writeAgent writes an OCF script into a temporary OCF_ROOT and returns an Agent for it.
func writeAgent(t *testing.T, body string) *Agent {
	t.Helper()
	root := t.TempDir()
	path := filepath.Join(root, "resource.d", "test", "T")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return New(agents.Name{Class: "ocf", Provider: "test", Type: "T"}, path, Options{OCFRoot: root})
}

func TestExitCodes(t *testing.T) {
	a := writeAgent(t, `
[ -n "$OCF_RESKEY_reason" ] && echo "ocf-exit-reason:$OCF_RESKEY_reason" >&2
[ -n "$OCF_RESKEY_noise" ] && echo "$OCF_RESKEY_noise" >&2
exit $OCF_RESKEY_rc
`)
	tests := []struct {
		rc       string
		reason   string
		noise    string
		want     agents.RC
		wantWhy  string
		severity agents.Severity
	}{
		{rc: "0", want: agents.Success},
		{rc: "1", reason: "disk on fire", want: agents.ErrGeneric, wantWhy: "disk on fire", severity: agents.SeveritySoft},
		{rc: "2", want: agents.ErrArgs, wantWhy: "ocf:test:T start returned invalid parameter", severity: agents.SeverityHard},
		{rc: "3", want: agents.ErrUnimplemented, severity: agents.SeverityHard},
		{rc: "4", want: agents.ErrPerm, severity: agents.SeverityHard},
		{rc: "5", noise: "binary missing", want: agents.ErrInstalled, wantWhy: "returned not installed: binary missing", severity: agents.SeverityHard},
		{rc: "6", want: agents.ErrConfigured, severity: agents.SeverityFatal},
		{rc: "7", want: agents.NotRunning, severity: agents.SeveritySoft},
		{rc: "8", want: agents.RunningPromoted},
		{rc: "9", want: agents.FailedPromoted, severity: agents.SeveritySoft},
		{rc: "190", want: agents.Degraded},
		{rc: "191", want: agents.DegradedPromoted},
		{rc: "42", want: agents.ErrGeneric, wantWhy: "ocf:test:T start exited with code 42, which is not an OCF exit code", severity: agents.SeveritySoft},
		{rc: "255", reason: "boom", want: agents.ErrGeneric, wantWhy: "exited with code 255, which is not an OCF exit code: boom", severity: agents.SeveritySoft},
	}
	for _, tt := range tests {
		t.Run(tt.rc, func(t *testing.T) {
			p := map[string]string{"rc": tt.rc}
			if tt.reason != "" {
				p["reason"] = tt.reason
			}
			if tt.noise != "" {
				p["noise"] = tt.noise
			}
			res := a.Start(context.Background(), agents.Request{Resource: "r", Params: p})
			if res.RC != tt.want || !strings.Contains(res.Reason, tt.wantWhy) || res.RC.Severity() != tt.severity {
				t.Fatalf("exit %s: %v %q (severity %v); want %v %q (severity %v)", tt.rc, res.RC, res.Reason, res.RC.Severity(), tt.want, tt.wantWhy, tt.severity)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	a := writeAgent(t, `env | grep -E '^(OCF_|PCMK_|LC_ALL)' | sort > "$OCF_RESKEY_out"; echo "$1" >> "$OCF_RESKEY_out"; exit 7`)
	r := agents.Request{
		Resource: "db:1", Params: map[string]string{"out": out, "ip": "10.250.0.100"},
		Meta:     map[string]string{"target-role": "Started", "clone-max": "2", "bad name": "x"},
		Interval: 10 * time.Second, Timeout: 20 * time.Second, Node: "n1",
	}
	if res := a.Monitor(context.Background(), r); res.RC != agents.NotRunning {
		t.Fatalf("Monitor = %+v", res)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"LC_ALL=C",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESKEY_CRM_meta_clone_max=2",
		"OCF_RESKEY_CRM_meta_interval=10000",
		"OCF_RESKEY_CRM_meta_name=monitor",
		"OCF_RESKEY_CRM_meta_on_node=n1",
		"OCF_RESKEY_CRM_meta_target_role=Started",
		"OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_crm_feature_set=3.19.0",
		"OCF_RESKEY_ip=10.250.0.100",
		"OCF_RESKEY_out=" + out,
		"OCF_RESOURCE_INSTANCE=db:1",
		"OCF_RESOURCE_PROVIDER=test",
		"OCF_RESOURCE_TYPE=T",
		"OCF_ROOT=" + a.o.OCFRoot,
		"PCMK_service=duet-executor",
		"monitor",
	}, "\n") + "\n"
	if string(b) != want {
		t.Fatalf("environment:\n%s\nwant:\n%s", b, want)
	}
	bad := agents.Request{Resource: "r", Params: map[string]string{"a=b": "x"}}
	if res := a.Start(context.Background(), bad); res.RC != agents.ErrConfigured || !strings.Contains(res.Reason, "parameter a=b is not a valid parameter name") {
		t.Fatalf("bad param name: %+v", res)
	}
}

// reap waits (polling, without blocking forever) until pid has exited and been reaped.
func reap(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || err == unix.ECHILD {
			if err == unix.ECHILD {
				if _, serr := os.Stat("/proc/" + strconv.Itoa(pid)); serr == nil {
					t.Fatalf("process %d still exists and is not our child", pid)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("process %d still running after the timeout killed its group", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHangKillsProcessGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	a := writeAgent(t, `sleep 300 & echo $! > "$OCF_RESKEY_pidfile"; wait; exit 0`)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res := a.Start(ctx, agents.Request{Resource: "r", Params: map[string]string{"pidfile": pidfile}, Timeout: 500 * time.Millisecond})
	if res.RC != agents.Timeout || !strings.Contains(res.Reason, "ocf:test:T start timed out after") {
		t.Fatalf("hanging start = %+v", res)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	reap(t, pid) // the background child was in the group and died with it
}

func TestBrokenAgents(t *testing.T) {
	t.Run("killed by a signal", func(t *testing.T) {
		a := writeAgent(t, `kill -SEGV $$`)
		if res := a.Stop(context.Background(), agents.Request{}); res.RC != agents.ErrGeneric || !strings.Contains(res.Reason, "killed by signal segmentation fault") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("not executable", func(t *testing.T) {
		a := writeAgent(t, "exit 0")
		if err := os.Chmod(a.path, 0o644); err != nil {
			t.Fatal(err)
		}
		// Even root cannot execute a file without any x bit.
		if res := a.Start(context.Background(), agents.Request{}); res.RC != agents.ErrInstalled {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("missing", func(t *testing.T) {
		a := New(agents.Name{Class: "ocf", Provider: "x", Type: "y"}, "/nonexistent/y", Options{})
		if res := a.Monitor(context.Background(), agents.Request{}); res.RC != agents.ErrInstalled || !strings.Contains(res.Reason, "ocf:x:y monitor") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("garbage on stdout and stderr", func(t *testing.T) {
		a := writeAgent(t, `head -c 4000 /dev/urandom; head -c 4000 /dev/urandom >&2; exit 1`)
		res := a.Start(context.Background(), agents.Request{})
		if res.RC != agents.ErrGeneric || !strings.HasPrefix(res.Reason, "ocf:test:T start returned error") {
			t.Fatalf("%v %q", res.RC, res.Reason)
		}
	})
	t.Run("garbage meta-data", func(t *testing.T) {
		a := writeAgent(t, `echo '<resource-agent name="T"><parameters><parameter'; exit 0`)
		if md, err := a.MetaData(context.Background()); err == nil || !strings.Contains(err.Error(), "get meta-data of ocf:test:T: parse meta-data") {
			t.Fatalf("%+v %v", md, err)
		}
	})
	t.Run("meta-data fails", func(t *testing.T) {
		a := writeAgent(t, `echo nope >&2; exit 3`)
		if _, err := a.MetaData(context.Background()); err == nil || !strings.Contains(err.Error(), "exit code 3: nope") {
			t.Fatal(err)
		}
	})
	t.Run("meta-data hangs", func(t *testing.T) {
		a := writeAgent(t, `exec sleep 300`)
		a.o.MetaDataTimeout = 200 * time.Millisecond
		if _, err := a.MetaData(context.Background()); err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Fatal(err)
		}
	})
}

func TestMetaDataCached(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	a := writeAgent(t, `echo x >> `+count+`; cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="T" version="1.0"><parameters><parameter name="a" required="1"><content type="integer"/></parameter></parameters>
<actions><action name="start" timeout="20s"/></actions></resource-agent>
XML`)
	for range 2 {
		md, err := a.MetaData(context.Background())
		if err != nil || md.Name != "T" || len(md.Parameters) != 1 || !md.Parameters[0].Required {
			t.Fatalf("%+v %v", md, err)
		}
	}
	if b, _ := os.ReadFile(count); strings.Count(string(b), "x") != 1 {
		t.Fatalf("meta-data ran %d times, want once", strings.Count(string(b), "x"))
	}
}

// heartbeatAgent returns the Debian resource-agents script, or skips.
func heartbeatAgent(t *testing.T, typ string, o Options) *Agent {
	t.Helper()
	path := "/usr/lib/ocf/resource.d/heartbeat/" + typ
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s missing: install resource-agents (scripts/deps.sh)", path)
	}
	return New(agents.Name{Class: "ocf", Provider: "heartbeat", Type: typ}, path, o)
}

func TestHeartbeatDummy(t *testing.T) {
	a := heartbeatAgent(t, "Dummy", Options{})
	ctx := context.Background()
	md, err := a.MetaData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md.Param("state"); !ok || md.Name != "Dummy" {
		t.Fatalf("Dummy meta-data: %+v", md)
	}
	state := filepath.Join(t.TempDir(), "dummy.state")
	r := agents.Request{Resource: "d1", Params: map[string]string{"state": state}, Timeout: 20 * time.Second}
	if err := agents.CheckParams("ocf:heartbeat:Dummy", md, r.Params); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op   string
		want agents.RC
	}{
		{"monitor", agents.NotRunning}, {"start", agents.Success}, {"monitor", agents.Success}, {"start", agents.Success},
		{"validate-all", agents.Success}, {"stop", agents.Success}, {"monitor", agents.NotRunning}, {"stop", agents.Success},
	}
	for i, s := range steps {
		if res := a.Run(ctx, s.op, r); res.RC != s.want {
			t.Fatalf("step %d %s = %+v, want %v", i, s.op, res, s.want)
		}
	}
	if res := a.Run(ctx, "frobnicate", r); res.RC != agents.ErrUnimplemented {
		t.Fatalf("unknown action = %+v", res)
	}
}
