// Package executor runs resource operations on one node: it resolves a resource's agent through the
// registry, runs start, stop and probes with the operation's timeout, keeps recurring monitors going at their
// intervals, and reports a monitor whose result changes. It decides nothing: the DC's plan tells it what to
// run. Close stops every monitor and waits for it.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/duet-ha/duet/agents"
)

// DefaultTimeout is pacemaker's default operation timeout.
const DefaultTimeout = 20 * time.Second

// Request is one operation to run.
type Request struct {
	Op       string            `json:"op"` // start, stop, probe, monitor (starts a recurring monitor), cancel (stops one)
	Resource string            `json:"rsc"`
	Agent    string            `json:"agent"`
	Params   map[string]string `json:"params,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
	Interval time.Duration     `json:"interval,omitempty"`
	Timeout  time.Duration     `json:"timeout,omitempty"`
}

// Result is an operation's outcome, with the resource's state after it.
type Result struct {
	RC       agents.RC       `json:"rc"`
	Reason   string          `json:"reason,omitempty"`
	Running  bool            `json:"running"`
	Failed   bool            `json:"failed"`
	Exec     time.Duration   `json:"exec"`
	Monitors []time.Duration `json:"monitors,omitempty"` // the recurring monitors active afterwards
}

// Report is a recurring monitor's result that differs from the last one (a failure, or a recovery).
type Report struct {
	Resource string
	Request  Request
	Result   Result
	When     time.Time
}

// Lookup resolves an agent name; *agents.Registry satisfies it.
type Lookup interface {
	Lookup(name string) (agents.Agent, error)
}

// ParamChecker is implemented by registries that can check a request's parameters against the agent's
// meta-data; the executor then refuses a start with a missing or unknown parameter, naming it.
type ParamChecker interface {
	CheckParams(ctx context.Context, req agents.Request) error
}

// Executor runs operations for one node. Methods are safe for concurrent use.
type Executor struct {
	node   string
	reg    Lookup
	log    *slog.Logger
	report func(Report)

	mu       sync.Mutex
	monitors map[string]map[time.Duration]context.CancelFunc // rsc -> interval -> stop
	locks    map[string]*sync.Mutex                          // one operation at a time per resource
	closed   bool
	wg       sync.WaitGroup
}

// New returns an executor for node. report is called from monitor goroutines; it must not block for long.
func New(node string, reg Lookup, log *slog.Logger, report func(Report)) *Executor {
	return &Executor{node: node, reg: reg, log: log, report: report,
		monitors: map[string]map[time.Duration]context.CancelFunc{}, locks: map[string]*sync.Mutex{}}
}

func (e *Executor) lock(rsc string) func() {
	e.mu.Lock()
	l, ok := e.locks[rsc]
	if !ok {
		l = &sync.Mutex{}
		e.locks[rsc] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Exec runs one operation and blocks until it is done (or its timeout passes).
func (e *Executor) Exec(ctx context.Context, req Request) Result {
	unlock := e.lock(req.Resource)
	defer unlock()
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return Result{RC: agents.ExecErr, Reason: "executor is shutting down", Failed: true}
	}
	agent, err := e.reg.Lookup(req.Agent)
	if err != nil {
		if req.Op == "stop" || req.Op == "cancel" {
			// Nothing of an agent that does not exist here can be running here.
			return Result{RC: agents.Success, Reason: err.Error()}
		}
		return Result{RC: agents.ErrInstalled, Reason: err.Error(), Failed: true}
	}
	switch req.Op {
	case "start":
		if pc, ok := e.reg.(ParamChecker); ok {
			areq := agents.Request{Resource: req.Resource, Agent: req.Agent, Params: req.Params, Meta: req.Meta, Op: "start", Node: e.node}
			if err := pc.CheckParams(ctx, areq); err != nil {
				e.log.Warn("operation refused: bad parameters", "rsc", req.Resource, "err", err)
				res := agents.ErrorResult(err, agents.ErrConfigured)
				return Result{RC: res.RC, Reason: res.Reason, Failed: true}
			}
		}
		r := e.run(ctx, agent, req, "start")
		r.Running = r.RC.Severity() == agents.SeverityNone
		r.Failed = !r.Running
		if r.Failed {
			// A failed start may have left something half up: the scheduler stops it before retrying.
			r.Running = true
		}
		r.Monitors = e.activeMonitors(req.Resource)
		return r
	case "stop":
		e.cancelMonitors(req.Resource)
		r := e.run(ctx, agent, req, "stop")
		ok := r.RC.Severity() == agents.SeverityNone
		r.Running, r.Failed = !ok, !ok
		return r
	case "probe":
		req.Interval = 0
		r := e.run(ctx, agent, req, "monitor")
		e.classifyMonitor(&r)
		r.Monitors = e.activeMonitors(req.Resource)
		return r
	case "monitor":
		// Run once now, then recurring. The first result is the action's result. A recurring monitor is
		// scheduled on a resource that should run: "not running" is a failure, as its later runs report it and
		// as pacemaker counts it (a crash between the start and this first run counted nothing, and the DC
		// restarted the resource in place past its migration-threshold).
		r := e.run(ctx, agent, req, "monitor")
		e.classifyMonitor(&r)
		if !r.Running {
			r.Failed = true
		}
		if r.Running && !r.Failed {
			e.startMonitor(req, agent, r)
		}
		r.Monitors = e.activeMonitors(req.Resource)
		return r
	case "cancel":
		e.cancelMonitor(req.Resource, req.Interval)
		return Result{RC: agents.Success, Monitors: e.activeMonitors(req.Resource)}
	case "release":
		// before a planned move starts the resource elsewhere; agents without announcements have nothing to do
		r := Result{RC: agents.Success}
		if _, ok := agent.(agents.Releaser); ok {
			r = e.run(ctx, agent, req, "release")
			r.Failed = r.RC.Severity() != agents.SeverityNone
		}
		r.Running, r.Monitors = true, e.activeMonitors(req.Resource)
		return r
	}
	return Result{RC: agents.ErrUnimplemented, Reason: fmt.Sprintf("unknown operation %q", req.Op), Failed: true}
}

// classifyMonitor maps a monitor's code to the resource state: 0 running, 7 cleanly stopped, anything
// else failed (and possibly still there).
func (e *Executor) classifyMonitor(r *Result) {
	switch {
	case r.RC.Severity() == agents.SeverityNone:
		r.Running = true
	case r.RC == agents.NotRunning:
		r.Running = false
	default:
		r.Running, r.Failed = true, true
	}
}

func (e *Executor) run(ctx context.Context, agent agents.Agent, req Request, op string) Result {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	areq := agents.Request{Resource: req.Resource, Agent: req.Agent, Params: req.Params, Meta: req.Meta, Op: op,
		Interval: req.Interval, Timeout: timeout, Node: e.node}
	start := time.Now()
	var ar agents.Result
	switch op {
	case "start":
		ar = agent.Start(ctx, areq)
	case "stop":
		ar = agent.Stop(ctx, areq)
	case "release":
		ar = agent.(agents.Releaser).Release(ctx, areq)
	default:
		ar = agent.Monitor(ctx, areq)
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && ar.RC.Severity() != agents.SeverityNone {
		ar.RC = agents.Timeout
		if ar.Reason == "" {
			ar.Reason = fmt.Sprintf("%s did not finish within %s", op, timeout)
		}
	}
	r := Result{RC: ar.RC, Reason: ar.Reason, Exec: time.Since(start)}
	lvl := slog.LevelInfo
	if op == "monitor" && req.Interval > 0 {
		lvl = slog.LevelDebug
	}
	if ar.RC.Severity() != agents.SeverityNone && !(op == "monitor" && ar.RC == agents.NotRunning) {
		lvl = slog.LevelWarn
	}
	e.log.Log(ctx, lvl, "operation", "rsc", req.Resource, "op", op, "interval", req.Interval, "rc", int(ar.RC), "rc_text", ar.RC.String(), "reason", ar.Reason, "exec", r.Exec)
	return r
}

func (e *Executor) startMonitor(req Request, agent agents.Agent, first Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	m := e.monitors[req.Resource]
	if m == nil {
		m = map[time.Duration]context.CancelFunc{}
		e.monitors[req.Resource] = m
	}
	if _, ok := m[req.Interval]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m[req.Interval] = cancel
	e.wg.Add(1)
	go e.monitorLoop(ctx, req, agent, first)
}

func (e *Executor) monitorLoop(ctx context.Context, req Request, agent agents.Agent, last Result) {
	defer e.wg.Done()
	t := time.NewTicker(req.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		unlock := e.lock(req.Resource)
		if ctx.Err() != nil {
			unlock()
			return
		}
		r := e.run(ctx, agent, req, "monitor")
		unlock()
		if ctx.Err() != nil {
			return
		}
		e.classifyMonitor(&r)
		if r.RC != last.RC {
			r.Monitors = e.activeMonitors(req.Resource)
			if r.Failed || !r.Running {
				// A failed monitor ends this monitor; the DC decides the recovery.
				e.cancelMonitor(req.Resource, req.Interval)
				r.Monitors = e.activeMonitors(req.Resource)
				r.Failed = true
			}
			e.report(Report{Resource: req.Resource, Request: req, Result: r, When: time.Now()})
			if r.Failed {
				return
			}
		}
		last = r
	}
}

func (e *Executor) activeMonitors(rsc string) []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []time.Duration
	for iv := range e.monitors[rsc] {
		out = append(out, iv)
	}
	slices.Sort(out)
	return out
}

func (e *Executor) cancelMonitor(rsc string, interval time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cancel, ok := e.monitors[rsc][interval]; ok {
		cancel()
		delete(e.monitors[rsc], interval)
	}
}

func (e *Executor) cancelMonitors(rsc string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for iv, cancel := range e.monitors[rsc] {
		cancel()
		delete(e.monitors[rsc], iv)
	}
}

// Close stops every recurring monitor and waits for them. Resources keep running: stopping them is the
// cluster's decision, not the executor's.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	for rsc, m := range e.monitors {
		for iv, cancel := range m {
			cancel()
			delete(m, iv)
		}
		delete(e.monitors, rsc)
	}
	e.mu.Unlock()
	e.wg.Wait()
}
