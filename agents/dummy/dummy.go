// Package dummy is Duet's built-in Dummy agent (ocf:duet:dummy, and ocf:pacemaker:Dummy where pacemaker's
// own is not installed): a resource that only remembers whether it runs, in memory or in the file named by
// its state parameter, with switches that make its operations slow, fail or hang, so that tests of the
// executor and the scheduler can produce every kind of result.
package dummy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/agents"
)

// Agent is the Dummy agent. It is safe for concurrent use.
type Agent struct {
	mu      sync.Mutex
	running map[string]bool                 // by resource, when no state file is used
	fail    map[string]map[string]agents.RC // injected results by resource and op
	ops     map[string][]string             // operations run, by resource
}

// New returns a Dummy agent with nothing running.
func New() *Agent {
	return &Agent{running: map[string]bool{}, fail: map[string]map[string]agents.RC{}, ops: map[string][]string{}}
}

// SetFailure makes op (start, stop, monitor, validate-all) on rsc return rc from now on, whatever its
// parameters say, until ClearFailures. It is for tests that need a resource to fail after it started.
func (a *Agent) SetFailure(rsc, op string, rc agents.RC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail[rsc] == nil {
		a.fail[rsc] = map[string]agents.RC{}
	}
	a.fail[rsc][op] = rc
}

// ClearFailures removes every failure injected for rsc.
func (a *Agent) ClearFailures(rsc string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.fail, rsc)
}

// Crash marks an in-memory rsc as stopped behind the cluster's back, so that its next monitor says
// NotRunning.
func (a *Agent) Crash(rsc string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, rsc)
}

// Running reports whether an in-memory rsc runs.
func (a *Agent) Running(rsc string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running[rsc]
}

// Ops returns the operations run on rsc so far, in order ("start", "monitor", ...).
func (a *Agent) Ops(rsc string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ops[rsc]...)
}

type config struct {
	state    string
	sleep    time.Duration
	fail     map[string]agents.RC
	hang     map[string]bool
	failOn   string
	hasFails bool
}

// switchOps are the operations that have fail_ and hang_ switches.
func switchOps() []string { return []string{"start", "stop", "monitor"} }

func parse(p map[string]string) (config, error) {
	if err := agents.CheckParams("ocf:duet:dummy", metadata(), p); err != nil {
		return config{}, err
	}
	c := config{state: p["state"], failOn: p["fail_start_on"], fail: map[string]agents.RC{}, hang: map[string]bool{}}
	if s := strings.TrimSpace(p["op_sleep"]); s != "" {
		d, err := agents.ParseDuration(s)
		if err != nil {
			return config{}, &agents.ParamError{Agent: "ocf:duet:dummy", Field: "op_sleep", Problem: fmt.Sprintf("is not a duration: %q", s)}
		}
		c.sleep = d
	}
	for _, op := range switchOps() {
		if s := strings.TrimSpace(p["fail_"+op]); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 255 {
				return config{}, &agents.ParamError{Agent: "ocf:duet:dummy", Field: "fail_" + op, Problem: fmt.Sprintf("must be an exit code 0-255, not %q", s)}
			}
			c.fail[op] = agents.RC(n)
		}
		if s := strings.TrimSpace(p["hang_"+op]); s != "" {
			b, _ := agents.ParseBool(s) // checked by CheckParams
			c.hang[op] = b
		}
	}
	return c, nil
}

// do runs the common part of every operation: the record, injected results, hang, sleep. It returns the
// result to give when the operation must not go on.
func (a *Agent) do(ctx context.Context, op string, r agents.Request) (config, *agents.Result) {
	a.mu.Lock()
	a.ops[r.Resource] = append(a.ops[r.Resource], op)
	injected, ok := a.fail[r.Resource][op]
	a.mu.Unlock()
	c, err := parse(r.Params)
	if err != nil {
		res := agents.ErrorResult(err, agents.ErrConfigured)
		return c, &res
	}
	if c.hang[op] {
		<-ctx.Done()
		res := agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("dummy %s hung (hang_%s=true)", op, op)}
		return c, &res
	}
	if c.sleep > 0 {
		t := time.NewTimer(c.sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			res := agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("dummy %s timed out during op_sleep %v", op, c.sleep)}
			return c, &res
		case <-t.C:
		}
	}
	if ok {
		res := agents.Result{RC: injected, Reason: fmt.Sprintf("dummy %s failure injected: %s", op, injected)}
		return c, &res
	}
	if rc, ok := c.fail[op]; ok {
		res := agents.Result{RC: rc, Reason: fmt.Sprintf("dummy %s returns %s (fail_%s=%d)", op, rc, op, int(rc))}
		return c, &res
	}
	return c, nil
}

