// Package agents defines the one interface through which the executor runs resources (Agent), the OCF result
// codes every agent speaks, the parsed form of an agent's meta-data, and the registry that maps a crmsh agent
// name such as ocf:heartbeat:IPaddr2 to an Agent. The agents themselves live in sub-packages.
//
// Names follow crmsh: class:provider:type for OCF agents (ocf:heartbeat:IPaddr2, or just IPaddr2, crmsh's
// abbreviation for ocf:heartbeat), class:type for the others (lsb:haproxy, systemd:nginx, service:nginx,
// stonith:fence_xvm). Duet's own agents are OCF agents of provider duet: ocf:duet:vip, ocf:duet:dummy and
// ocf:duet:proxy, so a crmsh user writes them like any other OCF agent.
//
// The executor builds its registry with agents/builtin:
//
//	opts, err := builtin.Options(builtin.Config{Logger: log})
//	reg := agents.NewRegistry(opts)
//	defer reg.Close()
//	a, err := reg.Lookup(req.Agent)        // *UnknownAgentError (errors.Is ErrUnknownAgent) with a suggestion
//	err = reg.CheckParams(ctx, req)         // *ParamError naming the field
//	res := a.Start(ctx, req)                // ctx carries the op timeout; Timeout when it passes
package agents

import (
	"context"
	"fmt"
	"time"
)

// RC is an operation's result in OCF terms; LSB and systemd agents map their own codes onto it.
type RC int

// The OCF exit codes, with pacemaker's meaning (pacemaker.md section 3.2).
const (
	Success          RC = 0   // OCF_SUCCESS
	ErrGeneric       RC = 1   // OCF_ERR_GENERIC: soft error, restart in place or move
	ErrArgs          RC = 2   // OCF_ERR_ARGS: parameter invalid on this host, hard
	ErrUnimplemented RC = 3   // OCF_ERR_UNIMPLEMENTED: hard
	ErrPerm          RC = 4   // OCF_ERR_PERM: hard
	ErrInstalled     RC = 5   // OCF_ERR_INSTALLED: hard
	ErrConfigured    RC = 6   // OCF_ERR_CONFIGURED: fatal, stop everywhere
	NotRunning       RC = 7   // OCF_NOT_RUNNING: cleanly stopped (monitor only)
	RunningPromoted  RC = 8   // OCF_RUNNING_PROMOTED
	FailedPromoted   RC = 9   // OCF_FAILED_PROMOTED
	Degraded         RC = 190 // OCF_DEGRADED: success, shown as degraded
	DegradedPromoted RC = 191
	// Duet's own codes for results that no agent returned (pacemaker reports these as an execution status).
	Timeout RC = 198 // the operation did not finish within its timeout
	ExecErr RC = 199 // the agent could not be run at all
)

var rcNames = map[RC]string{
	Success: "ok", ErrGeneric: "error", ErrArgs: "invalid parameter", ErrUnimplemented: "unimplemented feature",
	ErrPerm: "insufficient privileges", ErrInstalled: "not installed", ErrConfigured: "not configured",
	NotRunning: "not running", RunningPromoted: "promoted", FailedPromoted: "promoted (failed)",
	Degraded: "degraded", DegradedPromoted: "promoted (degraded)", Timeout: "Timed Out", ExecErr: "Error",
}

// String returns crm_mon's name for the code ('error', 'not running', ...).
func (rc RC) String() string {
	if s, ok := rcNames[rc]; ok {
		return s
	}
	return fmt.Sprintf("unknown (%d)", int(rc))
}

// Severity is how pacemaker recovers from a failed result.
type Severity int

const (
	SeverityNone  Severity = iota // success
	SeveritySoft                  // restart in place (or move after migration-threshold)
	SeverityHard                  // move away and ban this node
	SeverityFatal                 // stop everywhere
)

// Severity classifies a result of a start, stop or monitor as Pacemaker Administration's table of OCF
// return codes does: 1 (OCF_ERR_GENERIC) and unknown codes are soft, 2-5 hard, 6 fatal.
func (rc RC) Severity() Severity {
	switch rc {
	case Success, Degraded, RunningPromoted, DegradedPromoted:
		return SeverityNone
	case ErrArgs, ErrUnimplemented, ErrPerm, ErrInstalled:
		return SeverityHard
	case ErrConfigured:
		return SeverityFatal
	default:
		return SeveritySoft
	}
}

// Request is everything one operation needs. Params are the instance attributes, Meta the meta attributes.
type Request struct {
	Resource string            // resource id; clone instances carry ":N"
	Agent    string            // full agent name, e.g. ocf:heartbeat:IPaddr2
	Params   map[string]string // instance attributes
	Meta     map[string]string // meta attributes
	Op       string            // start, stop, monitor, validate-all
	Interval time.Duration     // 0 for a probe or a non-recurring op
	Timeout  time.Duration     // the executor also enforces it through ctx
	Node     string            // the node the op runs on
}

// Result is an operation's outcome. Reason is the exit reason (ocf-exit-reason: lines, or a Go error's text).
type Result struct {
	RC     RC
	Reason string
	Output string // captured stdout/stderr, trimmed, for logs
}

// OK reports whether the result counts as success.
func (r Result) OK() bool { return r.RC.Severity() == SeverityNone }

// Agent runs one kind of resource. Every method blocks until the operation is done or ctx ends; a method
// must return Timeout when ctx's deadline passes. Agents are safe for concurrent use on different resources.
type Agent interface {
	Start(ctx context.Context, r Request) Result
	Stop(ctx context.Context, r Request) Result
	// Monitor returns Success when running, NotRunning when cleanly stopped, anything else when failed.
	Monitor(ctx context.Context, r Request) Result
	// Validate checks the parameters (validate-all); ErrConfigured or ErrArgs name the field in Reason.
	Validate(ctx context.Context, r Request) Result
	MetaData(ctx context.Context) (*Metadata, error)
}

// Releaser is implemented by agents whose resource is announced to the network (a VIP). Release is called on
// the old node of a planned make-before-break move (meta allow-migrate=true) just before the resource starts
// on the new node: the resource keeps running here, but stops announcing itself, so that for the moment both
// nodes hold it only the new one tells the clients where it lives. Stop follows.
type Releaser interface {
	Release(ctx context.Context, r Request) Result
}

// Metadata is the parsed form of an agent's meta-data XML.
type Metadata struct {
	Name       string
	Version    string
	ShortDesc  string
	Parameters []Parameter
	Actions    []ActionSpec
}

// Parameter describes one instance attribute.
type Parameter struct {
	Name      string
	Required  bool
	Unique    bool
	Type      string // string, integer, boolean, ...
	Default   string
	ShortDesc string
}

// ActionSpec is one <action> of the meta-data.
type ActionSpec struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration
}

// Param returns the named parameter's description.
func (m *Metadata) Param(name string) (Parameter, bool) {
	for _, p := range m.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}
