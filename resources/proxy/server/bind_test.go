package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

func TestBindsTLSUnixRangeAndFreebind(t *testing.T) {
	b := startBackend(t, "s1")
	site, err := filepath.Abs("../config/testdata/site.pem")
	if err != nil {
		t.Fatal(err)
	}
	ptls := freePort(t)
	pr := freePort(t)
	sock := filepath.Join(t.TempDir(), "fe.sock")
	// 192.0.2.1 (TEST-NET-1) is not configured here: IP_FREEBIND lets the proxy listen before the VIP arrives.
	pv := freePort(t)
	s := startProxy(t, defaults+`
frontend tls
    bind 127.0.0.1:{PT} ssl crt {SITE}
    default_backend app
frontend many
    bind 127.0.0.1:{PR},127.0.0.2:{PR} name multi
    bind unix@{SOCK} mode 600
    bind 192.0.2.1:{PV}
    default_backend app
backend app
    server s1 127.0.0.1:{B}
`, map[string]any{"PT": ptls, "SITE": site, "PR": pr, "SOCK": sock, "PV": pv, "B": b.port})
	if err := s.Healthy(); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", ptls))
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "s1\n" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "" && resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("https answer %q alpn %q", body, resp.TLS.NegotiatedProtocol)
	}
	for _, host := range []string{"127.0.0.1", "127.0.0.2"} {
		if _, got, _ := get(t, fmt.Sprintf("http://%s:%d/", host, pr)); got != "s1" {
			t.Errorf("bind list %s: %q", host, got)
		}
	}
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("unix bind: %v", err)
	}
	defer uc.Close()
	_ = uc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(uc, "GET / HTTP/1.0\r\n\r\n")
	all, _ := io.ReadAll(uc)
	if len(all) < 12 || string(all[:12]) != "HTTP/1.1 200" {
		t.Errorf("unix bind answer %q", all)
	}
	addrs := s.Addrs()
	if len(addrs["many"]) != 4 {
		t.Errorf("listeners of 'many': %v", addrs["many"])
	}
}

func TestServerNamesResolveOnLoad(t *testing.T) {
	if got := resolveOnce("127.0.0.1"); got != "127.0.0.1" {
		t.Errorf("address changed: %q", got)
	}
	if got := resolveOnce("localhost"); got != "127.0.0.1" && got != "::1" {
		t.Errorf("localhost resolved to %q", got)
	}
	if got := resolveOnce("no-such-host.invalid"); got != "no-such-host.invalid" {
		t.Errorf("unresolvable name not kept: %q", got)
	}
}
