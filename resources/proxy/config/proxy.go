package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
)

// issue5 keywords are valid haproxy that Duet's proxy refuses until ACLs and HTTP rules land.
var issue5 = words(`http-after-response http-error
tcp-response use-server capture declare monitor force-persist ignore-persist persist`)

func (p *parser) proxyKeyword(w []string) {
	px := p.px
	sec := p.sec.String()
	kw := w[0]
	if msg, ok := obsolete[kw]; ok {
		p.errf("%s", msg)
		return
	}
	isDef := px.Cap == CapDefaults
	fe := px.Cap&CapFE != 0 || isDef
	be := px.Cap&CapBE != 0 || isDef
	needFE := func() bool {
		if !fe {
			p.warnf("'%s' ignored because %s '%s' has no frontend capability.", kw, px.Kind, px.Name)
		}
		return fe
	}
	needBE := func() bool {
		if !be {
			p.warnf("'%s' ignored because %s '%s' has no backend capability.", kw, px.Kind, px.Name)
		}
		return be
	}
	switch kw {
	case "mode":
		if !p.needArgs(w, 1, "one of 'tcp', 'http' or 'log'") {
			return
		}
		switch w[1] {
		case "http":
			px.Mode = ModeHTTP
		case "tcp":
			px.Mode = ModeTCP
		case "health":
			p.errf("'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
		default:
			p.errf("unknown proxy mode '%s'.", w[1])
		}
	case "bind":
		if isDef {
			p.errf("'bind' not allowed in 'defaults' section.")
			return
		}
		if !needFE() {
			return
		}
		if b, ok := p.parseBind(w); ok {
			px.Binds = append(px.Binds, b)
		}
	case "maxconn":
		if !needFE() {
			return
		}
		if v, ok := p.intArg(w, 1, 0, 1<<30); ok {
			px.Maxconn = v
		}
	case "backlog":
		if _, ok := p.intArg(w, 1, 0, 1<<30); ok {
			p.warnf("'backlog' is accepted but has no effect in Duet (the kernel's somaxconn applies).")
		}
	case "timeout":
		p.parseTimeout(w, fe, be)
	case "balance":
		if needBE() {
			p.parseBalance(w)
		}
	case "hash-type":
		if needBE() {
			p.parseHashType(w)
		}
	case "hash-balance-factor":
		if needBE() {
			if v, ok := p.intArg(w, 1, 0, 65535); ok {
				if v != 0 && v <= 100 {
					p.errf("'hash-balance-factor' must be 0 or greater than 100.")
					return
				}
				px.HashBalance = v
			}
		}
	case "server":
		if isDef {
			p.errf("'server' not allowed in 'defaults' section.")
			return
		}
		if needBE() {
			p.parseServer(w)
		}
	case "default-server":
		if needBE() {
			sp := px.DefaultServer
			p.parseServerParams(w, 1, "default-server", &sp, true)
			px.DefaultServer = sp
		}
	case "retries":
		if needBE() {
			if v, ok := p.intArg(w, 1, 0, 1<<20); ok {
				px.Retries = v
			}
		}
	case "fullconn":
		if needBE() {
			if v, ok := p.intArg(w, 1, 0, 1<<30); ok {
				px.Fullconn = v
			}
		}
	case "default_backend":
		if isDef {
			if p.needArgs(w, 1, "a backend name") {
				px.DefaultBackend = w[1]
			}
			return
		}
		if needFE() && p.needArgs(w, 1, "a backend name") {
			if len(w) > 2 {
				p.errf("'default_backend' : unexpected argument '%s'.", w[2])
				return
			}
			px.DefaultBackend = w[1]
			p.refs = append(p.refs, ref{px: px, name: w[1], pos: p.pos(), kind: "default"})
		}
	case "use_backend":
		if isDef {
			p.errf("'use_backend' not allowed in 'defaults' section.")
			return
		}
		if !needFE() || !p.needArgs(w, 1, "a backend name") {
			return
		}
		var dyn *acl.Format
		if strings.Contains(w[1], "%") {
			// as haproxy: a name with '%' is a log-format rendered for each request
			f, ok := p.format(w[1], "use_backend")
			if !ok {
				return
			}
			dyn = f
		}
		before, cw := acl.SplitCond(w[2:])
		if len(before) > 0 {
			p.errf("'use_backend %s' : unexpected '%s' (expects 'if' or 'unless')", w[1], before[0])
			return
		}
		cond, err := acl.ParseCond(cw, px.ACLs)
		p.addRefs(px.ACLs.TakeRefs())
		if err != nil {
			p.errf("'use_backend %s' : %v", w[1], err)
			return
		}
		p.ruleSeen("use_backend")
		px.UseBackends = append(px.UseBackends, UseBackend{Backend: w[1], Dynamic: dyn, Cond: cond, Pos: p.pos()})
		if dyn == nil {
			p.refs = append(p.refs, ref{px: px, name: w[1], pos: p.pos(), kind: "use"})
		}
	case "acl":
		if isDef && px.Name == "" {
			p.errf("'acl' not allowed in anonymous 'defaults' section.")
			return
		}
		if len(w) < 3 {
			p.errf("'acl' expects an ACL name and a criterion.")
			return
		}
		if err := px.ACLs.Add(w[1], w[2:]); err != nil {
			p.errf("error detected while parsing ACL '%s' : %v.", w[1], err)
		}
		p.addRefs(px.ACLs.TakeRefs())
	case "http-request":
		p.parseHTTPRequest(w)
	case "http-response":
		p.parseHTTPResponse(w)
	case "tcp-request":
		p.parseTCPRequest(w)
	case "redirect":
		if r, ok := p.parseRedirect(w, 1); ok {
			p.ruleSeen("redirect")
			px.Redirects = append(px.Redirects, r)
		}
	case "errorfile", "errorloc", "errorloc302", "errorloc303":
		p.parseErrorFile(w)
	case "errorfiles":
		p.parseErrorFiles(w)
	case "http-error":
		p.parseHTTPError(w)
	case "cookie":
		if needBE() {
			p.parseCookie(w)
		}
	case "stick-table":
		if isDef {
			p.errf("'stick-table' not allowed in 'defaults' section.")
			return
		}
		p.parseStickTable(w)
	case "stick":
		if isDef {
			p.errf("'stick' not allowed in 'defaults' section.")
			return
		}
		if needBE() {
			p.parseStick(w)
		}
	case "log":
		p.proxyLog(w)
	case "no":
		if len(w) >= 2 && w[1] == "log" {
			px.Logs, px.NoLog = nil, true
			return
		}
		if len(w) >= 3 && w[1] == "option" {
			p.parseOption(w[2:], false, w)
			return
		}
		p.errf("'no' only supports 'option' and 'log'.")
	case "option":
		if !p.needArgs(w, 1, "an option name") {
			return
		}
		p.parseOption(w[1:], true, w)
	case "stats":
		p.parseStats(w)
	case "http-check":
		if needBE() {
			p.parseHTTPCheck(w)
		}
	case "description":
		if isDef {
			p.errf("'description' not allowed in 'defaults' section.")
			return
		}
		px.Desc = strings.Join(w[1:], " ")
	case "id":
		if isDef {
			p.errf("'id' not allowed in 'defaults' section.")
			return
		}
		if v, ok := p.intArg(w, 1, 1, 1<<30); ok {
			px.ID = v
		}
	case "disabled":
		px.Disabled = true
	case "enabled":
		px.Disabled = false
	case "monitor-uri":
		if needFE() && p.needArgs(w, 1, "an URI") {
			px.MonitorURI = w[1]
		}
	case "bind-process":
		p.warnf("'bind-process' has no effect, is deprecated, and will be removed in version 2.7.")
	default:
		if contains(issue5, kw) {
			p.errf("keyword '%s' in '%s' section is valid haproxy but not supported by Duet yet (ACLs, rules and persistence come with issue 5)", kw, sec)
			return
		}
		if contains(knownProxy, kw) {
			p.unsupported(kw, sec)
			return
		}
		p.unknown(kw, sec, knownProxy)
	}
}

func (p *parser) proxyLog(w []string) {
	px := p.px
	if len(w) == 2 && w[1] == "global" {
		if p.logGlobal == nil {
			p.logGlobal = map[*Proxy]bool{}
		}
		p.logGlobal[px] = true
		px.Logs = append(px.Logs, LogTarget{Network: "global", Pos: p.pos()})
		return
	}
	if t, ok := p.parseLog(w); ok {
		px.Logs = append(px.Logs, t)
	}
}

func (p *parser) parseTimeout(w []string, fe, be bool) {
	if len(w) < 3 {
		if len(w) == 2 && !contains(knownTimeouts, w[1]) {
			p.errf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", w[1])
			return
		}
		p.errf("'timeout %s' expects an integer value (in milliseconds)", safeIdx(w, 1))
		return
	}
	if len(w) > 3 {
		p.errf("'timeout %s' : unexpected extra argument '%s'.", w[1], w[3])
		return
	}
	d, err := ParseTime(w[2])
	if err != nil {
		p.errf("'timeout %s' %v", w[1], err)
		return
	}
	t := &p.px.Timeouts
	px := p.px
	feOnly := func(f *durationField) {
		if !fe {
			p.warnf("'timeout %s' will be ignored because %s '%s' has no frontend capability", w[1], px.Kind, px.Name)
			return
		}
		*f.d = d
	}
	beOnly := func(f *durationField) {
		if !be {
			p.warnf("'timeout %s' will be ignored because %s '%s' has no backend capability", w[1], px.Kind, px.Name)
			return
		}
		*f.d = d
	}
	switch w[1] {
	case "client-fin", "server-fin", "tarpit":
		p.warnf("'timeout %s' is accepted but has no effect in Duet yet.", w[1])
	}
	switch w[1] {
	case "client", "clitimeout":
		feOnly(&durationField{&t.Client})
	case "client-fin":
		feOnly(&durationField{&t.ClientFin})
	case "http-request":
		t.HTTPRequest = d
	case "http-keep-alive":
		t.HTTPKeepAlive = d
	case "tarpit":
		t.Tarpit = d
	case "server":
		beOnly(&durationField{&t.Server})
	case "server-fin":
		beOnly(&durationField{&t.ServerFin})
	case "connect":
		beOnly(&durationField{&t.Connect})
	case "queue":
		beOnly(&durationField{&t.Queue})
	case "tunnel":
		beOnly(&durationField{&t.Tunnel})
	case "check":
		beOnly(&durationField{&t.Check})
	default:
		if s := suggest(w[1], knownTimeouts); s != "" {
			p.errf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s'); did you mean '%s' maybe ?", w[1], s)
			return
		}
		p.errf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", w[1])
	}
}

type durationField struct{ d *time.Duration }

func (p *parser) parseBalance(w []string) {
	if !p.needArgs(w, 1, "one of 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)', 'rdp-cookie(name)', 'random', 'first' and 'hash'") {
		return
	}
	b := Balance{Draws: 2, RDPCookie: "mstshash"}
	a := w[1]
	rest := w[2:]
	switch {
	case a == "roundrobin", a == "static-rr", a == "leastconn", a == "first", a == "source":
		b.Algo = Algo(a)
	case a == "uri":
		b.Algo = AlgoURI
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "whole":
				b.URIWhole = true
			case "path-only":
				b.URIPathOnly = true
			case "len", "depth":
				if i+1 >= len(rest) {
					p.errf("'balance uri %s' expects a positive integer (got '').", rest[i])
					return
				}
				v, err := strconv.Atoi(rest[i+1])
				if err != nil || v < 0 {
					p.errf("'balance uri %s' expects a positive integer (got '%s').", rest[i], rest[i+1])
					return
				}
				if rest[i] == "len" {
					b.URILen = v
				} else {
					b.URIDepth = v
				}
				i++
			default:
				p.errf("'balance uri' only accepts parameters 'whole', 'len', 'depth', and 'path-only' (got '%s').", rest[i])
				return
			}
		}
		rest = nil
	case a == "url_param":
		if len(rest) == 0 {
			p.errf("'balance url_param' requires an URL parameter name.")
			return
		}
		b.Algo, b.Param = AlgoURLParam, rest[0]
		rest = rest[1:]
		if len(rest) > 0 {
			if rest[0] != "check_post" {
				p.errf("balance url_param only accepts 'check_post' modifier (got '%s').", rest[0])
				return
			}
			// haproxy 2.6 ignores what follows (the old <max_wait>) and scans POST bodies with or without it
			b.CheckPost, rest = true, nil
		}
	case strings.HasPrefix(a, "hdr(") && strings.HasSuffix(a, ")") && len(a) > 5:
		b.Algo, b.Header = AlgoHdr, a[4:len(a)-1]
		if len(rest) > 0 && rest[0] == "use_domain_only" {
			b.DomainOnly = true
			rest = rest[1:]
		}
	case a == "hdr" || strings.HasPrefix(a, "hdr("):
		p.errf("'balance hdr' requires an http header field name.")
		return
	case a == "random" || strings.HasPrefix(a, "random("):
		b.Algo = AlgoRandom
		if strings.HasPrefix(a, "random(") {
			if !strings.HasSuffix(a, ")") {
				p.errf("'balance random' : missing closing parenthesis.")
				return
			}
			v, err := strconv.Atoi(a[7 : len(a)-1])
			if err != nil || v < 1 {
				p.errf("'balance random(<draws>)' expects a positive integer.")
				return
			}
			b.Draws = v
		}
	case a == "rdp-cookie" || strings.HasPrefix(a, "rdp-cookie("):
		b.Algo = AlgoRDPCookie
		if strings.HasPrefix(a, "rdp-cookie(") {
			if !strings.HasSuffix(a, ")") || len(a) <= len("rdp-cookie()") {
				p.errf("'balance rdp-cookie' : missing cookie name.")
				return
			}
			b.RDPCookie = a[11 : len(a)-1]
		}
	case a == "hash":
		if len(rest) == 0 {
			p.errf("'balance hash' expects a sample expression.")
			return
		}
		b.Algo, b.HashExpr = AlgoHash, strings.Join(rest, " ")
		smp, err := acl.ParseSample(b.HashExpr)
		if err != nil {
			p.errf("'balance hash %s' : %v.", b.HashExpr, err)
			return
		}
		p.addRefs(smp.Refs())
		if !supportedHashExpr(b.HashExpr) {
			b.HashSample = smp
		}
		rest = nil
	default:
		p.errf("'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hash', 'hdr(name)', 'rdp-cookie(name)' and 'random' options.")
		return
	}
	if len(rest) > 0 {
		p.errf("'balance %s' : unexpected argument '%s'.", a, rest[0])
		return
	}
	p.px.Balance = b
}

