package acl

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseCriterion parses "name", "name(arg)" or "name(arg,occ)" with an optional derived suffix (_beg, _end,
// _sub, _reg, _dir, _dom, _len, _cnt, _ip, _val, _found).
func parseCriterion(c string) (*fetch, string, error) {
	name, arg := c, ""
	hasArg := false
	if i := strings.IndexByte(c, '('); i >= 0 {
		if !strings.HasSuffix(c, ")") {
			return nil, "", fmt.Errorf("missing closing ')' after argument to fetch '%s'", c)
		}
		name, arg, hasArg = c[:i], c[i+1:len(c)-1], true
	}
	method := ""
	base := name
	for _, suf := range []string{"_beg", "_end", "_sub", "_reg", "_dir", "_dom", "_len", "_cnt", "_ip", "_val", "_found"} {
		if strings.HasSuffix(name, suf) && name != "url_param" && name != "url_ip" {
			base = strings.TrimSuffix(name, suf)
			method = strings.TrimPrefix(suf, "_")
			break
		}
	}
	f := &fetch{name: base, arg: arg}
	switch base {
	case "src", "dst":
		f.k = kIP
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			ap := t.Src()
			if f.name == "dst" {
				ap = t.Dst()
			}
			if !ap.IsValid() {
				return nil, false
			}
			return []string{ap.Addr().Unmap().String()}, true
		}
	case "src_port", "dst_port":
		f.k = kInt
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			ap := t.Src()
			if f.name == "dst_port" {
				ap = t.Dst()
			}
			return []string{strconv.Itoa(int(ap.Port()))}, ap.IsValid()
		}
	case "method":
		f.get = func(t Txn, _ *fetch) ([]string, bool) { return []string{t.Method()}, true }
	case "path":
		f.get = func(t Txn, _ *fetch) ([]string, bool) { return []string{pathOf(t.URI())}, true }
	case "url", "base":
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			if f.name == "base" {
				h := t.Headers("host")
				if len(h) == 0 {
					return nil, false
				}
				return []string{h[0] + pathOf(t.URI())}, true
			}
			return []string{t.URI()}, true
		}
	case "query":
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			u := t.URI()
			i := strings.IndexByte(u, '?')
			if i < 0 {
				return nil, false
			}
			return []string{u[i+1:]}, true
		}
	case "urlp", "url_param":
		// urlp([name[,delim]]): without a name the first parameter matches; '&' and ';' always separate
		// parameters (haproxy 2.6.12 answered so), delim adds a separator
		delims := "&;"
		if n, d, ok := strings.Cut(arg, ","); ok {
			f.arg, delims = n, delims+d
		}
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			u := t.URI()
			i := strings.IndexByte(u, '?')
			if i < 0 {
				return nil, false
			}
			for _, kv := range strings.FieldsFunc(u[i+1:], func(r rune) bool { return strings.ContainsRune(delims, r) }) {
				if k, v, ok := strings.Cut(kv, "="); ok && (k == f.arg || f.arg == "") {
					return []string{v}, true
				}
			}
			return nil, false
		}
	case "cook", "req.cook", "res.cook", "scook", "set-cookie":
		return cookieFetch(f, base, method)
	case "hdr", "req.hdr", "req.fhdr", "fhdr":
		return headerFetch(f, base, method, base == "hdr" || base == "req.hdr", Txn.Headers)
	case "status":
		f.k = kInt
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			if t.Status() == 0 {
				return nil, false
			}
			return []string{strconv.Itoa(t.Status())}, true
		}
	case "res.hdr", "shdr", "res.fhdr":
		return headerFetch(f, base, method, base != "res.fhdr", Txn.ResHeaders)
	case "ssl_fc":
		f.k = kBool
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			if t.SSL() {
				return []string{"1"}, true
			}
			return []string{"0"}, true
		}
	case "req.ssl_sni", "req_ssl_sni", "ssl_fc_sni", "req.len", "req_len", "req.payload", "payload",
		"req.ssl_hello_type", "req_ssl_hello_type", "req.ssl_ver", "req_ssl_ver":
		if err := payloadFetch(f, base, arg); err != nil {
			return nil, "", err
		}
	case "req.ver", "req_ver":
		f.get = func(t Txn, _ *fetch) ([]string, bool) { return []string{t.Version()}, true }
	case "http_auth", "http_auth_group":
		if !hasArg || arg == "" {
			return nil, "", fmt.Errorf("fetch '%s' expects a userlist name", base)
		}
		f.ref = &Ref{Kind: "userlist", Name: arg, Keyword: base}
		if base == "http_auth" {
			f.k = kBool
		}
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			user, pass, ok := basicAuth(t)
			if !ok {
				return []string{"0"}, f.name == "http_auth"
			}
			groups, ok := f.auth.Check(f.arg, user, pass)
			if f.name == "http_auth" {
				if ok {
					return []string{"1"}, true
				}
				return []string{"0"}, true
			}
			return groups, ok && len(groups) > 0
		}
	case "res.ver", "resp_ver":
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			if rv, ok := t.(ResVersioner); ok && t.Status() != 0 {
				return []string{rv.ResVersion()}, true
			}
			return nil, false
		}
	case "nbsrv":
		f.k = kInt
		f.ref = &Ref{Kind: "backend", Name: arg, Keyword: base}
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			c, ok := t.(ServerCounter)
			if !ok {
				return nil, false
			}
			n, ok := c.NbSrv(f.arg)
			return []string{strconv.Itoa(n)}, ok
		}
	case "be_conn", "fe_conn", "queue":
		f.k = kInt
		kind := "backend"
		if base == "fe_conn" {
			kind = "frontend"
		}
		f.ref = &Ref{Kind: kind, Name: arg, Keyword: base}
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			c, ok := t.(ProxyCounter)
			if !ok {
				return nil, false
			}
			n, ok := c.ProxyCount(f.name, f.arg)
			return []string{strconv.Itoa(n)}, ok
		}
	case "fe_name", "be_name":
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			c, ok := t.(ProxyCounter)
			if !ok {
				return nil, false
			}
			n := c.ProxyName(f.name == "be_name")
			return []string{n}, n != ""
		}
	case "var":
		if err := varFetch(f, arg); err != nil {
			return nil, "", err
		}
	case "always_true", "always_false":
		f.k = kBool
		v := map[bool]string{true: "1", false: "0"}[base == "always_true"]
		f.get = func(Txn, *fetch) ([]string, bool) { return []string{v}, true }
	case "str", "int", "bool":
		if !hasArg {
			return nil, "", fmt.Errorf("fetch '%s' expects an argument", base)
		}
		v := arg
		switch base {
		case "int":
			f.k = kInt
			if _, err := strconv.ParseInt(arg, 10, 64); err != nil {
				return nil, "", fmt.Errorf("fetch 'int': '%s' is not an integer", arg)
			}
		case "bool":
			f.k = kBool
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				return nil, "", fmt.Errorf("fetch 'bool': '%s' is not an integer", arg)
			}
			v = map[bool]string{true: "1", false: "0"}[n != 0]
		}
		f.get = func(Txn, *fetch) ([]string, bool) { return []string{v}, true }
	case "pathq", "baseq", "url_ip", "url_port", "src_is_local", "dst_is_local", "date", "rand", "uuid", "hostname", "env":
		if err := miscFetch(f, base, arg, hasArg); err != nil {
			return nil, "", err
		}
	default:
		if haproxyFetch(base) || haproxyFetch(name) {
			return nil, "", fmt.Errorf("fetch '%s' is not supported by Duet yet", name)
		}
		return nil, "", fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'%s", base, c, didYouMean(name, strings.Fields(haproxyFetchNames)))
	}
	switch method {
	case "", "found":
	case "len", "cnt":
		if method == "cnt" {
			return nil, "", fmt.Errorf("'%s_cnt' is only defined for headers", base)
		}
	case "ip", "val":
		return nil, "", fmt.Errorf("'%s_%s' is only defined for headers", base, method)
	}
	return f, method, nil
}

