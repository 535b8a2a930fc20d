package script

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExitReason(t *testing.T) {
	tests := []struct{ stderr, want string }{
		{"", ""},
		{"plain noise\n", ""},
		{"ocf-exit-reason:first\nnoise\nocf-exit-reason: second one \n", "second one"},
		{"INFO: x\nERROR: ocf-exit-reason:embedded\n", "embedded"},
		{"ocf-exit-reason:" + strings.Repeat("x", 400), strings.Repeat("x", 256)},
		{"ocf-exit-reason:bad \xff byte", "bad ? byte"},
	}
	for _, tt := range tests {
		if got := ExitReason(tt.stderr); got != tt.want {
			t.Errorf("ExitReason(%q) = %q, want %q", tt.stderr, got, tt.want)
		}
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	out := Run(ctx, Cmd{Path: "/bin/sh", Args: []string{"-c", `echo "$FOO"; echo err >&2; exit 3`}, Env: []string{"FOO=bar"}})
	if out.Code != 3 || out.Stdout != "bar\n" || out.Stderr != "err\n" || out.TimedOut || out.StartErr != nil {
		t.Fatalf("%+v", out)
	}
	out = Run(ctx, Cmd{Path: "/bin/sh", Args: []string{"-c", `echo $HOME$USER`}})
	if out.Stdout != "\n" {
		t.Fatalf("the environment leaked into the script: %q", out.Stdout)
	}
	out = Run(ctx, Cmd{Path: "/bin/sh", Args: []string{"-c", `head -c 600000 /dev/zero`}})
	if len(out.Stdout) > maxOutput+100 || !strings.HasSuffix(out.Stdout, "[output truncated]") {
		t.Fatalf("output not bounded: %d bytes", len(out.Stdout))
	}
	out = Run(ctx, Cmd{Prefix: []string{"/usr/bin/env"}, Path: "/bin/true"})
	if out.Code != 0 {
		t.Fatalf("prefix: %+v", out)
	}
	out = Run(ctx, Cmd{Path: "/nonexistent"})
	if out.StartErr == nil || out.Code != -1 {
		t.Fatalf("missing program: %+v", out)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	out = Run(tctx, Cmd{Path: "/bin/sh", Args: []string{"-c", "sleep 300"}})
	if !out.TimedOut || out.Signal != "killed" {
		t.Fatalf("timeout: %+v", out)
	}
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	out = Run(cctx, Cmd{Path: "/bin/sh", Args: []string{"-c", "sleep 300"}})
	if out.TimedOut || (!out.Cancelled && out.StartErr == nil) {
		t.Fatalf("cancel: %+v", out)
	}
}

// TestExpiredBeforeStart: a context that is already over is a timeout, not a program that cannot be started.
func TestExpiredBeforeStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	out := Run(ctx, Cmd{Path: "/bin/true"})
	if !out.TimedOut || out.StartErr != nil {
		t.Fatalf("expired context: %+v", out)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if out := Run(ctx2, Cmd{Path: "/bin/true"}); !out.Cancelled || out.StartErr != nil {
		t.Fatalf("cancelled context: %+v", out)
	}
}
