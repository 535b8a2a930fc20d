package server

import (
	"container/heap"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/duet-ha/duet/resources/proxy/affinity"
)

// evloop serves plain-TCP connections without a goroutine each: HTTP connections while they wait for their next
// request or for their server's response, TCP-mode tunnels for good. There is one loop per CPU the runtime uses.
// Its runner is a goroutine that collects ready sockets from the loop's own epoll set (epoll_wait with a zero
// timeout) and serves them inline: for HTTP it reads the request, runs the rules, picks a server, writes the
// request and leaves it waiting here for the response; when the response comes it relays it and leaves the
// connection waiting here for its next request. When nothing is ready the runner waits for the epoll descriptor
// on Go's netpoller, as any goroutine waits for a socket.
//
// Why: with a goroutine per connection, a goroutine made runnable by Go's netpoller waits in a P's run queue
// while the kernel runs another process on that thread's CPU; on a machine the proxy shares with its clients and
// servers, that put Duet's p99 at twice haproxy's (resources/proxy/README.md, "The event loops", has the
// measurements, and the designs tried and dropped: threads blocking in epoll_wait, one-shot registrations).
//
// Anything that would block the runner (a partial request or response, a full socket buffer, a connect, a
// server queue, a tarpit) makes it hand the loop over first (handoff): a fresh runner goroutine takes over the
// loop and the rest of the batch, and the old goroutine carries on with the connection that blocked exactly as
// before loops existed, until that connection waits again and parks here.
//
// Every socket is registered once, edge-triggered (edgeEvents), so that waiting costs no system call: client
// sockets while the connection lives, server sockets from their first response awaited here. Waiting
// connections are keyed by the socket they wait on; an edge that comes while a connection is busy is remembered
// for its next wait. The sockets are not in Go's own netpoller (loopConn): one moves there when a goroutine
// serving its connection has to wait.
type evloop struct {
	s        *Server
	yield    bool         // several loops: a runner busy for a millisecond yields when another loop has work (run)
	blocking bool         // the runner blocks in epoll_wait itself, keeping its P (Options.BlockingLoops)
	cpus     []int        // a blocking runner binds its thread to these CPUs (Options.LoopCPUs; none: not bound)...
	unbound  []int        // ...and gives it back this set when it leaves it
	tid      atomic.Int64 // the thread of the current blocking runner (tests)
	stream   streamWatch  // a bound runner whose tunnels stream unbinds while they do (loopbind_linux.go)
	epfd     int
	pf       *os.File        // epfd, registered with Go's netpoller (not when blocking: its edges would wake it for nothing)
	prc      syscall.RawConn // of pf
	dl       int64           // read deadline set on pf (Unix ns, 0: none)
	wakeR    int             // read end of a pipe in the epoll set: a write to wakeW makes the runner look at closed and deadlines
	wakeW    int
	mu       sync.Mutex
	waiting  []*httpConn // HTTP connections waiting, by the socket waited on
	nwaiting int
	regs     []*loopEntry // connections whose sockets are registered for good (client sockets, tunnels), by socket
	pending  []*loopEntry // ready without an event (parked while an edge was remembered)
	byTime   deadlines    // the same connections, earliest wakeAt first
	closed   bool
	done     chan struct{}

	runner   atomic.Uint64 // id of the goroutine running the loop now (handoff changes it)
	nextID   atomic.Uint64
	handoffs atomic.Int64 // times a runner handed its loop over (tests)
	fullIn   atomic.Int64 // times a tunnel found its server's socket full, its client's (tests)
	fullOut  atomic.Int64
	// owned by the current runner (handed over with the loop)
	events []syscall.EpollEvent
	ready  []*loopEntry
	buf    []byte      // tunnels copy through it (runner only)
	pipes  []*kpipe    // empty pipes for the next splice burst (runner only; tunnel_splice_linux.go)
	now    int64       // when the runner collected the batch it serves (Unix ns; tunnels' clock)
	parked int64       // when the runner last waited or yielded (Unix ns)
	inWait atomic.Bool // the runner waits on the netpoller (othersBusy)
	// pollFn is wait's callback for the netpoller, made once (a closure per wait allocates); it leaves what
	// epoll_wait returned in pollN and pollErr
	pollFn  func(uintptr) bool
	pollN   int
	pollErr error
	ri      int
}

