// Package proxy is the ocf:duet:proxy agent: it runs Duet's embedded HAProxy-dialect proxy
// (resources/proxy) inside clusterd. Parameter config names the haproxy.cfg files or directories
// (comma-separated, like repeated haproxy -f); config_text instead holds the configuration itself, stored in
// the CIB. Start loads and binds (non-local bind, so a clone can listen on a VIP that is not there yet),
// monitor reports whether every listener is bound and reloads in place when the configuration changed (the
// running proxy keeps serving when the new one is invalid), stop drains gracefully.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/duet-ha/duet/agents"
	rproxy "github.com/duet-ha/duet/resources/proxy"
)

// Agent runs one proxy per resource. It is safe for concurrent use.
type Agent struct {
	log *slog.Logger

	mu      sync.Mutex
	servers map[string]*rproxy.Server
	loaded  map[string]string // the parameters each running proxy was started or reloaded with
}

// New returns the agent.
func New(log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{log: log, servers: map[string]*rproxy.Server{}, loaded: map[string]string{}}
}

func paths(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (a *Agent) load(r agents.Request) (*rproxy.Config, agents.Result) {
	file, text := strings.TrimSpace(r.Params["config"]), r.Params["config_text"]
	var (
		cfg   *rproxy.Config
		diags []rproxy.Diagnostic
		err   error
	)
	switch {
	case file != "" && text != "":
		return nil, agents.ErrorResult(&agents.ParamError{Agent: "ocf:duet:proxy", Field: "config_text", Problem: "conflicts with config: give one of them"}, agents.ErrConfigured)
	case file != "":
		cfg, diags, err = rproxy.Load(paths(file)...)
	case text != "":
		cfg, diags, err = rproxy.Parse("cib:"+r.Resource, []byte(text), os.LookupEnv)
	default:
		return nil, agents.ErrorResult(&agents.ParamError{Agent: "ocf:duet:proxy", Field: "config", Problem: "is required (the haproxy.cfg path), or config_text"}, agents.ErrConfigured)
	}
	for _, d := range diags {
		a.log.Warn("proxy configuration", "rsc", r.Resource, "diag", d.String())
	}
	if err != nil {
		var lines []string
		for _, d := range diags {
			lines = append(lines, d.String())
		}
		reason := err.Error()
		if len(lines) > 0 {
			reason = strings.Join(lines, "; ")
		}
		return nil, agents.Result{RC: agents.ErrConfigured, Reason: reason}
	}
	if cfg.Global.Nbthread > 0 {
		a.log.Warn("proxy configuration: nbthread has no effect inside clusterd (it shares clusterd's threads; duet-proxy honours it)", "rsc", r.Resource)
	}
	return cfg, agents.Result{RC: agents.Success}
}

// Start loads the configuration and starts serving; a proxy already running for the resource is kept.
func (a *Agent) Start(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	_, running := a.servers[r.Resource]
	a.mu.Unlock()
	if running {
		return agents.Result{RC: agents.Success}
	}
	cfg, res := a.load(r)
	if cfg == nil {
		return res
	}
	srv := rproxy.New(cfg, a.log.With("rsc", r.Resource))
	if err := srv.Start(ctx); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("start proxy: %v", err)}
	}
	a.mu.Lock()
	a.servers[r.Resource] = srv
	a.loaded[r.Resource] = fingerprint(r)
	a.mu.Unlock()
	return agents.Result{RC: agents.Success}
}

// fingerprint identifies what a proxy was loaded from: the parameters, and for files their contents.
func fingerprint(r agents.Request) string {
	fp := r.Params["config"] + "\x00" + r.Params["config_text"]
	for _, p := range paths(r.Params["config"]) {
		if b, err := os.ReadFile(p); err == nil {
			fp += "\x00" + string(b)
		}
	}
	return fp
}

// Stop drains connections until ctx ends and then closes the rest.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	srv := a.servers[r.Resource]
	delete(a.servers, r.Resource)
	delete(a.loaded, r.Resource)
	a.mu.Unlock()
	if srv == nil {
		return agents.Result{RC: agents.Success}
	}
	if err := srv.Stop(ctx); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: fmt.Sprintf("stop proxy: %v", err)}
	}
	return agents.Result{RC: agents.Success}
}

// Monitor is Success while every listener is bound, NotRunning when the proxy is not running here.
func (a *Agent) Monitor(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	srv := a.servers[r.Resource]
	a.mu.Unlock()
	if srv == nil {
		return agents.Result{RC: agents.NotRunning}
	}
	if err := srv.Healthy(); err != nil {
		return agents.Result{RC: agents.ErrGeneric, Reason: err.Error()}
	}
	a.reloadIfChanged(r, srv)
	return agents.Result{RC: agents.Success}
}

// reloadIfChanged reloads a running proxy in place when its configuration changed (a crm resource param
// change, or an edited haproxy.cfg); an invalid new configuration is logged and the old one keeps serving.
func (a *Agent) reloadIfChanged(r agents.Request, srv *rproxy.Server) {
	fp := fingerprint(r)
	a.mu.Lock()
	same := a.loaded[r.Resource] == fp
	a.mu.Unlock()
	if same {
		return
	}
	cfg, res := a.load(r)
	if cfg == nil {
		a.log.Warn("proxy configuration changed but does not load; the running one keeps serving", "rsc", r.Resource, "reason", res.Reason)
	} else if err := srv.Reload(cfg); err != nil {
		a.log.Warn("proxy reload failed; the running configuration keeps serving", "rsc", r.Resource, "err", err)
	} else {
		a.log.Info("proxy reloaded", "rsc", r.Resource)
	}
	a.mu.Lock()
	a.loaded[r.Resource] = fp // report a bad configuration once, not at every monitor
	a.mu.Unlock()
}

// Validate checks the configuration files, reporting haproxy-style file:line diagnostics.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	_, res := a.load(r)
	return res
}

// MetaData describes the agent.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) {
	return &agents.Metadata{Name: "proxy", Version: "1.0", ShortDesc: "Duet's embedded HAProxy-dialect load balancer",
		Parameters: []agents.Parameter{
			{Name: "config", Type: "string", ShortDesc: "haproxy.cfg files or directories, comma-separated (like haproxy -f)"},
			{Name: "config_text", Type: "string", ShortDesc: "the configuration itself, stored in the CIB (instead of config)"},
		}}, nil
}

// Close stops every proxy at once (clusterd exit).
func (a *Agent) Close() error {
	a.mu.Lock()
	servers := a.servers
	a.servers = map[string]*rproxy.Server{}
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, s := range servers {
		_ = s.Stop(ctx)
	}
	return nil
}
