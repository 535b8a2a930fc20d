package acl

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// clientHello returns the first bytes a Go TLS client sends for server name sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: sni == ""})
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_ = c.Handshake()
		_ = c.Close()
	}()
	_ = b.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n := 0
	for n < 5 || n < 5+int(buf[3])<<8+int(buf[4]) {
		m, err := b.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	_ = b.Close()
	return buf[:n]
}

type payloadTxn struct {
	txn
	data  []byte
	final bool
}

func (p *payloadTxn) Payload() ([]byte, bool) { return p.data, p.final }
func (p *payloadTxn) MoreWanted()             {}

func TestParseHello(t *testing.T) {
	hello := clientHello(t, "a.example")
	h, ok := ParseHello(hello)
	if !ok || !h.Complete || h.Type != 1 || h.SNI != "a.example" || h.Version < 0x0301 {
		t.Fatalf("hello = %+v %v", h, ok)
	}
	if h, ok := ParseHello(hello[:20]); !ok || h.Complete {
		t.Errorf("partial hello = %+v %v", h, ok)
	}
	if _, ok := ParseHello([]byte("GET / HTTP/1.1\r\n")); ok {
		t.Errorf("HTTP taken for TLS")
	}
	if h, _ := ParseHello(clientHello(t, "")); h.SNI != "" {
		t.Errorf("SNI without server name: %q", h.SNI)
	}
	for _, tc := range []struct {
		line  string
		data  []byte
		match bool
	}{
		{"req.ssl_sni -i A.example", hello, true},
		{"req.ssl_sni b.example", hello, false},
		{"req.ssl_hello_type 1", hello, true},
		{"req.ssl_hello_type 1", hello[:30], false},
		{"req.len gt 100", hello, true},
		{"req.len 0", nil, true},
		{"req.payload(0,3) GET", []byte("GET / HTTP/1.0\r\n"), true},
		{"req.ssl_ver ge 769", hello, true},
	} {
		s := NewSet()
		if err := s.Add("a", strings.Fields(tc.line)); err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		c, _ := ParseCond([]string{"if", "a"}, s)
		if got := c.Eval(&payloadTxn{data: tc.data}); got != tc.match {
			t.Errorf("%s on %d bytes = %v", tc.line, len(tc.data), got)
		}
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add(clientHello(f, "a.example"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := ParseHello(b)
		if !ok && h.Complete {
			t.Fatal("complete but not ok")
		}
	})
}