// loopEntry is what a loop keeps of a connection it serves: its place in the deadline heap and how it was woken.
// Exactly one of h (an HTTP connection) and t (a TCP-mode tunnel) is set.
type loopEntry struct {
	h       *httpConn
	t       *tunnel
	parkIdx int32
	wakeAt  int64
	expired bool // woken by wakeAt, not by a socket
}

// wake serves the connection on the runner id.
func (e *loopEntry) wake(id uint64) {
	if e.h != nil {
		e.h.wake(id)
	} else {
		e.t.wake(id)
	}
}

// deadlines is a min-heap of connections by their wakeAt.
type deadlines []*loopEntry

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].wakeAt < d[j].wakeAt }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].parkIdx, d[j].parkIdx = int32(i), int32(j)
}
func (d *deadlines) Push(x any) {
	h := x.(*loopEntry)
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

func newEvloop(s *Server, yield, blocking bool) (*evloop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("event loop: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(p[0])
		_ = syscall.Close(p[1])
		return nil, fmt.Errorf("event loop: epoll_ctl: %w", err)
	}
	// the runner waits for the epoll descriptor on Go's netpoller (wait), unless it blocks in epoll_wait itself
	if err := syscall.SetNonblock(epfd, !blocking); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(p[0])
		_ = syscall.Close(p[1])
		return nil, fmt.Errorf("event loop: set non-blocking: %w", err)
	}
	pf := os.NewFile(uintptr(epfd), "evloop")
	prc, err := pf.SyscallConn()
	if err == nil && !blocking {
		err = pf.SetReadDeadline(time.Time{}) // fails unless the netpoller took the descriptor
	}
	if err != nil {
		_ = pf.Close()
		_ = syscall.Close(p[0])
		_ = syscall.Close(p[1])
		return nil, fmt.Errorf("event loop: netpoller: %w", err)
	}
	l := &evloop{s: s, yield: yield, blocking: blocking, epfd: epfd, pf: pf, prc: prc, wakeR: p[0], wakeW: p[1], done: make(chan struct{}),
		events: make([]syscall.EpollEvent, 128)}
	l.pollFn = func(uintptr) bool {
		l.pollN, l.pollErr = l.pollNow()
		return l.pollN != 0 || l.pollErr != nil
	}
	return l, nil
}

// start runs the loop's first runner; the caller has added it to the server's WaitGroup.
func (l *evloop) start() {
	id := l.nextID.Add(1)
	l.runner.Store(id)
	go l.run(id)
}

// park makes h wait in the loop for its next request (until h.until), without a goroutine. It reports false when
// the loop is stopping or epoll refused the socket: the caller keeps serving h as before.
//
// more says the socket may hold bytes already (see waitRequest): the connection is ready at once.
func (l *evloop) park(h *httpConn, first, more bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if !h.registered {
		ev := syscall.EpollEvent{Events: edgeEvents, Fd: h.fd}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(h.fd), &ev); err != nil {
			return false
		}
		h.registered = true
		l.regs = grow(l.regs, h.fd)
		l.regs[h.fd] = &h.loopEntry // EPOLL_CTL_ADD reports a socket that is readable already
	}
	h.parkFirst, h.waitSrv = first, false
	if h.edge || h.hup || more {
		// readable while it was busy: ready at once (a look with nothing to read parks it again)
		h.edge, h.hup = false, false
		h.expired = false
		l.pending = append(l.pending, &h.loopEntry)
		if l.runner.Load() != h.rid {
			_, _ = syscall.Write(l.wakeW, []byte{0})
		}
		return true
	}
	l.waitLocked(h, h.fd, h.until)
	return true
}

