package client

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var key = []byte("0123456789abcdef0123456789abcdef")

// fakeDaemon accepts one TCP connection, checks the request, authenticates and then writes answer
// (which may be cut short). It returns the request it read.
func fakeDaemon(t *testing.T, answer []byte) (port int, got <-chan xvm.Request) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan xvm.Request, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		var pkt [xvm.RequestSize]byte
		if _, err := io.ReadFull(conn, pkt[:]); err != nil {
			return
		}
		if err := xvm.Verify(pkt[:], key, xvm.HashSHA256); err != nil {
			t.Errorf("fake daemon: %v", err)
			return
		}
		r, _ := xvm.Decode(pkt[:])
		ch <- r
		if err := xvm.DaemonAuth(conn, key, xvm.HashSHA256, rand.Reader); err != nil {
			return
		}
		conn.Write(answer)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port, ch
}

func tcpClient(t *testing.T, port int) *Client {
	t.Helper()
	c, err := New(Config{Mode: TCP, Addr: "127.0.0.1", Port: port, Key: key, Hash: xvm.HashSHA256,
		Auth: xvm.HashSHA256, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResultMapping(t *testing.T) {
	ctx := context.Background()
	rec := xvm.HostRecord{Domain: "vm1", UUID: "u1", State: xvm.StatePaused}.Encode()
	list := append(append([]byte{0xfd}, rec[:]...), make([]byte, xvm.HostRecordSize+1)...)
	tests := []struct {
		name   string
		answer []byte
		call   func(c *Client) error
		want   error
	}{
		{"off ok", []byte{0}, func(c *Client) error { return c.Fence(ctx, "vm1", fencing.Off) }, nil},
		{"off fail", []byte{1}, func(c *Client) error { return c.Fence(ctx, "vm1", fencing.Off) }, fencing.ErrFailed},
		{"off denied", []byte{3}, func(c *Client) error { return c.Fence(ctx, "vm1", fencing.Off) }, fencing.ErrDenied},
		{"off answered 2", []byte{2}, func(c *Client) error { return c.Fence(ctx, "vm1", fencing.Off) }, fencing.ErrFailed},
		{"no result", nil, func(c *Client) error { return c.Fence(ctx, "vm1", fencing.Reboot) }, ErrNoResult},
		{"status on", []byte{0}, func(c *Client) error {
			st, err := c.Status(ctx, "vm1")
			if err == nil && st != fencing.PoweredOn {
				return errors.New(st.String())
			}
			return err
		}, nil},
		{"status off", []byte{2}, func(c *Client) error {
			st, err := c.Status(ctx, "vm1")
			if err == nil && st != fencing.PoweredOff {
				return errors.New(st.String())
			}
			return err
		}, nil},
		{"status denied", []byte{3}, func(c *Client) error { _, err := c.Status(ctx, "vm1"); return err }, fencing.ErrDenied},
		{"list", list, func(c *Client) error {
			hosts, err := c.List(ctx)
			if err == nil && (len(hosts) != 1 || hosts[0] != fencing.Host{Name: "vm1", UUID: "u1", State: fencing.PoweredOn}) {
				return errors.New("bad hosts")
			}
			return err
		}, nil},
		{"list cut short", list[:50], func(c *Client) error { _, err := c.List(ctx); return err }, xvm.ErrHostList},
		{"list answered 1", []byte{1}, func(c *Client) error { _, err := c.List(ctx); return err }, fencing.ErrFailed},
		{"monitor", []byte{0}, func(c *Client) error { return c.Monitor(ctx) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port, got := fakeDaemon(t, tc.answer)
			err := tc.call(tcpClient(t, port))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			r := <-got
			if r.Family != xvm.FamilyNone || r.Port != 0 || r.AddrLen != 0 {
				t.Errorf("TCP-mode request with callback fields: %+v", r)
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	port, got := fakeDaemon(t, []byte{0})
	c, err := New(Config{Mode: TCP, Port: port, Key: key, Hash: xvm.HashSHA256, Auth: xvm.HashSHA256,
		UseUUID: true, Seqno: func() uint32 { return 123456 }, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fence(context.Background(), "6695eb01-f6a4-8304-79aa-97f2502e193f", fencing.On); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.Op != xvm.OpOn || r.Seqno != 123456 || r.Flags != xvm.FlagUUID || r.Hash != xvm.HashSHA256 || r.Domain != "6695eb01-f6a4-8304-79aa-97f2502e193f" {
		t.Fatalf("request %+v", r)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"hash without key", Config{Hash: xvm.HashSHA256}, "need a key"},
		{"unicast group", Config{Group: "10.0.0.1"}, "not a multicast address"},
		{"family mismatch", Config{Family: IPv4, Group: "ff05::3:1"}, "does not match"},
		{"port", Config{Port: 70000}, "out of range"},
		{"bad hash", Config{Hash: 7, Key: key}, "unknown hash"},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	c, err := New(Config{Family: IPv6})
	if err != nil || c.cfg.Group != xvm.DefaultGroupIPv6 || c.cfg.Port != 1229 || c.cfg.Retrans != 2*time.Second {
		t.Fatalf("defaults: %+v %v", c.cfg, err)
	}
	if _, err := c.Do(context.Background(), xvm.OpOff, strings.Repeat("x", 64)); err == nil {
		t.Fatal("64-byte domain accepted")
	}
}

func TestTCPConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if _, err := tcpClient(t, port).Status(context.Background(), "vm1"); err == nil {
		t.Fatal("status against a closed port succeeded")
	}
}

func TestInterfaceAddrs(t *testing.T) {
	v4, err := InterfaceAddrs(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range v4 {
		if !a.Addr.Is4() {
			t.Errorf("IPv4 list holds %s", a.Addr)
		}
	}
	v6, _ := InterfaceAddrs(true)
	for _, a := range v6 {
		if !a.Addr.Is6() || a.Addr.IsLoopback() || a.Addr.IsLinkLocalUnicast() {
			t.Errorf("IPv6 list holds %s", a.Addr)
		}
	}
}
