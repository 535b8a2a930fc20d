package virtd

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
)

func TestMain(m *testing.M) {
	// The libvirt helper tests start this test binary as the helper, as fence_virtd starts itself.
	if len(os.Args) == 3 && os.Args[1] == "-libvirt-helper" {
		if err := RunLibvirtHelper(os.Args[2], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// fakeDevice is an in-memory fence device that records every call.
type fakeDevice struct {
	mu    sync.Mutex
	state map[string]fencing.PowerState
	calls []string
	fail  bool
}

func newFake() *fakeDevice {
	return &fakeDevice{state: map[string]fencing.PowerState{"vm1": fencing.PoweredOn, "vm2": fencing.PoweredOff}}
}

func (f *fakeDevice) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeDevice) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeDevice) Fence(_ context.Context, target string, a fencing.Action) error {
	f.record(a.String() + " " + target)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return fencing.ErrFailed
	}
	if _, ok := f.state[target]; !ok {
		return fencing.ErrNotFound
	}
	if a == fencing.On || a == fencing.Reboot && f.state[target] == fencing.PoweredOn {
		f.state[target] = fencing.PoweredOn
	} else {
		f.state[target] = fencing.PoweredOff
	}
	return nil
}

func (f *fakeDevice) Status(_ context.Context, target string) (fencing.PowerState, error) {
	f.record("status " + target)
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.state[target]
	if !ok {
		return fencing.Unknown, fencing.ErrNotFound
	}
	return st, nil
}

func (f *fakeDevice) List(context.Context) ([]fencing.Host, error) {
	f.record("list")
	f.mu.Lock()
	defer f.mu.Unlock()
	return []fencing.Host{{Name: "vm2", UUID: "u2", State: f.state["vm2"]}, {Name: "VM1", State: f.state["vm1"]}}, nil
}