// edgeEvents is the registration of every socket in a loop: edge-triggered and permanent, so that waiting costs
// no system call; an edge that comes while its connection is busy is remembered (httpConn.edge) for its next wait.
const edgeEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | (syscall.EPOLLET & 0xffffffff)

// grow makes s long enough to be indexed by fd.
func grow[T any](s []*T, fd int32) []*T {
	if int(fd) >= len(s) {
		s = append(s, make([]*T, int(fd)+1-len(s)+64)...)
	}
	return s
}

// unregister forgets h's client socket before it is closed (its number may be reused at once).
func (l *evloop) unregister(h *httpConn) {
	l.mu.Lock()
	if int(h.fd) < len(l.regs) && l.regs[h.fd] == &h.loopEntry {
		l.regs[h.fd] = nil
	}
	h.registered = false
	l.mu.Unlock()
}

// parkServer makes h wait in the loop for its server's response on bc, until the Unix time until (0: no limit).
// The runner or goroutine serving h calls it right after sending the request. The server's socket stays
// registered (edgeEvents) while the connection lives, so that its next response on this loop costs no system
// call.
func (l *evloop) parkServer(h *httpConn, bc *beConn, until int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	fd := bc.fd
	already := bc.reg == l
	if !already {
		ev := syscall.EpollEvent{Events: edgeEvents, Fd: fd}
		if old := bc.reg; old != nil {
			_ = syscall.EpollCtl(old.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		}
		bc.reg = nil
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			return false
		}
		bc.reg = l
	}
	if until == 0 {
		until = time.Now().Add(100 * 365 * 24 * time.Hour).UnixNano()
	}
	h.waitSrv = true
	if already && (h.rid == 0 || l.runner.Load() != h.rid) && readable(int(fd)) {
		// not on this loop's runner: the response's edge may have reached the runner before the wait was known
		// (and was dropped), so a response already there makes the connection ready at once
		h.expired = false
		l.pending = append(l.pending, &h.loopEntry)
		_, _ = syscall.Write(l.wakeW, []byte{0})
		return true
	}
	l.waitLocked(h, fd, until)
	return true
}

func (l *evloop) waitLocked(h *httpConn, fd int32, until int64) {
	h.waitFd, h.wakeAt = fd, until
	l.waiting = grow(l.waiting, fd)
	l.waiting[fd] = h
	l.nwaiting++
	wasFirst := len(l.byTime) == 0 || until < l.byTime[0].wakeAt
	heap.Push(&l.byTime, &h.loopEntry)
	if wasFirst && l.runner.Load() != h.rid {
		// the runner sleeps until the earliest deadline it knew of: tell it about an earlier one (the runner
		// itself looks before it sleeps again)
		_, _ = syscall.Write(l.wakeW, []byte{0})
	}
}

// unwaitLocked takes h out of the loop, before its socket can be used elsewhere, closed or its number reused.
func (l *evloop) unwaitLocked(h *httpConn) {
	l.waiting[h.waitFd] = nil
	l.nwaiting--
	if h.parkIdx >= 0 {
		heap.Remove(&l.byTime, int(h.parkIdx))
	}
	h.waitFd = -1
}

