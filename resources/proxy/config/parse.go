package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/auth"
)

// ErrInvalid is returned (wrapped) by Load and Parse when the configuration has at least one error diagnostic.
var ErrInvalid = errors.New("invalid configuration")

// Source is one configuration file's name and content.
type Source struct {
	Name string
	Data []byte
}

// Load reads the configuration files and directories (a directory contributes its *.cfg files in lexical
// order, like haproxy -f DIR), parses them with os.LookupEnv, and returns the configuration with every
// diagnostic found. err wraps ErrInvalid when a diagnostic is an error; cfg is nil then.
func Load(paths ...string) (*Config, []Diagnostic, error) {
	var srcs []Source
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("load configuration: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			ents, err := os.ReadDir(p)
			if err != nil {
				return nil, nil, fmt.Errorf("load configuration directory %s: %w", p, err)
			}
			files = files[:0]
			for _, e := range ents {
				if !e.IsDir() && strings.HasSuffix(e.Name(), ".cfg") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("load configuration: %w", err)
			}
			srcs = append(srcs, Source{Name: f, Data: b})
		}
	}
	if len(srcs) == 0 {
		return nil, nil, fmt.Errorf("load configuration: no configuration file given")
	}
	return Parse(srcs, os.LookupEnv)
}

// Parse parses the sources in order as one configuration and validates it. Every error and warning is reported
// in one pass. It never panics on bad input.
func Parse(srcs []Source, env Env) (*Config, []Diagnostic, error) {
	p := &parser{env: env, cfg: &Config{}, named: map[string]*Proxy{}, auth: auth.NewRegistry()}
	p.cfg.Global.StatsTimeout = 10e9
	p.defaults = p.newDefaults()
	for _, s := range srcs {
		p.cfg.Files = append(p.cfg.Files, s.Name)
		p.parseFile(s)
	}
	p.finish()
	nerr := 0
	for _, d := range p.diags {
		if d.Severity == Error {
			nerr++
		}
	}
	if nerr > 0 {
		return nil, p.diags, fmt.Errorf("parse configuration: %d error(s): %w", nerr, ErrInvalid)
	}
	return p.cfg, p.diags, nil
}

type section int

const (
	secNone section = iota
	secGlobal
	secDefaults
	secFrontend
	secBackend
	secListen
	secUserlist
	secHTTPErrors
	secUnsupported
)

func (s section) String() string {
	return [...]string{"", "global", "defaults", "frontend", "backend", "listen", "userlist", "http-errors", ""}[s]
}

type condFrame struct {
	active  bool // the current branch is taken
	taken   bool // some branch was taken already
	parent  bool // the enclosing block is active
	sawElse bool
}

type parser struct {
	env   Env
	cfg   *Config
	diags []Diagnostic

	file string
	line int
	kw   string

	sec      section
	secName  string
	px       *Proxy // current proxy (or defaults) being filled
	ul       *Userlist
	defaults *Proxy            // the defaults a new proxy inherits
	named    map[string]*Proxy // named defaults
	conds    []condFrame

	logGlobal  map[*Proxy]bool
	refs       []ref
	fetchRefs  []fetchRef                // userlists and backends named by fetches (http_auth, nbsrv), checked by finish
	auth       *auth.Registry            // userlists, filled as they are parsed (ACLs resolve them lazily)
	httpErrors map[string]map[int][]byte // http-errors sections
	curErrors  map[int][]byte
	errorRefs  []errorRef
}

type errorRef struct {
	px    *Proxy
	name  string
	codes []int
	pos   Pos
}

type fetchRef struct {
	px  *Proxy
	pos Pos
	acl.Ref
}

// addRefs records the names fetches referred to on the current line.
func (p *parser) addRefs(refs []acl.Ref) {
	for _, r := range refs {
		p.fetchRefs = append(p.fetchRefs, fetchRef{px: p.px, pos: p.pos(), Ref: r})
	}
}

type ref struct {
	px   *Proxy
	name string
	pos  Pos
	kind string
}

func (p *parser) newDefaults() *Proxy {
	set := acl.NewSet()
	set.Auth = p.auth
	return &Proxy{Cap: CapDefaults, Kind: "defaults", DefaultServer: DefaultServerParams(), Balance: Balance{Algo: AlgoRoundRobin},
		HashType: HashType{Function: "sdbm"}, Retries: 3, ACLs: set}
}

func (p *parser) pos() Pos { return Pos{File: p.file, Line: p.line} }

func (p *parser) errf(format string, a ...any) {
	p.diags = append(p.diags, Diagnostic{Severity: Error, File: p.file, Line: p.line, Keyword: p.kw, Message: fmt.Sprintf(format, a...)})
}

