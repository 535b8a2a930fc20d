package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/internal/nettest"
)

// tcpServers are the servers of the TCP scenario in one host: a TLS server on :443 that answers, after a real
// handshake, "<name> sni=<server name it saw>", and a server-speaks-first service on :3306 (like MySQL's greeting)
// that sends "<name> greeting" at once. Both close after their answer.
type tcpServers struct {
	name string
	lns  []net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

func startTCPServers(t *testing.T, h *nettest.Host, name string, cert tls.Certificate) *tcpServers {
	t.Helper()
	s := &tcpServers{name: name}
	err := h.Do(func() error {
		for _, port := range []string{"443", "3306"} {
			ln, err := net.Listen("tcp", net.JoinHostPort(h.IP(), port))
			if err != nil {
				return err
			}
			s.lns = append(s.lns, ln)
		}
		return nil
	})
	if err != nil {
		s.stop()
		t.Fatal(err)
	}
	serve := func(ln net.Listener, handle func(net.Conn)) {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}
	s.wg.Add(2)
	go serve(s.lns[0], func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			return
		}
		fmt.Fprintf(tc, "%s sni=%s", name, tc.ConnectionState().ServerName)
		_ = tc.CloseWrite()
		_, _ = io.Copy(io.Discard, tc)
	})
	go serve(s.lns[1], func(c net.Conn) {
		fmt.Fprintf(c, "%s greeting", name)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, c)
	})
	t.Cleanup(s.stop)
	return s
}

// stop closes the listeners (the service is down: connections are refused) and waits for the handlers.
func (s *tcpServers) stop() {
	s.once.Do(func() {
		for _, ln := range s.lns {
			ln.Close()
		}
	})
	s.wg.Wait()
}

// tcpAsk connects from h to addr; with sni != "" it runs a TLS handshake through the proxy (passthrough: the
// server's certificate is not checked, the proxy must not terminate), with raw != nil it sends those bytes first.
// It returns the server's answer, or "closed" when the proxy refused or closed the connection.
func tcpAsk(h *nettest.Host, addr, sni string, raw []byte) string {
	out := "closed"
	_ = h.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
		var rd io.Reader = c
		switch {
		case sni != "":
			tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				return err
			}
			rd = tc
		case raw != nil:
			if _, err := c.Write(raw); err != nil {
				return err
			}
		}
		b, _ := io.ReadAll(rd)
		if len(b) > 0 {
			out = string(b)
		}
		return nil
	})
	return out
}

// TestTCPScenarios is issue 5's TCP mode end to end, as a differential test against haproxy in network
// namespaces: tcp-request connection reject by source, tcp-request content with inspect-delay (accept a TLS
// ClientHello, reject anything else), SNI routing of TLS passthrough, a server-speaks-first service (like MySQL)
// with balance roundrobin and balance source, and a server going down (seen by health checks). For every
// connection both must give the same verdict: which server answered (and the SNI it saw), or closed.
func TestTCPScenarios(t *testing.T) {
	tp := nettest.New(t)
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not installed: run scripts/deps.sh")
	}
	e := &env{t: t, tp: tp}
	e.haproxyBin, _ = exec.LookPath("haproxy")
	e.proxy = tp.AddHost("proxy", proxyIP+"/24")
	var webs [3]*nettest.Host
	for i := range webs {
		webs[i] = tp.AddHost(fmt.Sprintf("web%d", i+1), fmt.Sprintf("10.250.0.%d/24", 11+i))
	}
	var clients [4]*nettest.Host
	for i := range clients {
		clients[i] = tp.AddHost(fmt.Sprintf("client%d", i+1), fmt.Sprintf("10.250.0.%d/24", 21+i))
	}
	e.client1 = clients[0]
	denied := clients[1] // 10.250.0.22
	root := t.TempDir()
	e.duetBin = filepath.Join(root, "duet-proxy")
	build := exec.Command("go", "build", "-o", e.duetBin, "./cmd/duet-proxy")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/duet-proxy: %v\n%s", err, out)
	}
	pem := filepath.Join(repoRoot(t), "resources/proxy/config/testdata/site.pem")
	cert, err := tls.LoadX509KeyPair(pem, pem)
	if err != nil {
		t.Fatal(err)
	}

	srv := func(be, port string, extra string) string {
		var b strings.Builder
		for i := range webs {
			fmt.Fprintf(&b, "    server web%d 10.250.0.%d:%s%s\n", i+1, 11+i, port, extra)
		}
		return "backend " + be + "\n" + b.String()
	}
	cfg := `global
    maxconn 200
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    retries 0
frontend tls
    bind ` + proxyIP + `:443
    tcp-request connection reject if { src ` + denied.IP() + ` }
    tcp-request inspect-delay 2s
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject
    use_backend tls_a if { req.ssl_sni -i a.example }
    use_backend tls_b if { req.ssl_sni -m end .b.example }
    default_backend tls_default
frontend db
    bind ` + proxyIP + `:3306
    tcp-request connection reject if { src ` + denied.IP() + ` }
    default_backend db_source
frontend db_rr
    bind ` + proxyIP + `:3307
    default_backend db_rr
backend tls_a
    server web1 10.250.0.11:443
backend tls_b
    server web2 10.250.0.12:443
backend tls_default
    server web3 10.250.0.13:443
` + srv("db_source", "3306", " check inter 200ms fall 2 rise 1") + "    balance source\n" +
		srv("db_rr", "3306", " weight 2") + "    balance roundrobin\n"
	listens := []string{proxyIP + ":443", proxyIP + ":3306", proxyIP + ":3307"}

	type verdict struct{ label, got string }
	run := func(kind string) []verdict {
		var out []verdict
		var servers [3]*tcpServers
		for i, h := range webs {
			servers[i] = startTCPServers(t, h, fmt.Sprintf("web%d", i+1), cert)
		}
		p := e.startProxy(t, kind, cfg, listens)
		defer p.stop()
		ask := func(label string, h *nettest.Host, port, sni string, raw []byte) {
			out = append(out, verdict{label, tcpAsk(h, proxyIP+":"+port, sni, raw)})
		}
		ask("TLS a.example", clients[0], "443", "A.example", nil)
		ask("TLS www.b.example", clients[2], "443", "www.b.example", nil)
		ask("TLS other", clients[3], "443", "other.example", nil)
		ask("TLS from the denied client", denied, "443", "a.example", nil)
		ask("plain text on the TLS port", clients[0], "443", "", []byte("GET / HTTP/1.0\r\n\r\n"))
		for i := 0; i < 6; i++ {
			ask("roundrobin", clients[i%2*2], "3307", "", nil)
		}
		for i, c := range clients {
			ask(fmt.Sprintf("source client%d", i+1), c, "3306", "", nil)
		}
		// web2 goes down: the health checks take it out and balance source maps its clients elsewhere
		servers[1].stop()
		time.Sleep(1500 * time.Millisecond)
		for i, c := range clients {
			ask(fmt.Sprintf("source client%d, web2 down", i+1), c, "3306", "", nil)
		}
		ask("TLS www.b.example, web2 down", clients[2], "443", "www.b.example", nil)
		for _, s := range servers {
			s.stop()
		}
		return out
	}
	h, d := run("haproxy"), run("duet")
	if len(h) != len(d) {
		t.Fatalf("haproxy %d verdicts, duet %d", len(h), len(d))
	}
	for i := range h {
		t.Logf("%-36s haproxy %-22q duet %q", h[i].label, h[i].got, d[i].got)
		if h[i].got != d[i].got {
			t.Errorf("%s: haproxy %q, duet %q", h[i].label, h[i].got, d[i].got)
		}
	}
}