// run is one runner: it serves ready connections and waits in epoll_wait until the loop stops or until it hands
// the loop over (then it returns once the connection it kept is served).
func (l *evloop) run(id uint64) {
	defer l.s.wg.Done()
	if l.blocking {
		// A blocking runner keeps one thread, as a haproxy thread does: unlocked, the runtime moved runners
		// between four threads, and the kernel made the thread a runner landed on wait for a CPU more often
		// (perf sched: 169 waits over 0.5 ms in 2 s against 47; saturated p99 4.2-5.1 ms against 3.3-3.7).
		// A runner that hands its loop over unlocks first (handoff). The thread is bound to the loop's CPUs
		// (Options.LoopCPUs; package affinity says why) while the runner holds it.
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		l.tid.Store(int64(affinity.Gettid()))
		if l.bind(l.threadCPUs()) {
			defer func() {
				if l.runner.Load() == id { // (handoff unbinds the thread itself)
					l.bind(l.unbound) // before the unlock: the thread goes back to the runtime unbound
				}
			}()
		}
	}
	var drain [64]byte
	for {
		if !l.serveReady(id) {
			return // handed over: the goroutine served its connection as a goroutine of its own
		}
		if l.yield && l.now-l.parked > int64(time.Millisecond) {
			// Several runners share the Go scheduler: one that has found work for a millisecond without waiting
			// could keep another, made runnable meanwhile, queued behind it (measured: stalls of 100-500 ms under
			// load without this). It yields then, but only when another loop has work: yielding blind cost 0.15 ms
			// of median latency at a moderate load.
			if l.othersBusy() {
				goruntime.Gosched()
			}
			l.parked = l.now
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			close(l.done)
			return
		}
		until := int64(0)
		if len(l.byTime) > 0 {
			until = l.byTime[0].wakeAt
		}
		busy := len(l.pending) > 0
		l.mu.Unlock()
		var n int
		var err error
		if busy {
			n, err = l.pollNow()
		} else {
			n, err = l.wait(until)
		}
		if err != nil && !errors.Is(err, syscall.EINTR) {
			// only a closed or broken epoll set gets here
			l.s.log.Warn("event loop stopped", "err", err)
			l.mu.Lock()
			l.closed = true
			l.mu.Unlock()
			close(l.done)
			return
		}
		l.now = time.Now().UnixNano()
		if l.stream.on && l.now >= l.stream.next {
			l.watchStreaming()
		}
		l.mu.Lock()
		for _, ev := range l.events[:max(n, 0)] {
			if int(ev.Fd) == l.wakeR {
				_, _ = syscall.Read(l.wakeR, drain[:])
				continue
			}
			hup := ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
			if int(ev.Fd) < len(l.waiting) && l.waiting[ev.Fd] != nil {
				h := l.waiting[ev.Fd]
				if !h.waitSrv {
					h.hup = h.hup || hup // the end of stream may have come with the request: its next wait looks
				}
				l.unwaitLocked(h)
				h.expired = false
				l.ready = append(l.ready, &h.loopEntry)
			} else if int(ev.Fd) < len(l.regs) && l.regs[ev.Fd] != nil {
				if e := l.regs[ev.Fd]; e.h != nil {
					e.h.edge = true // busy: its next wait looks first
					e.h.hup = e.h.hup || hup
				} else {
					// readable (or ended): read it; writable (or ended, so that the write tells) while bytes wait
					// for it: write them. A writable edge with nothing waiting (the registration's) is ignored.
					t := e.t
					in := ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
					out := ev.Events&syscall.EPOLLOUT != 0 || hup
					from, into := &t.in, &t.out // the socket is in's source and out's destination...
					if ev.Fd != t.cfd {
						from, into = into, from // ...or the other way round
					}
					out = out && (len(into.pend) > 0 || into.piped > 0)
					from.ready, from.hup, into.writable = from.ready || in, from.hup || hup, into.writable || out
					if (in || out) && !t.queued {
						t.queued = true
						e.expired = false
						l.ready = append(l.ready, e)
					}
				}
			}
		}
		l.ready = append(l.ready, l.pending...)
		clear(l.pending)
		l.pending = l.pending[:0]
		for len(l.byTime) > 0 && l.byTime[0].wakeAt <= l.now {
			e := l.byTime[0]
			if e.h != nil {
				l.unwaitLocked(e.h)
			} else {
				heap.Pop(&l.byTime)
				if e.t.queued {
					continue // served in this batch anyway; it looks at its clock then
				}
				e.t.queued = true
			}
			e.expired = true
			l.ready = append(l.ready, e)
		}
		l.mu.Unlock()
	}
}

