package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
)

// Announcer tells the neighbours of a link that ip now lives at the link's MAC address. Announce sends one
// round (gratuitous ARP in both forms for IPv4, an unsolicited neighbour advertisement for IPv6) and blocks
// only for the sends. Implementations must be safe for concurrent use.
type Announcer interface {
	Announce(l Link, ip netip.Addr) error
}

// garpFrames returns the two Ethernet frames of a gratuitous ARP for ip at mac, both broadcast:
//   - an ARP request whose sender and target IP are ip and whose target hardware address is zero
//     (the "ARP Announcement" of RFC 5227 section 2.3);
//   - an ARP reply whose sender and target IP are ip and whose sender and target hardware addresses are mac
//     (RFC 5944 section 4.6: "When using an ARP Reply packet, the Target Hardware Address is also set to
//     the link-layer address to which this cache entry should be updated").
//
// Some hosts and switches only update their caches from one of the two forms, so both are sent.
func garpFrames(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("build gratuitous ARP for %s: not an IPv4 address", ip)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("build gratuitous ARP for %s: hardware address %q is not Ethernet", ip, mac)
	}
	req, err := arp.NewPacket(arp.OperationRequest, mac, ip, make(net.HardwareAddr, 6), ip)
	if err != nil {
		return nil, fmt.Errorf("build gratuitous ARP request for %s: %w", ip, err)
	}
	rep, err := arp.NewPacket(arp.OperationReply, mac, ip, mac, ip)
	if err != nil {
		return nil, fmt.Errorf("build gratuitous ARP reply for %s: %w", ip, err)
	}
	var frames [][]byte
	for _, p := range []*arp.Packet{req, rep} {
		pb, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode gratuitous ARP for %s: %w", ip, err)
		}
		f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
		fb, err := f.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode gratuitous ARP frame for %s: %w", ip, err)
		}
		frames = append(frames, fb)
	}
	return frames, nil
}

// unsolicitedNA returns the neighbour advertisement of RFC 4861 section 7.2.6 for ip at mac: not solicited,
// override set, with the target link-layer address option. It goes to ff02::1.
func unsolicitedNA(mac net.HardwareAddr, ip netip.Addr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
}

// NetAnnouncer sends announcements through packet and ICMPv6 sockets opened for each round, in the
// network namespace of a NetlinkKernel (or the process's). It holds no socket between rounds.
type NetAnnouncer struct {
	ns netns.NsHandle
}

// Announcer returns the announcer for the kernel's namespace. It is valid until the kernel is closed.
func (k *NetlinkKernel) Announcer() *NetAnnouncer { return &NetAnnouncer{ns: k.ns} }

// Announce implements Announcer. A link without an Ethernet address is skipped without error.
func (a *NetAnnouncer) Announce(l Link, ip netip.Addr) error {
	if len(l.MAC) != 6 {
		return nil
	}
	return inNetns(a.ns, func() error {
		ifi, err := net.InterfaceByIndex(l.Index)
		if err != nil {
			return fmt.Errorf("announce %s on %s: %w", ip, l.Name, err)
		}
		if ip.Is4() {
			return sendGARP(ifi, ip)
		}
		return sendNA(ifi, ip)
	})
}

func sendGARP(ifi *net.Interface, ip netip.Addr) error {
	frames, err := garpFrames(ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return fmt.Errorf("open packet socket on %s: %w", ifi.Name, err)
	}
	var errs []error
	for _, f := range frames {
		if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
			errs = append(errs, fmt.Errorf("send gratuitous ARP for %s on %s: %w", ip, ifi.Name, err))
		}
	}
	if err := c.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func sendNA(ifi *net.Interface, ip netip.Addr) error {
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		// Without a usable link-local address (still tentative), send from the VIP itself.
		var err2 error
		if c, _, err2 = ndp.Listen(ifi, ndp.Addr(ip.String())); err2 != nil {
			return fmt.Errorf("open ICMPv6 socket on %s: %w", ifi.Name, errors.Join(err, err2))
		}
	}
	defer c.Close()
	if err := c.WriteTo(unsolicitedNA(ifi.HardwareAddr, ip), nil, netip.IPv6LinkLocalAllNodes()); err != nil {
		return fmt.Errorf("send neighbour advertisement for %s on %s: %w", ip, ifi.Name, err)
	}
	return nil
}