// headerFetch completes a request or response header fetch (hdr, fhdr, res.hdr, ...: "name[,occ]"); split says
// whether values are split at commas, headers reads the request's or the response's.
func headerFetch(f *fetch, base, method string, split bool, headers func(Txn, string) []string) (*fetch, string, error) {
	if hn, occ, ok := strings.Cut(f.arg, ","); ok {
		n, err := strconv.Atoi(strings.TrimSpace(occ))
		if err != nil {
			return nil, "", fmt.Errorf("fetch '%s': invalid occurrence '%s'", base, occ)
		}
		f.arg, f.occ = hn, n
	}
	if method == "cnt" {
		f.k = kInt
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			return []string{strconv.Itoa(countValues(headers(t, f.arg), split))}, true
		}
		return f, mInt, nil
	}
	f.get = func(t Txn, f *fetch) ([]string, bool) {
		if f.arg == "" {
			return nil, false
		}
		return headerValues(headers(t, f.arg), split, f.occ)
	}
	switch method {
	case "ip":
		f.k = kIP
		return f, mIP, nil
	case "val":
		f.k = kInt
		return f, mInt, nil
	}
	return f, method, nil
}

func pathOf(uri string) string {
	p := uri
	if i := strings.Index(p, "://"); i >= 0 {
		rest := p[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			p = rest[j:]
		} else {
			p = "/"
		}
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// predefined are haproxy's built-in ACLs.
var predefined = map[string]func(Txn) bool{
	"TRUE":  func(Txn) bool { return true },
	"FALSE": func(Txn) bool { return false },
	"LOCALHOST": func(t Txn) bool {
		a := t.Src().Addr().Unmap()
		return netip.MustParsePrefix("127.0.0.0/8").Contains(a) || a == netip.IPv6Loopback()
	},
	"HTTP":           func(Txn) bool { return true },
	"HTTP_1.0":       func(t Txn) bool { return t.Version() == "1.0" },
	"HTTP_1.1":       func(t Txn) bool { return t.Version() == "1.1" },
	"HTTP_2.0":       func(Txn) bool { return false },
	"HTTP_URL_ABS":   func(t Txn) bool { return strings.Contains(t.URI(), "://") && !strings.HasPrefix(t.URI(), "/") },
	"HTTP_URL_SLASH": func(t Txn) bool { return strings.HasPrefix(t.URI(), "/") },
	"HTTP_URL_STAR":  func(t Txn) bool { return t.URI() == "*" },
	"HTTP_CONTENT": func(t Txn) bool {
		for _, v := range t.Headers("content-length") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return true
			}
		}
		return len(t.Headers("transfer-encoding")) > 0
	},
	"METH_CONNECT": meth("CONNECT"), "METH_DELETE": meth("DELETE"), "METH_GET": meth("GET", "HEAD"),
	"METH_HEAD": meth("HEAD"), "METH_OPTIONS": meth("OPTIONS"), "METH_POST": meth("POST"), "METH_PUT": meth("PUT"),
	"METH_TRACE":  meth("TRACE"),
	"REQ_CONTENT": func(Txn) bool { return true },
	"WAIT_END":    func(Txn) bool { return false },
}

