package acl

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// miscFetch builds pathq, baseq, url_ip, url_port, src_is_local, dst_is_local, date, rand, uuid, hostname and
// env; errNotPayload when base is none of them.
func miscFetch(f *fetch, base, arg string, hasArg bool) error {
	switch base {
	case "pathq":
		f.get = func(t Txn, _ *fetch) ([]string, bool) { return []string{pathQuery(t.URI())}, true }
	case "baseq":
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			h := t.Headers("host")
			if len(h) == 0 {
				return nil, false
			}
			return []string{h[0] + pathQuery(t.URI())}, true
		}
	case "url_ip", "url_port":
		if base == "url_ip" {
			f.k = kIP
		} else {
			f.k = kInt
		}
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			host, port, ok := urlAuthority(t.URI())
			if !ok {
				return nil, false
			}
			if f.name == "url_port" {
				return []string{strconv.Itoa(port)}, true
			}
			a, err := netip.ParseAddr(host)
			if err != nil || !a.Is4() {
				return nil, false
			}
			return []string{a.String()}, true
		}
	case "src_is_local", "dst_is_local":
		f.k = kBool
		f.get = func(t Txn, f *fetch) ([]string, bool) {
			ap := t.Src()
			if f.name == "dst_is_local" {
				ap = t.Dst()
			}
			if !ap.IsValid() {
				return nil, false
			}
			return []string{map[bool]string{true: "1", false: "0"}[isLocal(ap.Addr().Unmap())]}, true
		}
	case "date":
		f.k = kInt
		off := int64(0)
		if hasArg && arg != "" {
			n, err := strconv.ParseInt(strings.Split(arg, ",")[0], 10, 64)
			if err != nil {
				return fmt.Errorf("fetch 'date': '%s' is not an integer offset", arg)
			}
			off = n
		}
		f.get = func(Txn, *fetch) ([]string, bool) {
			return []string{strconv.FormatInt(time.Now().Unix()+off, 10)}, true
		}
	case "rand":
		f.k = kInt
		rng := uint64(1) << 32
		if hasArg && arg != "" {
			n, err := strconv.ParseUint(arg, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("fetch 'rand': '%s' is not a positive integer", arg)
			}
			rng = n
		}
		f.get = func(Txn, *fetch) ([]string, bool) {
			return []string{strconv.FormatUint(mrand.Uint64N(rng), 10)}, true
		}
	case "uuid":
		if hasArg && arg != "" && arg != "4" {
			return fmt.Errorf("fetch 'uuid': only version 4 is supported")
		}
		f.get = func(Txn, *fetch) ([]string, bool) {
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, false
			}
			b[6] = b[6]&0x0f | 0x40
			b[8] = b[8]&0x3f | 0x80
			return []string{fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])}, true
		}
	case "hostname":
		f.get = func(Txn, *fetch) ([]string, bool) {
			h, err := os.Hostname()
			return []string{h}, err == nil
		}
	case "env":
		if !hasArg || arg == "" {
			return fmt.Errorf("fetch 'env' expects a variable name")
		}
		f.get = func(_ Txn, f *fetch) ([]string, bool) {
			v, ok := os.LookupEnv(f.arg)
			return []string{v}, ok
		}
	default:
		return errNotPayload
	}
	return nil
}

// pathQuery is the request target without scheme and authority (path and query).
func pathQuery(uri string) string {
	if i := strings.Index(uri, "://"); i >= 0 {
		rest := uri[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			p := rest[j:]
			if p[0] == '?' {
				p = "/" + p
			}
			return p
		}
		return "/"
	}
	return uri
}

// urlAuthority returns the host and port of an absolute-form target (port 80 when absent, as haproxy).
func urlAuthority(uri string) (string, int, bool) {
	i := strings.Index(uri, "://")
	if i < 0 {
		return "", 0, false
	}
	auth := uri[i+3:]
	if j := strings.IndexAny(auth, "/?"); j >= 0 {
		auth = auth[:j]
	}
	if k := strings.LastIndexByte(auth, '@'); k >= 0 {
		auth = auth[k+1:]
	}
	host, port, err := net.SplitHostPort(auth)
	if err != nil {
		return auth, 80, auth != ""
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, false
	}
	return host, n, true
}

// isLocal reports whether a is an address of one of this host's interfaces.
func isLocal(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}
