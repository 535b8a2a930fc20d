package acl

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Payloader is implemented by a Txn that inspected the client's first bytes (tcp-request content in TCP mode,
// within tcp-request inspect-delay).
type Payloader interface {
	// Payload returns the bytes read so far and whether no more will come (inspect-delay expired, buffer full,
	// client closed).
	Payload() (data []byte, final bool)
	// MoreWanted records that a fetch answered from data that was not final and may answer differently with
	// more (haproxy's SMP_F_MAY_CHANGE): a rule that did not match then waits for more data.
	MoreWanted()
}

// payloadOf returns the inspected bytes, ok false when t inspected nothing, and a function to call when the
// answer may change with more data.
func payloadOf(t Txn) (b []byte, maybe func(), ok bool) {
	p, ok := t.(Payloader)
	if !ok {
		return nil, nil, false
	}
	b, final := p.Payload()
	if final {
		return b, func() {}, true
	}
	return b, p.MoreWanted, true
}

// payloadFetch builds req.len, req.payload(offset,length), req.ssl_hello_type, req.ssl_ver and req.ssl_sni.
func payloadFetch(f *fetch, base, arg string) error {
	switch base {
	case "req.len", "req_len":
		f.k = kInt
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			b, maybe, ok := payloadOf(t)
			if !ok {
				return nil, false
			}
			maybe()
			return []string{strconv.Itoa(len(b))}, true
		}
	case "req.payload", "payload":
		o, l, ok := parseOffLen(arg)
		if !ok {
			return fmt.Errorf("fetch '%s' expects <offset>,<length> (got '%s')", base, arg)
		}
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			b, maybe, ok := payloadOf(t)
			if !ok {
				return nil, false
			}
			if len(b) < o || l > 0 && len(b) < o+l {
				maybe()
				return nil, false
			}
			if l == 0 {
				maybe()
				return []string{string(b[o:])}, true
			}
			return []string{string(b[o : o+l])}, true
		}
	case "req.ssl_hello_type", "req_ssl_hello_type":
		f.k = kInt
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			h, ok := helloOf(t)
			if !ok || !h.Complete {
				return nil, false
			}
			return []string{strconv.Itoa(h.Type)}, true
		}
	case "req.ssl_ver", "req_ssl_ver":
		f.k = kInt
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			h, ok := helloOf(t)
			if !ok {
				return nil, false
			}
			return []string{strconv.Itoa(h.Version)}, true
		}
	case "req.ssl_sni", "req_ssl_sni", "ssl_fc_sni":
		f.get = func(t Txn, _ *fetch) ([]string, bool) {
			if base != "ssl_fc_sni" {
				if _, isP := t.(Payloader); isP {
					h, ok := helloOf(t)
					if !ok || !h.Complete || h.SNI == "" {
						return nil, false
					}
					return []string{h.SNI}, true
				}
			}
			return []string{t.SNI()}, t.SNI() != ""
		}
	default:
		return errNotPayload
	}
	return nil
}

// helloOf parses the inspected bytes as a TLS hello; when they are too short to tell, or a TLS record that is
// not complete yet, the answer may change with more data.
func helloOf(t Txn) (Hello, bool) {
	b, maybe, ok := payloadOf(t)
	if !ok {
		return Hello{}, false
	}
	h, ok := ParseHello(b)
	if len(b) < 5 && (len(b) == 0 || b[0] == 0x16) || ok && !h.Complete {
		maybe()
	}
	return h, ok
}

var errNotPayload = fmt.Errorf("not a payload fetch")

func parseOffLen(arg string) (int, int, bool) {
	var o, l int
	if _, err := fmt.Sscanf(arg, "%d,%d", &o, &l); err != nil || o < 0 || l < 0 {
		return 0, 0, false
	}
	return o, l, true
}

// Hello is what ParseHello found at the start of a TLS stream.
type Hello struct {
	Type     int    // handshake type: 1 ClientHello, 2 ServerHello
	Version  int    // record version, as haproxy's req.ssl_ver (0x0301 is TLS 1.0)
	SNI      string // server_name of a ClientHello
	Complete bool   // the whole first handshake record is present
}

// ParseHello parses the first TLS record of b. ok is false when b is not (the start of) a TLS handshake record
// (SSLv3 or later); a Hello that is not Complete may still become one with more bytes.
func ParseHello(b []byte) (h Hello, ok bool) {
	if len(b) < 5 || b[0] != 0x16 || b[1] < 3 {
		return h, false
	}
	h.Version = int(binary.BigEndian.Uint16(b[1:3]))
	rl := int(binary.BigEndian.Uint16(b[3:5]))
	if rl < 4 {
		return h, false
	}
	if len(b) < 5+rl {
		return h, true
	}
	rec := b[5 : 5+rl]
	h.Type = int(rec[0])
	h.Complete = true
	if h.Type != 1 {
		return h, true
	}
	hl := int(rec[1])<<16 | int(rec[2])<<8 | int(rec[3])
	body := rec[4:]
	if hl < len(body) {
		body = body[:hl]
	}
	h.SNI = helloSNI(body)
	return h, true
}

// helloSNI returns the host_name of a ClientHello body's server_name extension, or "".
func helloSNI(p []byte) string {
	// version(2) random(32)
	if len(p) < 34 {
		return ""
	}
	p = p[34:]
	skip := func(lenBytes int) bool {
		if len(p) < lenBytes {
			return false
		}
		n := 0
		for i := 0; i < lenBytes; i++ {
			n = n<<8 | int(p[i])
		}
		if len(p) < lenBytes+n {
			return false
		}
		p = p[lenBytes+n:]
		return true
	}
	// session id, cipher suites, compression methods
	if !skip(1) || !skip(2) || !skip(1) || len(p) < 2 {
		return ""
	}
	el := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if el < len(p) {
		p = p[:el]
	}
	for len(p) >= 4 {
		typ := binary.BigEndian.Uint16(p)
		l := int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+l {
			return ""
		}
		ext := p[4 : 4+l]
		p = p[4+l:]
		if typ != 0 || len(ext) < 2 {
			continue
		}
		list := ext[2:]
		if n := int(binary.BigEndian.Uint16(ext)); n < len(list) {
			list = list[:n]
		}
		for len(list) >= 3 {
			nt := list[0]
			nl := int(binary.BigEndian.Uint16(list[1:]))
			if len(list) < 3+nl {
				return ""
			}
			if nt == 0 {
				return string(list[3 : 3+nl])
			}
			list = list[3+nl:]
		}
	}
	return ""
}
