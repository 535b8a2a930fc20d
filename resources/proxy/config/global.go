package config

import (
	"strconv"
	"strings"
)

var supportedGlobal = words(`maxconn log stats daemon master-worker pidfile nbthread node description log-tag
log-send-hostname tune.bufsize tune.maxrewrite hard-stop-after ca-base crt-base spread-checks quiet chroot user group
uid gid ulimit-n ssl-default-bind-ciphers ssl-default-bind-ciphersuites ssl-default-bind-options
ssl-default-server-ciphers ssl-default-server-ciphersuites ssl-default-server-options ssl-dh-param-file
tune.ssl.default-dh-param strict-limits noreuseport setenv presetenv resetenv unsetenv localpeer zero-warning nbproc
expose-experimental-directives cpu-map nosplice maxpipes tune.pipesize`)

func (p *parser) globalKeyword(w []string) {
	g := &p.cfg.Global
	switch w[0] {
	case "maxconn":
		if v, ok := p.intArg(w, 1, 1, 1<<30); ok {
			g.Maxconn = v
		}
	case "log":
		if len(w) == 2 && w[1] == "global" {
			p.errf("'log global' is not permitted in the 'global' section.")
			return
		}
		if t, ok := p.parseLog(w); ok {
			g.Logs = append(g.Logs, t)
		}
	case "stats":
		p.globalStats(w)
	case "daemon":
		g.Daemon = true
	case "master-worker":
		g.MasterWorker = true
	case "pidfile":
		if p.needArgs(w, 1, "<file> as argument") {
			g.Pidfile = w[1]
		}
	case "nbthread":
		if v, ok := p.intArg(w, 1, 1, 4096); ok {
			g.Nbthread = v // duet-proxy runs Go code on this many threads (GOMAXPROCS)
		}
	case "cpu-map":
		p.globalCPUMap(w)
	case "node":
		if p.needArgs(w, 1, "<name> as argument") {
			g.Node = w[1]
		}
	case "description":
		g.Description = strings.Join(w[1:], " ")
	case "log-tag":
		if p.needArgs(w, 1, "a tag as argument") {
			g.LogTag = w[1]
		}
	case "log-send-hostname":
		g.SendHostname = true
		if len(w) > 1 {
			g.LogHostname = w[1]
		}
	case "tune.bufsize", "tune.maxrewrite":
		if _, ok := p.intArg(w, 1, 0, 1<<28); ok {
			p.warnf("'%s' is accepted but Duet keeps haproxy's defaults (16384 and 1024: heads up to 15360 bytes).", w[0])
		}
	case "hard-stop-after":
		if p.needArgs(w, 1, "<time> as argument") {
			d, err := ParseTime(w[1])
			if err != nil {
				p.errf("%v", err)
			}
			g.HardStop = d
		}
	case "ca-base":
		if p.needArgs(w, 1, "a directory path as an argument") {
			g.CABase = w[1]
		}
	case "crt-base":
		if p.needArgs(w, 1, "a directory path as an argument") {
			g.CRTBase = w[1]
		}
	case "spread-checks":
		if v, ok := p.intArg(w, 1, 0, 50); ok {
			g.SpreadChecks = v
			p.warnf("'spread-checks' is accepted; Duet spreads first checks over the interval by server id instead.")
		}
	case "zero-warning", "strict-limits":
		p.warnf("'%s' is accepted but has no effect in Duet.", w[0])
	case "noreuseport":
		g.NoReusePort = true
	case "nosplice":
		if len(w) > 1 {
			p.errf("'%s' cannot handle unexpected argument '%s'.", w[0], w[1])
			return
		}
		g.NoSplice = true
	case "maxpipes", "tune.pipesize":
		if len(w) > 2 {
			p.errf("'%s' cannot handle unexpected argument '%s'.", w[0], w[2])
			return
		}
		// haproxy reads these with atol, so that "maxpipes x" is 0 there; Duet refuses what is not a number
		if v, ok := p.intArg(w, 1, 0, 1<<30); ok {
			if w[0] == "maxpipes" {
				g.Maxpipes = v
			} else {
				g.PipeSize = v
			}
		}
	case "quiet", "expose-experimental-directives":
	case "chroot", "user", "group", "uid", "gid":
		if !p.needArgs(w, 1, "an argument") {
			return
		}
		p.warnf("'%s' is accepted but not applied: Duet keeps the privileges and root directory it was started with (clusterd runs it)", w[0])
	case "ulimit-n":
		if _, ok := p.intArg(w, 1, 1, 1<<30); ok {
			p.warnf("'ulimit-n' is accepted but not applied: Duet raises its file limit to the hard limit at start")
		}
	case "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites", "ssl-default-bind-options",
		"ssl-default-server-ciphers", "ssl-default-server-ciphersuites", "ssl-default-server-options",
		"ssl-dh-param-file", "tune.ssl.default-dh-param":
		// Go's crypto/tls chooses safe ciphers and versions itself.
		if p.needArgs(w, 1, "an argument") {
			p.warnf("'%s' is accepted but has no effect in Duet (Go's crypto/tls defaults apply, TLS 1.2 minimum).", w[0])
		}
	case "setenv", "presetenv":
		p.needArgs(w, 2, "<name> and <value> as arguments")
		p.warnf("'%s' is accepted but Duet does not modify its environment; later ${%s} references use the process environment", w[0], safeIdx(w, 1))
	case "resetenv", "unsetenv":
		p.warnf("'%s' is accepted but Duet does not modify its environment", w[0])
	case "localpeer":
		p.needArgs(w, 1, "a name as an argument")
	case "nbproc":
		p.errf("nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.")
	default:
		if contains(knownGlobal, w[0]) {
			p.unsupported(w[0], "global")
			return
		}
		p.unknown(w[0], "global", knownGlobal)
	}
}

