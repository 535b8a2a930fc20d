package vip

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duet-ha/duet/agents"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if ip := os.Getenv("DUET_VIP_HELPER"); ip != "" {
		os.Exit(vipHelper(ip))
	}
	goleak.VerifyTestMain(m)
}

func req(rsc string, kv ...string) agents.Request {
	p := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return agents.Request{Resource: rsc, Agent: "ocf:duet:vip", Params: p}
}

func newTestAgent(t *testing.T, f *fakeKernel) *Agent {
	t.Helper()
	a := New(Options{Kernel: f, Watcher: f, RefreshInterval: -1})
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func TestStartGolden(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeKernel)
		params  []string
		wantOps string
		want    string
	}{
		{
			name:    "nic and netmask given",
			params:  []string{"ip", "10.250.0.100", "cidr_netmask", "24", "nic", "eth0"},
			wantOps: "ip addr replace 10.250.0.100/24 dev eth0",
			want:    "eth0 10.250.0.1/24 10.250.0.100/24 fd00::1/64\neth1 192.168.7.1/24\n",
		},
		{
			name:    "nic and prefix from the connected route",
			params:  []string{"ip", "192.168.7.50"},
			wantOps: "ip addr replace 192.168.7.50/24 dev eth1",
			want:    "eth0 10.250.0.1/24 fd00::1/64\neth1 192.168.7.1/24 192.168.7.50/24\n",
		},
		{
			name:    "dotted netmask and label",
			params:  []string{"ip", "10.250.0.100", "cidr_netmask", "255.255.0.0", "nic", "eth0", "iflabel", "vip"},
			wantOps: "ip addr replace 10.250.0.100/16 dev eth0 label eth0:vip",
			want:    "eth0 10.250.0.1/24 10.250.0.100/16(eth0:vip) fd00::1/64\neth1 192.168.7.1/24\n",
		},
		{
			name:    "nic without a matching route gives a host prefix",
			params:  []string{"ip", "10.99.0.1", "nic", "eth1"},
			wantOps: "ip addr replace 10.99.0.1/32 dev eth1",
			want:    "eth0 10.250.0.1/24 fd00::1/64\neth1 10.99.0.1/32 192.168.7.1/24\n",
		},
		{
			name: "stale copies elsewhere and with another prefix are removed",
			setup: func(f *fakeKernel) {
				f.addrs = append(f.addrs, Addr{Link: "eth1", Prefix: netip.MustParsePrefix("10.250.0.100/32")},
					Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.100/25")})
			},
			params:  []string{"ip", "10.250.0.100", "cidr_netmask", "24"},
			wantOps: "ip addr del 10.250.0.100/32 dev eth1\nip addr del 10.250.0.100/25 dev eth0\nip addr replace 10.250.0.100/24 dev eth0",
			want:    "eth0 10.250.0.1/24 10.250.0.100/24 fd00::1/64\neth1 192.168.7.1/24\n",
		},
		{
			name: "already there: nothing to do",
			setup: func(f *fakeKernel) {
				f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.100/24")})
			},
			params:  []string{"ip", "10.250.0.100"},
			wantOps: "",
			want:    "eth0 10.250.0.1/24 10.250.0.100/24 fd00::1/64\neth1 192.168.7.1/24\n",
		},
		{
			name:    "ipv6 without dad",
			params:  []string{"ip", "fd00::100", "nodad", "true"},
			wantOps: "ip addr replace fd00::100/64 dev eth0 nodad",
			want:    "eth0 10.250.0.1/24 fd00::1/64 fd00::100/64\neth1 192.168.7.1/24\n",
		},
		{
			name: "ipv6 address that failed dad is replaced",
			setup: func(f *fakeKernel) {
				f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("fd00::100/64"), DADFailed: true})
			},
			params:  []string{"ip", "fd00::100"},
			wantOps: "ip addr del fd00::100/64 dev eth0\nip addr replace fd00::100/64 dev eth0",
			want:    "eth0 10.250.0.1/24 fd00::1/64 fd00::100/64\neth1 192.168.7.1/24\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKernel()
			if tt.setup != nil {
				f.set(tt.setup)
			}
			a := newTestAgent(t, f)
			ctx := context.Background()
			if res := a.Start(ctx, req("vip", tt.params...)); res.RC != agents.Success {
				t.Fatalf("Start = %+v", res)
			}
			if got := f.takeOps(); got != tt.wantOps {
				t.Errorf("ops:\n%s\nwant:\n%s", got, tt.wantOps)
			}
			if got := f.String(); got != tt.want {
				t.Errorf("state:\n%s\nwant:\n%s", got, tt.want)
			}
			if res := a.Monitor(ctx, req("vip", tt.params...)); res.RC != agents.Success {
				t.Errorf("Monitor after Start = %+v", res)
			}
			// Idempotent: a second Start changes nothing.
			if res := a.Start(ctx, req("vip", tt.params...)); res.RC != agents.Success {
				t.Fatalf("second Start = %+v", res)
			}
			if got := f.takeOps(); got != "" {
				t.Errorf("second Start changed the kernel:\n%s", got)
			}
			if res := a.Stop(ctx, req("vip", tt.params...)); res.RC != agents.Success {
				t.Fatalf("Stop = %+v", res)
			}
			if got := f.String(); strings.Contains(got, strings.Split(tt.params[1], "/")[0]+"/") {
				t.Errorf("address still there after Stop:\n%s", got)
			}
			if res := a.Monitor(ctx, req("vip", tt.params...)); res.RC != agents.NotRunning {
				t.Errorf("Monitor after Stop = %+v", res)
			}
			f.takeOps()
			if res := a.Stop(ctx, req("vip", tt.params...)); res.RC != agents.Success || f.takeOps() != "" {
				t.Errorf("second Stop = %+v, or it changed the kernel", res)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		rc     agents.RC
		reason string
	}{
		{"missing ip", []string{"nic", "eth0"}, agents.ErrConfigured, "parameter ip is required"},
		{"bad ip", []string{"ip", "10.250.0.300"}, agents.ErrConfigured, "parameter ip is not an IPv4 or IPv6 address"},
		{"loopback ip", []string{"ip", "127.0.0.5"}, agents.ErrConfigured, "parameter ip 127.0.0.5 is not a unicast address"},
		{"no such nic", []string{"ip", "10.250.0.100", "nic", "eth9"}, agents.ErrArgs, "parameter nic names interface eth9, which does not exist on this node"},
		{"no route and no nic", []string{"ip", "172.31.0.1"}, agents.ErrArgs, "parameter nic is not set and no interface on this node has a connected route to 172.31.0.1"},
		{"prefix too long", []string{"ip", "10.250.0.100", "cidr_netmask", "33"}, agents.ErrConfigured, "parameter cidr_netmask prefix length 33 is out of range 1-32"},
		{"bad netmask", []string{"ip", "10.250.0.100", "cidr_netmask", "255.0.255.0"}, agents.ErrConfigured, "parameter cidr_netmask"},
		{"arp_count", []string{"ip", "10.250.0.100", "arp_count", "lots"}, agents.ErrConfigured, "parameter arp_count must be an integer"},
		{"arp_interval", []string{"ip", "10.250.0.100", "arp_interval", "0"}, agents.ErrConfigured, "parameter arp_interval must be milliseconds"},
		{"unknown param", []string{"ip", "10.250.0.100", "nics", "eth0"}, agents.ErrConfigured, "parameter nics is not a parameter of vip (did you mean nic?)"},
		{"label too long", []string{"ip", "10.250.0.100", "iflabel", "averyverylongone"}, agents.ErrConfigured, "parameter iflabel \"averyverylongone\" makes the label eth0:averyverylongone longer than"},
		{"label on ipv6", []string{"ip", "fd00::5", "iflabel", "x"}, agents.ErrConfigured, "parameter iflabel applies to IPv4 addresses only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKernel()
			a := newTestAgent(t, f)
			before := f.String()
			for op, fn := range map[string]func(context.Context, agents.Request) agents.Result{"start": a.Start, "validate": a.Validate} {
				res := fn(context.Background(), req("vip", tt.params...))
				if res.RC != tt.rc || !strings.Contains(res.Reason, tt.reason) {
					t.Errorf("%s = %v %q; want %v with %q", op, res.RC, res.Reason, tt.rc, tt.reason)
				}
			}
			if f.String() != before || f.takeOps() != "" {
				t.Errorf("bad input changed the kernel:\n%s", f.String())
			}
		})
	}
}