func (f *fakeDevice) Monitor(context.Context) error {
	f.record("monitor")
	if f.fail {
		return fencing.ErrFailed
	}
	return nil
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

type harness struct {
	dev *fakeDevice
	srv *Server
	l   *Listener
	log *bytes.Buffer
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// startTCP runs a server with a TCP listener on 127.0.0.1 (ephemeral port) until the test ends.
func startTCP(t *testing.T, o Options) *harness {
	t.Helper()
	dev := newFake()
	if o.Device == nil {
		o.Device = dev
	}
	if o.Key == nil {
		o.Key = testKey
	}
	lb := &lockedBuf{}
	o.Logger = slog.New(slog.NewTextHandler(lb, nil))
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Start(context.Background(), "tcp", ListenerConfig{Address: netip.MustParseAddr("127.0.0.1"), Port: 0}, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Stop()
		if t.Failed() {
			lb.mu.Lock()
			t.Logf("daemon log:\n%s", lb.b.String())
			lb.mu.Unlock()
		}
	})
	return &harness{dev: dev, srv: srv, l: l}
}

func (h *harness) client(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	cfg.Mode = client.TCP
	cfg.Addr = "127.0.0.1"
	cfg.Port = h.l.Addr().(*net.TCPAddr).Port
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerOperations(t *testing.T) {
	h := startTCP(t, Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	c := h.client(t, client.Config{Hash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	ctx := context.Background()
	tests := []struct {
		op     xvm.Op
		domain string
		want   xvm.Result
		call   string
	}{
		{xvm.OpStatus, "vm1", xvm.ResultSuccess, "status vm1"},
		{xvm.OpStatus, "vm2", xvm.ResultOff, "status vm2"},
		{xvm.OpStatus, "nosuch", xvm.ResultOff, "status nosuch"},
		{xvm.OpOff, "vm1", xvm.ResultSuccess, "off vm1"},
		{xvm.OpStatus, "vm1", xvm.ResultOff, "status vm1"},
		{xvm.OpOn, "vm1", xvm.ResultSuccess, "on vm1"},
		{xvm.OpReboot, "vm1", xvm.ResultSuccess, "reboot vm1"},
		{xvm.OpOff, "nosuch", xvm.ResultFail, "off nosuch"},
		{xvm.OpDevStatus, "", xvm.ResultSuccess, "monitor"},
		{xvm.OpNull, "vm1", xvm.ResultFail, ""},
		{xvm.Op(42), "vm1", xvm.ResultFail, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s_%s", tc.op, tc.domain), func(t *testing.T) {
			before := len(h.dev.Calls())
			resp, err := c.Do(ctx, tc.op, tc.domain)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Result != tc.want {
				t.Fatalf("result %s, want %s", resp.Result, tc.want)
			}
			calls := h.dev.Calls()[before:]
			if tc.call == "" && len(calls) != 0 || tc.call != "" && (len(calls) != 1 || calls[0] != tc.call) {
				t.Fatalf("device calls %q, want %q", calls, tc.call)
			}
		})
	}
	resp, err := c.Do(ctx, xvm.OpHostList, "")
	if err != nil || resp.Result != xvm.ResultHostList {
		t.Fatalf("list: %+v %v", resp, err)
	}
	want := []xvm.HostRecord{{Domain: "VM1", State: xvm.StateRunning}, {Domain: "vm2", UUID: "u2", State: xvm.StateShutoff}}
	if len(resp.Hosts) != 2 || resp.Hosts[0] != want[0] || resp.Hosts[1] != want[1] {
		t.Fatalf("hosts %+v, want %+v (sorted case-insensitively)", resp.Hosts, want)
	}
	// The Device view of the same client.
	if st, err := c.Status(ctx, "vm2"); err != nil || st != fencing.PoweredOff {
		t.Fatalf("Status(vm2) = %v, %v", st, err)
	}
	if err := c.Fence(ctx, "nosuch", fencing.Off); !errors.Is(err, fencing.ErrFailed) {
		t.Fatalf("Fence(nosuch) = %v, want ErrFailed", err)
	}
	if hosts, err := c.List(ctx); err != nil || len(hosts) != 2 || hosts[1].State != fencing.PoweredOff {
		t.Fatalf("List = %+v, %v", hosts, err)
	}
	if err := c.Monitor(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestServerRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		srv     Options
		cli     client.Config
		wantErr error
	}{
		{"wrong key", Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256},
			client.Config{Key: []byte("wrong"), Hash: xvm.HashSHA256, Auth: xvm.HashSHA256}, xvm.ErrAuth},
		{"hash weaker than minimum", Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256},
			client.Config{Hash: xvm.HashSHA1, Auth: xvm.HashSHA256}, xvm.ErrAuth},
		{"unsigned to a signing daemon", Options{MinHash: xvm.HashSHA1, Auth: xvm.HashSHA256},
			client.Config{Hash: xvm.HashNone, Auth: xvm.HashSHA256}, xvm.ErrAuth},
		{"auth algorithm mismatch", Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256},
			client.Config{Hash: xvm.HashSHA256, Auth: xvm.HashSHA512}, xvm.ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startTCP(t, tc.srv)
			c := h.client(t, tc.cli)
			_, err := c.Do(ctx, xvm.OpOff, "vm1")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			for _, call := range h.dev.Calls() {
				if call == "off vm1" {
					t.Fatal("the device was fenced")
				}
			}
		})
	}
}

func TestServerNoAuth(t *testing.T) {
	h := startTCP(t, Options{Key: []byte{}, MinHash: xvm.HashNone, Auth: xvm.HashNone})
	c := h.client(t, client.Config{Key: []byte{}, Hash: xvm.HashNone, Auth: xvm.HashNone})
	if st, err := c.Status(context.Background(), "vm1"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status = %v, %v", st, err)
	}
}

