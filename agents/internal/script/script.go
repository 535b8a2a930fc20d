// Package script runs agent programs (OCF scripts, init scripts, systemctl) as pacemaker's executor does:
// in their own process group, with a clean environment, output captured and bounded, and the whole group
// killed with SIGKILL when the context ends.
package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds what is kept of each of stdout and stderr.
const maxOutput = 256 << 10

// Cmd is one program run.
type Cmd struct {
	Prefix []string // a wrapper such as ip netns exec NS; empty for none
	Path   string
	Args   []string
	Env    []string // added to the base environment (PATH, LC_ALL=C)
	Dir    string   // default /
}

// Outcome is what the run produced.
type Outcome struct {
	Code      int    // exit code; -1 when the program did not exit normally
	Signal    string // the signal that ended it, when one did
	Stdout    string
	Stderr    string
	TimedOut  bool  // ctx's deadline passed; the process group was killed
	Cancelled bool  // ctx was cancelled; the process group was killed
	StartErr  error // the program could not be started (not found, not executable)
	Elapsed   time.Duration
}

// Run runs c and blocks until it exits, or ctx ends and its process group has been killed. Children that
// a program leaves running in the background are not waited for beyond a short grace period for its
// output pipes.
func Run(ctx context.Context, c Cmd) Outcome {
	argv := append(append(append([]string{}, c.Prefix...), c.Path), c.Args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid is the process group: the script and everything it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	out := Outcome{Code: -1, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if cmd.ProcessState == nil {
		if ctx.Err() != nil {
			// the time ran out before the program could start (exec.Cmd does not start once ctx is done): a
			// timeout, not a missing program, which would read as "not installed" and ban the node
			out.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
			out.Cancelled = !out.TimedOut
			return out
		}
		out.StartErr = fmt.Errorf("run %s: %w", c.Path, err)
		return out
	}
	if ctx.Err() != nil && !cmd.ProcessState.Success() {
		out.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		out.Cancelled = !out.TimedOut
	} else if ctx.Err() != nil {
		// It finished just as ctx ended; its result stands, but the group is killed all the same.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		out.Signal = ws.Signal().String()
		return out
	}
	out.Code = cmd.ProcessState.ExitCode()
	return out
}

func baseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"PATH=" + path, "LC_ALL=C", "LANG=C"}
}

// limitedBuffer keeps the first maxOutput bytes written and discards the rest.
type limitedBuffer struct {
	b         bytes.Buffer
	truncated bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
			l.truncated = true
		} else {
			l.b.Write(p)
		}
	} else if len(p) > 0 {
		l.truncated = true
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	s := l.b.String()
	if l.truncated {
		s += "\n[output truncated]"
	}
	return s
}

// ExitReason returns the last `ocf-exit-reason:` message in stderr (the OCF resource-agent API's way of
// saying why an action failed), trimmed and at most 256 bytes, or "".
func ExitReason(stderr string) string {
	const prefix = "ocf-exit-reason:"
	reason := ""
	for _, line := range strings.Split(stderr, "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			reason = strings.TrimSpace(line[i+len(prefix):])
		}
	}
	if len(reason) > 256 {
		reason = reason[:256]
	}
	return strings.ToValidUTF8(reason, "?")
}

// Summary returns the output trimmed to its last few lines, for Result.Output.
func Summary(o Outcome) string {
	s := strings.TrimSpace(strings.TrimSpace(o.Stdout) + "\n" + strings.TrimSpace(o.Stderr))
	lines := strings.Split(s, "\n")
	if len(lines) > 20 {
		lines = append([]string{"..."}, lines[len(lines)-20:]...)
	}
	return strings.ToValidUTF8(strings.Join(lines, "\n"), "?")
}

// LastLine returns the last non-empty line of s, at most 200 bytes, for reasons when no exit reason was given.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return strings.ToValidUTF8(l, "?")
}
