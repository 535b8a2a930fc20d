// Package systemd runs systemd units as cluster resources (class systemd) through systemctl, the way
// pacemaker's systemd.c does over D-Bus (pacemaker.md section 3.3): before each start it writes the
// runtime drop-in 50-pacemaker.conf (Restart=no, so systemd never restarts a unit the cluster owns) and
// reloads systemd; it removes the drop-in on stop; monitor reads ActiveState, where active and reloading
// are running, activating and deactivating are pending (polled until the operation's deadline), and
// anything else is not running.
package systemd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/internal/script"
)

// Options configure an Agent.
type Options struct {
	Systemctl  string        // default systemctl (from PATH)
	RuntimeDir string        // where drop-ins go; default /run/systemd/system
	Before     string        // the unit the resource must stop after at shutdown; default clusterd.service
	PollEvery  time.Duration // re-check of a pending ActiveState; default 200ms
}

// Agent manages one unit. It is safe for concurrent use.
type Agent struct {
	unit string
	o    Options
}

// New returns the agent for unit (with its suffix, e.g. nginx.service).
func New(unit string, o Options) *Agent {
	if o.Systemctl == "" {
		o.Systemctl = "systemctl"
	}
	if o.RuntimeDir == "" {
		o.RuntimeDir = "/run/systemd/system"
	}
	if o.Before == "" {
		o.Before = "clusterd.service"
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 200 * time.Millisecond
	}
	return &Agent{unit: unit, o: o}
}

// Available reports whether systemd runs as PID 1 (the test sd_booted(3) uses), without which no
// systemd agent can work.
func Available() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

func (a *Agent) name() string { return "systemd:" + strings.TrimSuffix(a.unit, ".service") }

// DropInPath is the runtime drop-in Start writes.
func (a *Agent) DropInPath() string {
	return filepath.Join(a.o.RuntimeDir, a.unit+".d", "50-pacemaker.conf")
}

func (a *Agent) dropIn() string {
	return fmt.Sprintf("[Unit]\nDescription=Cluster Controlled %s\nBefore=%s\n\n[Service]\nRestart=no\n", strings.TrimSuffix(a.unit, ".service"), a.o.Before)
}

// systemctl runs one systemctl command; failures are returned as Results.
func (a *Agent) systemctl(ctx context.Context, args ...string) (string, *agents.Result) {
	out := script.Run(ctx, script.Cmd{Path: a.o.Systemctl, Args: args})
	what := "systemctl " + strings.Join(args, " ")
	switch {
	case out.StartErr != nil:
		return "", &agents.Result{RC: agents.ErrInstalled, Reason: fmt.Sprintf("%s: %v", a.name(), out.StartErr)}
	case out.TimedOut:
		return "", &agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("%s: %s timed out after %v", a.name(), what, out.Elapsed.Round(time.Millisecond))}
	case out.Cancelled:
		return "", &agents.Result{RC: agents.ExecErr, Reason: fmt.Sprintf("%s: %s cancelled", a.name(), what)}
	case out.Code != 0:
		return out.Stdout, &agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: %s exited with code %d: %s", a.name(), what, out.Code, script.LastLine(out.Stderr+"\n"+out.Stdout)), Output: script.Summary(out)}
	}
	return out.Stdout, nil
}

// state returns the unit's LoadState and ActiveState.
func (a *Agent) state(ctx context.Context) (load, active string, fail *agents.Result) {
	out, res := a.systemctl(ctx, "show", "--property=LoadState,ActiveState", "--", a.unit)
	if res != nil {
		return "", "", res
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "LoadState":
			load = v
		case "ActiveState":
			active = v
		}
	}
	if load == "" || active == "" {
		return "", "", &agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: systemctl show printed no LoadState/ActiveState: %q", a.name(), script.LastLine(out))}
	}
	return load, active, nil
}

func (a *Agent) reload(ctx context.Context) *agents.Result {
	_, res := a.systemctl(ctx, "daemon-reload")
	return res
}

// Start writes the drop-in, reloads systemd, starts the unit (systemctl waits for the job) and checks that
// it is active.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	load, _, res := a.state(ctx)
	if res != nil {
		return *res
	}
	if load == "not-found" {
		return agents.Result{RC: agents.ErrInstalled, Reason: fmt.Sprintf("%s: unit %s not found", a.name(), a.unit)}
	}
	path := a.DropInPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: write drop-in: %v", a.name(), err)}
	}
	if err := os.WriteFile(path, []byte(a.dropIn()), 0o644); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: write drop-in: %v", a.name(), err)}
	}
	if res := a.reload(ctx); res != nil {
		return *res
	}
	if _, res := a.systemctl(ctx, "start", "--job-mode=replace", "--", a.unit); res != nil {
		return *res
	}
	res2 := a.Monitor(ctx, r)
	if res2.RC == agents.NotRunning {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: unit is not active after start", a.name())}
	}
	return res2
}

// Stop stops the unit, removes the drop-in and reloads systemd. A unit that does not exist is stopped.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	load, _, res := a.state(ctx)
	if res != nil {
		return *res
	}
	if load != "not-found" {
		if _, res := a.systemctl(ctx, "stop", "--job-mode=replace", "--", a.unit); res != nil {
			return *res
		}
	}
	if err := os.Remove(a.DropInPath()); err == nil {
		_ = os.Remove(filepath.Dir(a.DropInPath())) // only if empty
		if res := a.reload(ctx); res != nil {
			return *res
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: remove drop-in: %v", a.name(), err)}
	}
	switch m := a.Monitor(ctx, r); m.RC {
	case agents.NotRunning:
		return agents.Result{RC: agents.Success}
	case agents.Success:
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s: unit still active after stop", a.name())}
	default:
		return m
	}
}

// Monitor maps ActiveState: active and reloading give Success; activating and deactivating are polled
// until they settle or ctx ends (Timeout); anything else, and a unit that does not exist, give NotRunning.
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	for {
		load, active, res := a.state(ctx)
		if res != nil {
			return *res
		}
		if load == "not-found" {
			return agents.Result{RC: agents.NotRunning}
		}
		switch active {
		case "active", "reloading":
			return agents.Result{RC: agents.Success}
		case "activating", "deactivating":
			t := time.NewTimer(a.o.PollEvery)
			select {
			case <-ctx.Done():
				t.Stop()
				return agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("%s: still %s when the operation timed out", a.name(), active)}
			case <-t.C:
			}
		default:
			return agents.Result{RC: agents.NotRunning}
		}
	}
}

// Validate checks that the unit exists; systemd resources take no parameters.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	for k := range r.Params {
		return agents.Result{RC: agents.ErrConfigured, Reason: fmt.Sprintf("%s: parameter %s is not a parameter of a systemd unit (they take none)", a.name(), k)}
	}
	load, _, res := a.state(ctx)
	if res != nil {
		return *res
	}
	if load == "not-found" {
		return agents.Result{RC: agents.ErrInstalled, Reason: fmt.Sprintf("%s: unit %s not found", a.name(), a.unit)}
	}
	return agents.Result{RC: agents.Success}
}

// MetaData describes the unit; it has no parameters. It does not call systemctl.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) {
	md := &agents.Metadata{Name: a.unit, Version: "1.0", ShortDesc: "systemd unit file for " + strings.TrimSuffix(a.unit, ".service")}
	for _, op := range []string{"start", "stop", "status", "monitor", "meta-data"} {
		spec := agents.ActionSpec{Name: op, Timeout: 100 * time.Second}
		if op == "monitor" {
			spec.Interval = 60 * time.Second
		}
		md.Actions = append(md.Actions, spec)
	}
	return md, nil
}