func (p *parser) warnf(format string, a ...any) {
	p.diags = append(p.diags, Diagnostic{Severity: Warning, File: p.file, Line: p.line, Keyword: p.kw, Message: fmt.Sprintf(format, a...)})
}

func (p *parser) globalErr(pos Pos, kw string, sev Severity, format string, a ...any) {
	d := Diagnostic{Severity: sev, Keyword: kw, Message: fmt.Sprintf(format, a...)}
	if pos.File != "" {
		d.File, d.Line = pos.File, pos.Line
	}
	p.diags = append(p.diags, d)
}

func (p *parser) parseFile(s Source) {
	p.file = s.Name
	p.sec, p.px, p.ul = secNone, nil, nil
	p.conds = nil
	data := string(s.Data)
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		p.line = lineNo
		p.kw = ""
		nl := strings.IndexByte(data, '\n')
		var line string
		if nl < 0 {
			line, data = data, ""
			p.errf("Missing LF on last line, file might have been truncated at position %d.", len(line)+1)
			continue
		}
		line, data = data[:nl], data[nl+1:]
		pseudo := map[string]string{".FILE": p.file, ".LINE": strconv.Itoa(lineNo), ".SECTION": p.sec.String()}
		toks, err := Tokenize(line, p.env, pseudo)
		if err != nil {
			p.errf("%v", err)
			continue
		}
		if len(toks.Words) == 0 {
			continue
		}
		if p.handleCond(toks.Words) {
			continue
		}
		if !p.active() {
			continue
		}
		for _, w := range toks.Warnings {
			p.warnf("%s", w)
		}
		p.kw = toks.Words[0]
		p.statement(toks.Words)
	}
	if len(p.conds) > 0 {
		p.kw = ".if"
		p.errf("missing '.endif' at end of file")
	}
}

func (p *parser) active() bool {
	return len(p.conds) == 0 || p.conds[len(p.conds)-1].active
}

// handleCond processes .if/.elif/.else/.endif and the message directives; it reports whether the line was one.
func (p *parser) handleCond(w []string) bool {
	if !strings.HasPrefix(w[0], ".") {
		return false
	}
	p.kw = w[0]
	switch w[0] {
	case ".if":
		parent := p.active()
		v := false
		if parent {
			var err error
			v, err = EvalCond(w[1:], p.env)
			if err != nil {
				p.errf("%v", err)
			}
		}
		p.conds = append(p.conds, condFrame{active: parent && v, taken: v, parent: parent})
	case ".elif":
		if len(p.conds) == 0 {
			p.errf("'.elif' with no matching '.if'")
			return true
		}
		f := &p.conds[len(p.conds)-1]
		if f.sawElse {
			p.errf("'.elif' after '.else' is not permitted")
			return true
		}
		v := false
		if f.parent && !f.taken {
			var err error
			v, err = EvalCond(w[1:], p.env)
			if err != nil {
				p.errf("%v", err)
			}
		}
		f.active = f.parent && !f.taken && v
		f.taken = f.taken || v
	case ".else":
		if len(p.conds) == 0 {
			p.errf("'.else' with no matching '.if'")
			return true
		}
		f := &p.conds[len(p.conds)-1]
		if f.sawElse {
			p.errf("'.else' after '.else' is not permitted")
			return true
		}
		f.sawElse = true
		f.active = f.parent && !f.taken
		f.taken = true
	case ".endif":
		if len(p.conds) == 0 {
			p.errf("'.endif' with no matching '.if'")
			return true
		}
		p.conds = p.conds[:len(p.conds)-1]
	case ".diag", ".notice":
	case ".warning":
		if p.active() {
			p.warnf("%s", strings.Join(w[1:], " "))
		}
	case ".alert":
		if p.active() {
			p.errf("%s", strings.Join(w[1:], " "))
		}
	default:
		if p.active() {
			p.errf("unknown directive '%s'", w[0])
		}
	}
	return true
}

var sectionKeywords = []string{"global", "defaults", "frontend", "backend", "listen", "userlist", "http-errors", "peers", "resolvers",
	"mailers", "program", "ring", "log-forward", "cache", "fcgi-app", "namespace_list", "traces"}

