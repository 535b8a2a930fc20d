package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/httpx"
)

// ruleSeen records a rule kind and warns about rules written after ones haproxy evaluates later (haproxy.md 1.4).
func (p *parser) ruleSeen(kind string) {
	px := p.px
	if px.seenRules == nil {
		px.seenRules = map[string]bool{}
	}
	later := map[string][]string{
		"http-request": {"redirect", "use_backend"},
		"redirect":     {"use_backend"},
	}
	for _, l := range later[kind] {
		if px.seenRules[l] {
			p.warnf("a '%s' rule placed after a '%s' rule will still be processed before.", kind, l)
			break
		}
	}
	px.seenRules[kind] = true
}

func (p *parser) cond(words []string, what string) (*acl.Cond, bool) {
	c, err := acl.ParseCond(words, p.px.ACLs)
	p.addRefs(p.px.ACLs.TakeRefs())
	if err != nil {
		p.errf("'%s' : %v", what, err)
		return nil, false
	}
	return c, true
}

func (p *parser) format(s, what string) (*acl.Format, bool) {
	f, err := acl.ParseFormat(s)
	if err != nil {
		p.errf("'%s' : %v", what, err)
		return nil, false
	}
	p.addRefs(f.Refs())
	return f, true
}

// ruleHead checks what starts every http-request and http-response line ("KEYWORD ACTION ...") and splits off
// its condition; what is "KEYWORD ACTION", for messages.
func (p *parser) ruleHead(keyword string, w []string) (what string, args []string, cond *acl.Cond, ok bool) {
	if p.px.Cap == CapDefaults && p.px.Name == "" {
		p.errf("'%s' not allowed in anonymous 'defaults' section.", keyword)
		return "", nil, nil, false
	}
	if len(w) < 2 {
		p.errf("'%s' expects an action.", keyword)
		return "", nil, nil, false
	}
	what = keyword + " " + w[1]
	args, cw := acl.SplitCond(w[2:])
	cond, ok = p.cond(cw, what)
	return what, args, cond, ok
}

func (p *parser) parseHTTPRequest(w []string) {
	px := p.px
	what, args, cond, ok := p.ruleHead("http-request", w)
	if !ok {
		return
	}
	r := HTTPRule{Pos: p.pos(), Action: w[1], Cond: cond}
	switch varAction(w[1]) {
	case "allow":
		if len(args) > 0 {
			p.errf("'%s' : unexpected argument '%s'.", what, args[0])
			return
		}
	case "deny":
		r.Status = 403
		if !p.parsePayload(&r, what, args, true) {
			return
		}
		if r.Body == "" && r.BodyFmt == nil && !slices.Contains(errorCodes, r.Status) {
			p.errf("error detected in %s '%s' while parsing '%s' rule : status code '%d' not handled by default with 'default-errorfiles' argument.", px.Kind, px.Name, what, r.Status)
			return
		}
	case "return":
		r.Status = 200
		if !p.parsePayload(&r, what, args, true) {
			return
		}
	case "redirect":
		rd, ok := p.parseRedirect(append([]string{"redirect"}, args...), 1)
		if !ok {
			return
		}
		r.Redirect = &rd
	case "set-header", "add-header":
		if len(args) != 2 {
			p.errf("'%s' expects exactly 2 arguments.", what)
			return
		}
		f, ok := p.format(args[1], what)
		if !ok {
			return
		}
		r.Name, r.Value = args[0], f
	case "del-header":
		if len(args) != 1 {
			p.errf("'%s' expects exactly 1 argument.", what)
			return
		}
		r.Name = args[0]
	case "tarpit":
		r.Status = 500
		if len(args) == 2 && (args[0] == "deny_status" || args[0] == "status") {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 200 || n > 599 {
				p.errf("'%s' : invalid status code '%s'.", what, args[1])
				return
			}
			r.Status = n
		} else if len(args) > 0 {
			p.errf("'%s' : unexpected argument '%s'.", what, args[0])
			return
		}
	case "replace-header", "replace-path", "replace-uri", "replace-pathq":
		want := 3
		if w[1] != "replace-header" {
			want = 2
		}
		if len(args) != want {
			p.errf("'%s' expects exactly %d arguments.", what, want)
			return
		}
		if want == 3 {
			r.Name, args = args[0], args[1:]
		}
		re, err := regexp.Compile(args[0])
		if err != nil {
			p.errf("'%s' : invalid regex '%s': %v.", what, args[0], err)
			return
		}
		f, ok := p.format(acl.Backrefs(args[1]), what)
		if !ok {
			return
		}
		r.Regex, r.Value = re, f
	case "replace-value":
		if !p.parseReplace(&r, what, args) {
			return
		}
	case "auth":
		r.Status = 401
		r.Body = px.Name // realm defaults to the proxy's name
		if len(args) == 2 && args[0] == "realm" {
			r.Body = args[1]
		} else if len(args) > 0 {
			p.errf("'%s' : expects only 'realm <realm>'.", what)
			return
		}
	case "set-path", "set-uri", "set-query", "set-method", "set-pathq":
		if len(args) != 1 {
			p.errf("'%s' expects exactly 1 argument.", what)
			return
		}
		f, ok := p.format(args[0], what)
		if !ok {
			return
		}
		r.Value = f
	case "set-var", "unset-var":
		if !p.parseSetVar(&r, what, w[1], args, false) {
			return
		}
	default:
		p.errf("'http-request %s' is valid haproxy but not supported by Duet yet (supported: allow, deny, tarpit, auth, return, redirect, set-header, add-header, del-header, replace-header, set-path, replace-path).", w[1])
		return
	}
	p.ruleSeen("http-request")
	px.HTTPRules = append(px.HTTPRules, r)
}

