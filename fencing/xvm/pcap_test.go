package xvm

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// A small reader for the captured vectors: classic pcap, Ethernet link type, IPv4/IPv6, UDP payloads and
// TCP streams concatenated per direction in capture order (the captures are on loopback: no loss, no
// reordering).

type udpDatagram struct {
	Src, Dst netip.AddrPort
	Payload  []byte
}

// tcpConn is one TCP connection; A is the endpoint that sent the first SYN (or the first segment seen).
type tcpConn struct {
	A, B       netip.AddrPort
	AtoB, BtoA []byte
}

type capture struct {
	UDP []udpDatagram
	TCP []*tcpConn
}

func readPcap(t *testing.T, name string) capture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	c, err := parsePcap(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return c
}

func parsePcap(data []byte) (capture, error) {
	var c capture
	if len(data) < 24 {
		return c, fmt.Errorf("short pcap header")
	}
	if m := binary.LittleEndian.Uint32(data); m != 0xa1b2c3d4 && m != 0xa1b23c4d {
		return c, fmt.Errorf("unsupported pcap magic %#x", m)
	}
	if lt := binary.LittleEndian.Uint32(data[20:]); lt != 1 {
		return c, fmt.Errorf("unsupported link type %d", lt)
	}
	conns := map[[2]netip.AddrPort]*tcpConn{}
	for off := 24; off+16 <= len(data); {
		incl := int(binary.LittleEndian.Uint32(data[off+8:]))
		off += 16
		if off+incl > len(data) {
			return c, fmt.Errorf("truncated record")
		}
		pkt := data[off : off+incl]
		off += incl
		if len(pkt) < 14 {
			continue
		}
		et := binary.BigEndian.Uint16(pkt[12:])
		p := pkt[14:]
		var src, dst netip.Addr
		var proto byte
		var l4 []byte
		switch et {
		case 0x0800:
			ihl := int(p[0]&15) * 4
			total := int(binary.BigEndian.Uint16(p[2:]))
			proto = p[9]
			src = netip.AddrFrom4([4]byte(p[12:16]))
			dst = netip.AddrFrom4([4]byte(p[16:20]))
			l4 = p[ihl:total]
		case 0x86dd:
			plen := int(binary.BigEndian.Uint16(p[4:]))
			proto = p[6]
			src = netip.AddrFrom16([16]byte(p[8:24]))
			dst = netip.AddrFrom16([16]byte(p[24:40]))
			l4 = p[40 : 40+plen]
		default:
			continue
		}
		sp, dp := binary.BigEndian.Uint16(l4[0:]), binary.BigEndian.Uint16(l4[2:])
		s, d := netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
		switch proto {
		case 17:
			c.UDP = append(c.UDP, udpDatagram{Src: s, Dst: d, Payload: append([]byte(nil), l4[8:]...)})
		case 6:
			doff := int(l4[12]>>4) * 4
			payload := l4[doff:]
			if cn, ok := conns[[2]netip.AddrPort{s, d}]; ok {
				cn.AtoB = append(cn.AtoB, payload...)
			} else if cn, ok := conns[[2]netip.AddrPort{d, s}]; ok {
				cn.BtoA = append(cn.BtoA, payload...)
			} else {
				cn := &tcpConn{A: s, B: d, AtoB: append([]byte(nil), payload...)}
				conns[[2]netip.AddrPort{s, d}] = cn
				c.TCP = append(c.TCP, cn)
			}
		}
	}
	return c, nil
}

// split returns the stream the fence client sent and the one the daemon sent, given the daemon's port
// side: in multicast mode the client listens on 1229 (the daemon connects to it), in TCP mode the daemon does.
func (cn *tcpConn) split(clientListens bool) (c2d, d2c []byte) {
	aIsClient := (cn.B.Port() == DefaultPort) != clientListens
	if aIsClient {
		return cn.AtoB, cn.BtoA
	}
	return cn.BtoA, cn.AtoB
}