func TestConflictAndKernelFailure(t *testing.T) {
	f := newFakeKernel()
	a := newTestAgent(t, f)
	ctx := context.Background()
	if res := a.Start(ctx, req("vip1", "ip", "10.250.0.100")); res.RC != agents.Success {
		t.Fatal(res)
	}
	if res := a.Start(ctx, req("vip2", "ip", "10.250.0.100")); res.RC != agents.ErrConfigured || !strings.Contains(res.Reason, "already managed by resource vip1") {
		t.Fatalf("second resource with the same ip: %+v", res)
	}
	f.set(func(f *fakeKernel) { f.failAdd = errors.New("add 10.250.0.101/24 to eth0: operation not permitted") })
	if res := a.Start(ctx, req("vip3", "ip", "10.250.0.101")); res.RC != agents.ErrGeneric || !strings.Contains(res.Reason, "operation not permitted") {
		t.Fatalf("failing kernel: %+v", res)
	}
	cctx, cancel := context.WithTimeout(ctx, -time.Second)
	defer cancel()
	if res := a.Start(cctx, req("vip4", "ip", "10.250.0.102")); res.RC != agents.Timeout {
		t.Fatalf("expired ctx: %+v", res)
	}
	_ = a.Close()
	for op, fn := range map[string]func(context.Context, agents.Request) agents.Result{"start": a.Start, "stop": a.Stop, "monitor": a.Monitor, "validate": a.Validate} {
		if res := fn(ctx, req("vip5", "ip", "10.250.0.103")); res.RC != agents.ExecErr {
			t.Fatalf("%s after Close: %+v", op, res)
		}
	}
}