// parseRedirect parses "redirect location|prefix|scheme <to> [code N] [drop-query] [append-slash] [if|unless c]"
// with w[start] the kind.
func (p *parser) parseRedirect(w []string, start int) (Redirect, bool) {
	r := Redirect{Pos: p.pos(), Code: 302}
	args, cw := acl.SplitCond(w[start:])
	if len(args) < 2 {
		p.errf("'redirect' expects 'location', 'prefix' or 'scheme' followed by a value.")
		return r, false
	}
	switch args[0] {
	case "location", "prefix", "scheme":
		r.Kind = args[0]
	default:
		p.errf("'redirect' expects 'location', 'prefix' or 'scheme', got '%s'.", args[0])
		return r, false
	}
	f, ok := p.format(args[1], "redirect "+args[0])
	if !ok {
		return r, false
	}
	r.To = f
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "code":
			if i+1 >= len(args) {
				p.errf("'redirect' : 'code' expects a code.")
				return r, false
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || !(n == 301 || n == 302 || n == 303 || n == 307 || n == 308) {
				p.errf("'redirect' : unsupported HTTP code '%s' (expects 301, 302, 303, 307 or 308).", args[i+1])
				return r, false
			}
			r.Code = n
			i++
		case "drop-query":
			r.DropQuery = true
		case "append-slash":
			r.AppendSlash = true
		case "set-cookie", "clear-cookie", "ignore-empty":
			p.errf("'redirect' : '%s' is not supported by Duet yet.", args[i])
			return r, false
		default:
			p.errf("'redirect' : unknown argument '%s'.", args[i])
			return r, false
		}
	}
	c, ok := p.cond(cw, "redirect")
	if !ok {
		return r, false
	}
	r.Cond = c
	return r, true
}

var errorCodes = []int{200, 400, 401, 403, 404, 405, 407, 408, 410, 425, 429, 500, 501, 502, 503, 504}

func (p *parser) parseErrorFile(w []string) {
	code, resp, ok := p.errorFile(w)
	if !ok {
		return
	}
	if p.px.ErrorFiles == nil {
		p.px.ErrorFiles = map[int][]byte{}
	}
	p.px.ErrorFiles[code] = resp
}

// parseErrorFiles parses "errorfiles <http-errors name> [code...]", resolved once every section was read.
func (p *parser) parseErrorFiles(w []string) {
	if len(w) < 2 {
		p.errf("'errorfiles' expects <name> as argument.")
		return
	}
	r := errorRef{px: p.px, name: w[1], pos: p.pos()}
	for _, c := range w[2:] {
		n, err := strconv.Atoi(c)
		if err != nil {
			p.errf("'errorfiles' : invalid status code '%s'.", c)
			return
		}
		r.codes = append(r.codes, n)
	}
	p.errorRefs = append(p.errorRefs, r)
}

