// Package client is a fence_xvm / fence_virt client: it sends fence requests to a fence_virtd (the real one
// or Duet's) by multicast with a TCP callback, or over a direct TCP connection, and implements
// fencing.Device on top of that.
package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
)

// Mode is how requests reach the daemon.
type Mode int

// Modes.
const (
	// Multicast sends the request as UDP datagrams to a multicast group, one per local address, and waits
	// for the daemon to connect back (fence_xvm's only mode).
	Multicast Mode = iota
	// TCP connects to the daemon's TCP listener and sends the request on that connection (fence_virt -T).
	TCP
)

// Family selects the IP version in multicast mode.
type Family int

// Families. Auto takes the family of Group (IPv4 when Group is empty).
const (
	Auto Family = iota
	IPv4
	IPv6
)

// Config configures a Client. Zero values take fence_xvm's defaults, except Key, which the caller loads.
type Config struct {
	Mode   Mode
	Key    []byte       // shared key (the raw key file content, at most 4096 bytes); may be empty with Hash = Auth = none
	Hash   xvm.HashType // request signature; zero value is none, so set it (fence_xvm's default is sha256)
	Auth   xvm.HashType // challenge-response algorithm; must equal the daemon's
	Family Family
	Group  string // multicast group; default 225.0.0.12 or ff05::3:1
	Port   int    // UDP destination port, TCP listener port in TCP mode; default 1229
	// CallbackPort is the TCP port the client listens on for the daemon's callback and writes into the
	// request; default Port (as fence_xvm does). EphemeralPort picks a free port per request, so that
	// concurrent requests from one host do not wait for each other (daemons call back to whatever port the
	// request names, the real one included).
	CallbackPort int
	Retrans      time.Duration // multicast retransmit interval; default 2 s
	Timeout      time.Duration // whole-exchange timeout in multicast mode and per-step timeout; default 30 s
	Addr         string        // TCP mode: the daemon's IP address; default 127.0.0.1
	UseUUID      bool          // set the RF_UUID flag (daemons ignore it)
	Logger       *slog.Logger  // default: discard
	Rand         io.Reader     // default crypto/rand
	// Seqno returns a request id. Daemons drop a request whose (op, seqno, domain) they answered in the last
	// 10 s, so ids must not repeat; default: 32 random bits per request (the real clients use the
	// microseconds of the clock, which two concurrent requests can share).
	Seqno func() uint32
	// LocalAddrs lists the local addresses to send from in multicast mode; default: every address of the
	// family on an up interface (IPv6: not ::1, not link-local), as the real client does.
	LocalAddrs func(v6 bool) ([]LocalAddr, error)
}

// EphemeralPort as Config.CallbackPort listens on a kernel-chosen port for each request.
const EphemeralPort = -1

// LocalAddr is an address a multicast request is sent from, with its interface index.
type LocalAddr struct {
	Addr    netip.Addr
	IfIndex int
}

// Client sends fence requests. It is safe for concurrent use, but in multicast mode two concurrent
// requests compete for the callback port: the second waits (retrying like fence_xvm) until the first is done.
type Client struct {
	cfg Config
	log *slog.Logger
}

// Response is a daemon's answer: a result byte, and the hosts when the result was a hostlist.
type Response struct {
	Result xvm.Result
	Hosts  []xvm.HostRecord
}

// Errors that tell the CLI which exit code fence_xvm would give.
var (
	// ErrNoResult: authenticated, but the result byte never came (fence_xvm exits 255).
	ErrNoResult = errors.New("no result from daemon")
	// ErrListen: the callback port could not be opened in time (fence_xvm exits 255).
	ErrListen = errors.New("cannot listen for the daemon's callback")
)

var _ fencing.Device = (*Client)(nil)

