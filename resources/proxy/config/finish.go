package config

import (
	"github.com/duet-ha/duet/resources/proxy/auth"
)

// finish runs the checks that need the whole configuration, in the same pass as the syntax checks.
func (p *parser) finish() {
	cfg := p.cfg
	p.kw = ""
	// log global
	for _, px := range cfg.Proxies {
		var logs []LogTarget
		for _, l := range px.Logs {
			if l.Network == "global" {
				logs = append(logs, cfg.Global.Logs...)
				continue
			}
			logs = append(logs, l)
		}
		px.Logs = logs
	}
	for _, ul := range cfg.Userlists {
		users := make([]auth.User, 0, len(ul.Users))
		for _, u := range ul.Users {
			users = append(users, auth.User{Name: u.Name, Password: u.Password, Insecure: u.Insecure, Groups: u.Groups})
		}
		p.auth.Add(ul.Name, users, ul.Groups)
	}
	// userlists, groups and backends named by fetches
	for _, r := range p.fetchRefs {
		p.checkFetchRef(r)
	}
	// errorfiles <http-errors section> [codes]
	for _, r := range p.errorRefs {
		sec, ok := p.httpErrors[r.name]
		if !ok {
			p.globalErr(r.pos, "errorfiles", Error, "proxy '%s' : unknown http-errors section '%s' (at %s).", r.px.Name, r.name, r.pos)
			continue
		}
		if r.px.ErrorFiles == nil {
			r.px.ErrorFiles = map[int][]byte{}
		}
		for code, resp := range sec {
			want := len(r.codes) == 0
			for _, c := range r.codes {
				want = want || c == code
			}
			if want {
				if _, set := r.px.ErrorFiles[code]; !set {
					r.px.ErrorFiles[code] = resp
				}
			}
		}
	}
	// explicit ids
	seen := map[int]*Proxy{}
	for _, px := range cfg.Proxies {
		if o, ok := seen[px.ID]; ok && o != px {
			p.globalErr(px.Pos, "id", Error, "%s '%s' has the same ID (%d) as %s '%s' declared at %s.", px.Kind, px.Name, px.ID, o.Kind, o.Name, o.Pos)
		}
		seen[px.ID] = px
		sids := map[int]*Server{}
		for _, s := range px.Servers {
			if o, ok := sids[s.ID]; ok {
				p.globalErr(s.Pos, "server", Error, "%s '%s' : server '%s' has the same ID (%d) as server '%s' declared at %s.", px.Kind, px.Name, s.Name, s.ID, o.Name, o.Pos)
			}
			sids[s.ID] = s
		}
	}
	for _, r := range p.refs {
		be := cfg.Proxy(r.name, CapBE)
		what := "default backend"
		if r.kind == "use" {
			what = "use_backend"
		}
		if be == nil {
			if r.kind == "use" {
				p.globalErr(r.pos, "use_backend", Error, "Proxy '%s': unable to find required use_backend: '%s'.", r.px.Name, r.name)
			} else {
				p.globalErr(r.pos, "default_backend", Error, "Proxy '%s': unable to find required default_backend: '%s'.", r.px.Name, r.name)
			}
			continue
		}
		if be == r.px {
			p.globalErr(r.pos, "default_backend", Error, "Proxy '%s': loop detected for %s: '%s'.", r.px.Name, what, r.name)
			continue
		}
		if be.Mode != r.px.Mode {
			p.globalErr(Pos{}, "", Error, "%s %s '%s' (%s) tries to use incompatible %s proxy '%s' (%s) as its %s (see 'mode').",
				r.px.Mode, r.px.Kind, r.px.Name, r.px.Pos, be.Mode, be.Name, be.Pos, what)
		}
	}
	for _, px := range cfg.Proxies {
		if px.Disabled {
			continue
		}
		if px.Cap&CapFE != 0 && len(px.Binds) == 0 {
			p.globalErr(Pos{}, "bind", Warning, "%s '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", px.Kind, px.Name)
		}
		t := px.Timeouts
		if (px.Cap&CapFE != 0 && t.Client == 0) || (px.Cap&CapBE != 0 && (t.Connect == 0 || t.Server == 0)) {
			kind := px.Kind
			if kind == "listen" {
				kind = "proxy"
			}
			p.globalErr(Pos{}, "timeout", Warning, "missing timeouts for %s '%s'.", kind, px.Name)
		}
		if px.Cap&CapBE != 0 {
			if px.Balance.Algo == AlgoRDPCookie && px.Mode == ModeHTTP {
				p.globalErr(px.Pos, "balance", Warning, "%s '%s' : 'balance rdp-cookie' only works in 'mode tcp'.", px.Kind, px.Name)
			}
			if (px.Balance.Algo == AlgoURI || px.Balance.Algo == AlgoURLParam || px.Balance.Algo == AlgoHdr) && px.Mode != ModeHTTP {
				p.globalErr(px.Pos, "balance", Warning, "%s '%s' : 'balance %s' requires 'mode http'; falling back to roundrobin like haproxy.", px.Kind, px.Name, px.Balance.Algo)
			}
		}
		if len(px.StickRules) > 0 && px.StickTable == nil {
			p.globalErr(px.StickRules[0].Pos, "stick", Error, "Proxy '%s': unable to find stick-table '%s'.", px.Name, px.Name)
		}
		if px.Stats != nil && px.Stats.Enabled && px.Mode != ModeHTTP && px.Cap&CapFE != 0 {
			p.globalErr(px.Pos, "stats", Warning, "%s '%s' : stats require 'mode http'; the stats page will not be served.", px.Kind, px.Name)
		}
	}
	// A configuration without proxies is valid (haproxy -c exits 2: it would not start); cli reports that.
}