// supportedHashExpr reports whether balance evaluates e itself (as the side-by-side tests checked).
func supportedHashExpr(e string) bool {
	switch {
	case e == "path", e == "url", e == "src", e == "base":
		return true
	case (strings.HasPrefix(e, "req.hdr(") || strings.HasPrefix(e, "hdr(")) && strings.HasSuffix(e, ")") &&
		strings.Count(e, "(") == 1 && strings.Count(e, ")") == 1 && !strings.Contains(e, ","):
		return true
	}
	return false
}

func (p *parser) parseHashType(w []string) {
	if !p.needArgs(w, 1, "'map-based' or 'consistent'") {
		return
	}
	h := HashType{Function: "sdbm"}
	switch w[1] {
	case "map-based":
	case "consistent":
		h.Consistent = true
	case "avalanche":
		p.errf("experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based sdbm avalanche' instead.")
		return
	default:
		p.errf("'hash-type' requires 'map-based' or 'consistent' (got '%s').", w[1])
		return
	}
	if len(w) == 2 {
		// consistent with no function means sdbm + avalanche
		h.Avalanche = h.Consistent
		p.px.HashType = h
		return
	}
	switch w[2] {
	case "sdbm", "djb2", "wt6", "crc32":
		h.Function = w[2]
	default:
		p.errf("'hash-type %s' : unknown hash function '%s', should be one of 'sdbm', 'djb2', 'wt6' or 'crc32'.", w[1], w[2])
		return
	}
	if len(w) > 3 {
		if w[3] != "avalanche" {
			p.errf("'hash-type %s %s' : unknown hash modifier '%s', should be 'avalanche'.", w[1], w[2], w[3])
			return
		}
		h.Avalanche = true
	}
	if len(w) > 4 {
		p.errf("'hash-type' : unexpected argument '%s'.", w[4])
		return
	}
	p.px.HashType = h
}