func meth(ms ...string) func(Txn) bool {
	return func(t Txn) bool {
		for _, m := range ms {
			if t.Method() == m {
				return true
			}
		}
		return false
	}
}

// basicAuth decodes the request's Authorization: Basic credentials.
func basicAuth(t Txn) (user, pass string, ok bool) {
	for _, v := range t.Headers("authorization") {
		if len(v) > 6 && strings.EqualFold(v[:6], "basic ") {
			dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:]))
			if err != nil {
				return "", "", false
			}
			user, pass, ok = strings.Cut(string(dec), ":")
			return user, pass, ok
		}
	}
	return "", "", false
}

// cookieFetch builds cook(name) / req.cook(name) (the Cookie header) and res.cook(name) / scook(name) (the first
// name=value of each Set-Cookie header), with their _cnt (occurrences), _val (integer) and string forms; without a
// name the first cookie is returned and _cnt counts them all.
func cookieFetch(f *fetch, base, method string) (*fetch, string, error) {
	res := base == "res.cook" || base == "scook" || base == "set-cookie"
	all := func(t Txn, name string) []string {
		var out []string
		if res {
			for _, h := range t.ResHeaders("set-cookie") {
				first, _, _ := strings.Cut(h, ";")
				k, v, ok := strings.Cut(strings.TrimSpace(first), "=")
				if ok && (name == "" || strings.TrimSpace(k) == name) {
					out = append(out, strings.TrimSpace(v))
				}
			}
			return out
		}
		for _, h := range t.Headers("cookie") {
			for _, kv := range strings.Split(h, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && (name == "" || k == name) {
					out = append(out, v)
				}
			}
		}
		return out
	}
	switch method {
	case "cnt":
		f.k = kInt
		f.get = func(t Txn, f *fetch) ([]string, bool) { return []string{strconv.Itoa(len(all(t, f.arg)))}, true }
		return f, mInt, nil
	case "ip", "found", "":
	case "val":
		f.k = kInt
	case "beg", "end", "sub", "reg", "dir", "dom", "len":
	default:
		return nil, "", fmt.Errorf("'%s_%s' is not a cookie fetch", base, method)
	}
	f.get = func(t Txn, f *fetch) ([]string, bool) {
		v := all(t, f.arg)
		if f.arg == "" && len(v) > 1 {
			v = v[:1]
		}
		return v, len(v) > 0
	}
	switch method {
	case "val":
		return f, mInt, nil
	case "ip":
		f.k = kIP
		return f, mIP, nil
	}
	return f, method, nil
}

