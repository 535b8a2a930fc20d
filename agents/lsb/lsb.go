// Package lsb runs LSB init scripts (class lsb, /etc/init.d/<name> start|stop|status) and maps their exit
// codes as pacemaker's services_lsb.c does (pacemaker.md section 3.3): start and stop share OCF's codes
// 0-7 and anything else is a generic error; status 0 is running, 1, 2 and 3 are not running, 150 is not
// installed, 151 insufficient privileges, and anything else a generic error.
package lsb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/internal/script"
)

// Options configure an Agent.
type Options struct {
	Prefix []string // wraps every run, e.g. ip netns exec NS
}

// Agent runs one init script. It is safe for concurrent use and holds no process between operations.
type Agent struct {
	path string
	name string
	o    Options
}

// New returns the agent for the init script at path.
func New(path string, o Options) *Agent {
	return &Agent{path: path, name: "lsb:" + filepath.Base(path), o: o}
}

// Start runs `script start`.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	return a.run(ctx, "start")
}

// Stop runs `script stop`.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result { return a.run(ctx, "stop") }

// Monitor runs `script status` and maps LSB's status codes.
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	return a.run(ctx, "status")
}

// Validate succeeds when the script exists and is executable; LSB has no validate action and no
// parameters.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	if len(r.Params) > 0 {
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return agents.Result{RC: agents.ErrConfigured, Reason: fmt.Sprintf("%s: parameter %s is not a parameter of an init script (they take none)", a.name, keys[0])}
	}
	st, err := os.Stat(a.path)
	if err != nil || st.Mode()&0o111 == 0 {
		return agents.Result{RC: agents.ErrInstalled, Reason: fmt.Sprintf("%s: %s is missing or not executable", a.name, a.path)}
	}
	return agents.Result{RC: agents.Success}
}

// MetaData is built from the script's LSB header (### BEGIN INIT INFO), as pacemaker does; the agent has
// no parameters.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return nil, fmt.Errorf("read meta-data of %s: %w", a.name, err)
	}
	defer f.Close()
	md := &agents.Metadata{Name: filepath.Base(a.path), Version: "1.0"}
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "### BEGIN INIT INFO":
			in = true
		case line == "### END INIT INFO":
			in = false
		case in && strings.HasPrefix(line, "# Short-Description:"):
			md.ShortDesc = strings.TrimSpace(strings.TrimPrefix(line, "# Short-Description:"))
		}
	}
	if md.ShortDesc == "" {
		md.ShortDesc = md.Name + " init script"
	}
	for _, op := range []string{"start", "stop", "status", "monitor", "meta-data"} {
		spec := agents.ActionSpec{Name: op, Timeout: 15 * time.Second}
		if op == "monitor" {
			spec.Interval = 15 * time.Second
		}
		md.Actions = append(md.Actions, spec)
	}
	return md, nil
}

func (a *Agent) run(ctx context.Context, action string) agents.Result {
	out := script.Run(ctx, script.Cmd{Prefix: a.o.Prefix, Path: a.path, Args: []string{action}})
	summary := script.Summary(out)
	switch {
	case out.StartErr != nil:
		rc := agents.ExecErr
		if errors.Is(out.StartErr, exec.ErrNotFound) || errors.Is(out.StartErr, fs.ErrNotExist) || errors.Is(out.StartErr, fs.ErrPermission) {
			rc = agents.ErrInstalled
			if action == "status" {
				rc = agents.NotRunning // pacemaker: a missing script's service is not running
			}
		}
		return agents.Result{RC: rc, Reason: fmt.Sprintf("%s %s: %v", a.name, action, out.StartErr)}
	case out.TimedOut:
		return agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("%s %s timed out after %v; its process group was killed", a.name, action, out.Elapsed.Round(time.Millisecond)), Output: summary}
	case out.Cancelled:
		return agents.Result{RC: agents.ExecErr, Reason: fmt.Sprintf("%s %s cancelled", a.name, action), Output: summary}
	case out.Signal != "":
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s %s killed by signal %s", a.name, action, out.Signal), Output: summary}
	}
	rc, known := MapExit(action, out.Code)
	res := agents.Result{RC: rc, Output: summary}
	if !res.OK() && rc != agents.NotRunning {
		res.Reason = fmt.Sprintf("%s %s exited with code %d", a.name, action, out.Code)
		if !known {
			res.Reason += ", which LSB does not define"
		}
		if l := script.LastLine(out.Stdout + "\n" + out.Stderr); l != "" {
			res.Reason += ": " + l
		}
	}
	return res
}

// MapExit maps an init script's exit code for action (status or any other) to an OCF code, and reports
// whether LSB defines the code.
func MapExit(action string, code int) (agents.RC, bool) {
	if action != "status" && action != "monitor" {
		if code < 0 || code > 7 {
			return agents.ErrGeneric, false
		}
		return agents.RC(code), true
	}
	switch code {
	case 0:
		return agents.Success, true
	case 1, 2, 3:
		return agents.NotRunning, true
	case 4:
		return agents.ErrGeneric, true // status unknown
	case 150:
		return agents.ErrInstalled, true
	case 151:
		return agents.ErrPerm, true
	}
	return agents.ErrGeneric, false
}
