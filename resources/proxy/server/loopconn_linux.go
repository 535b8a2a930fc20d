package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loopConn is a plain TCP connection whose socket is not in Go's netpoller: the event loops own its readiness.
//
// Why: net.Conn registers every socket in the runtime's own epoll set, so each edge of a socket that an event
// loop serves (every request, every response) also woke the runtime's netpoll thread, for nothing, whenever a P
// was idle — 60 000 wake-ups a second at 100 000 requests a second (resources/proxy/README.md, "What holds
// keep-alive HTTP back"). A loopConn does its reads and writes with non-blocking system calls on the descriptor
// and never waits for the netpoller while they succeed, which is all the event loops ever ask of it.
//
// An operation that has to wait (a goroutine serving a slow client, a full socket, a handed-over connection)
// first moves the descriptor into the netpoller (os.NewFile: no copy of the descriptor) and from then on goes
// through it, with the deadlines set so far. That happens to few connections, and only once each.
//
// Close may come from any goroutine while another uses the connection: the descriptor is closed when the last
// operation in flight ends (as internal/poll's fdMutex does), so its number is never reused under a reader.
type loopConn struct {
	fd           int
	laddr, raddr net.Addr
	// state: operations in flight (low 32 bits), closed, and whether the descriptor is closed already
	state    atomic.Int64
	rdl, wdl atomic.Int64 // deadlines, Unix ns (0: none)

	mu sync.Mutex // f, and deadlines given to it
	f  *os.File   // the descriptor in the netpoller, once an operation had to wait (owns fd then)
	fp atomic.Pointer[polledFile]
}

// polledFile is the descriptor in the netpoller and its RawConn (made once: os.File makes one per call).
type polledFile struct {
	f  *os.File
	rc syscall.RawConn
}

const (
	lcClosed = int64(1) << 40
	lcDone   = int64(1) << 41
	lcRefs   = int64(1)<<32 - 1
)

var errLoopConnClosed = net.ErrClosed

// newLoopConn wraps a connected, non-blocking, close-on-exec TCP socket; the loopConn owns fd from now on.
func newLoopConn(fd int, laddr, raddr net.Addr) *loopConn {
	return &loopConn{fd: fd, laddr: laddr, raddr: raddr}
}

// acquire counts an operation in flight; false when the connection is closed.
func (c *loopConn) acquire() bool {
	if c.state.Add(1)&lcClosed != 0 {
		c.release()
		return false
	}
	return true
}

// release ends an operation; the last one after Close closes the descriptor.
func (c *loopConn) release() {
	if c.state.Add(-1) == lcClosed && c.state.CompareAndSwap(lcClosed, lcClosed|lcDone) {
		c.closeFD()
	}
}

func (c *loopConn) closeFD() {
	c.mu.Lock()
	f := c.f
	c.mu.Unlock()
	if f != nil {
		_ = f.Close()
		return
	}
	_ = syscall.Close(c.fd)
}

// Close closes the connection; the descriptor is closed once no operation is using it.
func (c *loopConn) Close() error {
	for {
		v := c.state.Load()
		if v&lcClosed != 0 {
			return errLoopConnClosed
		}
		if c.state.CompareAndSwap(v, v|lcClosed) {
			break
		}
	}
	// an operation waiting in the netpoller holds no count here: closing the file wakes it (it fails)
	if c.state.CompareAndSwap(lcClosed, lcClosed|lcDone) {
		c.closeFD()
	}
	return nil
}

func (c *loopConn) LocalAddr() net.Addr  { return c.laddr }
func (c *loopConn) RemoteAddr() net.Addr { return c.raddr }

func (c *loopConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *loopConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rdl, t, (*os.File).SetReadDeadline)
}
func (c *loopConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wdl, t, (*os.File).SetWriteDeadline)
}