func TestMonitor(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fakeKernel)
		params []string
		rc     agents.RC
		reason string
	}{
		{"absent", nil, []string{"ip", "10.250.0.100"}, agents.NotRunning, ""},
		{"present", func(f *fakeKernel) {
			f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.100/24")})
		}, []string{"ip", "10.250.0.100"}, agents.Success, ""},
		{"on another nic than asked", func(f *fakeKernel) {
			f.addrs = append(f.addrs, Addr{Link: "eth1", Prefix: netip.MustParsePrefix("10.250.0.100/24")})
		}, []string{"ip", "10.250.0.100", "nic", "eth0"}, agents.NotRunning, ""},
		{"link down", func(f *fakeKernel) {
			f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.100/24")})
			l := f.links["eth0"]
			l.Up = false
			f.links["eth0"] = l
		}, []string{"ip", "10.250.0.100"}, agents.ErrGeneric, "interface eth0 is down"},
		{"dad failed", func(f *fakeKernel) {
			f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("fd00::9/64"), DADFailed: true})
		}, []string{"ip", "fd00::9"}, agents.ErrGeneric, "duplicate address detected"},
		{"bad params", nil, []string{"ip", "nope"}, agents.ErrConfigured, "parameter ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKernel()
			if tt.setup != nil {
				f.set(tt.setup)
			}
			a := newTestAgent(t, f)
			res := a.Monitor(context.Background(), req("vip", tt.params...))
			if res.RC != tt.rc || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("Monitor = %v %q; want %v %q", res.RC, res.Reason, tt.rc, tt.reason)
			}
		})
	}
}

// TestBurstRefreshAndReassert runs the agent's goroutine in a synctest bubble: the burst goes out
// arp_interval apart, refreshes follow at RefreshInterval, a removed address comes back with a new burst,
// and nothing is sent after Stop.
// announcingAgent is an agent over a fake kernel with events and a recording announcer, checks once a
// minute, refreshes every 10 s. Call it inside the synctest bubble (the announcer's clock starts there).
func announcingAgent() (*Agent, *fakeKernel, *fakeAnnouncer) {
	f := newFakeKernel()
	ann := &fakeAnnouncer{start: time.Now()}
	return New(Options{Kernel: f, Watcher: f, Announcer: ann, CheckInterval: time.Minute, RefreshInterval: 10 * time.Second}), f, ann
}

