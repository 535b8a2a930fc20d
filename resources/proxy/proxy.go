// Package proxy is Duet's embedded load balancer: it reads HAProxy 2.6's configuration dialect and serves TCP and
// HTTP/1 traffic with haproxy's balancing math, health checks, stats page, Runtime API and log formats. It imports
// nothing from cluster/ or agents/; the cluster's proxy resource agent drives it through this small API:
//
//	cfg, diags, err := proxy.Load("/etc/haproxy/haproxy.cfg")    // or proxy.Parse(name, text) for CIB text
//	for _, d := range diags { log(d.String()) }                   // warnings even when err == nil
//	if err != nil { return err }                                  // errors.Is(err, proxy.ErrInvalid)
//	srv := proxy.New(cfg, logger)                                 // nothing runs yet
//	if err := srv.Start(ctx); err != nil { ... }                  // binds (IP_FREEBIND), checks, stats socket
//	err = srv.Healthy()                                           // monitor: nil while every listener is bound
//	err = srv.Reload(newCfg)                                      // in place; old connections finish on the old config
//	err = srv.Stop(ctx)                                           // graceful until ctx ends, then closes the rest
//
// Start, Reload, Stop and Healthy are safe for concurrent use; Start and Stop block only as documented on
// server.Server. A configuration is immutable once loaded. The sub-packages each have one job: config (dialect),
// balance (selection), httpx (HTTP/1 parsing), health (checks), stats (CSV, HTML, Runtime API), logfmt (log lines),
// server (the runtime), cli (haproxy's command line, for cmd/duet-proxy).
package proxy

import (
	"log/slog"

	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/server"
)

// Config is a loaded, validated configuration.
type Config = config.Config

// Diagnostic is one error or warning with file, line and keyword.
type Diagnostic = config.Diagnostic

// Server runs one configuration.
type Server = server.Server

// ErrInvalid is wrapped by Load and Parse when the configuration has errors.
var ErrInvalid = config.ErrInvalid

// Load reads configuration files or directories (like haproxy -f, repeatable) with os.LookupEnv for ${VAR}.
func Load(paths ...string) (*Config, []Diagnostic, error) { return config.Load(paths...) }

// Parse reads a configuration held in memory (for example text stored in the CIB); name is used in diagnostics.
func Parse(name string, text []byte, env func(string) (string, bool)) (*Config, []Diagnostic, error) {
	return config.Parse([]config.Source{{Name: name, Data: text}}, env)
}

// New returns a Server for cfg that logs its own events to log (nil discards them).
func New(cfg *Config, log *slog.Logger) *Server { return server.New(cfg, log) }