// New checks cfg, fills in defaults and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Port == 0 {
		cfg.Port = xvm.DefaultPort
	}
	if cfg.CallbackPort == 0 {
		cfg.CallbackPort = cfg.Port
	}
	if cfg.Port < 0 || cfg.Port > 65535 || cfg.CallbackPort < EphemeralPort || cfg.CallbackPort > 65535 {
		return nil, fmt.Errorf("configure fence_xvm client: port %d / %d out of range", cfg.Port, cfg.CallbackPort)
	}
	if cfg.Retrans <= 0 {
		cfg.Retrans = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if !cfg.Hash.Valid() || !cfg.Auth.Valid() {
		return nil, fmt.Errorf("configure fence_xvm client: unknown hash %d or auth %d", cfg.Hash, cfg.Auth)
	}
	if (cfg.Hash != xvm.HashNone || cfg.Auth != xvm.HashNone) && len(cfg.Key) == 0 {
		return nil, fmt.Errorf("configure fence_xvm client: hash %s / auth %s need a key", cfg.Hash, cfg.Auth)
	}
	if len(cfg.Key) > xvm.MaxKeyLen {
		cfg.Key = cfg.Key[:xvm.MaxKeyLen]
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1"
	}
	if cfg.Mode == Multicast {
		if cfg.Group == "" {
			cfg.Group = xvm.DefaultGroupIPv4
			if cfg.Family == IPv6 {
				cfg.Group = xvm.DefaultGroupIPv6
			}
		}
		g, err := netip.ParseAddr(cfg.Group)
		if err != nil || !g.IsMulticast() {
			return nil, fmt.Errorf("configure fence_xvm client: %q is not a multicast address", cfg.Group)
		}
		if cfg.Family == Auto {
			cfg.Family = IPv4
			if g.Is6() {
				cfg.Family = IPv6
			}
		}
		if (cfg.Family == IPv6) != g.Is6() {
			return nil, fmt.Errorf("configure fence_xvm client: group %s does not match the address family", g)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Seqno == nil {
		rnd := cfg.Rand
		cfg.Seqno = func() uint32 {
			var b [4]byte
			if _, err := io.ReadFull(rnd, b[:]); err != nil {
				return uint32(time.Now().UnixNano())
			}
			return binary.LittleEndian.Uint32(b[:])
		}
	}
	if cfg.LocalAddrs == nil {
		cfg.LocalAddrs = InterfaceAddrs
	}
	return &Client{cfg: cfg, log: cfg.Logger}, nil
}

// Do sends one request and returns the daemon's answer. It blocks until the answer, the configured timeout,
// or ctx. A timeout without any callback returns an error wrapping fencing.ErrTimeout; a failed
// challenge-response one wrapping xvm.ErrAuth.
func (c *Client) Do(ctx context.Context, op xvm.Op, domain string) (Response, error) {
	if len(domain) > xvm.MaxDomainLen {
		return Response{}, fmt.Errorf("send %s request: domain %q longer than %d bytes", op, domain, xvm.MaxDomainLen)
	}
	req := xvm.Request{Op: op, Domain: domain, Seqno: c.cfg.Seqno()}
	if c.cfg.UseUUID {
		req.Flags |= xvm.FlagUUID
	}
	if c.cfg.Mode == TCP {
		return c.doTCP(ctx, req)
	}
	return c.doMulticast(ctx, req)
}

func (c *Client) doTCP(ctx context.Context, req xvm.Request) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(c.cfg.Addr, strconv.Itoa(c.cfg.Port))
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Response{}, fmt.Errorf("connect to fence_virtd %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	pkt, err := req.Sign(c.cfg.Key, c.cfg.Hash, c.cfg.Rand)
	if err != nil {
		return Response{}, err
	}
	conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	if _, err := conn.Write(pkt[:]); err != nil {
		return Response{}, fmt.Errorf("send request to %s: %w", addr, err)
	}
	return c.exchange(conn)
}

// exchange runs the challenge-response and reads the result on an established connection.
func (c *Client) exchange(conn net.Conn) (Response, error) {
	conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	if err := xvm.ClientAuth(conn, c.cfg.Key, c.cfg.Auth, c.cfg.Rand); err != nil {
		if errors.Is(err, xvm.ErrAuth) {
			return Response{}, err
		}
		// The daemon hung up or never spoke: treated like a wrong answer, as fence_xvm does.
		return Response{}, fmt.Errorf("%w: %w", xvm.ErrAuth, err)
	}
	conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return Response{}, fmt.Errorf("read result from %s: %w: %w", conn.RemoteAddr(), ErrNoResult, err)
	}
	resp := Response{Result: xvm.Result(b[0])}
	if resp.Result == xvm.ResultHostList {
		hosts, err := xvm.ReadHostList(conn)
		resp.Hosts = hosts
		if err != nil {
			return resp, fmt.Errorf("read hostlist from %s: %w", conn.RemoteAddr(), err)
		}
	}
	return resp, nil
}

func (c *Client) doMulticast(ctx context.Context, req xvm.Request) (Response, error) {
	v6 := c.cfg.Family == IPv6
	group := netip.MustParseAddr(c.cfg.Group)
	attempts := int(c.cfg.Timeout / c.cfg.Retrans)
	if attempts < 1 {
		attempts = 1
	}
	network := "tcp4"
	if v6 {
		network = "tcp6"
	}
	var ln *net.TCPListener
	var lerr error
	for tries := 0; ; tries++ {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false) // the daemons connect with plain TCP; an MPTCP listener only adds work
		port := max(c.cfg.CallbackPort, 0)
		l, err := lc.Listen(ctx, network, net.JoinHostPort("", strconv.Itoa(port)))
		if err == nil {
			ln = l.(*net.TCPListener)
			attempts -= tries
			break
		}
		lerr = err
		if tries+1 >= attempts {
			break
		}
		c.log.Debug("listen for callback failed, retrying", "port", c.cfg.CallbackPort, "err", err)
		if !sleepCtx(ctx, c.cfg.Retrans) {
			return Response{}, fmt.Errorf("listen on port %d: %w", c.cfg.CallbackPort, ctx.Err())
		}
	}
	if ln == nil {
		return Response{}, fmt.Errorf("listen on port %d: %w: %w", c.cfg.CallbackPort, ErrListen, lerr)
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.SetDeadline(time.Now()) })
	defer stop()

	if v6 {
		req.Family, req.AddrLen = xvm.FamilyInet6, 16
	} else {
		req.Family, req.AddrLen = xvm.FamilyInet, 4
	}
	req.Port = uint16(ln.Addr().(*net.TCPAddr).Port)
	for i := 0; i < attempts; i++ {
		if err := c.sendAll(ctx, req, group, v6); err != nil {
			return Response{}, err
		}
		ln.SetDeadline(time.Now().Add(c.cfg.Retrans))
		conn, err := ln.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil {
				return Response{}, fmt.Errorf("wait for fence_virtd callback: %w", ctx.Err())
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.log.Debug("no callback yet, retransmitting", "seqno", req.Seqno, "attempt", i+1)
				continue
			}
			return Response{}, fmt.Errorf("accept fence_virtd callback: %w: %w", ErrNoResult, err)
		}
		c.log.Debug("callback from daemon", "peer", conn.RemoteAddr().String())
		resp, err := func() (Response, error) {
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
			defer stop()
			return c.exchange(conn)
		}()
		return resp, err
	}
	return Response{}, fmt.Errorf("send %s request for %q to %s: %w", req.Op, req.Domain, group, fencing.ErrTimeout)
}