func TestBurstRefreshAndReassert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, f, ann := announcingAgent()
		defer a.Close()
		ctx := context.Background()
		r := req("vip", "ip", "10.250.0.100", "arp_count", "3", "arp_interval", "250")
		if res := a.Start(ctx, r); res.RC != agents.Success {
			t.Fatal(res)
		}
		if got := ann.take(); !reflect.DeepEqual(got, []string{"0s 10.250.0.100 eth0"}) {
			t.Fatalf("Start sent %q, want the first announcement at once", got)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		want := []string{"250ms 10.250.0.100 eth0", "500ms 10.250.0.100 eth0", "10.5s 10.250.0.100 eth0"}
		if got := ann.take(); !reflect.DeepEqual(got, want) {
			t.Fatalf("announcements %q, want %q", got, want)
		}
		f.takeOps()
		f.removeExternally("eth0", "10.250.0.100/24") // the watch reports it; no tick is due for a minute
		synctest.Wait()
		if got := f.takeOps(); got != "ip addr replace 10.250.0.100/24 dev eth0" {
			t.Fatalf("re-assert ops %q", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		want = []string{"11s 10.250.0.100 eth0", "11.25s 10.250.0.100 eth0", "11.5s 10.250.0.100 eth0"}
		if got := ann.take(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after re-assert: %q, want %q", got, want)
		}
		if res := a.Stop(ctx, r); res.RC != agents.Success {
			t.Fatal(res)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := ann.take(); len(got) != 0 {
			t.Fatalf("announced after Stop: %q", got)
		}
		if got := f.takeOps(); got != "ip addr del 10.250.0.100/24 dev eth0" {
			t.Fatalf("Stop ops %q (re-asserted after Stop?)", got)
		}
	})
}

// TestRelease: after Release (the DC's step before a planned move starts the VIP elsewhere) the address stays
// but nothing more is announced from this node, neither the rest of the start burst nor a refresh, not even
// after a re-assert; a new Start announces again.
func TestRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, f, ann := announcingAgent()
		defer a.Close()
		ctx := context.Background()
		r := req("vip", "ip", "10.250.0.100", "arp_count", "5", "arp_interval", "200")
		if res := a.Start(ctx, r); res.RC != agents.Success {
			t.Fatal(res)
		}
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		if got := ann.take(); !reflect.DeepEqual(got, []string{"0s 10.250.0.100 eth0", "200ms 10.250.0.100 eth0"}) {
			t.Fatalf("burst before Release: %q", got)
		}
		if res := a.Release(ctx, r); res.RC != agents.Success {
			t.Fatal(res)
		}
		if res := a.Release(ctx, req("other", "ip", "10.250.0.101")); res.RC != agents.Success {
			t.Fatalf("Release of a VIP not held here: %v", res)
		}
		f.takeOps()
		f.removeExternally("eth0", "10.250.0.100/24")
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := ann.take(); len(got) != 0 {
			t.Fatalf("announced after Release: %q", got)
		}
		if got := f.takeOps(); got != "ip addr replace 10.250.0.100/24 dev eth0" {
			t.Fatalf("a released VIP is still held (re-asserted): ops %q", got)
		}
		if res := a.Monitor(ctx, r); res.RC != agents.Success {
			t.Fatalf("Monitor of a released VIP: %v", res)
		}
		if res := a.Start(ctx, r); res.RC != agents.Success {
			t.Fatal(res)
		}
		if got := ann.take(); len(got) != 1 {
			t.Fatalf("Start after Release announced %q, want one announcement at once", got)
		}
	})
}

// TestReassertOnTicker covers a kernel without events: the ticker finds the address gone.
func TestReassertOnTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKernel()
		a := New(Options{Kernel: f, CheckInterval: 2 * time.Second, RefreshInterval: -1})
		defer a.Close()
		if res := a.Start(context.Background(), req("vip", "ip", "10.250.0.100")); res.RC != agents.Success {
			t.Fatal(res)
		}
		f.takeOps()
		f.removeExternally("eth0", "10.250.0.100/24")
		synctest.Wait()
		if got := f.takeOps(); got != "" {
			t.Fatalf("re-asserted before the tick: %q", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.takeOps(); got != "ip addr replace 10.250.0.100/24 dev eth0" {
			t.Fatalf("ops after the tick %q", got)
		}
	})
}

// TestAdoptOnProbe: a VIP found by a probe (clusterd restarted) is re-asserted from then on.
func TestAdoptOnProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKernel()
		f.set(func(f *fakeKernel) {
			f.addrs = append(f.addrs, Addr{Link: "eth0", Prefix: netip.MustParsePrefix("10.250.0.100/24")})
		})
		a := New(Options{Kernel: f, Watcher: f, RefreshInterval: -1})
		defer a.Close()
		if res := a.Monitor(context.Background(), req("vip", "ip", "10.250.0.100")); res.RC != agents.Success {
			t.Fatal(res)
		}
		f.removeExternally("eth0", "10.250.0.100/24")
		synctest.Wait()
		if got := f.takeOps(); got != "ip addr replace 10.250.0.100/24 dev eth0" {
			t.Fatalf("adopted VIP not re-asserted: %q", got)
		}
	})
}

