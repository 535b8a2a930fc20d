package server

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/httpx"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
)

// httpConn implements acl.Txn for the request being served.
var _ acl.Txn = (*httpConn)(nil)

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

func (h *httpConn) Src() netip.AddrPort          { return addrPort(h.c.Conn.RemoteAddr()) }
func (h *httpConn) Dst() netip.AddrPort          { return addrPort(h.c.Conn.LocalAddr()) }
func (h *httpConn) Method() string               { return string(h.req.Method) }
func (h *httpConn) URI() string                  { return string(h.req.URI) }
func (h *httpConn) Headers(name string) []string { return h.req.Get(name) }
func (h *httpConn) SSL() bool                    { return strings.HasSuffix(h.feName, "~") }
func (h *httpConn) SNI() string {
	if tc, ok := h.c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState().ServerName
	}
	return ""
}
func (h *httpConn) Status() int { return h.respStatus }
func (h *httpConn) ResHeaders(name string) []string {
	if h.respStatus == 0 {
		return nil
	}
	return h.resp.Get(name)
}

// ResVersion is the response's HTTP version (res.ver).
func (h *httpConn) ResVersion() string {
	if h.resp.Minor == 0 {
		return "1.0"
	}
	return "1.1"
}

// NbSrv counts backend name's usable servers ("" is the session's backend).
func (h *httpConn) NbSrv(name string) (int, bool) { return nbSrv(h.s, h.sess, h.fe, name) }

func (h *httpConn) Version() string {
	if h.req.Minor == 0 {
		return "1.0"
	}
	return "1.1"
}

// route applies the frontend's http-request rules and redirects, picks the backend (use_backend, then
// default_backend), then applies the backend's rules, in haproxy's order. done is true when a rule answered.
func (h *httpConn) route(start time.Time, tR time.Duration, reqLine string) (be *backend, done, keep bool) {
	fe := h.fe
	if len(h.vars) > 0 {
		h.resetVars()
	}
	if done, keep := h.applyRules(fe.cfg, nil, start, tR, reqLine); done {
		return nil, true, keep
	}
	be = fe.defBE
	for _, ub := range fe.useBackends {
		if !ub.cond.Eval(h) {
			continue
		}
		if ub.name != nil {
			// haproxy (process_switching_rules): a dynamic name that names no backend of the same mode stops
			// the use_backend rules; default_backend applies.
			if b := ub.backends[ub.name.Render(h)]; b != nil && b.cfg.Mode == fe.cfg.Mode {
				be = b
			}
			break
		}
		be = ub.be
		break
	}
	h.curBE = be
	if be != nil && be.cfg != fe.cfg {
		if len(be.cfg.TCPContent) > 0 && !tcpRules(be.cfg.TCPContent, h) {
			fe.cnt.dreq.Add(1)
			h.ruleLog(be, -1, "PR--", start, tR, reqLine)
			return nil, true, false
		}
		if done, keep := h.applyRules(be.cfg, be, start, tR, reqLine); done {
			return nil, true, keep
		}
	}
	return be, false, false
}