func (a *Agent) setRunning(c config, rsc string, on bool) error {
	if c.state != "" {
		if on {
			if err := os.WriteFile(c.state, []byte(rsc+"\n"), 0o644); err != nil {
				return fmt.Errorf("write state file: %w", err)
			}
			return nil
		}
		if err := os.Remove(c.state); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state file: %w", err)
		}
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if on {
		a.running[rsc] = true
	} else {
		delete(a.running, rsc)
	}
	return nil
}

func (a *Agent) isRunning(c config, rsc string) bool {
	if c.state != "" {
		_, err := os.Stat(c.state)
		return err == nil
	}
	return a.Running(rsc)
}

// Start marks the resource running, unless a switch says otherwise.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	c, res := a.do(ctx, "start", r)
	if res != nil {
		return *res
	}
	if c.failOn != "" && c.failOn == r.Node {
		return agents.Result{RC: agents.ErrGeneric, Reason: "dummy start fails on node " + r.Node + " (fail_start_on)"}
	}
	if err := a.setRunning(c, r.Resource, true); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: "dummy start: " + err.Error()}
	}
	return agents.Result{RC: agents.Success}
}

// Stop marks the resource stopped, unless a switch says otherwise.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	c, res := a.do(ctx, "stop", r)
	if res != nil {
		return *res
	}
	if err := a.setRunning(c, r.Resource, false); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: "dummy stop: " + err.Error()}
	}
	return agents.Result{RC: agents.Success}
}

// Monitor returns Success when the resource runs and NotRunning otherwise, unless a switch says otherwise.
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	c, res := a.do(ctx, "monitor", r)
	if res != nil {
		return *res
	}
	if a.isRunning(c, r.Resource) {
		return agents.Result{RC: agents.Success}
	}
	return agents.Result{RC: agents.NotRunning}
}

// Validate checks the parameters.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	_, res := a.do(ctx, "validate-all", r)
	if res != nil {
		return *res
	}
	return agents.Result{RC: agents.Success}
}

// MetaData returns the agent's meta-data; it never fails.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) { return metadata(), nil }

func metadata() *agents.Metadata {
	md := &agents.Metadata{
		Name: "Dummy", Version: "1.0", ShortDesc: "Example stateless resource agent (Duet built-in)",
		Parameters: []agents.Parameter{
			{Name: "state", Unique: true, Type: "string", ShortDesc: "state file; default: kept in memory"},
			{Name: "fake", Type: "string", Default: "dummy", ShortDesc: "fake attribute that can be changed"},
			{Name: "op_sleep", Type: "string", Default: "0", ShortDesc: "how long every operation takes (seconds, or with a unit)"},
			{Name: "fail_start_on", Type: "string", ShortDesc: "start fails with a generic error on this node"},
			{Name: "passwd", Type: "string", ShortDesc: "ignored (pacemaker's Dummy has it)"},
			{Name: "envfile", Type: "string", ShortDesc: "ignored (pacemaker's Dummy has it)"},
		},
	}
	for _, op := range switchOps() {
		md.Parameters = append(md.Parameters,
			agents.Parameter{Name: "fail_" + op, Type: "integer", ShortDesc: op + " returns this OCF exit code"},
			agents.Parameter{Name: "hang_" + op, Type: "boolean", Default: "false", ShortDesc: op + " blocks until its timeout"})
	}
	md.Actions = []agents.ActionSpec{
		{Name: "start", Timeout: 20 * time.Second}, {Name: "stop", Timeout: 20 * time.Second},
		{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
		{Name: "meta-data", Timeout: 5 * time.Second}, {Name: "validate-all", Timeout: 20 * time.Second},
	}
	return md
}
