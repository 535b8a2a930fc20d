package interop

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/internal/nettest"
)

// inject sends raw datagrams to the IPv4 group from n1 and listens for callbacks there.
type inject struct {
	t  *testing.T
	n1 *nettest.Host
}

func (in inject) send(pkt []byte) {
	in.t.Helper()
	err := in.n1.Do(func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP("10.250.0.11")}, &net.UDPAddr{IP: net.ParseIP(xvm.DefaultGroupIPv4), Port: xvm.DefaultPort})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(pkt)
		return err
	})
	if err != nil {
		in.t.Fatalf("send datagram: %v", err)
	}
}

func (in inject) listen() *net.TCPListener {
	in.t.Helper()
	var ln *net.TCPListener
	err := in.n1.Do(func() error {
		var err error
		ln, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: net.ParseIP("10.250.0.11")})
		return err
	})
	if err != nil {
		in.t.Fatalf("listen for callback: %v", err)
	}
	in.t.Cleanup(func() { ln.Close() })
	return ln
}

// request builds a signed multicast request calling back to port on n1.
func request(t *testing.T, op xvm.Op, domain string, seq uint32, port int) []byte {
	t.Helper()
	r := xvm.Request{Op: op, Domain: domain, Seqno: seq, Family: xvm.FamilyInet, AddrLen: 4,
		Address: netip.MustParseAddr("10.250.0.11"), Port: uint16(port)}
	b, err := r.Sign([]byte(testKey), xvm.HashSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b[:]
}

// noCallback asserts that the daemon does not connect back within a few seconds.
func noCallback(t *testing.T, ln *net.TCPListener, what string) {
	t.Helper()
	ln.SetDeadline(time.Now().Add(3 * time.Second))
	c, err := ln.Accept()
	if err == nil {
		c.Close()
		t.Fatalf("%s: the daemon called back", what)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%s: accept: %v", what, err)
	}
}

// exchange accepts the daemon's callback, authenticates and returns the result byte.
func exchange(t *testing.T, ln *net.TCPListener) byte {
	t.Helper()
	ln.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("no callback: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := xvm.ClientAuth(c, []byte(testKey), xvm.HashSHA256, rand.Reader); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatalf("read result: %v", err)
	}
	return b[0]
}

// TestBadInput sends malformed, forged and replayed requests to both daemons: none is acted on, and the
// daemon keeps serving.
func TestBadInput(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	duetXVM, duetVirtd := binaries(t)
	for _, d := range []struct{ name, bin string }{{"Duet fence_virtd", duetVirtd}, {"real fence_virtd", "fence_virtd"}} {
		t.Run(d.name, func(t *testing.T) {
			fv, n1 := topology(t, false)
			n1.Run("ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			startDaemon(t, fv, d.bin, writeFile(t, dir, "f.conf", mcastConf(key, "ipv4", "")), false)
			in := inject{t, n1}
			ln := in.listen()
			port := ln.Addr().(*net.TCPAddr).Port
			statusOn := func(what string) {
				t.Helper()
				code, out := runClient(t, n1, "", duetXVM, "-k", key, "-t", "20", "-o", "status", "-H", "test")
				if code != 0 || !strings.Contains(out, "Status: ON") {
					t.Fatalf("after %s: status exit %d %q, want ON (nothing fenced, daemon alive)", what, code, out)
				}
			}
			cases := []struct {
				name string
				pkt  []byte
			}{
				{"truncated datagram", request(t, xvm.OpOff, "test", 1001, port)[:100]},
				{"empty datagram", []byte{}},
				{"bad hash", func() []byte { b := request(t, xvm.OpOff, "test", 1002, port); b[130] ^= 0x55; return b }()},
				{"tampered domain", func() []byte { b := request(t, xvm.OpOff, "test", 1003, port); b[4] = 'T'; return b }()},
				{"unknown hash type", func() []byte { b := request(t, xvm.OpOff, "test", 1004, port); b[1] = 7; return b }()},
				{"garbage", []byte(strings.Repeat("\xff", xvm.RequestSize))},
			}
			if d.bin == duetVirtd {
				// The real daemon reads the first 176 bytes of a longer datagram and accepts them; Duet drops it.
				cases = append(cases, struct {
					name string
					pkt  []byte
				}{"oversized datagram", append(request(t, xvm.OpOff, "test", 1005, port), make([]byte, 100)...)})
			}
			for _, c := range cases {
				in.send(c.pkt)
				noCallback(t, ln, c.name)
			}
			statusOn("malformed datagrams")

			// A genuine off is served once; the same bytes again are not, within the 10-second window.
			off := request(t, xvm.OpOff, "test", 2001, port)
			in.send(off)
			if res := exchange(t, ln); res != 0 {
				t.Fatalf("genuine off: result %d", res)
			}
			if code, out := runClient(t, n1, "", duetXVM, "-k", key, "-t", "20", "-o", "on", "-H", "test"); code != 0 {
				t.Fatalf("power on: %d %q", code, out)
			}
			in.send(off)
			noCallback(t, ln, "replayed request")
			in.send(request(t, xvm.OpOff, "test", 2001, port)) // a retransmission: same seqno, new random
			noCallback(t, ln, "retransmitted request")
			statusOn("replayed requests")

			// Callback ports that refuse, or accept and never speak: abandoned, nothing fenced.
			closed := in.listen()
			closedPort := closed.Addr().(*net.TCPAddr).Port
			closed.Close()
			in.send(request(t, xvm.OpOff, "test", 3001, closedPort))
			if d.bin == duetVirtd {
				// Duet handles requests concurrently: a stalled callback does not hold up others.
				stall := in.listen()
				in.send(request(t, xvm.OpOff, "test", 3002, stall.Addr().(*net.TCPAddr).Port))
				stall.SetDeadline(time.Now().Add(30 * time.Second))
				sc, err := stall.Accept()
				if err != nil {
					t.Fatalf("stalled callback: %v", err)
				}
				defer sc.Close()
				statusOn("a stalled callback (while it stalls)")
			}
			statusOn("refused and stalled callbacks")
		})
	}
}

// TestConfigSyntaxError: Duet's fence_virtd names the file and line and exits 255, like the real one.
func TestConfigSyntaxError(t *testing.T) {
	_, duetVirtd := binaries(t)
	dir := t.TempDir()
	conf := writeFile(t, dir, "bad.conf", "fence_virtd {\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\"\n}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, duetVirtd, "-F", "-f", conf, "-p", dir+"/pid").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("exit: %v, want 255", err)
	}
	if want := conf + ":4: syntax error: unexpected '}'"; !strings.Contains(string(out), want) {
		t.Fatalf("output %q, want it to contain %q", out, want)
	}
}
