package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawSock reads and writes a plain TCP socket with recvfrom(2) and sendto(2) issued as raw system calls, waiting
// on Go's netpoller (and its deadlines) through syscall.RawConn when the socket is not ready.
//
// Why: net.TCPConn's Read and Write go through read(2)/write(2) (the VFS layer on top of the socket calls) and
// through the runtime's entersyscall/exitsyscall, which let the runtime's monitor hand the P to another thread
// whenever a call lasts over 20 µs — and a loopback write does the receiver's TCP work inline, so it often does.
// Under a proxy's load that meant a thread hand-off or a monitor wake-up every other request. On a non-blocking
// socket these calls never block, so nothing is lost by keeping the P: measured with perf, this removes about a
// tenth of the kernel time per request.
type rawSock struct {
	rc            syscall.RawConn
	rbuf, wbuf    []byte
	rn, wn        int
	rerr, werr    syscall.Errno
	readFn, write func(uintptr) bool // made once: a closure per call would allocate
	// owner is the HTTP connection this socket serves while an event loop runner may be running it inline: the
	// runner hands its loop over before the socket makes it wait (evloop)
	owner  *httpConn
	noWait bool // tryRead, tryWrite: EAGAIN is an answer, not a wait
	full   bool // the last read filled its buffer: the socket may hold more (an edge-triggered loop must look)
}

func newRawSock(c net.Conn) *rawSock {
	rc := tcpRawConn(c)
	if rc == nil {
		return nil
	}
	r := &rawSock{}
	r.bind(rc)
	return r
}

// bind points r at a socket (a pooled rawSock is bound to each connection it serves).
func (r *rawSock) bind(rc syscall.RawConn) {
	r.rc = rc
	if r.readFn == nil {
		r.readFn, r.write = r.doRead, r.doWrite
	}
}

// recvNow is one recvfrom(2) on a non-blocking socket (EINTR retried).
func recvNow(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

// sendNow is one sendto(2) on a non-blocking socket (EINTR retried), without SIGPIPE.
func sendNow(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

func (r *rawSock) doRead(fd uintptr) bool {
	for {
		n, e := recvNow(fd, r.rbuf)
		switch e {
		case syscall.EAGAIN:
			if r.noWait {
				r.rn, r.rerr = 0, e
				return true
			}
			if r.owner != nil {
				r.owner.escape()
			}
			return false // wait for readiness on the netpoller
		}
		r.rn, r.rerr = n, e
		return true
	}
}

func (r *rawSock) doWrite(fd uintptr) bool {
	for {
		n, e := sendNow(fd, r.wbuf)
		switch e {
		case syscall.EAGAIN:
			if r.noWait {
				r.wn, r.werr = 0, e
				return true
			}
			if r.owner != nil {
				r.owner.escape()
			}
			return false
		}
		r.wn, r.werr = n, e
		return true
	}
}

// read is net.Conn's Read: io.EOF at the end of the stream, os.ErrDeadlineExceeded at the deadline.
func (r *rawSock) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rbuf = p
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	r.full = err == nil && r.rerr == 0 && r.rn == len(p)
	switch {
	case err != nil:
		return 0, err
	case r.rerr != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("recvfrom", r.rerr)}
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

// tryRead reads what is there without waiting: (0, syscall.EAGAIN) when nothing is.
func (r *rawSock) tryRead(p []byte) (int, error) {
	r.noWait = true
	n, err := r.read(p)
	r.noWait = false
	if err != nil && r.rerr == syscall.EAGAIN {
		return 0, syscall.EAGAIN
	}
	return n, err
}

// tryWrite writes what the socket takes without waiting: (n, syscall.EAGAIN) when it took only n bytes.
func (r *rawSock) tryWrite(p []byte) (int, error) {
	r.noWait = true
	done := 0
	var err error
	for done < len(p) {
		r.wbuf = p[done:]
		err = r.rc.Write(r.write)
		r.wbuf = nil
		if err == nil && r.werr == syscall.EAGAIN {
			err = syscall.EAGAIN
		} else if err == nil && r.werr != 0 {
			err = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("sendto", r.werr)}
		}
		if err != nil {
			break
		}
		done += r.wn
	}
	r.noWait = false
	return done, err
}

// write is net.Conn's Write: all of p, or an error.
func (r *rawSock) writeAll(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		r.wbuf = p[done:]
		err := r.rc.Write(r.write)
		r.wbuf = nil
		switch {
		case err != nil:
			return done, err
		case r.werr != 0:
			return done, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("sendto", r.werr)}
		}
		done += r.wn
	}
	return done, nil
}
