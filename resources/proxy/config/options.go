package config

import (
	"net/netip"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"strings"
	"time"
)

func (p *parser) parseOption(w []string, on bool, full []string) {
	px := p.px
	name := w[0]
	if msg, ok := obsoleteOptions[name]; ok {
		p.errf("%s", msg)
		return
	}
	o := &px.Options
	be := px.Cap&CapBE != 0 || px.Cap == CapDefaults
	fe := px.Cap&CapFE != 0 || px.Cap == CapDefaults
	simple := map[string]*bool{
		"httpclose": &o.HTTPClose, "http-server-close": &o.HTTPServerClose, "http-keep-alive": &o.HTTPKeepAlive,
		"redispatch": &o.Redispatch, "allbackups": &o.AllBackups, "dontlognull": &o.DontLogNull,
		"dontlog-normal": &o.DontLogNormal, "log-health-checks": &o.LogHealthChecks, "abortonclose": &o.AbortOnClose,
		"tcpka": &o.TCPKA, "clitcpka": &o.CliTCPKA, "srvtcpka": &o.SrvTCPKA, "splice-auto": &o.SpliceAuto,
		"splice-request": &o.SpliceRequest, "splice-response": &o.SpliceResponse, "persist": &o.Persist, "logasap": &o.LogASAP,
		"http-ignore-probes": &o.HTTPIgnoreProbes, "http-buffer-request": &o.HTTPBufferRequest,
		"tcp-smart-accept": new(bool), "tcp-smart-connect": new(bool), "http-no-delay": new(bool),
		"contstats": new(bool), "socket-stats": new(bool), "independent-streams": new(bool),
		"prefer-last-server": new(bool), "http-pretend-keepalive": new(bool), "nolinger": &o.NoLingerCli,
		"log-separate-errors": new(bool), "checkcache": new(bool), "idle-close-on-response": new(bool),
		"accept-invalid-http-request": new(bool), "accept-invalid-http-response": new(bool),
	}
	beOnly := map[string]bool{"redispatch": true, "allbackups": true, "persist": true, "srvtcpka": true}
	feOnly := map[string]bool{"dontlognull": true, "clitcpka": true, "http-ignore-probes": true, "tcp-smart-accept": true}
	noEffect := map[string]bool{"tcp-smart-accept": true, "tcp-smart-connect": true, "http-no-delay": true, "contstats": true,
		"socket-stats": true, "independent-streams": true, "prefer-last-server": true, "http-pretend-keepalive": true,
		"log-separate-errors": true, "checkcache": true, "idle-close-on-response": true,
		"http-buffer-request": true, "abortonclose": true,
		"nolinger": true, "logasap": true, "persist": true, "http-ignore-probes": true}
	if name == "accept-invalid-http-request" || name == "accept-invalid-http-response" {
		p.errf("'option %s' is valid haproxy but not supported by Duet yet (its HTTP parser stays strict).", name)
		return
	}
	if dst, ok := simple[name]; ok {
		if noEffect[name] && on {
			p.warnf("'option %s' is accepted but has no effect in Duet.", name)
		}
		if len(w) > 1 {
			p.errf("'%s %s' cannot handle unexpected argument '%s'.", full[0], name, w[1])
			return
		}
		if beOnly[name] && !be {
			p.warnf("'option %s' ignored because %s '%s' has no backend capability.", name, px.Kind, px.Name)
			return
		}
		if feOnly[name] && !fe {
			p.warnf("'option %s' ignored because %s '%s' has no frontend capability.", name, px.Kind, px.Name)
			return
		}
		*dst = on
		switch name {
		case "http-server-close":
			if on {
				o.HTTPKeepAlive, o.HTTPClose = false, false
			}
		case "http-keep-alive":
			if on {
				o.HTTPServerClose, o.HTTPClose = false, false
			}
		case "httpclose":
			if on {
				o.HTTPServerClose, o.HTTPKeepAlive = false, false
			}
		}
		return
	}
	if !on {
		switch name {
		case "httplog":
			o.HTTPLog, o.HTTPLogCLF = false, false
		case "tcplog":
			o.TCPLog = false
		case "forwardfor":
			o.Forwardfor = nil
		case "httpchk", "mysql-check":
			px.Check = CheckConfig{}
		default:
			if contains(knownOptions, name) {
				p.errf("'no option %s' is valid haproxy but not supported by Duet yet.", name)
			} else {
				p.unknownOption(name)
			}
		}
		return
	}
	switch name {
	case "httplog":
		if !fe {
			p.warnf("'option httplog' ignored because %s '%s' has no frontend capability.", px.Kind, px.Name)
			return
		}
		o.HTTPLog, o.TCPLog = true, false
		if len(w) > 1 {
			if w[1] != "clf" {
				p.errf("'option httplog' only supports optional argument 'clf'.")
				return
			}
			o.HTTPLogCLF = true
		}
	case "tcplog":
		if len(w) > 1 {
			p.errf("'option tcplog' cannot handle unexpected argument '%s'.", w[1])
			return
		}
		o.TCPLog, o.HTTPLog = true, false
	case "forwardfor":
		f := &Forwardfor{Header: "X-Forwarded-For"}
		for i := 1; i < len(w); i++ {
			switch w[i] {
			case "except":
				if i+1 >= len(w) {
					p.errf("'option forwardfor except' expects <address>[/mask] as argument.")
					return
				}
				if _, err := netip.ParsePrefix(w[i+1]); err != nil {
					if _, err2 := netip.ParseAddr(w[i+1]); err2 != nil {
						p.errf("'option forwardfor except' expects <address>[/mask] as argument (got '%s').", w[i+1])
						return
					}
				}
				f.Except = w[i+1]
				i++
			case "header":
				if i+1 >= len(w) {
					p.errf("'option forwardfor header' expects <header_name> as argument.")
					return
				}
				f.Header = w[i+1]
				i++
			case "if-none":
				f.IfNone = true
			default:
				p.errf("'option forwardfor' only supports optional values 'except', 'header' and 'if-none'.")
				return
			}
		}
		o.Forwardfor = f
	case "httpchk":
		if !be {
			p.warnf("'option httpchk' ignored because %s '%s' has no backend capability.", px.Kind, px.Name)
			return
		}
		c := CheckConfig{Kind: CheckHTTP, Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
		switch len(w) {
		case 1:
		case 2:
			c.URI = w[1]
		case 3:
			c.Method, c.URI = w[1], w[2]
		case 4:
			c.Method, c.URI, c.Version = w[1], w[2], w[3]
		default:
			p.errf("'option httpchk' expects at most 3 arguments.")
			return
		}
		if v := c.Version; strings.ContainsAny(v, " ") {
			p.errf("'option httpchk' : invalid HTTP version '%s'.", v)
			return
		}
		c.Expect = px.Check.Expect
		c.SendHeaders = px.Check.SendHeaders
		px.Check = c
	case "mysql-check":
		if !be {
			p.warnf("'option mysql-check' ignored because %s '%s' has no backend capability.", px.Kind, px.Name)
			return
		}
		c := CheckConfig{Kind: CheckMySQL}
		if len(w) > 1 {
			if w[1] != "user" || len(w) < 3 {
				p.errf("'option mysql-check' only supports optional values: 'user'.")
				return
			}
			c.MySQLUser = w[2]
			if len(w) > 3 {
				switch w[3] {
				case "post-41":
					c.MySQLPost41 = true
				case "pre-41":
				default:
					p.errf("'option mysql-check user' only supports optional values: 'pre-41' and 'post-41'.")
					return
				}
			}
		}
		px.Check = c
	case "tcp-check":
		p.errf("'option tcp-check' is valid haproxy but not supported by Duet yet (tcp-check rules)")
	default:
		if contains(knownOptions, name) {
			p.errf("'option %s' is valid haproxy but not supported by Duet yet.", name)
			return
		}
		p.unknownOption(name)
	}
}

func (p *parser) unknownOption(name string) {
	if s := suggest(name, knownOptions); s != "" {
		p.errf("unknown option '%s'; did you mean '%s' maybe ?", name, s)
		return
	}
	p.errf("unknown option '%s'.", name)
}

func (p *parser) parseHTTPCheck(w []string) {
	px := p.px
	if len(w) < 2 {
		p.errf("'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var', 'unset-var'.")
		return
	}
	switch w[1] {
	case "disable-on-404":
		px.Check.DisableOn404 = true
	case "send":
		for i := 2; i < len(w); i++ {
			if i+1 >= len(w) {
				p.errf("'http-check send' : '%s' expects an argument.", w[i])
				return
			}
			switch w[i] {
			case "meth":
				px.Check.Method = w[i+1]
			case "uri":
				px.Check.URI = w[i+1]
			case "ver":
				px.Check.Version = w[i+1]
			case "hdr":
				if i+2 >= len(w) {
					p.errf("'http-check send' : 'hdr' expects <name> and <value>.")
					return
				}
				px.Check.SendHeaders = append(px.Check.SendHeaders, [2]string{w[i+1], w[i+2]})
				i++
			case "body":
				px.Check.SendBody = w[i+1]
			default:
				p.errf("'http-check send' : unknown keyword '%s'; expects 'meth', 'uri', 'ver', 'hdr' or 'body'.", w[i])
				return
			}
			i++
		}
		if px.Check.Kind != CheckHTTP {
			// http-check send implies an HTTP check once option httpchk is set; remember the fields.
			if px.Check.Method == "" {
				px.Check.Method = "GET"
			}
		}
	case "expect":
		e := &Expect{}
		i := 2
		for i < len(w) {
			switch w[i] {
			case "min-recv":
				if i+1 >= len(w) {
					p.errf("'http-check expect min-recv' expects an integer.")
					return
				}
				v, err := parseInt(w[i+1], -1, 1<<30)
				if err != nil {
					p.errf("'http-check expect min-recv' %v.", err)
					return
				}
				e.MinRecv = v
				i += 2
				continue
			case "comment", "ok-status", "error-status", "tout-status", "on-success", "on-error", "status-code":
				if i+1 >= len(w) {
					p.errf("'http-check expect %s' expects an argument.", w[i])
					return
				}
				i += 2
				continue
			case "!":
				e.Negate = true
				i++
				continue
			}
			break
		}
		if i+1 >= len(w) {
			p.errf("'http-check expect' expects 'status', 'rstatus', 'string', 'rstring', 'hdr' or 'fhdr' followed by a pattern.")
			return
		}
		e.Match = w[i]
		switch e.Match {
		case "status", "rstatus", "string", "rstring":
			e.Pattern = w[i+1]
			if len(w) > i+2 {
				p.errf("'http-check expect %s' : unexpected argument '%s'.", e.Match, w[i+2])
				return
			}
		case "hdr", "fhdr":
			for j := i + 1; j < len(w); j++ {
				switch w[j] {
				case "name":
					if j+1 < len(w) {
						e.HdrName = w[j+1]
						j++
					}
				case "value":
					if j+1 < len(w) {
						e.HdrValue = w[j+1]
						j++
					}
				case "-m", "-i":
					if w[j] == "-m" {
						j++
					}
				default:
					p.errf("'http-check expect %s' : unknown argument '%s'.", e.Match, w[j])
					return
				}
			}
			if e.HdrName == "" {
				p.errf("'http-check expect %s' expects 'name <header>'.", e.Match)
				return
			}
		default:
			p.errf("'http-check expect' : unknown match '%s'; expects 'status', 'rstatus', 'string', 'rstring', 'hdr' or 'fhdr'.", e.Match)
			return
		}
		if px.Check.Expect != nil {
			p.errf("'http-check expect' : Duet supports a single 'http-check expect' rule per backend yet (haproxy accepts several)")
			return
		}
		px.Check.Expect = e
	case "connect", "send-state", "set-var", "unset-var", "comment":
		p.errf("'http-check %s' is valid haproxy but not supported by Duet yet.", w[1])
	default:
		p.errf("'http-check' only supports 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var' and 'unset-var' (got '%s').", w[1])
	}
}

func (p *parser) parseStats(w []string) {
	px := p.px
	if len(w) < 2 {
		p.errf("'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-node', 'uri'.")
		return
	}
	if px.Stats == nil {
		px.Stats = &Stats{URI: "/haproxy?stats", Realm: "HAProxy Statistics"}
	}
	s := px.Stats
	arg := func() (string, bool) {
		if len(w) < 3 {
			p.errf("'stats %s' expects an argument.", w[1])
			return "", false
		}
		return w[2], true
	}
	switch w[1] {
	case "enable":
		s.Enabled = true
	case "uri":
		if v, ok := arg(); ok {
			s.URI, s.Enabled = v, true
		}
	case "realm":
		if v, ok := arg(); ok {
			s.Realm, s.Enabled = v, true
		}
	case "auth":
		if v, ok := arg(); ok {
			if !strings.Contains(v, ":") {
				p.errf("'stats auth' expects <user>:<password> (got '%s').", v)
				return
			}
			s.Auth, s.Enabled = append(s.Auth, v), true
		}
	case "refresh":
		if v, ok := arg(); ok {
			d, err := ParseTime(v)
			if err != nil {
				p.errf("'stats refresh' %v", err)
				return
			}
			if d < time.Second && strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
				// haproxy: a unitless refresh is in milliseconds too.
			}
			s.Refresh, s.Enabled = d, true
		}
	case "hide-version":
		s.HideVersion, s.Enabled = true, true
	case "show-legends":
		s.ShowLegends, s.Enabled = true, true
	case "show-node":
		s.Enabled = true
		s.ShowNode = safeIdx(w, 2)
	case "show-desc":
		s.Enabled = true
		s.ShowDesc = strings.Join(w[2:], " ")
	case "scope":
		if v, ok := arg(); ok {
			s.Scope, s.Enabled = append(s.Scope, v), true
		}
	case "admin":
		if px.Cap == CapDefaults {
			p.errf("'stats admin' is not supported in 'defaults' section.")
			return
		}
		if len(w) < 4 || (w[2] != "if" && w[2] != "unless") {
			p.errf("'stats admin' requires either 'if' or 'unless' followed by a condition.")
			return
		}
		c, err := acl.ParseCond(w[2:], px.ACLs)
		p.addRefs(px.ACLs.TakeRefs())
		if err != nil {
			p.errf("'stats admin' : %v", err)
			return
		}
		s.AdminCond = c
	case "http-request", "bind-process":
		p.errf("'stats %s' is valid haproxy but not supported by Duet yet.", w[1])
	case "socket", "timeout", "maxconn":
		p.errf("'stats %s' is only supported in 'global' section.", w[1])
	default:
		p.errf("'stats' only supports 'admin', 'auth', 'enable', 'hide-version', 'realm', 'refresh', 'scope', 'show-desc', 'show-legends', 'show-node', 'uri' (got '%s').", w[1])
	}
}
