// Package proxy is the ocf:duet:proxy agent: it runs Duet's embedded HAProxy-dialect proxy
// (resources/proxy) inside clusterd. Parameter config names the haproxy.cfg files or directories
// (comma-separated, like repeated haproxy -f). Start loads and binds (non-local bind, so a clone can listen on
// a VIP that is not there yet), monitor reports whether every listener is bound, stop drains gracefully.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
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
}

// New returns the agent.
func New(log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{log: log, servers: map[string]*rproxy.Server{}}
}

func paths(r agents.Request) ([]string, error) {
	v := strings.TrimSpace(r.Params["config"])
	if v == "" {
		return nil, &agents.ParamError{Agent: "ocf:duet:proxy", Field: "config", Problem: "is required (the haproxy.cfg path)"}
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

func (a *Agent) load(r agents.Request) (*rproxy.Config, agents.Result) {
	ps, err := paths(r)
	if err != nil {
		return nil, agents.ErrorResult(err, agents.ErrConfigured)
	}
	cfg, diags, err := rproxy.Load(ps...)
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
	a.mu.Unlock()
	return agents.Result{RC: agents.Success}
}

// Stop drains connections until ctx ends and then closes the rest.
func (a *Agent) Stop(ctx context.Context, r agents.Request) agents.Result {
	a.mu.Lock()
	srv := a.servers[r.Resource]
	delete(a.servers, r.Resource)
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
	return agents.Result{RC: agents.Success}
}

// Validate checks the configuration files, reporting haproxy-style file:line diagnostics.
func (a *Agent) Validate(ctx context.Context, r agents.Request) agents.Result {
	_, res := a.load(r)
	return res
}

// MetaData describes the agent.
func (a *Agent) MetaData(context.Context) (*agents.Metadata, error) {
	return &agents.Metadata{Name: "proxy", Version: "1.0", ShortDesc: "Duet's embedded HAProxy-dialect load balancer",
		Parameters: []agents.Parameter{{Name: "config", Required: true, Type: "string",
			ShortDesc: "haproxy.cfg files or directories, comma-separated (like haproxy -f)"}}}, nil
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