// ResVersioner is implemented by a Txn that knows the response's HTTP version (res.ver).
type ResVersioner interface {
	ResVersion() string // "1.0" or "1.1"
}

// ServerCounter is implemented by a Txn that can count a backend's usable servers (nbsrv).
type ServerCounter interface {
	// NbSrv returns the number of usable servers of backend name ("" for the current backend); ok is false
	// when there is no such backend.
	NbSrv(name string) (n int, ok bool)
}

// ProxyCounter is implemented by a Txn that can read the proxies' live counters.
type ProxyCounter interface {
	// ProxyCount answers be_conn (a backend's current connections), fe_conn (a frontend's) and queue (the
	// requests waiting in a backend and its servers) for proxy name ("" is the current one); ok is false when
	// there is no such proxy.
	ProxyCount(fetch, name string) (n int, ok bool)
	// ProxyName is the current backend's name (be_name; "" before one is chosen) or the frontend's.
	ProxyName(backend bool) string
}

// Ref is a name a fetch refers to, which the configuration checks once every section was read: a userlist
// (http_auth, http_auth_group with the groups its patterns name) or a backend (nbsrv; Name "" is the proxy
// itself). ACL is the ACL's name ("" for an anonymous one or an expression).
type Ref struct {
	Kind, Name, Keyword, ACL string
	Groups                   []string
}

func haproxyFetch(name string) bool {
	for _, n := range strings.Fields(haproxyFetchNames) {
		if n == name {
			return true
		}
	}
	return false
}

// countValues counts header values as the _cnt fetches do: with split, every comma-separated element of every
// occurrence (hdr), else the occurrences (fhdr).
func countValues(vals []string, split bool) int {
	if !split {
		return len(vals)
	}
	n := 0
	for _, v := range vals {
		n += strings.Count(v, ",") + 1
	}
	return n
}

// headerValues is what hdr()/fhdr() and their response forms answer: every value of the header's occurrences
// (with split, every comma-separated element, trimmed), or only occurrence occ (1 = first, -1 = last).
func headerValues(occurrences []string, split bool, occ int) ([]string, bool) {
	var vals []string
	for _, v := range occurrences {
		if split {
			for _, p := range strings.Split(v, ",") {
				vals = append(vals, strings.TrimSpace(p))
			}
		} else {
			vals = append(vals, v)
		}
	}
	switch {
	case len(vals) == 0:
		return nil, false
	case occ > 0:
		if occ > len(vals) {
			return nil, false
		}
		return vals[occ-1 : occ], true
	case occ < 0:
		if -occ > len(vals) {
			return nil, false
		}
		return vals[len(vals)+occ : len(vals)+occ+1], true
	}
	return vals, true
}
