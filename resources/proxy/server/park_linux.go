package server

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// parker holds idle HTTP client connections without a goroutine. A connection that has waited idleGrace for its
// next request leaves its socket in an epoll set of the parker's own and its goroutine ends (with its stack and
// its per-request state); the parker's single goroutine hands the connection to a fresh goroutine when its next
// request arrives, or ends it when its timeout comes first. This is how haproxy keeps an idle connection at about
// a kilobyte, and what lets Duet come close: a parked connection costs its socket and a few small structs. The
// bookkeeping lives in the connection itself (parkIdx, parkFirst): parking allocates nothing.
//
// The socket stays registered with Go's own netpoller too (edge-triggered); the registration here is one-shot, and
// it is removed before anyone else touches the connection again.
type parker struct {
	epfd   int
	wakeR  int // read end of a pipe in the epoll set: a write to wakeW makes run look at closed and the deadlines
	wakeW  int
	mu     sync.Mutex
	parked map[int32]*httpConn // by socket fd
	byTime deadlines           // the same connections, earliest deadline first
	closed bool
	done   chan struct{}
}

// deadlines is a min-heap of parked connections by their until.
type deadlines []*httpConn

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].until < d[j].until }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].parkIdx, d[j].parkIdx = int32(i), int32(j)
}
func (d *deadlines) Push(x any) {
	h := x.(*httpConn)
	h.parkIdx = int32(len(*d))
	*d = append(*d, h)
}
func (d *deadlines) Pop() any {
	old := *d
	h := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	h.parkIdx = -1
	return h
}

// idleGrace is how long a connection keeps its goroutine while it waits for its next request: long enough that a
// busy client's next request (one round trip away) finds it awake, short enough that idle connections let go of
// their stacks quickly.
const idleGrace = 20 * time.Millisecond

// firstGrace is idleGrace for a new connection's first request, which follows the handshake at once from any
// client that is going to send one: shorter, so that a burst of silent connections (pre-connecting browsers, a
// flood) parks almost at once instead of holding goroutine stacks.
const firstGrace = 2 * time.Millisecond

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
	return &parker{epfd: epfd, wakeR: p[0], wakeW: p[1], parked: map[int32]*httpConn{}, done: make(chan struct{})}, nil
}

// park hands h to the parker until its next request or until h.until. It reports false when the connection could
// not be parked (the parker is stopping, or epoll refused the socket): the caller keeps serving it as before.
func (p *parker) park(h *httpConn, first bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: h.fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(h.fd), &ev); err != nil {
		return false
	}
	h.parkFirst = first
	p.parked[h.fd] = h
	wasFirst := len(p.byTime) == 0 || h.until < p.byTime[0].until
	heap.Push(&p.byTime, h)
	if wasFirst {
		// run sleeps until the earliest deadline it knew of: tell it about an earlier one
		_, _ = syscall.Write(p.wakeW, []byte{0})
	}
	return true
}

// unparkLocked takes h out of the parker, before its socket can be closed or its number reused.
func (p *parker) unparkLocked(h *httpConn) {
	delete(p.parked, h.fd)
	heap.Remove(&p.byTime, int(h.parkIdx))
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(h.fd), nil)
}

// run waits for parked sockets to become readable and resumes their connections with resume; connections whose
// deadline passes end with expire. It returns when stop is called.
func (p *parker) run(resume, expire func(h *httpConn, first bool)) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	var drain [64]byte
	var ready, late []*httpConn
	for {
		p.mu.Lock()
		wait := -1
		if len(p.byTime) > 0 {
			wait = int((time.Duration(p.byTime[0].until-time.Now().UnixNano()) + time.Millisecond - 1) / time.Millisecond)
			wait = max(wait, 0)
		}
		p.mu.Unlock()
		n, err := syscall.EpollWait(p.epfd, events, wait)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return // only a closed or broken epoll set gets here; stop ends what is parked
		}
		ready, late = ready[:0], late[:0]
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.wakeR {
				_, _ = syscall.Read(p.wakeR, drain[:])
				continue
			}
			if h := p.parked[ev.Fd]; h != nil {
				p.unparkLocked(h)
				ready = append(ready, h)
			}
		}
		now := time.Now().UnixNano()
		for len(p.byTime) > 0 && p.byTime[0].until <= now {
			h := p.byTime[0]
			p.unparkLocked(h)
			late = append(late, h)
		}
		p.mu.Unlock()
		for _, h := range ready {
			resume(h, h.parkFirst)
		}
		for _, h := range late {
			expire(h, h.parkFirst)
		}
		clear(ready)
		clear(late)
	}
}

// stop ends run, then ends every connection still parked (like haproxy's soft stop closes idle ones) with end.
func (p *parker) stop(end func(h *httpConn)) {
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
	left := make([]*httpConn, 0, len(p.parked))
	for _, h := range p.parked {
		left = append(left, h)
	}
	for _, h := range left {
		p.unparkLocked(h)
	}
	p.mu.Unlock()
	for _, h := range left {
		end(h)
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