func (c *loopConn) setDeadline(dl *atomic.Int64, t time.Time, set func(*os.File, time.Time) error) error {
	if c.state.Load()&lcClosed != 0 {
		return errLoopConnClosed
	}
	v := int64(0)
	if !t.IsZero() {
		v = max(t.UnixNano(), 1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dl.Store(v)
	if c.f != nil {
		return set(c.f, t)
	}
	return nil
}

// expired reports whether the deadline dl has passed (Go's netpoller fails an operation then, data or not).
func expired(dl *atomic.Int64) bool {
	v := dl.Load()
	return v != 0 && time.Now().UnixNano() >= v
}

// polled returns the descriptor in the netpoller, moving it there the first time (with the deadlines set).
func (c *loopConn) polled() (*polledFile, error) {
	if p := c.fp.Load(); p != nil {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		if c.state.Load()&lcClosed != 0 {
			return nil, errLoopConnClosed
		}
		f := os.NewFile(uintptr(c.fd), "tcp")
		if f == nil {
			return nil, fmt.Errorf("socket %d: not a descriptor", c.fd)
		}
		if err := f.SetReadDeadline(time.Time{}); err != nil {
			// not taken by the netpoller: a descriptor that is not non-blocking (newLoopConn's contract)
			return nil, fmt.Errorf("socket %d: %w", c.fd, err)
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("socket %d: %w", c.fd, err)
		}
		for _, d := range []struct {
			v   int64
			set func(time.Time) error
		}{{c.rdl.Load(), f.SetReadDeadline}, {c.wdl.Load(), f.SetWriteDeadline}} {
			if d.v != 0 {
				_ = d.set(time.Unix(0, d.v))
			}
		}
		c.f = f
		c.fp.Store(&polledFile{f: f, rc: rc})
	}
	return c.fp.Load(), nil
}

func (c *loopConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var rerr syscall.Errno
	err := c.rawRead(func(fd uintptr) bool {
		n, rerr = recvNow(fd, p)
		return rerr != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case rerr != 0:
		return 0, c.opError("read", os.NewSyscallError("recvfrom", rerr))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		var n int
		var werr syscall.Errno
		err := c.rawWrite(func(fd uintptr) bool {
			n, werr = sendNow(fd, p[done:])
			return werr != syscall.EAGAIN
		})
		switch {
		case err != nil:
			return done, c.opError("write", err)
		case werr != 0:
			return done, c.opError("write", os.NewSyscallError("sendto", werr))
		}
		done += n
	}
	return done, nil
}

// CloseWrite shuts the sending side down (a half-close), as net.TCPConn's does.
func (c *loopConn) CloseWrite() error {
	if !c.acquire() {
		return c.opError("close", errLoopConnClosed)
	}
	defer c.release()
	if err := syscall.Shutdown(c.fd, syscall.SHUT_WR); err != nil {
		return c.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

func (c *loopConn) opError(op string, err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// rawRead calls fn with the descriptor until it reports done, waiting for readability in between (in the
// netpoller: see loopConn). It fails at the read deadline, as Go's own RawConn does.
func (c *loopConn) rawRead(fn func(uintptr) bool) error {
	return c.rawOp(fn, &c.rdl, syscall.RawConn.Read)
}

func (c *loopConn) rawWrite(fn func(uintptr) bool) error {
	return c.rawOp(fn, &c.wdl, syscall.RawConn.Write)
}

func (c *loopConn) rawOp(fn func(uintptr) bool, dl *atomic.Int64, op func(syscall.RawConn, func(uintptr) bool) error) error {
	p := c.fp.Load()
	if p == nil {
		if !c.acquire() {
			return errLoopConnClosed
		}
		if expired(dl) {
			c.release()
			return os.ErrDeadlineExceeded
		}
		done := fn(uintptr(c.fd))
		c.release()
		if done {
			return nil
		}
		// has to wait: in the netpoller (its own descriptor accounting applies from here on)
		if !c.acquire() {
			return errLoopConnClosed
		}
		var err error
		p, err = c.polled()
		c.release()
		if err != nil {
			return err
		}
	}
	if err := op(p.rc, fn); err != nil {
		if c.state.Load()&lcClosed != 0 {
			return errLoopConnClosed // the file's own "use of closed file"
		}
		return err
	}
	return nil
}

// SyscallConn gives the descriptor to code that does its own system calls (rawSock, splice).
func (c *loopConn) SyscallConn() (syscall.RawConn, error) { return loopRawConn{c}, nil }

type loopRawConn struct{ c *loopConn }

func (r loopRawConn) Control(fn func(uintptr)) error {
	if !r.c.acquire() {
		return errLoopConnClosed
	}
	defer r.c.release()
	fn(uintptr(r.c.fd))
	return nil
}

func (r loopRawConn) Read(fn func(uintptr) bool) error  { return r.c.rawRead(fn) }
func (r loopRawConn) Write(fn func(uintptr) bool) error { return r.c.rawWrite(fn) }

// acceptFile duplicates a TCP listener's socket into an *os.File in the netpoller, for acceptOwned (nil when ln
// is not TCP or the duplicate fails: the listener then accepts with net's Accept).
func acceptFile(ln net.Listener) *os.File {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	nfd, err := dupRaw(rc)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(nfd), "listener")
	if f == nil {
		return nil
	}
	if _, err := f.SyscallConn(); err != nil || f.SetReadDeadline(time.Time{}) != nil {
		_ = f.Close() // not in the netpoller: its RawConn could not wait
		return nil
	}
	return f
}

// acceptOwned accepts the next connection of a TCP listener as a loopConn, with accept4 through lf's RawConn (lf
// from acceptFile: it waits in the netpoller for the listening socket), so that the accepted socket never enters
// the netpoller itself. addr names the listener in errors.
func acceptOwned(lf *os.File, addr net.Addr, keepAlive bool) (net.Conn, error) {
	rc, err := lf.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var sa syscall.Sockaddr
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			nfd, sa, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			switch aerr {
			case syscall.EINTR, syscall.ECONNABORTED:
				continue // as Go's accept: a connection reset before it was accepted is not an error
			case syscall.EAGAIN:
				return false
			}
			return true
		}
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: addr, Err: os.NewSyscallError("accept4", aerr)}
	}
	lsa, err := syscall.Getsockname(nfd)
	if err != nil {
		_ = syscall.Close(nfd)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: addr, Err: os.NewSyscallError("getsockname", err)}
	}
	// TCP_NODELAY as Go's and haproxy's accepted sockets; keep-alive probes with option clitcpka/tcpka, as haproxy
	// (the system's probe timers apply)
	_ = syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if keepAlive {
		_ = syscall.SetsockoptInt(nfd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	}
	return newLoopConn(nfd, tcpAddr(lsa), tcpAddr(sa)), nil
}

// ownConn turns a connected *net.TCPConn into a loopConn (a duplicate of its descriptor; the original, which is
// in the netpoller, is closed). Anything else, or a failure, gives c back unchanged.
func ownConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	nfd, err := dupRaw(rc)
	if err != nil {
		return c
	}
	lc := newLoopConn(nfd, tc.LocalAddr(), tc.RemoteAddr())
	_ = tc.Close()
	return lc
}

// dupNonblock duplicates fd, close-on-exec and non-blocking (O_NONBLOCK belongs to the open file, so fd is
// non-blocking afterwards too).
func dupNonblock(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	if err := syscall.SetNonblock(int(r), true); err != nil {
		_ = syscall.Close(int(r))
		return -1, err
	}
	return int(r), nil
}

// dupRaw is dupNonblock of the descriptor behind rc.
func dupRaw(rc syscall.RawConn) (int, error) {
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = dupNonblock(int(fd)) }); err != nil {
		return -1, err
	}
	return nfd, derr
}

// tcpAddr converts a socket address from accept4/getsockname.
func tcpAddr(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *syscall.SockaddrInet6:
		zone := ""
		if a.ZoneId != 0 {
			zone = strconv.Itoa(int(a.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port, Zone: zone}
	}
	return &net.TCPAddr{}
}

// tcpRawConn is the RawConn of a plain TCP connection (net.TCPConn or loopConn); nil for anything else (TLS,
// unix sockets).
func tcpRawConn(c net.Conn) syscall.RawConn {
	var rc syscall.RawConn
	var err error
	switch t := c.(type) {
	case *net.TCPConn:
		rc, err = t.SyscallConn()
	case *loopConn:
		rc, err = t.SyscallConn()
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return rc
}
