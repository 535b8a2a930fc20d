package virtd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/duet-ha/duet/fencing/xvm"
)

// Listener is a running multicast or TCP listener feeding a Server. It owns every goroutine it starts;
// Stop ends them all and closes every socket.
type Listener struct {
	srv    *Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	udp    *net.UDPConn
	tcp    net.Listener
	// TCPRequestTimeout bounds how long a TCP client may take to send its 176-byte request.
	tcpReqTimeout time.Duration
}

// Start binds the listener described by kind ("multicast" or "tcp") and lc, and serves requests on srv
// until ctx is done or Stop is called. Bind errors are returned before anything runs.
func Start(ctx context.Context, kind string, lc ListenerConfig, srv *Server) (*Listener, error) {
	ctx, cancel := context.WithCancel(ctx)
	l := &Listener{srv: srv, cancel: cancel, tcpReqTimeout: 5 * time.Second}
	switch kind {
	case "multicast":
		var ifi *net.Interface
		if lc.Interface != "" {
			i, err := net.InterfaceByName(lc.Interface)
			if err != nil {
				srv.log.Warn("multicast interface not found, joining on the default interface", "interface", lc.Interface, "err", err)
			} else {
				ifi = i
			}
		}
		network := "udp4"
		if lc.IPv6 {
			network = "udp6"
		}
		gaddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(lc.Address, uint16(lc.Port)))
		c, err := net.ListenMulticastUDP(network, ifi, gaddr)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("listen on multicast group %s: %w", gaddr, err)
		}
		l.udp = c
		l.wg.Add(1)
		go l.multicastLoop(ctx)
	case "tcp":
		var lcfg net.ListenConfig
		lcfg.SetMultipathTCP(false) // fence_xvm and fence_virt connect with plain TCP
		addr := net.JoinHostPort(lc.Address.String(), strconv.Itoa(lc.Port))
		ln, err := lcfg.Listen(ctx, "tcp", addr)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("listen on tcp %s: %w", addr, err)
		}
		l.tcp = ln
		l.wg.Add(1)
		go l.tcpLoop(ctx)
	default:
		cancel()
		return nil, fmt.Errorf("start listener: unsupported listener %q", kind)
	}
	// Closing the sockets is what unblocks the loops.
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		<-ctx.Done()
		if l.udp != nil {
			l.udp.Close()
		}
		if l.tcp != nil {
			l.tcp.Close()
		}
	}()
	return l, nil
}

// Addr returns the bound address (useful with port 0 in tests).
func (l *Listener) Addr() net.Addr {
	if l.udp != nil {
		return l.udp.LocalAddr()
	}
	return l.tcp.Addr()
}

// Stop cancels the listener, closes its sockets and waits for every handler to return. In-flight
// exchanges are cut (their connections' deadlines are set to now).
func (l *Listener) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Wait blocks until the listener has stopped (its context ended).
func (l *Listener) Wait() { l.wg.Wait() }

func (l *Listener) acquire(ctx context.Context) bool {
	select {
	case l.srv.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *Listener) release() { <-l.srv.sem }

func (l *Listener) multicastLoop(ctx context.Context) {
	defer l.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := l.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.srv.log.Warn("read multicast request", "err", err)
			continue
		}
		src := from.Addr().Unmap().String()
		if n != xvm.RequestSize {
			l.srv.log.Warn("dropping datagram of wrong size", "src", src, "len", n, "want", xvm.RequestSize)
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		req, ok := l.srv.admit(pkt, src)
		if !ok {
			continue
		}
		if !l.acquire(ctx) {
			l.srv.hist.finish(req, false, l.srv.o.Now())
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release()
			// The static map checks the callback address, which is where the answer goes.
			l.srv.serve(ctx, req, req.Address.Unmap().String(), nil)
		}()
	}
}

func (l *Listener) tcpLoop(ctx context.Context) {
	defer l.wg.Done()
	for {
		conn, err := l.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.srv.log.Warn("accept fence connection", "err", err)
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		if !l.acquire(ctx) {
			conn.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release()
			l.handleTCP(ctx, conn)
		}()
	}
}

func (l *Listener) handleTCP(ctx context.Context, conn net.Conn) {
	peer := conn.RemoteAddr().String()
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		peer = ap.Addr().Unmap().String()
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetReadDeadline(time.Now().Add(l.tcpReqTimeout))
	var pkt [xvm.RequestSize]byte
	if _, err := io.ReadFull(conn, pkt[:]); err != nil {
		l.srv.log.Warn("dropping TCP fence connection: short request", "src", peer, "err", err)
		conn.Close()
		return
	}
	req, ok := l.srv.admit(pkt[:], peer)
	if !ok {
		conn.Close()
		return
	}
	l.srv.serve(ctx, req, peer, conn)
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
