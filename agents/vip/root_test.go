package vip

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/internal/nettest"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// capture reads Ethernet frames of one EtherType from a host's eth0 through an AF_PACKET socket opened
// inside its namespace, until Close.
type capture struct {
	c    *packet.Conn
	wg   sync.WaitGroup
	mu   sync.Mutex
	recv [][]byte
}

func startCapture(t *testing.T, h *nettest.Host, etherType int) *capture {
	t.Helper()
	cp := &capture{}
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		cp.c, err = packet.Listen(ifi, packet.Raw, etherType, nil)
		return err
	})
	if err != nil {
		t.Fatalf("open packet socket in %s: %v", h.Name, err)
	}
	cp.wg.Add(1)
	go func() {
		defer cp.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := cp.c.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			cp.mu.Lock()
			cp.recv = append(cp.recv, append([]byte(nil), buf[:n]...))
			cp.mu.Unlock()
		}
	}()
	t.Cleanup(cp.Close)
	return cp
}

func (cp *capture) Close() {
	_ = cp.c.Close()
	cp.wg.Wait()
}

func (cp *capture) frames() [][]byte {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([][]byte(nil), cp.recv...)
}

// waitFor polls cond every 20 ms until it holds or the (generous, real-kernel) deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// garpSeen counts the gratuitous ARP requests and replies for ip from mac among the frames.
func garpSeen(frames [][]byte, ip netip.Addr, mac net.HardwareAddr) (requests, replies int) {
	for _, fb := range frames {
		var f ethernet.Frame
		if f.UnmarshalBinary(fb) != nil || f.EtherType != ethernet.EtherTypeARP {
			continue
		}
		var p arp.Packet
		if p.UnmarshalBinary(f.Payload) != nil {
			continue
		}
		if p.SenderIP != ip || p.TargetIP != ip || p.SenderHardwareAddr.String() != mac.String() || f.Destination.String() != ethernet.Broadcast.String() {
			continue
		}
		switch p.Operation {
		case arp.OperationRequest:
			requests++
		case arp.OperationReply:
			replies++
		}
	}
	return requests, replies
}

func linkMAC(t *testing.T, h *nettest.Host) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

