package server

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// parker holds idle HTTP client connections without a goroutine. A connection that has waited idleGrace for its
// next request leaves its socket in an epoll set of the parker's own and its goroutine ends (with its stack and
// its per-request state); the parker's single goroutine hands the connection to a fresh goroutine when its next
// request arrives, or closes it when its timeout ends first. This is how haproxy keeps an idle connection at
// about a kilobyte, and what lets Duet do the same: a parked connection costs its socket and a few small structs.
//
// The socket stays registered with Go's own netpoller too (edge-triggered); the second registration here is
// level-triggered and one-shot, and it is removed before anyone else touches the connection again.
type parker struct {
	epfd   int
	wakeR  int // read end of a pipe in the epoll set: Stop writes to wakeW to end the loop
	wakeW  int
	mu     sync.Mutex
	parked map[int32]*parkedConn // by socket fd
	closed bool
	done   chan struct{}
}

type parkedConn struct {
	fd      int32
	h       *httpConn
	first   bool // no request yet: a timeout answers 408 like haproxy
	timeout *time.Timer
}

// idleGrace is how long a connection keeps its goroutine while it waits for its next request: long enough that a
// busy client's next request (one round trip away) finds it awake, short enough that idle connections let go of
// their stacks quickly.
const idleGrace = 20 * time.Millisecond

func newParker() (*parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("idle connection parker: epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("idle connection parker: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(p[0])
		_ = syscall.Close(p[1])
		return nil, fmt.Errorf("idle connection parker: epoll_ctl: %w", err)
	}
	return &parker{epfd: epfd, wakeR: p[0], wakeW: p[1], parked: map[int32]*parkedConn{}, done: make(chan struct{})}, nil
}

// park hands h (whose socket is fd) to the parker until its next request or until deadline. It reports false
// when the connection could not be parked (the parker is stopping, or epoll refused the socket): the caller keeps
// serving it as before.
func (p *parker) park(h *httpConn, fd int, deadline time.Time, first bool) bool {
	pc := &parkedConn{fd: int32(fd), h: h, first: first}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	p.parked[pc.fd] = pc
	pc.timeout = time.AfterFunc(time.Until(deadline), func() {
		if p.claim(pc) {
			pc.h.parkTimeout(pc.first)
		}
	})
	return true
}

// claim takes pc out of the parker; exactly one of wake-up, timeout and close wins.
func (p *parker) claim(pc *parkedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claimLocked(pc)
}

func (p *parker) claimLocked(pc *parkedConn) bool {
	if p.parked[pc.fd] != pc {
		return false
	}
	delete(p.parked, pc.fd)
	// removed before the socket can be closed or its number reused
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(pc.fd), nil)
	pc.timeout.Stop()
	return true
}

// run waits for parked sockets to become readable and resumes their connections with resume. It returns when
// stop is called.
func (p *parker) run(resume func(h *httpConn, first bool)) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return // only a closed or broken epoll set gets here; stop closes what is parked
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == p.wakeR {
				return
			}
			p.mu.Lock()
			pc := p.parked[ev.Fd]
			ok := pc != nil && p.claimLocked(pc)
			p.mu.Unlock()
			if ok {
				resume(pc.h, pc.first)
			}
		}
	}
}

// stop ends run, then closes every connection still parked (like haproxy's soft stop closes idle ones).
func (p *parker) stop() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	_, _ = syscall.Write(p.wakeW, []byte{0})
	p.mu.Unlock()
	<-p.done
	p.mu.Lock()
	left := make([]*parkedConn, 0, len(p.parked))
	for _, pc := range p.parked {
		if p.claimLocked(pc) {
			left = append(left, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range left {
		pc.h.close()
	}
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wakeR)
	_ = syscall.Close(p.wakeW)
}

// count is the number of parked connections (tests, stats).
func (p *parker) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