func TestGARPFrames(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	frames, err := garpFrames(mac, netip.MustParseAddr("10.250.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	// Ethernet header (broadcast, mac, 0x0806), then ARP: htype 1, ptype 0x0800, hlen 6, plen 4, op,
	// sender mac and ip, target mac and ip.
	want := []string{
		"ffffffffffff" + "0242ac110002" + "0806" + "0001080006040001" + "0242ac110002" + "0afa0064" + "000000000000" + "0afa0064",
		"ffffffffffff" + "0242ac110002" + "0806" + "0001080006040002" + "0242ac110002" + "0afa0064" + "0242ac110002" + "0afa0064",
	}
	if len(frames) != 2 {
		t.Fatalf("%d frames", len(frames))
	}
	for i, f := range frames {
		got := hex.EncodeToString(f)
		if !strings.HasPrefix(got, want[i]) || strings.Trim(got[len(want[i]):], "0") != "" {
			t.Errorf("frame %d:\n got %s\nwant %s (+ zero padding)", i, got, want[i])
		}
	}
	if _, err := garpFrames(mac, netip.MustParseAddr("fd00::1")); err == nil {
		t.Error("garpFrames accepted IPv6")
	}
	if _, err := garpFrames(nil, netip.MustParseAddr("10.0.0.1")); err == nil {
		t.Error("garpFrames accepted a link without MAC")
	}
	na := unsolicitedNA(mac, netip.MustParseAddr("fd00::100"))
	if na.Solicited || !na.Override || na.TargetAddress.String() != "fd00::100" || len(na.Options) != 1 {
		t.Errorf("unsolicited NA %+v", na)
	}
}

func TestMetaDataMatchesParams(t *testing.T) {
	md, _ := New(Options{Kernel: newFakeKernel()}).MetaData(context.Background())
	again, err := agents.ParseMetadata(md.XML())
	if err != nil || !reflect.DeepEqual(again, md) {
		t.Fatalf("meta-data does not survive XML: %v", err)
	}
	if p, ok := md.Param("ip"); !ok || !p.Required {
		t.Fatal("ip is not required")
	}
}

// FuzzParseParams: whatever the parameters, parsing returns a config whose prefix is valid, or an error
// that names a field; it never panics.
func FuzzParseParams(f *testing.F) {
	f.Add("10.250.0.100", "24", "eth0", "5", "200", "false")
	f.Add("fd00::1", "64", "", "", "", "yes")
	f.Add("10.0.0.1", "255.255.255.0", "eth0", "0", "1", "")
	f.Add("x", "33", "a/b", "-1", "0", "maybe")
	f.Fuzz(func(t *testing.T, ip, mask, nic, count, interval, nodad string) {
		p := map[string]string{"ip": ip, "cidr_netmask": mask, "nic": nic, "arp_count": count, "arp_interval": interval, "nodad": nodad}
		c, err := parseParams(p)
		if err != nil {
			var pe *agents.ParamError
			if !errors.As(err, &pe) || pe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if !c.ip.IsValid() || c.bits > c.ip.BitLen() || c.bits == 0 || c.arpCount < 0 || c.arpInterval <= 0 {
			t.Fatalf("accepted an invalid config %+v from %q", c, p)
		}
		if c.bits > 0 && !netip.PrefixFrom(c.ip, c.bits).IsValid() {
			t.Fatalf("invalid prefix from %q", p)
		}
	})
}

// TestStopLastVIPEndsGoroutine: the goroutine lives only while the agent holds a VIP, so an executor that
// stops every resource leaks nothing even before it closes the agent.
func TestStopLastVIPEndsGoroutine(t *testing.T) {
	f := newFakeKernel()
	a := New(Options{Kernel: f, Watcher: f, Announcer: &fakeAnnouncer{start: time.Now()}})
	defer a.Close()
	ctx := context.Background()
	r1, r2 := req("vip1", "ip", "10.250.0.100"), req("vip2", "ip", "10.250.0.101")
	for round := 0; round < 2; round++ {
		for _, r := range []agents.Request{r1, r2} {
			if res := a.Start(ctx, r); res.RC != agents.Success {
				t.Fatal(res)
			}
		}
		a.mu.Lock()
		l := a.loop
		a.mu.Unlock()
		if l == nil {
			t.Fatal("no goroutine while VIPs are held")
		}
		a.Stop(ctx, r1)
		select {
		case <-l.done:
			t.Fatal("goroutine ended while vip2 is still held")
		default:
		}
		a.Stop(ctx, r2)
		select {
		case <-l.done:
		default:
			t.Fatal("goroutine still running after the last Stop returned")
		}
	}
}
