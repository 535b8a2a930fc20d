package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseBind parses one bind line.
func (p *parser) parseBind(w []string) (Bind, bool) {
	b := Bind{Pos: p.pos()}
	if len(w) < 2 {
		p.errf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
		return b, false
	}
	b.Spec = w[1]
	for _, part := range strings.Split(w[1], ",") {
		addrs, err := expandBindAddr(part)
		if err != nil {
			p.errf("'bind %s' : %v", w[1], err)
			return b, false
		}
		b.Addrs = append(b.Addrs, addrs...)
	}
	for i := 2; i < len(w); i++ {
		kw := w[i]
		arg := func() (string, bool) {
			if i+1 >= len(w) {
				p.errf("'bind %s' : '%s' expects an argument.", w[1], kw)
				return "", false
			}
			i++
			return w[i], true
		}
		switch kw {
		case "name", "id":
			v, ok := arg()
			if !ok {
				return b, false
			}
			if kw == "name" {
				b.Name = v
			}
		case "maxconn":
			v, ok := arg()
			if !ok {
				return b, false
			}
			n, err := parseInt(v, 0, 1<<30)
			if err != nil {
				p.errf("'bind %s' : 'maxconn' %v.", w[1], err)
				return b, false
			}
			b.Maxconn = n
		case "ssl":
			b.SSL = true
		case "crt":
			v, ok := arg()
			if !ok {
				return b, false
			}
			if !strings.HasPrefix(v, "/") && p.cfg.Global.CRTBase != "" {
				v = p.cfg.Global.CRTBase + "/" + v
			}
			b.Certs = append(b.Certs, v)
		case "alpn":
			v, ok := arg()
			if !ok {
				return b, false
			}
			b.ALPN = strings.Split(v, ",")
		case "v4v6":
			b.V4V6 = true
		case "v6only":
			b.V6Only = true
		case "transparent":
			b.Transparent = true
		case "mode":
			v, ok := arg()
			if !ok {
				return b, false
			}
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				p.errf("'bind %s' : 'mode' expects an octal mode.", w[1])
				return b, false
			}
			b.Mode = uint32(m)
		case "backlog", "user", "group", "uid", "gid", "process", "thread", "nice", "tcp-ut", "mss", "ciphers",
			"ciphersuites", "curves", "ssl-min-ver", "ssl-max-ver", "ecdhe":
			if _, ok := arg(); !ok {
				return b, false
			}
			p.warnf("'bind %s' : '%s' is accepted but has no effect in Duet (Go's crypto/tls and the kernel defaults apply).", w[1], kw)
		case "defer-accept", "tfo", "strict-sni", "prefer-client-ciphers", "no-sslv3", "no-tlsv10", "no-tlsv11",
			"no-tls-tickets":
			p.warnf("'bind %s' : '%s' is accepted but has no effect in Duet.", w[1], kw)
		case "accept-proxy":
			p.errf("'bind %s' : 'accept-proxy' is valid haproxy but not supported by Duet yet.", w[1])
			return b, false
		default:
			if contains(knownBind, kw) {
				p.errf("'bind %s' : keyword '%s' is valid haproxy but not supported by Duet yet.", w[1], kw)
			} else if s := suggest(kw, knownBind); s != "" {
				p.errf("'bind %s' unknown keyword '%s'; did you mean '%s' maybe ?", w[1], kw, s)
			} else {
				p.errf("'bind %s' unknown keyword '%s'.", w[1], kw)
			}
			return b, false
		}
	}
	if len(b.Certs) > 0 && !b.SSL {
		p.warnf("'bind %s' : 'crt' given without 'ssl', the certificate is not used.", w[1])
	}
	if b.SSL && len(b.Certs) == 0 {
		p.errf("'bind %s' : 'ssl' requires at least one 'crt' (no default certificate).", w[1])
		return b, false
	}
	return b, true
}

// expandBindAddr expands one "[family@][addr]:port[-port]" element.
func expandBindAddr(s string) ([]BindAddr, error) {
	network := "tcp"
	switch {
	case strings.HasPrefix(s, "unix@"):
		return []BindAddr{{Network: "unix", Address: s[5:]}}, nil
	case strings.HasPrefix(s, "/"):
		return []BindAddr{{Network: "unix", Address: s}}, nil
	case strings.HasPrefix(s, "fd@"):
		if _, err := strconv.Atoi(s[3:]); err != nil {
			return nil, fmt.Errorf("invalid file descriptor in '%s'", s)
		}
		return []BindAddr{{Network: "fd", Address: s[3:]}}, nil
	case strings.HasPrefix(s, "ipv4@"):
		network, s = "tcp4", s[5:]
	case strings.HasPrefix(s, "ipv6@"):
		network, s = "tcp6", s[5:]
	case strings.HasPrefix(s, "abns@"), strings.HasPrefix(s, "sockpair@"), strings.HasPrefix(s, "udp@"),
		strings.HasPrefix(s, "quic4@"), strings.HasPrefix(s, "quic6@"):
		return nil, fmt.Errorf("address family of '%s' is not supported by Duet yet", s)
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return nil, fmt.Errorf("missing port specification in '%s'", s)
	}
	host, ports := s[:i], s[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "*" {
		host = ""
	}
	if host == "" && network == "tcp" {
		network = "tcp4"
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			if !validHostname(host) {
				return nil, fmt.Errorf("invalid address: '%s' in '%s'", host, s)
			}
		} else if a.Is6() && !a.Is4In6() {
			if network == "tcp" {
				network = "tcp6"
			}
		} else if network == "tcp" {
			network = "tcp4"
		}
	}
	if ports == "" {
		return nil, fmt.Errorf("missing port specification in '%s'", s)
	}
	lo, hi := ports, ports
	if j := strings.IndexByte(ports, '-'); j >= 0 {
		lo, hi = ports[:j], ports[j+1:]
	}
	a, err1 := strconv.Atoi(lo)
	z, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 1 || z > 65535 || a > z {
		return nil, fmt.Errorf("invalid port '%s'", ports)
	}
	if z-a > 1024 {
		return nil, fmt.Errorf("port range '%s' is too large for Duet (at most 1025 ports)", ports)
	}
	var out []BindAddr
	for port := a; port <= z; port++ {
		h := host
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		out = append(out, BindAddr{Network: network, Address: h + ":" + strconv.Itoa(port)})
	}
	return out, nil
}