// checkFetchRef checks a userlist (and its groups) or a backend a fetch names, with haproxy's messages.
func (p *parser) checkFetchRef(r fetchRef) {
	kw := "acl"
	switch r.Kind {
	case "userlist":
		var ul *Userlist
		for _, u := range p.cfg.Userlists {
			if u.Name == r.Name {
				ul = u
			}
		}
		if ul == nil {
			p.globalErr(r.pos, kw, Error, "unable to find userlist '%s' referenced in arg 1 of ACL keyword '%s' in proxy '%s'.", r.Name, r.Keyword, r.px.Name)
			return
		}
		for _, g := range r.Groups {
			if _, ok := ul.Groups[g]; !ok {
				p.globalErr(r.pos, kw, Error, "proxy %s: acl %s %s(): invalid group '%s'.", r.px.Name, r.ACL, r.Keyword, g)
			}
		}
	case "frontend":
		if r.Name == "" {
			if r.px.Cap&CapFE == 0 && r.px.Cap != CapDefaults {
				p.globalErr(r.pos, kw, Error, "proxy '%s', referenced in arg 1 of ACL keyword '%s' in proxy '%s', has not frontend capability.", r.px.Name, r.Keyword, r.px.Name)
			}
			return
		}
		if p.cfg.Proxy(r.Name, CapFE) == nil {
			p.globalErr(r.pos, kw, Error, "unable to find frontend '%s' referenced in arg 1 of ACL keyword '%s' in proxy '%s'.", r.Name, r.Keyword, r.px.Name)
		}
	case "backend":
		if r.Name == "" {
			if r.px.Cap&CapBE == 0 && r.px.Cap != CapDefaults {
				p.globalErr(r.pos, kw, Error, "proxy '%s', referenced in arg 1 of ACL keyword '%s' in proxy '%s', has not backend capability.", r.px.Name, r.Keyword, r.px.Name)
			}
			return
		}
		if p.cfg.Proxy(r.Name, CapBE) == nil {
			p.globalErr(r.pos, kw, Error, "unable to find backend '%s' referenced in arg 1 of ACL keyword '%s' in proxy '%s'.", r.Name, r.Keyword, r.px.Name)
		}
	}
}