// applyRules runs one section's http-request rules then its redirect rules.
func (h *httpConn) applyRules(px *config.Proxy, be *backend, start time.Time, tR time.Duration, reqLine string) (done, keep bool) {
rules:
	for i := range px.HTTPRules {
		r := &px.HTTPRules[i]
		if !r.Cond.Eval(h) {
			continue
		}
		switch r.Action {
		case "allow":
			break rules
		case "deny":
			h.fe.cnt.dreq.Add(1)
			keep := false
			if r.Body != "" || r.BodyFmt != nil || len(r.Hdrs) > 0 {
				h.drainBody()
				h.respondRule(r)
				keep = !h.req.ConnClose
			} else {
				keep = h.answerError(r.Status) // haproxy 2.6 keeps the connection after a deny
			}
			h.ruleLog(be, r.Status, "PR--", start, tR, reqLine)
			return true, keep
		case "auth":
			h.drainBody()
			_, msg := httpx.StatusText(401)
			body := "<html><body><h1>401 Unauthorized</h1>\n" + msg + "\n</body></html>\n"
			h.respond(401, "text/html", body, []string{"cache-control: no-cache", "www-authenticate: Basic realm=\"" + r.Body + "\""})
			h.ruleLog(be, 401, "PR--", start, tR, reqLine)
			return true, !h.req.ConnClose
		case "return":
			h.drainBody()
			h.respondRule(r)
			h.ruleLog(be, r.Status, "LR--", start, tR, reqLine)
			return true, !h.req.ConnClose
		case "redirect":
			return true, h.redirect(r.Redirect, be, start, tR, reqLine)
		case "set-header", "add-header", "del-header", "set-var", "unset-var", "replace-header", "replace-value":
			h.editHead(h.req, r)
		case "tarpit":
			// hold the request for timeout tarpit (or client), then answer the error, like haproxy
			to := px.Timeouts.Tarpit
			if to == 0 {
				to = h.fe.cfg.Timeouts.Client
			}
			if to > 0 {
				h.escape()
				timer := time.NewTimer(to)
				select {
				case <-timer.C:
				case <-h.s.ctx.Done():
				}
				timer.Stop()
			}
			h.fe.cnt.dreq.Add(1)
			h.writeError(r.Status)
			h.ruleLog(be, r.Status, "PT--", start, tR, reqLine)
			return true, false
		case "replace-path":
			uri := string(h.req.URI)
			path, q := uri, ""
			if i := strings.IndexByte(uri, '?'); i >= 0 {
				path, q = uri[:i], uri[i:]
			}
			if m := r.Regex.FindStringSubmatchIndex(path); m != nil {
				path = string(r.Regex.ExpandString(nil, r.Value.Render(h), path, m))
				h.req.URI = []byte(path + q)
			}
		case "set-path":
			uri := string(h.req.URI)
			q := ""
			if i := strings.IndexByte(uri, '?'); i >= 0 {
				q = uri[i:]
			}
			h.req.URI = []byte(r.Value.Render(h) + q)
		case "set-uri":
			h.req.URI = []byte(r.Value.Render(h))
		case "set-pathq":
			pre, _ := splitAuthority(string(h.req.URI))
			h.req.URI = []byte(pre + r.Value.Render(h))
		case "set-query":
			uri := string(h.req.URI)
			if i := strings.IndexByte(uri, '?'); i >= 0 {
				uri = uri[:i]
			}
			q := r.Value.Render(h)
			if q != "" {
				uri += "?" + q
			}
			h.req.URI = []byte(uri)
		case "set-method":
			h.req.Method = []byte(r.Value.Render(h))
		case "replace-uri", "replace-pathq":
			pre, uri := "", string(h.req.URI)
			if r.Action == "replace-pathq" {
				pre, uri = splitAuthority(uri)
			}
			if m := r.Regex.FindStringSubmatchIndex(uri); m != nil {
				h.req.URI = []byte(pre + string(r.Regex.ExpandString(nil, r.Value.Render(h), uri, m)))
			}
		}
	}
	for i := range px.Redirects {
		r := &px.Redirects[i]
		if r.Cond.Eval(h) {
			return true, h.redirect(r, be, start, tR, reqLine)
		}
	}
	return false, false
}