// errorFile reads one "errorfile|errorloc|errorloc302|errorloc303 CODE FILE|URL" line.
func (p *parser) errorFile(w []string) (int, []byte, bool) {
	if len(w) != 3 {
		p.errf("'%s' expects <status_code> and <%s> as arguments.", w[0], map[bool]string{true: "file", false: "url"}[w[0] == "errorfile"])
		return 0, nil, false
	}
	code, err := strconv.Atoi(w[1])
	ok := err == nil
	if ok {
		ok = false
		for _, c := range errorCodes {
			ok = ok || c == code
		}
	}
	if !ok {
		p.errf("status code '%s' cannot be overridden.", w[1])
		return 0, nil, false
	}
	var resp []byte
	if w[0] == "errorfile" {
		b, err := os.ReadFile(w[2])
		if err != nil {
			p.errf("error opening file <%s>.", w[2])
			return 0, nil, false
		}
		if len(b) > 16384-1024 {
			p.errf("file <%s> is too large to fit in a buffer.", w[2])
			return 0, nil, false
		}
		if !strings.HasPrefix(string(b), "HTTP/") {
			p.errf("errorfile <%s> must contain a complete HTTP response (status line, headers, body).", w[2])
			return 0, nil, false
		}
		resp = b
	} else {
		st := 302
		if w[0] == "errorloc303" {
			st = 303
		}
		reason := map[int]string{302: "Found", 303: "See Other"}[st]
		resp = []byte(fmt.Sprintf("HTTP/1.1 %d %s\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: %s\r\n\r\n", st, reason, w[2]))
	}
	return code, resp, true
}

// parseCookie parses "cookie NAME [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] [httponly]
// [secure] [domain D]* [attr A]*".
func (p *parser) parseCookie(w []string) {
	if len(w) < 2 {
		p.errf("'cookie' expects <cookie_name> as argument.")
		return
	}
	c := &Cookie{Name: w[1], Mode: "rewrite"}
	modes := 0
	for i := 2; i < len(w); i++ {
		switch w[i] {
		case "insert", "rewrite", "prefix":
			c.Mode = w[i]
			modes++
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "postonly":
			c.PostOnly = true
		case "preserve":
			c.Preserve = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "domain", "attr":
			if i+1 >= len(w) {
				p.errf("'cookie' : '%s' expects an argument.", w[i])
				return
			}
			if w[i] == "domain" {
				c.Domains = append(c.Domains, w[i+1])
			} else {
				c.Attrs = append(c.Attrs, w[i+1])
			}
			i++
		case "maxidle", "maxlife", "dynamic":
			p.errf("'cookie' : '%s' is valid haproxy but not supported by Duet yet.", w[i])
			return
		default:
			p.errf("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife', 'attr' and 'httponly' options (got '%s').", w[i])
			return
		}
	}
	if modes > 1 {
		p.errf("'cookie' : 'rewrite', 'insert' and 'prefix' are mutually exclusive.")
		return
	}
	p.px.Cookie = c
}

func (p *parser) parseTCPRequest(w []string) {
	px := p.px
	if px.Cap == CapDefaults && px.Name == "" {
		p.errf("'tcp-request' not allowed in anonymous 'defaults' section.")
		return
	}
	if len(w) < 2 {
		p.errf("'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay'.")
		return
	}
	switch w[1] {
	case "inspect-delay":
		if len(w) != 3 {
			p.errf("'tcp-request inspect-delay' expects a time.")
			return
		}
		d, err := ParseTime(w[2])
		if err != nil {
			p.errf("'tcp-request inspect-delay' %v", err)
			return
		}
		px.InspectDelay = d
		return
	case "connection", "content":
	case "session":
		p.errf("'tcp-request session' is valid haproxy but not supported by Duet yet.")
		return
	default:
		p.errf("'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay' (got '%s').", w[1])
		return
	}
	if len(w) < 3 {
		p.errf("'tcp-request %s' expects an action.", w[1])
		return
	}
	args, cw := acl.SplitCond(w[3:])
	if w[2] != "accept" && w[2] != "reject" {
		p.errf("'tcp-request %s %s' is valid haproxy but not supported by Duet yet (supported: accept, reject).", w[1], w[2])
		return
	}
	if len(args) > 0 {
		p.errf("'tcp-request %s %s' : unexpected argument '%s'.", w[1], w[2], args[0])
		return
	}
	c, ok := p.cond(cw, "tcp-request "+w[1])
	if !ok {
		return
	}
	if w[1] == "connection" && !c.L4Only() {
		p.warnf("'tcp-request connection %s' : the condition '%s' needs request contents, which are not available at connection time: it never matches.", w[2], c)
	}
	if w[1] == "connection" && px.Cap&CapFE == 0 && px.Cap != CapDefaults {
		p.warnf("'tcp-request connection' ignored because %s '%s' has no frontend capability.", px.Kind, px.Name)
		return
	}
	r := TCPRule{Pos: p.pos(), Accept: w[2] == "accept", Cond: c}
	if w[1] == "connection" {
		px.TCPConn = append(px.TCPConn, r)
	} else {
		px.TCPContent = append(px.TCPContent, r)
	}
}