func safeIdx(w []string, i int) string {
	if i < len(w) {
		return w[i]
	}
	return ""
}

func (p *parser) globalStats(w []string) {
	if len(w) < 2 {
		p.errf("'stats' expects 'socket', 'maxconn', 'timeout' or 'bind-process'.")
		return
	}
	switch w[1] {
	case "socket":
		if len(w) < 3 {
			p.errf("'stats socket' expects an address.")
			return
		}
		s := StatsSocket{Pos: p.pos(), Network: "unix", Address: w[2], Mode: 0600, Level: "operator"}
		addr := w[2]
		switch {
		case strings.HasPrefix(addr, "unix@"):
			s.Address = addr[5:]
		case strings.HasPrefix(addr, "ipv4@"), strings.HasPrefix(addr, "ipv6@"):
			s.Network, s.Address = "tcp", addr[5:]
		case strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "."):
		case strings.Contains(addr, ":"):
			s.Network = "tcp"
		}
		for i := 3; i < len(w); i++ {
			switch w[i] {
			case "mode":
				if i+1 >= len(w) {
					p.errf("'stats socket' : 'mode' expects an octal mode.")
					return
				}
				m, err := strconv.ParseUint(w[i+1], 8, 32)
				if err != nil {
					p.errf("'stats socket' : 'mode' expects an octal mode, got '%s'.", w[i+1])
					return
				}
				s.Mode = uint32(m)
				i++
			case "level":
				if i+1 >= len(w) || !contains([]string{"user", "operator", "admin"}, w[i+1]) {
					p.errf("'stats socket' : 'level' only supports 'user', 'operator', and 'admin'.")
					return
				}
				s.Level = w[i+1]
				i++
			case "expose-fd":
				if i+1 >= len(w) || w[i+1] != "listeners" {
					p.errf("'stats socket' : 'expose-fd' only supports 'listeners'.")
					return
				}
				i++
			case "user", "group", "uid", "gid", "name", "process", "thread", "maxconn", "backlog", "severity-output":
				if i+1 >= len(w) {
					p.errf("'stats socket' : '%s' expects an argument.", w[i])
					return
				}
				i++
			case "accept-proxy":
			default:
				p.errf("'stats socket' : unknown keyword '%s'.", w[i])
				return
			}
		}
		p.cfg.Global.StatsSockets = append(p.cfg.Global.StatsSockets, s)
	case "timeout":
		if len(w) < 3 {
			p.errf("'stats timeout' expects a timeout.")
			return
		}
		d, err := ParseTime(w[2])
		if err != nil || d == 0 {
			p.errf("'stats timeout' expects a positive time value, got '%s'.", w[2])
			return
		}
		p.cfg.Global.StatsTimeout = d
	case "maxconn":
		p.intArg(w, 2, 1, 1<<30)
	case "bind-process":
		p.warnf("'stats bind-process' has no effect, is deprecated, and will be removed in version 2.7.")
	default:
		p.errf("'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '%s').", w[1])
	}
}