func TestServerStaticMap(t *testing.T) {
	h := startTCP(t, Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256,
		Groups: []Group{{Name: "g", IPs: []string{"127.0.0.1"}, UUIDs: []string{"VM2", "u-none"}}}})
	c := h.client(t, client.Config{Hash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	ctx := context.Background()
	if err := c.Fence(ctx, "vm1", fencing.Off); !errors.Is(err, fencing.ErrDenied) {
		t.Fatalf("Fence(vm1) = %v, want ErrDenied", err)
	}
	if _, err := c.Status(ctx, "vm1"); !errors.Is(err, fencing.ErrDenied) {
		t.Fatalf("Status(vm1) = %v, want ErrDenied", err)
	}
	if err := c.Fence(ctx, "vm2", fencing.On); err != nil {
		t.Fatalf("Fence(vm2) = %v", err)
	}
	hosts, err := c.List(ctx)
	if err != nil || len(hosts) != 1 || hosts[0].Name != "vm2" {
		t.Fatalf("List = %+v, %v; want only vm2", hosts, err)
	}
	for _, call := range h.dev.Calls() {
		if call == "off vm1" || call == "status vm1" {
			t.Fatalf("denied request reached the device: %q", h.dev.Calls())
		}
	}
}

// rawExchange sends pkt on a new TCP connection and runs the client side by hand; it returns the result
// byte, or an error when the daemon hung up first.
func rawExchange(t *testing.T, addr string, pkt []byte) (byte, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(pkt); err != nil {
		return 0, err
	}
	if err := xvm.ClientAuth(conn, testKey, xvm.HashSHA256, rand.Reader); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

func signed(t *testing.T, op xvm.Op, domain string, seq uint32) []byte {
	t.Helper()
	r := xvm.Request{Op: op, Domain: domain, Seqno: seq}
	b, err := r.Sign(testKey, xvm.HashSHA256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b[:]
}

func TestServerReplayAndBadInput(t *testing.T) {
	h := startTCP(t, Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	addr := h.l.Addr().String()
	off := signed(t, xvm.OpOff, "vm1", 4711)
	if res, err := rawExchange(t, addr, off); err != nil || res != 0 {
		t.Fatalf("first off: %d, %v", res, err)
	}
	// The same bytes again, and a new copy with the same seqno (a retransmission): both dropped.
	if _, err := rawExchange(t, addr, off); err == nil {
		t.Fatal("replayed request was answered")
	}
	if _, err := rawExchange(t, addr, signed(t, xvm.OpOff, "VM1", 4711)); err == nil {
		t.Fatal("retransmitted request was answered")
	}
	bad := append([]byte(nil), off...)
	bad[150] ^= 0xff
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"bad hash", func() []byte { b := signed(t, xvm.OpOff, "vm1", 1); b[120] ^= 1; return b }()},
		{"unknown hash type", func() []byte { b := signed(t, xvm.OpOff, "vm1", 2); b[1] = 9; return b }()},
		{"truncated", signed(t, xvm.OpOff, "vm1", 3)[:100]},
		{"empty", nil},
		{"garbage", bytes.Repeat([]byte{0xff}, xvm.RequestSize)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(tc.pkt)
			conn.(*net.TCPConn).CloseWrite()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			if n, _ := io.Copy(io.Discard, conn); n != 0 {
				t.Fatalf("daemon answered %d bytes", n)
			}
		})
	}
	calls := h.dev.Calls()
	if len(calls) != 1 || calls[0] != "off vm1" {
		t.Fatalf("device calls %q, want exactly one off", calls)
	}
}

// A client that connects and says nothing does not hold up others.
func TestServerStalledClient(t *testing.T) {
	h := startTCP(t, Options{MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	stalled, err := net.Dial("tcp", h.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write(signed(t, xvm.OpOff, "vm1", 99)) // then never answers the challenge
	c := h.client(t, client.Config{Hash: xvm.HashSHA256, Auth: xvm.HashSHA256})
	if st, err := c.Status(context.Background(), "vm2"); err != nil || st != fencing.PoweredOff {
		t.Fatalf("Status while another client stalls: %v, %v", st, err)
	}
}

// The multicast callback: a port that refuses, and one that accepts but never speaks. Neither fences,
// and the request stays claimable (another copy may still succeed).
func TestServerCallbackFailures(t *testing.T) {
	dev := newFake()
	srv, err := NewServer(Options{Device: dev, Key: testKey, MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256,
		CallbackTimeout: 2 * time.Second, StepTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// A port that accepts and stalls.
	stall, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := stall.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	for _, port := range []int{refused, stall.Addr().(*net.TCPAddr).Port} {
		r := xvm.Request{Op: xvm.OpOff, Domain: "vm1", Seqno: uint32(port), Family: xvm.FamilyInet, AddrLen: 4,
			Address: netip.MustParseAddr("127.0.0.1"), Port: uint16(port)}
		pkt, err := r.Sign(testKey, xvm.HashSHA256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		req, ok := srv.admit(pkt[:], "127.0.0.1")
		if !ok {
			t.Fatal("valid request not admitted")
		}
		srv.serve(context.Background(), req, "127.0.0.1", nil)
		if !srv.hist.claim(req, time.Now()) {
			t.Fatalf("port %d: failed request was recorded in history", port)
		}
		srv.hist.finish(req, false, time.Now())
	}
	if c, ok := <-accepted; ok {
		c.Close()
	}
	if calls := dev.Calls(); len(calls) != 0 {
		t.Fatalf("device calls %q after failed callbacks", calls)
	}
	// A datagram whose callback address is unusable is abandoned too.
	r := xvm.Request{Op: xvm.OpOff, Domain: "vm1", Seqno: 5, Family: xvm.FamilyInet, AddrLen: 4,
		Address: netip.MustParseAddr("225.0.0.12"), Port: 1229}
	pkt, _ := r.Sign(testKey, xvm.HashSHA256, rand.Reader)
	req, _ := srv.admit(pkt[:], "x")
	srv.serve(context.Background(), req, "x", nil)
	if calls := dev.Calls(); len(calls) != 0 {
		t.Fatalf("device calls %q", calls)
	}
}

func TestHistory(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1000, 0)
	r := xvm.Request{Op: xvm.OpOff, Domain: "Vm1", Seqno: 1}
	if !h.claim(r, t0) {
		t.Fatal("first claim refused")
	}
	if h.claim(r, t0) {
		t.Fatal("claim of an in-flight request accepted")
	}
	h.finish(r, true, t0)
	tests := []struct {
		r    xvm.Request
		at   time.Duration
		want bool
	}{
		{xvm.Request{Op: xvm.OpOff, Domain: "VM1", Seqno: 1}, 9 * time.Second, false}, // case-insensitive
		{xvm.Request{Op: xvm.OpOn, Domain: "vm1", Seqno: 1}, time.Second, true},       // other op
		{xvm.Request{Op: xvm.OpOff, Domain: "vm1", Seqno: 2}, time.Second, true},      // other seqno
		{xvm.Request{Op: xvm.OpOff, Domain: "vm1", Seqno: 1}, 10 * time.Second, true}, // window over
	}
	for i, tc := range tests {
		got := h.claim(tc.r, t0.Add(tc.at))
		if got != tc.want {
			t.Errorf("case %d: claim = %v, want %v", i, got, tc.want)
		}
		if got {
			h.finish(tc.r, false, t0.Add(tc.at))
		}
	}
}

func TestStaticMap(t *testing.T) {
	m := staticMap{{Name: "g1", IPs: []string{"127.0.0.1"}, UUIDs: []string{"othervm"}}}
	tests := []struct {
		src, target string
		want        bool
	}{
		{"127.0.0.1", "test", false},
		{"127.0.0.1", "othervm", true},
		{"127.0.0.1", "OTHERVM", true},
		{"10.0.0.1", "othervm", false},
	}
	for _, tc := range tests {
		if got := m.allowed(tc.src, tc.target); got != tc.want {
			t.Errorf("allowed(%s, %s) = %v", tc.src, tc.target, got)
		}
	}
	if !staticMap(nil).allowed("any", "thing") {
		t.Error("empty map denies")
	}
	hosts := m.filter("127.0.0.1", []fencing.Host{{Name: "test", UUID: "u"}, {Name: "x", UUID: "othervm"}})
	if len(hosts) != 1 || hosts[0].Name != "x" {
		t.Errorf("filter = %+v", hosts)
	}
}

func TestMainConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.conf"
	os.WriteFile(bad, []byte("fence_virtd {\n listener = \"tcp\";\n backend = libvirt;\n}\n"), 0o600)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"-f", bad, "-p", ""}, &out, &errb)
	if code != 255 || !bytes.Contains(errb.Bytes(), []byte(bad+":3: syntax error")) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	missingKey := dir + "/nokey.conf"
	os.WriteFile(missingKey, []byte(`fence_virtd { listener = "tcp"; backend = "netns"; }
listeners { tcp { key_file = "`+dir+`/nokey"; port = "1"; } }`), 0o600)
	if code := Main(context.Background(), []string{"-f", missingKey, "-p", ""}, &out, &errb); code != 1 ||
		!bytes.Contains(errb.Bytes(), []byte("nokey")) {
		t.Fatalf("missing key: exit %d, stderr %q", code, errb.String())
	}
	if code := Main(context.Background(), []string{"-c"}, &out, &errb); code != 1 {
		t.Fatalf("-c: exit %d", code)
	}
	out.Reset()
	if code := Main(context.Background(), []string{"-l"}, &out, &errb); code != 0 || !bytes.Contains(out.Bytes(), []byte("multicast")) {
		t.Fatalf("-l: exit %d, %q", code, out.String())
	}
}

// Main runs a TCP daemon until its context ends, with a pid file it refuses to share and removes.
func TestMainRunsAndStops(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/key", testKey, 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := dir + "/tcp.conf"
	os.WriteFile(conf, []byte(fmt.Sprintf(`fence_virtd { listener = "tcp"; backend = "exec"; }
listeners { tcp { key_file = "%s/key"; address = "127.0.0.1"; port = "%d"; } }
backends { exec { off = "/bin/true"; status = "/bin/false"; } }`, dir, port)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb lockedBuf
	go func() { done <- Main(ctx, []string{"-F", "-f", conf, "-p", dir + "/pid"}, io.Discard, &errb) }()
	c, err := client.New(client.Config{Mode: client.TCP, Addr: "127.0.0.1", Port: port, Key: testKey,
		Hash: xvm.HashSHA256, Auth: xvm.HashSHA256, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	for i := 0; i < 100; i++ { // the daemon may still be starting
		if ferr = c.Fence(ctx, "anything", fencing.Off); ferr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ferr != nil {
		t.Fatalf("fence through Main's daemon: %v", ferr)
	}
	if _, err := os.Stat(dir + "/pid"); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	// A pid file naming a live process (pid 1 here) stops a second daemon before it binds.
	os.WriteFile(dir+"/pid1", []byte("1\n"), 0o644)
	var out2 bytes.Buffer
	if code := Main(ctx, []string{"-f", conf, "-p", dir + "/pid1"}, io.Discard, &out2); code != 1 ||
		!bytes.Contains(out2.Bytes(), []byte("already running")) {
		t.Fatalf("second daemon: exit %d, %q", code, out2.String())
	}
	cancel()
	if code := <-done; code != 0 {
		errb.mu.Lock()
		t.Fatalf("exit %d: %s", code, errb.b.String())
	}
	if _, err := os.Stat(dir + "/pid"); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}
