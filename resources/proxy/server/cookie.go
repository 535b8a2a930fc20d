package server

import (
	"strings"

	"github.com/duet-ha/duet/resources/proxy/httpx"
)

// persistence is what the request's persistence cookie said.
type persistence struct {
	srv    *srv // the server the cookie names, when it may take the request
	flag   byte // haproxy's 3rd termination char: N none, V valid, D down, I invalid, '-' not configured
	found  bool // the client sent the cookie
	rest   string
	rawVal string
}

// cookieRequest reads the backend's persistence cookie from the request, picks the server it names, and strips
// or rewrites it toward the server as haproxy does (insert+indirect: removed; prefix: "srv~value" -> "value").
func (h *httpConn) cookieRequest(be *backend) persistence {
	ck := be.cfg.Cookie
	p := persistence{flag: '-'}
	if ck == nil {
		return p
	}
	p.flag = 'N'
	// Each Cookie header is rewritten in place, as haproxy does: other headers and other Cookie lines keep their
	// order, and a line left empty is removed.
	for i := range h.req.Fields {
		if h.req.Dropped(i) || !strings.EqualFold(string(h.req.Name(i)), "cookie") {
			continue
		}
		var kept []string
		changed := false
		for _, part := range strings.Split(string(h.req.Value(i)), ";") {
			kv := strings.TrimSpace(part)
			if kv == "" {
				continue
			}
			name, val, _ := strings.Cut(kv, "=")
			if name != ck.Name || p.found {
				kept = append(kept, kv)
				continue
			}
			p.found, p.rawVal = true, val
			sval := val
			if ck.Mode == "prefix" {
				if i := strings.IndexByte(val, '~'); i >= 0 {
					sval, p.rest = val[:i], val[i+1:]
					kept = append(kept, name+"="+p.rest)
					changed = true
				} else {
					// not one of ours: passed untouched
					sval = ""
					kept = append(kept, kv)
				}
			} else if ck.Mode == "insert" && ck.Indirect {
				changed = true
			} else {
				kept = append(kept, kv)
			}
			p.flag = 'I'
			for _, sv := range be.servers {
				if sv.cfg.Cookie == "" || sv.cfg.Cookie != sval {
					continue
				}
				sv.st.mu.Lock()
				ok := sv.st.admin != "maint" && sv.st.up()
				sv.st.mu.Unlock()
				if ok || be.cfg.Options.Persist {
					p.srv, p.flag = sv, 'V'
				} else {
					p.flag = 'D'
				}
				break
			}
		}
		switch {
		case !changed:
		case len(kept) == 0:
			h.req.DropAt(i)
		default:
			h.req.SetValueAt(i, strings.Join(kept, "; "))
		}
	}
	return p
}

// cookieResponse adds, rewrites or prefixes the persistence cookie in the response headers.
func (h *httpConn) cookieResponse(be *backend, sv *srv, p persistence) {
	ck := be.cfg.Cookie
	if ck == nil || sv == nil {
		return
	}
	switch ck.Mode {
	case "insert":
		// haproxy inserts only when the request was not directed by a valid cookie (SF_DIRECT), with or without
		// indirect: indirect only decides whether the cookie is removed toward the server.
		if p.flag == 'V' && p.srv == sv {
			return
		}
		if ck.PostOnly && string(h.req.Method) != "POST" {
			return
		}
		if sv.cfg.Cookie == "" {
			if p.found {
				h.resp.Add("Set-Cookie", ck.Name+"=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")
			}
			return
		}
		if ck.Preserve && h.resp.Has("set-cookie") && hasCookie(h.resp, ck.Name) {
			return
		}
		v := ck.Name + "=" + sv.cfg.Cookie + "; path=/"
		for _, d := range ck.Domains {
			v += "; domain=" + d
		}
		if ck.HTTPOnly {
			v += "; HttpOnly"
		}
		if ck.Secure {
			v += "; Secure"
		}
		for _, a := range ck.Attrs {
			v += "; " + a
		}
		h.resp.Add("Set-Cookie", v)
		if ck.NoCache && cacheable(h.resp, string(h.req.Method)) {
			h.resp.Add("Cache-control", "private")
		}
	case "rewrite", "prefix":
		n := len(h.resp.Fields)
		for i := 0; i < n; i++ {
			if h.resp.Dropped(i) || !strings.EqualFold(string(h.resp.Name(i)), "set-cookie") {
				continue
			}
			v := string(h.resp.Value(i))
			if !strings.HasPrefix(v, ck.Name+"=") || sv.cfg.Cookie == "" {
				continue
			}
			rest := v[len(ck.Name)+1:]
			val, attrs, _ := strings.Cut(rest, ";")
			var nv string
			if ck.Mode == "rewrite" {
				nv = ck.Name + "=" + sv.cfg.Cookie
			} else {
				nv = ck.Name + "=" + sv.cfg.Cookie + "~" + val
			}
			if attrs != "" {
				nv += ";" + attrs
			}
			h.resp.SetValueAt(i, nv)
		}
	}
}

func hasCookie(h *httpx.Head, name string) bool {
	for _, v := range h.Get("set-cookie") {
		if strings.HasPrefix(v, name+"=") {
			return true
		}
	}
	return false
}

// cacheable approximates haproxy's check that a response could be stored by a shared cache.
func cacheable(h *httpx.Head, method string) bool {
	if method != "GET" && method != "HEAD" {
		return false
	}
	switch h.Status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
	default:
		return false
	}
	for _, v := range h.Get("cache-control") {
		l := strings.ToLower(v)
		if strings.Contains(l, "private") || strings.Contains(l, "no-cache") || strings.Contains(l, "no-store") {
			return false
		}
		if strings.Contains(l, "public") || strings.Contains(l, "max-age") || strings.Contains(l, "s-maxage") {
			return true
		}
	}
	for _, v := range h.Get("pragma") {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return false
		}
	}
	return h.Has("etag") || h.Has("last-modified") || h.Has("expires")
}