func (p *parser) parseHTTPResponse(w []string) {
	px := p.px
	what, args, cond, ok := p.ruleHead("http-response", w)
	if !ok {
		return
	}
	if !cond.ResponseOK() {
		p.errf("'%s' : the condition '%s' uses request sample fetches, which may not be reliably used here.", what, cond)
		return
	}
	r := HTTPRule{Pos: p.pos(), Action: w[1], Cond: cond}
	switch varAction(w[1]) {
	case "allow":
	case "deny":
		r.Status = 502
		if !p.parsePayload(&r, what, args, true) {
			return
		}
	case "set-header", "add-header":
		if len(args) != 2 {
			p.errf("'%s' expects exactly 2 arguments.", what)
			return
		}
		f, ok := p.format(args[1], what)
		if !ok {
			return
		}
		if !f.ResponseOK() {
			p.errf("'%s' : the format '%s' uses request sample fetches, which may not be reliably used here.", what, args[1])
			return
		}
		r.Name, r.Value = args[0], f
	case "del-header":
		if len(args) != 1 {
			p.errf("'%s' expects exactly 1 argument.", what)
			return
		}
		r.Name = args[0]
	case "replace-header", "replace-value":
		if !p.parseReplace(&r, what, args) {
			return
		}
		if !r.Value.ResponseOK() {
			p.errf("'%s' : the format '%s' uses request sample fetches, which may not be reliably used here.", what, args[2])
			return
		}
	case "set-status":
		if len(args) == 0 {
			p.errf("error detected in %s '%s' while parsing '%s' rule : expects an integer status code between 100 and 999.", px.Kind, px.Name, what)
			return
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 100 || n > 999 {
			p.errf("error detected in %s '%s' while parsing '%s' rule : expects an integer status code between 100 and 999.", px.Kind, px.Name, what)
			return
		}
		r.Status = n
		switch {
		case len(args) == 3 && args[1] == "reason":
			r.Reason = args[2]
		case len(args) != 1:
			p.errf("'%s' : expects only 'reason <reason>' after the status (got '%s').", what, args[1])
			return
		}
	case "return":
		r.Status = 200
		if !p.parsePayload(&r, what, args, true) {
			return
		}
	case "redirect":
		if len(args) > 0 && args[0] != "location" {
			p.errf("error detected in %s '%s' while parsing '%s' rule : response only supports redirect type 'location'.", px.Kind, px.Name, what)
			return
		}
		rd, ok := p.parseRedirect(append([]string{"redirect"}, args...), 1)
		if !ok {
			return
		}
		r.Redirect = &rd
	case "set-var", "unset-var":
		if !p.parseSetVar(&r, what, w[1], args, true) {
			return
		}
	default:
		p.errf("'http-response %s' is valid haproxy but not supported by Duet yet (supported: allow, deny, set-header, add-header, del-header, replace-header, replace-value, set-status, return, redirect).", w[1])
		return
	}
	px.HTTPResp = append(px.HTTPResp, r)
}

func (p *parser) parseStickTable(w []string) {
	st := &StickTable{Pos: p.pos(), Len: 32}
	for i := 1; i < len(w); i++ {
		arg := func() (string, bool) {
			if i+1 >= len(w) {
				p.errf("'stick-table' : '%s' expects an argument.", w[i])
				return "", false
			}
			i++
			return w[i], true
		}
		switch w[i] {
		case "type":
			v, ok := arg()
			if !ok {
				return
			}
			switch v {
			case "ip", "ipv6", "integer", "string":
				st.Type = v
			case "binary":
				p.errf("'stick-table' : type 'binary' is not supported by Duet yet.")
				return
			default:
				p.errf("'stick-table' : unknown type '%s'.", v)
				return
			}
		case "len":
			v, ok := arg()
			if !ok {
				return
			}
			n, err := parseInt(v, 1, 65535)
			if err != nil {
				p.errf("'stick-table' : 'len' %v.", err)
				return
			}
			st.Len = n
		case "size":
			v, ok := arg()
			if !ok {
				return
			}
			n, err := ParseSize(v)
			if err != nil || n <= 0 || n > 1<<24 {
				p.errf("'stick-table' : invalid size '%s'.", v)
				return
			}
			st.Size = int(n)
		case "expire":
			v, ok := arg()
			if !ok {
				return
			}
			d, err := ParseTime(v)
			if err != nil {
				p.errf("'stick-table' : %v.", err)
				return
			}
			st.Expire = d
		case "nopurge":
		case "peers", "store", "srvkey", "write-to", "recv-only":
			p.errf("'stick-table' : '%s' is valid haproxy but not supported by Duet yet.", w[i])
			return
		default:
			p.errf("'stick-table' : unknown argument '%s'.", w[i])
			return
		}
	}
	if st.Type == "" {
		p.errf("'stick-table' : missing type.")
		return
	}
	if st.Size == 0 {
		p.errf("'stick-table' : missing size.")
		return
	}
	p.px.StickTable = st
}

func (p *parser) parseStick(w []string) {
	if len(w) < 3 {
		p.errf("'stick' expects 'on', 'match' or 'store-request' and a pattern.")
		return
	}
	switch w[1] {
	case "on", "match", "store-request":
	case "store-response":
		p.errf("'stick store-response' is valid haproxy but not supported by Duet yet.")
		return
	default:
		p.errf("'stick' expects 'on', 'match', 'store-request' or 'store-response' (got '%s').", w[1])
		return
	}
	args, cw := acl.SplitCond(w[3:])
	if len(args) >= 2 && args[0] == "table" {
		if args[1] != p.px.Name {
			p.errf("'stick %s' : tables of other proxies are not supported by Duet yet.", w[1])
			return
		}
		args = args[2:]
	}
	if len(args) > 0 {
		p.errf("'stick %s' : unexpected argument '%s'.", w[1], args[0])
		return
	}
	smp, err := acl.ParseSample(w[2])
	if err != nil {
		p.errf("'stick %s' : %v.", w[1], err)
		return
	}
	p.addRefs(smp.Refs())
	c, ok := p.cond(cw, "stick "+w[1])
	if !ok {
		return
	}
	p.px.StickRules = append(p.px.StickRules, StickRule{Pos: p.pos(), Kind: w[1], Sample: smp, Expr: w[2], Cond: c})
}

// parseReplace parses "replace-header|replace-value NAME REGEX FMT".
func (p *parser) parseReplace(r *HTTPRule, what string, args []string) bool {
	if len(args) != 3 {
		p.errf("'%s' expects exactly 3 arguments.", what)
		return false
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		p.errf("'%s' : invalid regex '%s': %v.", what, args[1], err)
		return false
	}
	f, ok := p.format(acl.Backrefs(args[2]), what)
	if !ok {
		return false
	}
	r.Name, r.Regex, r.Value = args[0], re, f
	return true
}

// parsePayload parses the answer of "return", "deny" and "http-error": [status|deny_status N] [content-type T]
// [string S | lf-string FMT | file F | lf-file F | errorfile F | default-errorfiles] [hdr NAME FMT]*. A non-empty
// payload needs a content type. An errorfile is a complete response: it is kept in Body with ContentType "raw".
func (p *parser) parsePayload(r *HTTPRule, what string, args []string, withStatus bool) bool {
	bad := func(format string, a ...any) bool {
		p.errf("error detected in %s '%s' while parsing '%s' rule : "+format, append([]any{p.px.Kind, p.px.Name, what}, a...)...)
		return false
	}
	payload := false
	for i := 0; i < len(args); i++ {
		if args[i] == "default-errorfiles" {
			continue
		}
		if i+1 >= len(args) {
			return bad("'%s' expects an argument.", args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "status", "deny_status":
			if !withStatus {
				return bad("unexpected argument '%s'.", args[i])
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return bad("expects a status code between 200 and 599 (got '%s').", v)
			}
			r.Status = n
		case "content-type":
			r.ContentType = v
		case "string":
			r.Body, payload = v, true
		case "lf-string":
			f, ok := p.format(v, what)
			if !ok {
				return false
			}
			r.BodyFmt, payload = f, true
		case "file", "lf-file", "errorfile":
			b, err := os.ReadFile(v)
			if err != nil {
				return bad("failed to open file '%s'.", v)
			}
			if args[i] == "errorfile" {
				if !strings.HasPrefix(string(b), "HTTP/") {
					return bad("'%s': unable to parse headers (error offset: 0).", v)
				}
				r.Body, r.ContentType, payload = string(b), "raw", false
			} else if args[i] == "lf-file" {
				f, ok := p.format(string(b), what)
				if !ok {
					return false
				}
				r.BodyFmt, payload = f, true
			} else {
				r.Body, payload = string(b), true
			}
		case "errorfiles":
			return bad("'errorfiles' is not supported by Duet yet.")
		case "hdr":
			if i+2 >= len(args) {
				return bad("'hdr' expects a name and a value.")
			}
			f, ok := p.format(args[i+2], what)
			if !ok {
				return false
			}
			r.Hdrs = append(r.Hdrs, HdrFmt{Name: v, Value: f})
			i++
		default:
			return bad("unknown argument '%s'.", args[i])
		}
		i++
	}
	if payload && r.ContentType == "" && (r.Body != "" || r.BodyFmt != nil) {
		return bad("a content type must be defined when non-empty payload is configured.")
	}
	return true
}

// parseHTTPError parses "http-error status N [content-type T] [string S | file F | errorfile F ...] [hdr N V]*"
// into the proxy's error responses (a complete raw response, as errorfile gives).
func (p *parser) parseHTTPError(w []string) {
	if len(w) < 3 || w[1] != "status" {
		p.errf("http-error : expects 'status <code>' as first argument.")
		return
	}
	code, err := strconv.Atoi(w[2])
	if err != nil || !slices.Contains(errorCodes, code) {
		p.errf("http-error: status code '%s' not handled.", w[2])
		return
	}
	r := HTTPRule{Status: code}
	if !p.parsePayload(&r, "http-error", w[3:], false) {
		return
	}
	var resp []byte
	if r.ContentType == "raw" {
		resp = []byte(r.Body)
	} else {
		if r.BodyFmt != nil || len(r.Hdrs) > 0 && !staticFormats(r.Hdrs) {
			p.errf("http-error : log-format payloads and headers are not supported by Duet yet.")
			return
		}
		reason, _ := httpx.StatusText(code)
		var b strings.Builder
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", code, reason)
		for _, h := range r.Hdrs { // haproxy writes the hdr lines first
			fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value.Render(nil))
		}
		if r.ContentType != "" {
			fmt.Fprintf(&b, "content-type: %s\r\n", r.ContentType)
		}
		fmt.Fprintf(&b, "content-length: %d\r\n", len(r.Body))
		b.WriteString("\r\n" + r.Body)
		resp = []byte(b.String())
	}
	if p.px.ErrorFiles == nil {
		p.px.ErrorFiles = map[int][]byte{}
	}
	p.px.ErrorFiles[code] = resp
}

// staticFormats reports whether every header value is plain text (renders without a request).
func staticFormats(h []HdrFmt) bool {
	for _, x := range h {
		if !x.Value.Static() {
			return false
		}
	}
	return true
}

// parseSetVar parses "set-var(NAME) EXPR" and "unset-var(NAME)" (action is w[1]) into r; response rules may only
// use response and connection fetches.
func (p *parser) parseSetVar(r *HTTPRule, what, action string, args []string, response bool) bool {
	name := action[strings.IndexByte(action, '(')+1:]
	if !strings.HasSuffix(name, ")") {
		p.errf("'%s' : missing ')' after the variable name.", what)
		return false
	}
	name = name[:len(name)-1]
	if n, _, ok := strings.Cut(name, ","); ok {
		p.errf("'%s' : set-var conditions (%s) are not supported by Duet yet.", what, name[len(n)+1:])
		return false
	}
	if err := acl.CheckVarName(name); err != nil {
		p.errf("'%s' : %v.", what, err)
		return false
	}
	r.Name = name
	if strings.HasPrefix(action, "unset-var(") {
		r.Action = "unset-var"
		if len(args) > 0 {
			p.errf("'%s' : unexpected argument '%s'.", what, args[0])
			return false
		}
		return true
	}
	r.Action = "set-var"
	if len(args) != 1 {
		p.errf("'%s' expects a sample expression.", what)
		return false
	}
	smp, err := acl.ParseSample(args[0])
	if err != nil {
		p.errf("'%s' : %v.", what, err)
		return false
	}
	p.addRefs(smp.Refs())
	if response && !smp.ResponseOK() {
		p.errf("'%s' : the expression '%s' uses request sample fetches, which may not be reliably used here.", what, args[0])
		return false
	}
	r.Expr = smp
	return true
}

// varAction turns "set-var(NAME)" and "unset-var(NAME)" into the action's name; other actions are unchanged.
func varAction(a string) string {
	for _, k := range []string{"set-var", "unset-var"} {
		if strings.HasPrefix(a, k+"(") {
			return k
		}
	}
	return a
}