func (p *parser) statement(w []string) {
	switch w[0] {
	case "global":
		p.closeSection()
		p.sec, p.px = secGlobal, nil
		if len(w) > 1 {
			p.errf("'global' takes no argument")
		}
		return
	case "defaults", "frontend", "backend", "listen":
		p.closeSection()
		p.openProxy(w)
		return
	case "http-errors":
		p.closeSection()
		p.sec, p.px = secHTTPErrors, nil
		if len(w) != 2 {
			p.errf("'http-errors' expects <name> as argument.")
			p.sec = secUnsupported
			return
		}
		if p.httpErrors == nil {
			p.httpErrors = map[string]map[int][]byte{}
		}
		if _, dup := p.httpErrors[w[1]]; dup {
			p.errf("http-errors section '%s' already exists.", w[1])
		}
		p.curErrors = map[int][]byte{}
		p.httpErrors[w[1]] = p.curErrors
		return
	case "userlist":
		p.closeSection()
		p.sec, p.px = secUserlist, nil
		if len(w) < 2 {
			p.errf("'userlist' expects <name> as arguments.")
			p.sec = secUnsupported
			return
		}
		for _, u := range p.cfg.Userlists {
			if u.Name == w[1] {
				p.errf("userlist '%s' has the same name as another userlist declared at %s.", w[1], u.Pos)
			}
		}
		p.ul = &Userlist{Name: w[1], Pos: p.pos(), Groups: map[string][]string{}}
		p.cfg.Userlists = append(p.cfg.Userlists, p.ul)
		return
	}
	for _, s := range sectionKeywords {
		if w[0] == s {
			p.closeSection()
			p.sec, p.px = secUnsupported, nil
			p.errf("'%s' sections are not supported by Duet yet (haproxy accepts them)", s)
			return
		}
	}
	switch p.sec {
	case secNone:
		if s := suggest(w[0], sectionKeywords); s != "" {
			p.errf("unknown keyword '%s' out of section; did you mean '%s' maybe ?", w[0], s)
		} else {
			p.errf("unknown keyword '%s' out of section.", w[0])
		}
	case secGlobal:
		p.globalKeyword(w)
	case secUserlist:
		p.userlistKeyword(w)
	case secHTTPErrors:
		if w[0] != "errorfile" {
			p.unknown(w[0], "http-errors", []string{"errorfile"})
			return
		}
		if code, resp, ok := p.errorFile(w); ok {
			p.curErrors[code] = resp
		}
	case secUnsupported:
	default:
		p.proxyKeyword(w)
	}
}

func (p *parser) closeSection() {
	p.px, p.ul = nil, nil
}

func (p *parser) openProxy(w []string) {
	kind := w[0]
	name := ""
	from := ""
	rest := w[1:]
	if len(rest) > 0 && rest[0] != "from" {
		name = rest[0]
		rest = rest[1:]
	}
	if len(rest) >= 1 && rest[0] == "from" {
		if len(rest) < 2 {
			p.errf("'from' expects the name of a defaults section")
		} else {
			from = rest[1]
			rest = rest[2:]
		}
	}
	if len(rest) > 0 {
		p.errf("'%s %s' : unexpected argument '%s'", kind, name, rest[0])
	}
	if name == "" && kind != "defaults" {
		p.errf("'%s' expects <name> as an argument.", kind)
		name = "<unnamed>"
	}
	if err := checkName(name); err != nil && name != "<unnamed>" {
		p.errf("character '%c' is not permitted in '%s' name '%s'.", err.c, kind, name)
	}
	base := p.defaults
	if from != "" {
		d, ok := p.named[from]
		if !ok {
			p.errf("%s '%s' : defaults section '%s' not found for %s '%s'.", kind, name, from, kind, name)
		} else {
			base = d
		}
	}
	px := cloneProxy(base)
	px.Name, px.Kind, px.Pos, px.From = name, kind, p.pos(), from
	switch kind {
	case "defaults":
		p.sec = secDefaults
		px.Cap = CapDefaults
		if from == "" {
			// An unnamed or named defaults section starts from haproxy's initial settings.
			px = p.newDefaults()
			px.Name, px.Pos = name, p.pos()
		}
		if name != "" {
			if old, ok := p.named[name]; ok {
				p.warnf("defaults section '%s' (%s) redefines the one declared at %s.", name, p.pos(), old.Pos)
			}
			p.named[name] = px
		}
		p.defaults = px
	case "frontend":
		p.sec, px.Cap = secFrontend, CapFE
	case "backend":
		p.sec, px.Cap = secBackend, CapBE
	case "listen":
		p.sec, px.Cap = secListen, CapFE|CapBE
	}
	if kind != "defaults" {
		for _, o := range p.cfg.Proxies {
			if o.Name == name && (o.Cap&px.Cap != 0) {
				p.errf("%s '%s' has the same name as %s '%s' declared at %s.", kind, name, o.Kind, o.Name, o.Pos)
				break
			}
		}
		p.cfg.Proxies = append(p.cfg.Proxies, px)
		px.ID = len(p.cfg.Proxies)
	}
	p.px = px
}

type badChar struct{ c rune }

func checkName(n string) *badChar {
	for _, c := range n {
		if !(c == '-' || c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return &badChar{c}
		}
	}
	return nil
}