// wait returns the loop's ready events, waiting for them until the Unix time until (0: no limit). The wait is
// on Go's netpoller, where the loop's epoll descriptor is registered: the runner is a goroutine like any other
// while it waits, so no thread sits in a system call holding a P (the runtime's monitor would take it back
// every 20 µs under load, at the cost of a thread switch each time).
func (l *evloop) wait(until int64) (int, error) {
	if n, err := l.pollNow(); n != 0 || err != nil {
		return n, err
	}
	if l.blocking {
		return l.waitBlocking(until)
	}
	if until != l.dl {
		l.dl = until
		var t time.Time
		if until != 0 {
			t = time.Unix(0, until)
		}
		_ = l.pf.SetReadDeadline(t)
	}
	l.inWait.Store(true)
	err := l.prc.Read(l.pollFn)
	l.inWait.Store(false)
	l.parked = time.Now().UnixNano()
	n, perr := l.pollN, l.pollErr
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		l.dl = -1 // set it again next time, even to the same value: the wall clock may lag the timer a little
	}
	return n, perr
}

// waitBlocking waits for the loop's sockets until the Unix time until (0: no limit) with epoll_wait as a raw
// system call: the runner keeps its P and its thread sleeps in the kernel until a socket of the loop is ready
// (Options.BlockingLoops). A runner that finds nothing for idleAfter waits on the netpoller instead
// (waitIdle), so that an idle proxy costs nothing: the runtime preempts a goroutine that has held its P for
// 10 ms, with a signal that interrupts epoll_wait, and for a locked runner a trip through two threads.
func (l *evloop) waitBlocking(until int64) (int, error) {
	limit := time.Now().UnixNano() + int64(idleAfter)
	if until != 0 && until <= limit {
		return l.epollWait(until)
	}
	if n, err := l.epollWait(limit); n != 0 || err != nil {
		return n, err
	}
	return l.waitIdle(until)
}

// bind binds the runner's locked thread to cpus (none: nothing to do), and reports whether it did.
func (l *evloop) bind(cpus []int) bool {
	if len(cpus) == 0 || len(l.cpus) == 0 {
		return false
	}
	if err := affinity.SetThread(0, cpus); err != nil {
		l.s.log.Warn("event loop: CPU binding", "cpus", affinity.List(cpus), "err", err)
		return false
	}
	return true
}

// idleAfter is how long a blocking runner waits in epoll_wait before it waits on the netpoller.
const idleAfter = 5 * time.Millisecond

// epollWait is one epoll_wait until the Unix time until (0: no limit), as a raw system call.
func (l *evloop) epollWait(until int64) (int, error) {
	timeout := -1
	if until != 0 {
		// in milliseconds, rounded up; at most a minute (a "no timeout" deadline is a century away)
		timeout = int(min(max(0, (until-time.Now().UnixNano()+int64(time.Millisecond)-1)/int64(time.Millisecond)), 60000))
	}
	l.inWait.Store(true)
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(timeout), 0, 0)
	l.inWait.Store(false)
	l.parked = time.Now().UnixNano()
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// waitIdle waits on Go's netpoller for a duplicate of the loop's epoll descriptor, registered for this wait only
// (while the loop is busy, the runtime's epoll set must not hold it: each of its edges would wake the runtime's
// netpoll thread for nothing). It falls back to epollWait when the duplicate cannot be made.
func (l *evloop) waitIdle(until int64) (int, error) {
	// O_NONBLOCK is shared with the loop's descriptor: epoll_wait does not look at it (its timeout decides)
	fd, err := dupNonblock(l.epfd)
	if err != nil {
		return l.epollWait(until)
	}
	f := os.NewFile(uintptr(fd), "evloop-idle")
	defer f.Close()
	var dl time.Time
	if until != 0 {
		dl = time.Unix(0, until)
	}
	rc, err := f.SyscallConn()
	if err == nil {
		err = f.SetReadDeadline(dl) // fails unless the netpoller took the descriptor
	}
	if err != nil {
		return l.epollWait(until)
	}
	l.inWait.Store(true)
	err = rc.Read(l.pollFn)
	l.inWait.Store(false)
	l.parked = time.Now().UnixNano()
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, err
	}
	if err != nil {
		return 0, nil // until came
	}
	return l.pollN, l.pollErr
}