var redirectReason = map[int]string{301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect"}

// redirect answers a redirect rule like haproxy (empty body, Location, no-cache).
func (h *httpConn) redirect(r *config.Redirect, be *backend, start time.Time, tR time.Duration, reqLine string) bool {
	uri := string(h.req.URI)
	path, query := uri, ""
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		path, query = uri[:i], uri[i:]
	}
	rest := path
	if r.AppendSlash && !strings.HasSuffix(rest, "/") {
		rest += "/"
	}
	if !r.DropQuery {
		rest += query
	}
	to := r.To.Render(h)
	var loc string
	switch r.Kind {
	case "location":
		loc = to
	case "prefix":
		if to == "/" {
			loc = rest
		} else {
			loc = to + rest
		}
	case "scheme":
		host := ""
		if v := h.req.Get("host"); len(v) > 0 {
			host = v[0]
		}
		loc = to + "://" + host + rest
	}
	// haproxy 2.6 keeps the connection after a redirect only when the request has no body (a Content-Length of
	// 0 is none); otherwise it answers with "connection: close" and closes.
	closeAfter := h.req.ConnClose || h.req.Chunked || h.req.ContentLength > 0
	if !closeAfter {
		h.drainBody()
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(r.Code) + " " + redirectReason[r.Code] + "\r\n")
	b.WriteString("content-length: 0\r\nlocation: " + loc + "\r\ncache-control: no-cache\r\n")
	if closeAfter {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	_, _ = h.bw.WriteString(b.String())
	_ = h.bw.Flush()
	h.fe.cnt.status(r.Code)
	h.ruleLog(be, r.Code, "LR--", start, tR, reqLine)
	return !closeAfter
}

func (h *httpConn) respond(status int, ctype, body string, extra []string) {
	h.writeRaw(status, ctype, body, extra)
	h.fe.cnt.status(status)
}

// respondRule answers with a return or deny rule's payload: its body (an lf-string rendered now) and hdr lines,
// or the complete response of an errorfile.
func (h *httpConn) respondRule(r *config.HTTPRule) {
	if r.ContentType == "raw" {
		_, _ = io.WriteString(h.bw, r.Body)
		_ = h.bw.Flush()
		h.fe.cnt.status(r.Status)
		return
	}
	body := r.Body
	if r.BodyFmt != nil {
		body = r.BodyFmt.Render(h)
	}
	var extra []string
	for _, x := range r.Hdrs {
		extra = append(extra, x.Name+": "+x.Value.Render(h))
	}
	h.respond(r.Status, r.ContentType, body, extra)
}

func (h *httpConn) ruleLog(be *backend, status int, term string, start time.Time, tR time.Duration, reqLine string) {
	name := h.fe.cfg.Name
	if be != nil {
		name = be.cfg.Name
	}
	e := logfmt.Entry{Backend: name, Server: "<NOSRV>", Status: status, Term: term, TR: tR.Milliseconds(), Tw: -1, Tc: -1, Tr: -1}
	h.log(&e, start, reqLine, be)
}

// l4Txn is the ACL view of a connection before any request: addresses and ports, and what tcp-request content
// inspection found in the client's first bytes (nil without inspection).
type l4Txn struct {
	src, dst netip.AddrPort
	s        *Server
	sess     *session
	fe       *frontend
	ins      *inspection
}

// NbSrv counts backend name's usable servers ("" is the session's backend).
func (t l4Txn) NbSrv(name string) (int, bool) {
	if t.s == nil {
		return 0, false
	}
	return nbSrv(t.s, t.sess, t.fe, name)
}

// ProxyCount implements acl.ProxyCounter.
func (h *httpConn) ProxyCount(fetch, name string) (int, bool) {
	return proxyCount(h.s, h.sess, h.fe, fetch, name)
}

// ProxyName implements acl.ProxyCounter.
func (h *httpConn) ProxyName(backend bool) string { return proxyName(h.sess, h.fe, backend) }

// ProxyCount implements acl.ProxyCounter.
func (t l4Txn) ProxyCount(fetch, name string) (int, bool) {
	if t.s == nil {
		return 0, false
	}
	return proxyCount(t.s, t.sess, t.fe, fetch, name)
}

// ProxyName implements acl.ProxyCounter.
func (t l4Txn) ProxyName(backend bool) string { return proxyName(t.sess, t.fe, backend) }

func proxyName(sess *session, fe *frontend, backend bool) string {
	if !backend {
		if fe == nil {
			return ""
		}
		return fe.cfg.Name
	}
	if sess != nil {
		if be := sess.be.Load(); be != nil {
			return be.cfg.Name
		}
	}
	return ""
}

// proxyCount answers be_conn, fe_conn and queue from the live counters ("" is the current proxy).
func proxyCount(s *Server, sess *session, fe *frontend, fetch, name string) (int, bool) {
	rt := s.rt.Load()
	if rt == nil {
		return 0, false
	}
	if fetch == "fe_conn" {
		f := fe
		if name != "" {
			f = rt.frontends[name]
		}
		if f == nil {
			return 0, false
		}
		return int(f.cnt.scur.Load()), true
	}
	var be *backend
	if name == "" {
		if sess != nil {
			be = sess.be.Load()
		}
		if be == nil && fe != nil {
			be = rt.backends[fe.cfg.Name]
		}
	} else {
		be = rt.backends[name]
	}
	if be == nil {
		return 0, false
	}
	if fetch == "be_conn" {
		return int(be.cnt.scur.Load()), true
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	n := be.queue.len()
	for _, sv := range be.servers {
		n += sv.queue.len()
	}
	return n, true
}

// Var implements acl.Vars.
func (h *httpConn) Var(name string) (acl.Value, bool) {
	v, ok := h.vars[name]
	return v, ok
}

// SetVar implements acl.Vars.
func (h *httpConn) SetVar(name string, v acl.Value) {
	if h.vars == nil {
		h.vars = map[string]acl.Value{}
	}
	h.vars[name] = v
}

// UnsetVar implements acl.Vars.
func (h *httpConn) UnsetVar(name string) { delete(h.vars, name) }

// resetVars drops the variables of the previous request (txn., req., res.); sess. ones last the connection.
func (h *httpConn) resetVars() {
	for k := range h.vars {
		if !strings.HasPrefix(k, "sess.") {
			delete(h.vars, k)
		}
	}
}

// nbSrv is haproxy's nbsrv: the usable active servers, or when there is none 1 if a backup takes the traffic
// (without allbackups) or the usable backups.
func nbSrv(s *Server, sess *session, fe *frontend, name string) (int, bool) {
	var be *backend
	if name == "" {
		if sess != nil {
			be = sess.be.Load()
		}
		if be == nil && fe != nil {
			name = fe.cfg.Name
		}
	}
	if be == nil {
		rt := s.rt.Load()
		if rt == nil {
			return 0, false
		}
		if be = rt.backends[name]; be == nil {
			return 0, false
		}
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	act, bck := 0, 0
	for _, sv := range be.servers {
		if !sv.lb.Usable || sv.lb.Weight == 0 {
			continue
		}
		if sv.cfg.Backup {
			bck++
		} else {
			act++
		}
	}
	switch {
	case act > 0:
		return act, true
	case bck > 0 && !be.cfg.Options.AllBackups:
		return 1, true
	}
	return bck, true
}

func (t l4Txn) Src() netip.AddrPort   { return t.src }
func (t l4Txn) Dst() netip.AddrPort   { return t.dst }
func (l4Txn) Method() string          { return "" }
func (l4Txn) URI() string             { return "" }
func (l4Txn) Version() string         { return "" }
func (l4Txn) Headers(string) []string { return nil }
func (l4Txn) SSL() bool               { return false }
func (l4Txn) SNI() string             { return "" }

// tcpRules evaluates tcp-request rules in order; it reports false when a reject rule matched.
func tcpRules(rules []config.TCPRule, t acl.Txn) bool {
	for i := range rules {
		if rules[i].Cond.Eval(t) {
			return rules[i].Accept
		}
	}
	return true
}

// responseRules applies http-response rules of the backend then of the frontend; it returns the matching rule
// that answers instead of the server (deny, return, redirect), or nil.
func (h *httpConn) responseRules(be *backend) *config.HTTPRule {
	for k := range h.vars { // req. variables end with the request's processing, as haproxy
		if strings.HasPrefix(k, "req.") {
			delete(h.vars, k)
		}
	}
	h.respStatus = h.resp.Status
	defer func() { h.respStatus = 0 }()
	sections := []*config.Proxy{be.cfg}
	if be.cfg != h.fe.cfg {
		sections = append(sections, h.fe.cfg)
	}
	for _, px := range sections {
	rules:
		for i := range px.HTTPResp {
			r := &px.HTTPResp[i]
			if !r.Cond.Eval(h) {
				continue
			}
			switch r.Action {
			case "allow":
				break rules
			case "deny", "return", "redirect":
				return r
			case "set-header", "add-header", "del-header", "set-var", "unset-var", "replace-header", "replace-value":
				h.editHead(h.resp, r)
			case "set-status":
				h.resp.Status = r.Status
				h.respStatus = r.Status
				reason := r.Reason
				if reason == "" {
					reason = httpx.Reason(r.Status)
				}
				h.resp.Reason = []byte(reason)
			}
		}
	}
	return nil
}

// responseAnswer answers the client instead of the server's response (http-response deny, return, redirect),
// closes the server connection and logs; the client connection is closed after it.
func (h *httpConn) responseAnswer(be *backend, res connectResult, bc *beConn, e *logfmt.Entry, start time.Time, reqLine string, r *config.HTTPRule) bool {
	if r.Action == "deny" {
		be.cnt.dresp.Add(1)
		if res.srv != nil {
			res.srv.st.cnt.dresp.Add(1)
		}
		if r.Body == "" && r.BodyFmt == nil && len(r.Hdrs) == 0 {
			return h.serverFailed(be, res, bc, e, start, reqLine, r.Status, "PH--")
		}
	}
	h.respStatus = h.resp.Status // the answer's formats may read the server's response
	defer func() { h.respStatus = 0 }()
	status, term := r.Status, "PH--"
	var extra []string
	switch r.Action {
	case "redirect":
		status = r.Redirect.Code
		extra = append(extra, "location: "+r.Redirect.To.Render(h), "cache-control: no-cache")
	case "return":
		term = "LR--"
	}
	if r.ContentType == "raw" {
		_, _ = io.WriteString(h.bw, r.Body)
	} else {
		body := r.Body
		if r.BodyFmt != nil {
			body = r.BodyFmt.Render(h)
		}
		var b strings.Builder
		b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + httpx.Reason(status) + "\r\n")
		for _, x := range r.Hdrs { // haproxy writes the hdr lines first
			b.WriteString(x.Name + ": " + x.Value.Render(h) + "\r\n")
		}
		b.WriteString("content-length: " + strconv.Itoa(len(body)) + "\r\n")
		if r.ContentType != "" {
			b.WriteString("content-type: " + r.ContentType + "\r\n")
		}
		for _, x := range extra {
			b.WriteString(x + "\r\n")
		}
		b.WriteString("connection: close\r\n\r\n")
		if string(h.req.Method) != "HEAD" {
			b.WriteString(body)
		}
		_, _ = io.WriteString(h.bw, b.String())
	}
	_ = h.bw.Flush()
	h.fe.cnt.status(status)
	be.cnt.status(status)
	e.Status = status
	h.finish(be, res.srv, bc, false, 0, 0, e, start, reqLine, term)
	return false
}

// replaceHeader applies replace-header (the whole value) or replace-value (each comma-separated value) to the
// fields named r.Name of hd: a value the regex matches becomes repl with \N references expanded.
// editHead applies the header and variable actions that http-request and http-response rules share to hd (the
// request or the response head).
func (h *httpConn) editHead(hd *httpx.Head, r *config.HTTPRule) {
	switch r.Action {
	case "set-header":
		hd.Drop(r.Name)
		hd.Add(r.Name, r.Value.Render(h))
	case "add-header":
		hd.Add(r.Name, r.Value.Render(h))
	case "del-header":
		hd.Drop(r.Name)
	case "set-var":
		if v, ok := r.Expr.FetchValue(h); ok {
			h.SetVar(r.Name, v)
		}
	case "unset-var":
		h.UnsetVar(r.Name)
	case "replace-header", "replace-value":
		replaceHeader(hd, r, r.Value.Render(h), r.Action == "replace-value")
	}
}

func replaceHeader(hd *httpx.Head, r *config.HTTPRule, repl string, perValue bool) {
	n := len(hd.Fields)
	for i := 0; i < n; i++ {
		if hd.Dropped(i) || !strings.EqualFold(string(hd.Name(i)), r.Name) {
			continue
		}
		v := string(hd.Value(i))
		parts := []string{v}
		if perValue {
			parts = strings.Split(v, ",")
		}
		changed := false
		for k, p := range parts {
			if perValue {
				p = strings.TrimLeft(p, " \t")
			}
			m := r.Regex.FindStringSubmatchIndex(p)
			if m == nil {
				continue
			}
			parts[k] = string(r.Regex.ExpandString(nil, repl, p, m)) // the blanks before it go too, as haproxy
			changed = true
		}
		if !changed {
			continue
		}
		hd.SetValueAt(i, strings.Join(parts, ",")) // in place, as haproxy
	}
}

func (l4Txn) Status() int                { return 0 }
func (l4Txn) ResHeaders(string) []string { return nil }

// splitAuthority cuts an absolute-form target into its scheme://authority and the path with the query; an
// origin-form target has no prefix.
func splitAuthority(uri string) (prefix, pathq string) {
	i := strings.Index(uri, "://")
	if i < 0 || strings.HasPrefix(uri, "/") {
		return "", uri
	}
	rest := uri[i+3:]
	j := strings.IndexAny(rest, "/?")
	if j < 0 {
		return uri, "/"
	}
	return uri[:i+3+j], rest[j:]
}
