package server

import (
	"net"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/config"
)

// inspectBufSize is how much tcp-request content inspection may read before the buffer counts as full: haproxy's
// tune.bufsize less tune.maxrewrite.
const inspectBufSize = 16384 - 1024

// inspection is what tcp-request content inspection read from a TCP client before the backend is chosen. It is
// owned by the session's goroutine.
type inspection struct {
	buf   []byte
	final bool // no more bytes will be read: later answers cannot change
	asked bool // a fetch's answer may change with more data (since the last reset)
}

var _ acl.Payloader = l4Txn{}

// newInspection returns the inspection state of a connection to frontend px, or nil when its tcp-request
// content rules cannot wait for data (none, or no inspect-delay): nothing is allocated on that common path.
func newInspection(px *config.Proxy) *inspection {
	if len(px.TCPContent) == 0 || px.InspectDelay <= 0 {
		return nil
	}
	return &inspection{}
}

// bytes returns what was read (nil for a nil inspection).
func (ins *inspection) bytes() []byte {
	if ins == nil {
		return nil
	}
	return ins.buf
}

// Payload implements acl.Payloader: the bytes read so far. Without inspection there are none, and that is final.
func (t l4Txn) Payload() ([]byte, bool) {
	if t.ins == nil {
		return nil, true
	}
	return t.ins.buf, t.ins.final
}

// MoreWanted implements acl.Payloader.
func (t l4Txn) MoreWanted() {
	if t.ins != nil && !t.ins.final {
		t.ins.asked = true
	}
}

// inspectContent runs a TCP frontend's tcp-request content rules as haproxy's tcp_inspect_request does. The
// rules are evaluated in order on the bytes received so far; the first matching rule decides. A rule that does not
// match after reading data that may still grow (req.len, an incomplete TLS hello ...) makes the proxy read more
// and evaluate again, until tcp-request inspect-delay expires, the buffer is full or the client closes its side;
// then the rules see the final bytes. Without an inspect-delay nothing is read. It reports false when a reject
// rule matched; the bytes read are in t.ins.buf, to be sent to the server first.
func inspectContent(c net.Conn, px *config.Proxy, t l4Txn) bool {
	ins := t.ins
	rules := px.TCPContent
	if ins == nil {
		return tcpRules(rules, t)
	}
	deadline := time.Now().Add(px.InspectDelay)
	defer func() {
		ins.final = true
		_ = c.SetReadDeadline(time.Time{})
	}()
	for {
		decided, accept := false, true
		for i := range rules {
			ins.asked = false
			if rules[i].Cond.Eval(t) {
				decided, accept = true, rules[i].Accept
				break
			}
			if ins.asked {
				break // may match with more data: wait for it
			}
			if i == len(rules)-1 {
				decided = true
			}
		}
		if decided || ins.final {
			return accept
		}
		if ins.buf == nil {
			ins.buf = make([]byte, 0, inspectBufSize)
		}
		_ = c.SetReadDeadline(deadline)
		n, err := c.Read(ins.buf[len(ins.buf):cap(ins.buf)])
		ins.buf = ins.buf[:len(ins.buf)+n]
		if err != nil || len(ins.buf) == cap(ins.buf) {
			ins.final = true
		}
	}
}