var facilities = words(`kern user mail daemon auth syslog lpr news uucp cron auth2 ftp ntp audit alert cron2
local0 local1 local2 local3 local4 local5 local6 local7`)

var levels = words(`emerg alert crit err warning notice info debug`)

// parseLog parses "log <addr> [len N] [format F] [sample R:S] <facility> [max [min]]".
func (p *parser) parseLog(w []string) (LogTarget, bool) {
	t := LogTarget{Len: 1024, Format: "rfc3164", Level: 7, Pos: p.pos()}
	if len(w) < 3 {
		p.errf("'log' expects either <address[:port]> and <facility> or 'global' as arguments.")
		return t, false
	}
	addr := w[1]
	switch {
	case addr == "stdout" || addr == "stderr":
		t.Network = addr
	case strings.HasPrefix(addr, "/"):
		t.Network, t.Address = "unixgram", addr
	case strings.HasPrefix(addr, "unix@"):
		t.Network, t.Address = "unixgram", addr[5:]
	case strings.HasPrefix(addr, "ring@"):
		p.errf("'log %s' : rings are not supported by Duet yet (haproxy accepts them)", addr)
		return t, false
	default:
		a := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(addr, "udp@"), "ipv4@"), "udp4@")
		host, port := a, "514"
		if i := strings.LastIndexByte(a, ':'); i >= 0 && !strings.HasSuffix(a, "]") && strings.Count(a, ":") == 1 {
			host, port = a[:i], a[i+1:]
		} else if strings.HasPrefix(a, "[") {
			if j := strings.Index(a, "]:"); j > 0 {
				host, port = a[1:j], a[j+2:]
			}
		}
		if _, err := strconv.Atoi(port); err != nil || host == "" {
			p.errf("'log' : invalid address '%s'.", addr)
			return t, false
		}
		if strings.Contains(host, ":") {
			host = "[" + strings.Trim(host, "[]") + "]"
		}
		t.Network, t.Address = "udp", host+":"+port
	}
	i := 2
	for i < len(w) {
		switch w[i] {
		case "len":
			v, ok := p.intArg(w, i+1, 80, 65535)
			if !ok {
				return t, false
			}
			t.Len = v
			i += 2
			continue
		case "format":
			if i+1 >= len(w) || !contains([]string{"rfc3164", "rfc5424", "short", "raw", "local", "iso", "timed", "priority"}, w[i+1]) {
				p.errf("'log' : unknown log format '%s'.", safeIdx(w, i+1))
				return t, false
			}
			t.Format = w[i+1]
			i += 2
			continue
		case "sample":
			p.errf("'log ... sample' is not supported by Duet yet (haproxy accepts it)")
			return t, false
		}
		break
	}
	if i >= len(w) {
		p.errf("'log' expects <facility> as argument.")
		return t, false
	}
	f := indexOf(facilities, w[i])
	if f < 0 {
		p.errf("unknown log facility '%s'", w[i])
		return t, false
	}
	t.Facility = f
	i++
	if i < len(w) {
		l := indexOf(levels, w[i])
		if l < 0 {
			p.errf("unknown optional log level '%s'", w[i])
			return t, false
		}
		t.Level = l
		i++
	}
	if i < len(w) {
		l := indexOf(levels, w[i])
		if l < 0 {
			p.errf("unknown optional minimum log level '%s'", w[i])
			return t, false
		}
		t.MinLevel = l
		i++
	}
	if i < len(w) {
		p.errf("'log' : too many arguments, unexpected '%s'.", w[i])
		return t, false
	}
	return t, true
}

func indexOf(list []string, w string) int {
	for i, x := range list {
		if x == w {
			return i
		}
	}
	return -1
}