// cloneProxy copies what a proxy inherits from its defaults section.
func cloneProxy(d *Proxy) *Proxy {
	px := *d
	px.Servers = nil
	px.Binds = nil
	px.UseBackends = nil
	px.DefaultBackend = d.DefaultBackend
	px.Logs = append([]LogTarget(nil), d.Logs...)
	if d.Stats != nil {
		s := *d.Stats
		s.Auth = append([]string(nil), d.Stats.Auth...)
		px.Stats = &s
	}
	if d.Options.Forwardfor != nil {
		f := *d.Options.Forwardfor
		px.Options.Forwardfor = &f
	}
	px.Check.SendHeaders = append([][2]string(nil), d.Check.SendHeaders...)
	if d.Check.Expect != nil {
		e := *d.Check.Expect
		px.Check.Expect = &e
	}
	px.DefaultServer.set = nil
	px.ACLs = d.ACLs.Clone()
	px.HTTPRules = append([]HTTPRule(nil), d.HTTPRules...)
	px.Redirects = append([]Redirect(nil), d.Redirects...)
	if d.ErrorFiles != nil {
		px.ErrorFiles = map[int][]byte{}
		for k, v := range d.ErrorFiles {
			px.ErrorFiles[k] = v
		}
	}
	px.seenRules = nil
	px.TCPConn = append([]TCPRule(nil), d.TCPConn...)
	px.TCPContent = append([]TCPRule(nil), d.TCPContent...)
	px.HTTPResp = append([]HTTPRule(nil), d.HTTPResp...)
	if d.Cookie != nil {
		c := *d.Cookie
		px.Cookie = &c
	}
	return &px
}

func (p *parser) userlistKeyword(w []string) {
	switch w[0] {
	case "group":
		if len(w) < 2 {
			p.errf("'group' expects <name> as argument.")
			return
		}
		if _, dup := p.ul.Groups[w[1]]; dup {
			p.warnf("ignoring duplicated group '%s' in userlist '%s'.", w[1], p.ul.Name)
			return
		}
		var users []string
		for i := 2; i < len(w); i += 2 {
			if w[i] != "users" || i+1 >= len(w) {
				p.errf("'group %s' : expects 'users <list>'", w[1])
				return
			}
			users = append(users, strings.Split(w[i+1], ",")...)
		}
		p.ul.Groups[w[1]] = append(p.ul.Groups[w[1]], users...)
	case "user":
		if len(w) < 2 {
			p.errf("'user' expects <name> as argument.")
			return
		}
		for _, o := range p.ul.Users {
			if o.Name == w[1] {
				p.warnf("ignoring duplicated user '%s' in userlist '%s'.", w[1], p.ul.Name)
				return
			}
		}
		u := User{Name: w[1]}
		for i := 2; i < len(w); i++ {
			if i+1 >= len(w) {
				p.errf("'user %s' : '%s' expects an argument.", w[1], w[i])
				return
			}
			switch w[i] {
			case "password":
				u.Password = w[i+1]
				switch scheme, ok := auth.Scheme(u.Password); {
				case scheme == "invalid":
					p.warnf("'user %s' : the password is not a hash crypt(3) accepts: this user cannot log in, with haproxy neither (quote hashes with single quotes, '$' starts a variable).", w[1])
				case !ok:
					p.warnf("'user %s' : Duet cannot verify %s hashes (haproxy can, through crypt(3)): this user cannot log in; use $6$, $5$ or $1$ (mkpasswd -m sha-512) or insecure-password.", w[1], scheme)
				}
			case "insecure-password":
				u.Password, u.Insecure = w[i+1], true
			case "groups":
				u.Groups = strings.Split(w[i+1], ",")
			default:
				p.errf("'user %s' : unknown keyword '%s'.", w[1], w[i])
				return
			}
			i++
		}
		p.ul.Users = append(p.ul.Users, u)
	default:
		p.unknown(w[0], "userlist", []string{"group", "user"})
	}
}

func (p *parser) unknown(kw, sec string, known []string) {
	if s := suggest(kw, known); s != "" {
		p.errf("unknown keyword '%s' in '%s' section; did you mean '%s' maybe ?", kw, sec, s)
		return
	}
	p.errf("unknown keyword '%s' in '%s' section", kw, sec)
}

func (p *parser) unsupported(kw, sec string) {
	p.errf("keyword '%s' in '%s' section is valid haproxy but not supported by Duet yet", kw, sec)
}

func (p *parser) needArgs(w []string, n int, usage string) bool {
	if len(w) < n+1 {
		p.errf("'%s' expects %s.", w[0], usage)
		return false
	}
	return true
}

func (p *parser) intArg(w []string, i, min, max int) (int, bool) {
	if i >= len(w) {
		p.errf("'%s' expects an integer argument.", strings.Join(w[:i], " "))
		return 0, false
	}
	v, err := parseInt(w[i], min, max)
	if err != nil {
		p.errf("'%s' %v.", strings.Join(w[:i], " "), err)
		return 0, false
	}
	return v, true
}