// othersBusy reports whether another loop's runner is running, or is waiting while its loop has events (made
// runnable, it waits for a P).
func (l *evloop) othersBusy() bool {
	for _, o := range l.s.loops {
		if o != l && (!o.inWait.Load() || readable(o.epfd)) {
			return true
		}
	}
	return false
}

// readable polls fd without waiting (an epoll descriptor is readable while it has events; polling it does not
// take them).
func readable(fd int) bool {
	pfd := struct {
		fd             int32
		events, revent int16
	}{fd: int32(fd), events: 1} // POLLIN
	var ts syscall.Timespec
	n, _, e := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return e == 0 && n == 1
}

// pollNow is epoll_wait with a zero timeout, as a raw system call.
func (l *evloop) pollNow() (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// serveReady serves the ready connections on the runner id; false when the loop was handed over meanwhile.
func (l *evloop) serveReady(id uint64) bool {
	for l.ri < len(l.ready) {
		e := l.ready[l.ri]
		l.ready[l.ri] = nil
		l.ri++
		e.wake(id)
		if l.runner.Load() != id {
			return false
		}
	}
	l.ready, l.ri = l.ready[:0], 0
	return true
}

// handoff gives the loop to a fresh runner goroutine; the caller (the runner until now) goes on as an ordinary
// goroutine and may block.
func (l *evloop) handoff() {
	if l.blocking {
		l.bind(l.unbound)
		goruntime.UnlockOSThread() // the caller goes on as an ordinary goroutine (run locked it)
	}
	l.handoffs.Add(1)
	id := l.nextID.Add(1)
	l.runner.Store(id)
	l.s.wg.Add(1)
	go l.run(id)
}

// stop ends the runner, then ends every connection still waiting for a request (like haproxy's soft stop closes
// idle ones) with end. A connection waiting for a response gets a goroutine to finish it.
func (l *evloop) stop(end func(h *httpConn)) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return
	}
	l.closed = true
	_, _ = syscall.Write(l.wakeW, []byte{0})
	l.mu.Unlock()
	<-l.done
	l.mu.Lock()
	left := make([]*httpConn, 0, l.nwaiting)
	for _, h := range l.waiting {
		if h != nil {
			left = append(left, h)
		}
	}
	for _, h := range left {
		l.unwaitLocked(h)
	}
	for _, e := range l.pending {
		left = append(left, e.h)
	}
	clear(l.pending)
	l.pending = l.pending[:0]
	var tunnels []*tunnel
	for _, e := range l.regs {
		if e != nil && e.t != nil && !e.t.gone {
			l.leaveLocked(e.t)
			tunnels = append(tunnels, e.t)
		}
	}
	l.mu.Unlock()
	for _, t := range tunnels {
		// on goroutines of its own, which Stop waits for (or, past its deadline, ends by closing the sockets)
		l.s.wg.Add(1)
		go func() {
			defer l.s.wg.Done()
			t.onGoroutines()
		}()
	}
	for _, h := range left {
		if h.waitSrv {
			// its response is relayed on a goroutine of its own, which Stop waits for (or, past its deadline,
			// makes fail by closing the server's socket)
			l.s.wg.Add(1)
			go func() {
				defer l.s.wg.Done()
				h.wake(0)
			}()
			continue
		}
		end(h)
	}
	l.closeFDs()
}

// closeFDs closes the loop's descriptors.
func (l *evloop) closeFDs() {
	l.closePipes()
	_ = l.pf.Close() // and the epoll descriptor with it
	_ = syscall.Close(l.wakeR)
	_ = syscall.Close(l.wakeW)
}

// count is the number of connections waiting in the loop (tests, stats).
func (l *evloop) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nwaiting
}

// forget takes h out of the loop if it waits there (its connection is being closed by someone else).
func (l *evloop) forget(h *httpConn) {
	l.mu.Lock()
	if h.waitFd >= 0 && int(h.waitFd) < len(l.waiting) && l.waiting[h.waitFd] == h {
		l.unwaitLocked(h)
	}
	l.mu.Unlock()
}