// sendAll sends one signed copy of req from every local address of the family.
func (c *Client) sendAll(ctx context.Context, req xvm.Request, group netip.Addr, v6 bool) error {
	addrs, err := c.cfg.LocalAddrs(v6)
	if err != nil {
		return fmt.Errorf("list local addresses: %w", err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("send %s request: no local %s address to send from", req.Op, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
	}
	sent := 0
	var lastErr error
	for _, la := range addrs {
		r := req
		r.Address = la.Addr
		pkt, err := r.Sign(c.cfg.Key, c.cfg.Hash, c.cfg.Rand)
		if err != nil {
			return err
		}
		if err := sendFrom(ctx, la, group, c.cfg.Port, pkt[:]); err != nil {
			c.log.Debug("send request failed", "from", la.Addr.String(), "err", err)
			lastErr = err
			continue
		}
		sent++
	}
	if sent == 0 {
		return fmt.Errorf("send %s request to %s: %w", req.Op, group, lastErr)
	}
	return nil
}

// sendFrom sends one datagram to group:port from a socket bound to la, with the multicast interface set
// to la's (TTL / hop limit 2, loopback on).
func sendFrom(ctx context.Context, la LocalAddr, group netip.Addr, port int, pkt []byte) error {
	v6 := group.Is6()
	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			s := int(fd)
			if v6 {
				serr = errors.Join(
					syscall.SetsockoptInt(s, syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS, 2),
					syscall.SetsockoptInt(s, syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_LOOP, 1))
				if la.IfIndex > 0 {
					serr = errors.Join(serr, syscall.SetsockoptInt(s, syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_IF, la.IfIndex))
				}
				return
			}
			serr = errors.Join(
				syscall.SetsockoptInet4Addr(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, la.Addr.As4()),
				syscall.SetsockoptInt(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 2),
				syscall.SetsockoptInt(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_LOOP, 1))
		})
		return errors.Join(err, serr)
	}}
	network, bind := "udp4", netip.AddrPortFrom(la.Addr, 0).String()
	if v6 {
		network = "udp6"
		bind = "[::]:0"
		if !la.Addr.Is6() {
			return fmt.Errorf("send from %s: not an IPv6 address", la.Addr)
		}
	}
	pc, err := lc.ListenPacket(ctx, network, bind)
	if err != nil {
		return fmt.Errorf("open socket on %s: %w", la.Addr, err)
	}
	defer pc.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, uint16(port)))
	if _, err := pc.WriteTo(pkt, dst); err != nil {
		return fmt.Errorf("send from %s to %s: %w", la.Addr, dst, err)
	}
	return nil
}

// InterfaceAddrs lists the addresses fence_xvm sends from: every IPv4 address (127.0.0.1 included) of an up
// interface, or every IPv6 address except ::1 and link-local ones.
func InterfaceAddrs(v6 bool) ([]LocalAddr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []LocalAddr
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr()
			if ip.Is4() == v6 || ip.Is4In6() {
				continue
			}
			if v6 && (ip.IsLoopback() || ip.IsLinkLocalUnicast()) {
				continue
			}
			out = append(out, LocalAddr{Addr: ip, IfIndex: ifi.Index})
		}
	}
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