func TestRootVIPInNamespace(t *testing.T) {
	topo := nettest.New(t)
	n1 := topo.AddHost("n1", "10.250.0.1/24")
	peer := topo.AddHost("peer", "10.250.0.2/24")
	mac := linkMAC(t, n1)
	vip := netip.MustParseAddr("10.250.0.100")

	// The peer believes the VIP lives at another MAC (the old node's); the gratuitous ARP must fix that.
	peer.Run("sysctl", "-qw", "net.ipv4.neigh.eth0.locktime=0")
	peer.Run("ip", "neigh", "replace", vip.String(), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
	cp := startCapture(t, peer, unix.ETH_P_ARP)

	// The check ticker is an hour, so a re-assert within the test can only come from the netlink event.
	a, err := NewNetlink(n1.Name, Options{RefreshInterval: 300 * time.Millisecond, CheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := agents.Request{Resource: "vip", Params: map[string]string{"ip": vip.String(), "arp_count": "3", "arp_interval": "100"}}

	if res := a.Validate(ctx, r); res.RC != agents.Success {
		t.Fatalf("Validate = %+v", res)
	}
	if res := a.Monitor(ctx, agents.Request{Params: r.Params}); res.RC != agents.NotRunning {
		t.Fatalf("probe before Start = %+v", res)
	}
	if res := a.Start(ctx, r); res.RC != agents.Success {
		t.Fatalf("Start = %+v", res)
	}
	if out := n1.Run("ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.250.0.100/24") {
		t.Fatalf("VIP not on eth0 (nic and prefix from the route):\n%s", out)
	}
	// The start burst (3 rounds) and at least one refresh, each with a request and a reply.
	waitFor(t, "4 rounds of gratuitous ARP on the peer", 10*time.Second, func() bool {
		req, rep := garpSeen(cp.frames(), vip, mac)
		return req >= 4 && rep >= 4
	})
	if out := peer.Run("ip", "neigh", "show", vip.String(), "dev", "eth0"); !strings.Contains(out, mac.String()) {
		t.Fatalf("peer's neighbour entry not updated to %s by the gratuitous ARP:\n%s", mac, out)
	}
	peer.Run("ping", "-c", "1", "-W", "5", vip.String())
	if res := a.Monitor(ctx, r); res.RC != agents.Success {
		t.Fatalf("Monitor = %+v", res)
	}

	// Something removes the VIP: the netlink address event (not the ticker) brings it back.
	n1.Run("ip", "addr", "del", "10.250.0.100/24", "dev", "eth0")
	waitFor(t, "the VIP to be re-asserted", 10*time.Second, func() bool {
		out, _ := n1.Try("ip", "-o", "addr", "show", "dev", "eth0")
		return strings.Contains(out, "inet 10.250.0.100/24")
	})

	if res := a.Stop(ctx, r); res.RC != agents.Success {
		t.Fatalf("Stop = %+v", res)
	}
	if out := n1.Run("ip", "-o", "addr", "show"); strings.Contains(out, "10.250.0.100") {
		t.Fatalf("VIP still present after Stop:\n%s", out)
	}
	if res := a.Monitor(ctx, r); res.RC != agents.NotRunning {
		t.Fatalf("Monitor after Stop = %+v", res)
	}

	bad := agents.Request{Resource: "bad", Params: map[string]string{"ip": "10.250.0.101", "nic": "eth9"}}
	if res := a.Start(ctx, bad); res.RC != agents.ErrArgs || !strings.Contains(res.Reason, "parameter nic names interface eth9") {
		t.Fatalf("Start on a missing nic = %+v", res)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRootVIPv6NeighbourAdvertisement(t *testing.T) {
	topo := nettest.New(t)
	n1 := topo.AddHost("n1", "10.250.0.1/24")
	peer := topo.AddHost("peer", "10.250.0.2/24")
	n1.Run("ip", "addr", "add", "fd00:250::1/64", "dev", "eth0", "nodad")
	peer.Run("ip", "addr", "add", "fd00:250::2/64", "dev", "eth0", "nodad")
	mac := linkMAC(t, n1)
	vip := netip.MustParseAddr("fd00:250::100")
	// Wait until both link-local addresses have finished DAD: NA needs a usable source address.
	for _, h := range []*nettest.Host{n1, peer} {
		waitFor(t, "link-local address in "+h.Name, 10*time.Second, func() bool {
			out, _ := h.Try("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
			return strings.Contains(out, "fe80") && !strings.Contains(out, "tentative")
		})
	}
	cp := startCapture(t, peer, unix.ETH_P_IPV6)
	a, err := NewNetlink(n1.Name, Options{RefreshInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := agents.Request{Resource: "vip6", Params: map[string]string{"ip": vip.String(), "nodad": "true", "arp_count": "2", "arp_interval": "100"}}
	if res := a.Start(ctx, r); res.RC != agents.Success {
		t.Fatalf("Start = %+v", res)
	}
	if out := n1.Run("ip", "-6", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "fd00:250::100/64") {
		t.Fatalf("IPv6 VIP not on eth0:\n%s", out)
	}
	waitFor(t, "2 unsolicited neighbour advertisements on the peer", 10*time.Second, func() bool {
		return countNA(cp.frames(), vip, mac) >= 2
	})
	peer.Run("ping", "-6", "-c", "1", "-W", "5", vip.String())
	if res := a.Stop(ctx, r); res.RC != agents.Success {
		t.Fatalf("Stop = %+v", res)
	}
}

// countNA counts unsolicited, overriding neighbour advertisements for target from mac to ff02::1.
func countNA(frames [][]byte, target netip.Addr, mac net.HardwareAddr) int {
	n := 0
	for _, fb := range frames {
		var f ethernet.Frame
		if f.UnmarshalBinary(fb) != nil || f.EtherType != ethernet.EtherTypeIPv6 || len(f.Payload) < 40+24 {
			continue
		}
		ip6 := f.Payload
		if ip6[6] != unix.IPPROTO_ICMPV6 || netip.AddrFrom16([16]byte(ip6[24:40])) != netip.MustParseAddr("ff02::1") {
			continue
		}
		icmp := ip6[40:]
		if icmp[0] != 136 || f.Source.String() != mac.String() {
			continue
		}
		flags := binary.BigEndian.Uint32(icmp[4:8])
		if flags&0x40000000 != 0 || flags&0x20000000 == 0 { // solicited must be clear, override set
			continue
		}
		if netip.AddrFrom16([16]byte(icmp[8:24])) == target {
			n++
		}
	}
	return n
}

// TestRootVIPInsideEnteredNamespace runs the agent in a child process started with `ip netns exec`, the
// way clusterd runs on a test node: NewNetlink("") must then work in the namespace the process is in.
func TestRootVIPInsideEnteredNamespace(t *testing.T) {
	topo := nettest.New(t)
	n1 := topo.AddHost("n1", "10.250.0.1/24")
	peer := topo.AddHost("peer", "10.250.0.2/24")
	mac := linkMAC(t, n1)
	vip := netip.MustParseAddr("10.250.0.100")
	cp := startCapture(t, peer, unix.ETH_P_ARP)

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := n1.Command(ctx, self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DUET_VIP_HELPER="+vip.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // reap the helper whatever happens
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "started ok" {
		t.Fatalf("helper: %q %v", lines.Text(), lines.Err())
	}
	if out := n1.Run("ip", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 10.250.0.100/24") {
		t.Fatalf("VIP not on eth0:\n%s", out)
	}
	waitFor(t, "gratuitous ARP from the helper", 10*time.Second, func() bool {
		req, rep := garpSeen(cp.frames(), vip, mac)
		return req >= 2 && rep >= 2
	})
	_ = stdin.Close()
	if !lines.Scan() || lines.Text() != "stopped ok" {
		t.Fatalf("helper stop: %q %v", lines.Text(), lines.Err())
	}
	if out := n1.Run("ip", "-o", "addr", "show"); strings.Contains(out, "10.250.0.100") {
		t.Fatalf("VIP still present after the helper's Stop:\n%s", out)
	}
}

// vipHelper is the child of TestRootVIPInsideEnteredNamespace: it starts the VIP, prints the result, waits
// for stdin to close, stops the VIP and prints again.
func vipHelper(ip string) int {
	a, err := NewNetlink("", Options{})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer a.Close()
	r := agents.Request{Resource: "vip", Params: map[string]string{"ip": ip, "arp_count": "2", "arp_interval": "100"}}
	res := a.Start(context.Background(), r)
	fmt.Printf("started %s%s\n", res.RC, res.Reason)
	_, _ = io.Copy(io.Discard, os.Stdin)
	res = a.Stop(context.Background(), r)
	fmt.Printf("stopped %s%s\n", res.RC, res.Reason)
	return 0
}
