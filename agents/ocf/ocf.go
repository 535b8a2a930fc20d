// Package ocf runs OCF resource agents, the scripts of Debian's resource-agents package and their kind, as
// pacemaker's executor does (pacemaker.md section 3.2): the action as argv[1], instance attributes as
// OCF_RESKEY_*, meta attributes and the operation as OCF_RESKEY_CRM_meta_*, exit codes mapped as pacemaker's
// services_ocf.c maps them, and the reason from `ocf-exit-reason:` lines on stderr.
package ocf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/internal/script"
)

// Options configure an Agent.
type Options struct {
	OCFRoot string // OCF_ROOT; default /usr/lib/ocf
	// Prefix wraps every run, e.g. ip netns exec NS; empty runs the script directly.
	Prefix []string
	// MetaDataTimeout bounds the meta-data action when ctx has no deadline. Default 10s.
	MetaDataTimeout time.Duration
	Logger          *slog.Logger // nil discards
}

// Agent runs one OCF script. It is safe for concurrent use; it holds no process between operations.
type Agent struct {
	name agents.Name
	path string
	o    Options
	log  *slog.Logger

	mu sync.Mutex
	md *agents.Metadata // cached after the first successful meta-data
}

// New returns the agent for the script at path, which answers to name (class ocf).
func New(name agents.Name, path string, o Options) *Agent {
	if o.OCFRoot == "" {
		o.OCFRoot = "/usr/lib/ocf"
	}
	if o.MetaDataTimeout <= 0 {
		o.MetaDataTimeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{name: name, path: path, o: o, log: log}
}

// Start runs the start action.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	return a.Run(ctx, "start", r)
}

// Stop runs the stop action.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	return a.Run(ctx, "stop", r)
}

// Monitor runs the monitor action (a probe when r.Interval is 0).
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	return a.Run(ctx, "monitor", r)
}

// Validate runs validate-all.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	return a.Run(ctx, "validate-all", r)
}

// MetaData runs the meta-data action and parses its XML; the result is cached after the first success.
func (a *Agent) MetaData(ctx context.Context) (*agents.Metadata, error) {
	a.mu.Lock()
	md := a.md
	a.mu.Unlock()
	if md != nil {
		return md, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.o.MetaDataTimeout)
		defer cancel()
	}
	out := script.Run(ctx, script.Cmd{Prefix: a.o.Prefix, Path: a.path, Args: []string{"meta-data"}, Env: a.baseEnv()})
	if res, failed := a.failure("meta-data", out); failed {
		return nil, fmt.Errorf("get meta-data of %s: %s", a.name, res.Reason)
	}
	if out.Code != 0 {
		return nil, fmt.Errorf("get meta-data of %s: exit code %d: %s", a.name, out.Code, script.LastLine(out.Stderr))
	}
	md, err := agents.ParseMetadata([]byte(out.Stdout))
	if err != nil {
		return nil, fmt.Errorf("get meta-data of %s: %w", a.name, err)
	}
	a.mu.Lock()
	a.md = md
	a.mu.Unlock()
	return md, nil
}

func (a *Agent) baseEnv() []string {
	return []string{
		"OCF_ROOT=" + a.o.OCFRoot,
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_TYPE=" + a.name.Type, "OCF_RESOURCE_PROVIDER=" + a.name.Provider,
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"PCMK_service=duet-executor", "HA_LOGTAG=duet-executor",
	}
}