func (p *parser) parseServer(w []string) {
	if len(w) < 3 {
		p.errf("'server' expects <name> and <addr>[:<port>] as arguments.")
		return
	}
	px := p.px
	name := w[1]
	for _, s := range px.Servers {
		if s.Name == name {
			p.errf("%s '%s', another server named '%s' was already defined at line %d, please use distinct names.", px.Kind, px.Name, name, s.Pos.Line)
			break
		}
	}
	s := &Server{Name: name, Pos: p.pos(), ID: len(px.Servers) + 1}
	host, port, rel, err := splitServerAddr(w[2], px.Mode)
	if err != nil {
		p.errf("'server %s/%s' : %v", px.Name, name, err)
		return
	}
	s.Addr, s.Port, s.PortRelative = host, port, rel
	s.ServerParams = px.DefaultServer
	s.ServerParams.set = nil
	p.parseServerParams(w, 3, "server "+px.Name+"/"+name, &s.ServerParams, false)
	if s.ServerParams.set["id"] {
		s.ID, s.ExplicitID = s.ServerParams.idValue, true
	}
	px.Servers = append(px.Servers, s)
}

// splitServerAddr parses a server address: ipv4@/ipv6@/unix@ prefixes, [v6]:port, host:port, +N/-N ports.
func splitServerAddr(a string, _ Mode) (host string, port int, rel bool, err error) {
	switch {
	case strings.HasPrefix(a, "unix@"):
		return a, 0, false, nil
	case strings.HasPrefix(a, "/"):
		return "unix@" + a, 0, false, nil
	case strings.HasPrefix(a, "ipv4@"), strings.HasPrefix(a, "ipv6@"):
		a = a[5:]
	case strings.Contains(a, "@"):
		return "", 0, false, fmt.Errorf("unsupported address family in '%s'", a)
	}
	var ps string
	switch {
	case strings.HasPrefix(a, "["):
		j := strings.IndexByte(a, ']')
		if j < 0 {
			return "", 0, false, fmt.Errorf("invalid address: '%s'", a)
		}
		host = a[1:j]
		if rest := a[j+1:]; strings.HasPrefix(rest, ":") {
			ps = rest[1:]
		} else if rest != "" {
			return "", 0, false, fmt.Errorf("invalid address: '%s'", a)
		}
	case strings.Count(a, ":") > 1:
		// IPv6: the port is after the last colon when what precedes parses as an address.
		i := strings.LastIndexByte(a, ':')
		if _, e := netip.ParseAddr(a); e == nil {
			host = a
		} else {
			host, ps = a[:i], a[i+1:]
		}
	case strings.Contains(a, ":"):
		i := strings.IndexByte(a, ':')
		host, ps = a[:i], a[i+1:]
	default:
		host = a
	}
	if host == "" {
		return "", 0, false, fmt.Errorf("invalid address: '%s' in '%s'", host, a)
	}
	if ps != "" {
		if ps[0] == '+' || ps[0] == '-' {
			rel = true
		}
		v, e := strconv.Atoi(ps)
		if e != nil || v > 65535 || v < -65535 {
			return "", 0, false, fmt.Errorf("invalid port '%s'", ps)
		}
		port = v
	}
	if _, e := netip.ParseAddr(host); e != nil && !validHostname(host) {
		return "", 0, false, fmt.Errorf("could not resolve address '%s'", host)
	}
	return host, port, rel, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c == '-' || c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

var supportedServer = words(`weight check no-check inter fastinter downinter rise fall backup no-backup disabled enabled
cookie maxconn maxqueue minconn slowstart port addr ssl no-ssl verify send-proxy send-proxy-v2 no-send-proxy init-addr
check-ssl observe on-error id resolvers resolve-prefer sni alpn`)

func (p *parser) parseServerParams(w []string, start int, what string, sp *ServerParams, isDefault bool) {
	if sp.set == nil {
		sp.set = map[string]bool{}
	}
	arg := func(i int) (string, bool) {
		if i+1 >= len(w) {
			p.errf("'%s' : '%s' expects an argument.", what, w[i])
			return "", false
		}
		return w[i+1], true
	}
	timeArg := func(i int, dst *time.Duration) bool {
		v, ok := arg(i)
		if !ok {
			return false
		}
		d, err := ParseTime(v)
		if err != nil || d == 0 {
			p.errf("'%s' : '%s' expects a positive delay in milliseconds (got '%s').", what, w[i], v)
			return false
		}
		*dst = d
		return true
	}
	intArg := func(i, min, max int, dst *int) bool {
		v, ok := arg(i)
		if !ok {
			return false
		}
		n, err := parseInt(v, min, max)
		if err != nil {
			p.errf("'%s' : '%s' %v.", what, w[i], err)
			return false
		}
		*dst = n
		return true
	}
	for i := start; i < len(w); i++ {
		kw := w[i]
		sp.set[kw] = true
		ok := true
		consumed := 1
		switch kw {
		case "weight":
			ok = intArg(i, 0, 256, &sp.Weight)
		case "check":
			sp.Check = true
			consumed = 0
		case "no-check":
			sp.Check = false
			consumed = 0
		case "inter":
			ok = timeArg(i, &sp.Inter)
		case "fastinter":
			ok = timeArg(i, &sp.FastInter)
		case "downinter":
			ok = timeArg(i, &sp.DownInter)
		case "rise":
			ok = intArg(i, 1, 1<<20, &sp.Rise)
		case "fall":
			ok = intArg(i, 1, 1<<20, &sp.Fall)
		case "backup":
			sp.Backup, consumed = true, 0
		case "no-backup":
			sp.Backup, consumed = false, 0
		case "disabled":
			sp.Disabled, consumed = true, 0
		case "enabled":
			sp.Disabled, consumed = false, 0
		case "cookie":
			var v string
			v, ok = arg(i)
			sp.Cookie = v
		case "maxconn":
			ok = intArg(i, 0, 1<<30, &sp.Maxconn)
		case "maxqueue":
			ok = intArg(i, 0, 1<<30, &sp.Maxqueue)
		case "minconn", "slowstart":
			p.errf("'%s' : keyword '%s' is valid haproxy but not supported by Duet yet.", what, kw)
			return
		case "port":
			ok = intArg(i, 1, 65535, &sp.CheckPort)
		case "addr":
			var v string
			v, ok = arg(i)
			if ok {
				if _, err := netip.ParseAddr(v); err != nil && !validHostname(v) {
					p.errf("'%s' : invalid address '%s' in 'addr'.", what, v)
					ok = false
				}
				sp.CheckAddr = v
			}
		case "ssl":
			sp.SSL, consumed = true, 0
		case "no-ssl":
			sp.SSL, consumed = false, 0
		case "check-ssl":
			p.errf("'%s' : keyword 'check-ssl' is valid haproxy but not supported by Duet yet.", what)
			return
		case "verify":
			var v string
			v, ok = arg(i)
			if ok && v != "none" && v != "required" {
				p.errf("'%s' : 'verify' expects 'none' or 'required'.", what)
				ok = false
			}
			sp.Verify = v
		case "send-proxy", "send-proxy-v2":
			p.errf("'%s' : keyword '%s' is valid haproxy but not supported by Duet yet.", what, kw)
			return
		case "no-send-proxy":
			sp.SendProxy, sp.SendProxyV2, consumed = false, false, 0
		case "init-addr":
			// Duet always starts with unresolvable names and resolves them when connecting (like "last,libc,none").
			var v string
			v, ok = arg(i)
			sp.InitAddr = v
		case "observe", "on-error", "sni", "alpn":
			p.errf("'%s' : keyword '%s' is valid haproxy but not supported by Duet yet.", what, kw)
			return
		case "resolve-prefer":
			_, ok = arg(i)
			if ok {
				p.warnf("'%s' : 'resolve-prefer' is accepted; Duet resolves server names with the system resolver when connecting.", what)
			}
		case "resolvers":
			_, ok = arg(i)
			if ok {
				p.errf("'%s' : 'resolvers' sections are not supported by Duet yet (haproxy accepts them)", what)
				ok = false
			}
		case "id":
			if isDefault {
				p.errf("'%s' : 'id' is not allowed on default-server lines.", what)
				ok = false
				break
			}
			ok = intArg(i, 1, 1<<30, &sp.idValue)
		default:
			if contains(knownServer, kw) {
				p.errf("'%s' : keyword '%s' is valid haproxy but not supported by Duet yet.", what, kw)
			} else if s := suggest(kw, knownServer); s != "" {
				p.diags = append(p.diags, Diagnostic{Severity: Error, File: p.file, Line: p.line, Keyword: p.kw,
					Message: fmt.Sprintf("'%s' : unknown keyword '%s'; did you mean '%s' maybe ?", what, kw, s)})
			} else {
				p.errf("'%s' : unknown keyword '%s'.", what, kw)
			}
			return
		}
		if !ok {
			return
		}
		i += consumed
	}
}