// Env returns the environment an action gets (after PATH and LC_ALL=C), sorted, or an error naming a
// parameter whose name cannot be an environment variable.
func (a *Agent) Env(action string, r agents.Request, timeout time.Duration) ([]string, error) {
	env := a.baseEnv()
	env = append(env, "OCF_RESOURCE_INSTANCE="+r.Resource)
	for k, v := range r.Params {
		if !envName(k) {
			return nil, &agents.ParamError{Agent: a.name.String(), Field: k, Problem: "is not a valid parameter name"}
		}
		if strings.ContainsRune(v, 0) {
			return nil, &agents.ParamError{Agent: a.name.String(), Field: k, Problem: "contains a NUL byte"}
		}
		env = append(env, "OCF_RESKEY_"+k+"="+v)
	}
	for k, v := range r.Meta {
		// pacemaker's crm_meta_name: dashes become underscores.
		k = strings.ReplaceAll(k, "-", "_")
		if !envName(k) || strings.ContainsRune(v, 0) {
			continue
		}
		switch k {
		case "interval", "timeout", "name", "on_node":
			continue // set from the request below
		}
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	env = append(env,
		"OCF_RESKEY_CRM_meta_name="+action,
		"OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(r.Interval.Milliseconds(), 10),
		"OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(timeout.Milliseconds(), 10),
		"OCF_RESKEY_crm_feature_set=3.19.0",
	)
	if r.Node != "" {
		env = append(env, "OCF_RESKEY_CRM_meta_on_node="+r.Node)
	}
	if lvl, ok := r.Meta["OCF_CHECK_LEVEL"]; ok {
		env = append(env, "OCF_CHECK_LEVEL="+lvl)
	}
	sort.Strings(env)
	return env, nil
}

func envName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Run runs any action (start, stop, monitor, validate-all, promote, demote, notify, reload-agent, ...) and
// maps its outcome: codes 0-9, 190 and 191 as OCF defines them; any other code gives ErrGeneric, as
// pacemaker's services__ocf2ocf does; a timeout kills the process group and gives Timeout; a script that
// cannot run gives ErrInstalled (ExecErr when the cause is not a missing or non-executable file).
func (a *Agent) Run(ctx context.Context, action string, r agents.Request) agents.Result {
	timeout := r.Timeout
	if dl, ok := ctx.Deadline(); ok && (timeout <= 0 || time.Until(dl) < timeout) {
		timeout = time.Until(dl)
	}
	env, err := a.Env(action, r, timeout)
	if err != nil {
		return agents.ErrorResult(err, agents.ErrConfigured)
	}
	out := script.Run(ctx, script.Cmd{Prefix: a.o.Prefix, Path: a.path, Args: []string{action}, Env: env})
	res := a.result(action, out)
	a.log.Debug("ocf action", "rsc", r.Resource, "agent", a.name.String(), "op", action, "rc", int(res.RC), "elapsed", out.Elapsed)
	return res
}

// failure reports the outcomes that are not an exit code: timeout, cancel, signal, start failure.
func (a *Agent) failure(action string, out script.Outcome) (agents.Result, bool) {
	summary := script.Summary(out)
	switch {
	case out.StartErr != nil:
		rc := agents.ExecErr
		if errors.Is(out.StartErr, exec.ErrNotFound) || errors.Is(out.StartErr, fs.ErrNotExist) || errors.Is(out.StartErr, fs.ErrPermission) {
			rc = agents.ErrInstalled
		}
		return agents.Result{RC: rc, Reason: fmt.Sprintf("%s %s: %v", a.name, action, out.StartErr)}, true
	case out.TimedOut:
		return agents.Result{RC: agents.Timeout, Reason: fmt.Sprintf("%s %s timed out after %v; its process group was killed", a.name, action, out.Elapsed.Round(time.Millisecond)), Output: summary}, true
	case out.Cancelled:
		return agents.Result{RC: agents.ExecErr, Reason: fmt.Sprintf("%s %s cancelled; its process group was killed", a.name, action), Output: summary}, true
	case out.Signal != "":
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("%s %s killed by signal %s", a.name, action, out.Signal), Output: summary}, true
	}
	return agents.Result{}, false
}

func (a *Agent) result(action string, out script.Outcome) agents.Result {
	if res, failed := a.failure(action, out); failed {
		return res
	}
	res := agents.Result{RC: agents.RC(out.Code), Reason: script.ExitReason(out.Stderr), Output: script.Summary(out)}
	switch {
	case out.Code >= 0 && out.Code <= 9, out.Code == 190, out.Code == 191:
	default:
		res.RC = agents.ErrGeneric
		why := fmt.Sprintf("%s %s exited with code %d, which is not an OCF exit code", a.name, action, out.Code)
		if res.Reason != "" {
			why += ": " + res.Reason
		}
		res.Reason = why
		return res
	}
	if res.Reason == "" && !res.OK() && res.RC != agents.NotRunning {
		res.Reason = fmt.Sprintf("%s %s returned %s", a.name, action, res.RC)
		if l := script.LastLine(out.Stderr); l != "" {
			res.Reason += ": " + l
		}
	}
	return res
}
