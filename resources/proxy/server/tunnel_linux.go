package server

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tunnel is a TCP-mode connection (client and server sockets) moved by an event loop instead of a goroutine per
// direction: when either socket is readable the runner reads what is there and writes it to the other side, at
// once, on its thread. It is the loop's counterpart of pipe and behaves as pipe does: half-close after an end of
// stream, both sockets closed after an error, the inactivity timeout (client, server or tunnel) counted over both
// directions. A write the other side cannot take whole (its socket buffer is full: a bulk transfer to a slow
// reader) keeps the rest in the tunnel (inPend, outPend) and stops reading that direction until the other side's
// socket says it is writable again (EPOLLOUT), as haproxy's buffers do. (Until Dec 7 such a tunnel went to
// goroutines for good: 18 % more CPU per byte than haproxy in the bulk benchmark.)
type tunnel struct {
	loopEntry
	l               *evloop
	f               *tcpFlow
	cl, sv          *dconn // client and server sides, both plain TCP sockets with raw calls
	cfd, sfd        int32
	cto, sto        time.Duration // inactivity timeouts while reading the client, the server
	in, out         int64         // bytes client to server, server to client
	last            int64         // last activity (Unix ns)
	t1, t2          byte          // how each direction ended, as copyDir: 0, 'T' timeout, 'E' error
	inDone, outDone bool
	rid             uint64 // runner serving it (0: none)
	queued          bool   // in the runner's ready list (runner only)
	cReady, sReady  bool   // the client's, the server's socket had an edge since it was last read (runner only)
	cHup, sHup      bool   // ... and its edge said end of stream or error: read until it shows (runner only)
	cOut, sOut      bool   // the client's, the server's socket had a writable edge (runner only)
	inPend, outPend []byte // bytes the server's, the client's socket could not take yet (runner only)
	inBuf, outBuf   []byte // their storage, made the first time a socket fills (runner only)
	gone            bool   // left the loop: its events are ignored (guarded by the loop's lock)
}

// addTunnel makes the loop move t; false when the loop is stopping or epoll refused a socket (the caller runs
// it on goroutines).
func (l *evloop) addTunnel(t *tunnel) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	t.loopEntry = loopEntry{t: t, parkIdx: -1}
	t.l = l
	l.regs = grow(l.regs, max(t.cfd, t.sfd))
	l.regs[t.cfd], l.regs[t.sfd] = &t.loopEntry, &t.loopEntry
	for i, fd := range []int32{t.cfd, t.sfd} {
		// edge-triggered: what is readable already is reported at once
		ev := syscall.EpollEvent{Events: tunnelEvents, Fd: fd}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			if i == 1 {
				_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(t.cfd), nil)
			}
			l.regs[t.cfd], l.regs[t.sfd] = nil, nil
			return false
		}
	}
	t.last = time.Now().UnixNano()
	l.timeTunnelLocked(t)
	return true
}

// tunnelEvents registers a tunnel's sockets: edgeEvents, and writability, whose edge comes only after a write
// found the socket full (the kernel reports it when space frees up then), so it costs nothing until then.
const tunnelEvents = edgeEvents | syscall.EPOLLOUT

// timeTunnelLocked puts t in the deadline heap for its inactivity timeout, if it has one.
func (l *evloop) timeTunnelLocked(t *tunnel) {
	to := t.idleLimit()
	if to <= 0 {
		return
	}
	t.wakeAt = t.last + int64(to)
	wasFirst := len(l.byTime) == 0 || t.wakeAt < l.byTime[0].wakeAt
	heap.Push(&l.byTime, &t.loopEntry)
	if wasFirst && l.runner.Load() != t.rid {
		_, _ = syscall.Write(l.wakeW, []byte{0})
	}
}

// idleLimit is the shortest inactivity timeout of the directions still open (0: none).
func (t *tunnel) idleLimit() time.Duration {
	var to time.Duration
	for _, d := range []struct {
		done bool
		to   time.Duration
	}{{t.inDone, t.cto}, {t.outDone, t.sto}} {
		if !d.done && d.to > 0 && (to == 0 || d.to < to) {
			to = d.to
		}
	}
	return to
}

// leaveLocked takes t out of the loop: its events are ignored from now on (its sockets stay in the epoll set
// until they are closed, which removes them).
func (l *evloop) leaveLocked(t *tunnel) {
	t.gone = true
	if int(t.cfd) < len(l.regs) && l.regs[t.cfd] == &t.loopEntry {
		l.regs[t.cfd] = nil
	}
	if int(t.sfd) < len(l.regs) && l.regs[t.sfd] == &t.loopEntry {
		l.regs[t.sfd] = nil
	}
	if t.parkIdx >= 0 {
		heap.Remove(&l.byTime, int(t.parkIdx))
	}
}

func (t *tunnel) leave() {
	t.l.mu.Lock()
	t.l.leaveLocked(t)
	t.l.mu.Unlock()
}

// wake moves what is ready, on the runner id (the loop found a socket readable, or writable while bytes wait for
// it, or the timeout came).
func (t *tunnel) wake(id uint64) {
	l := t.l
	t.queued = false
	if t.gone {
		// left the loop while queued (only the runner and, once the runner is gone, stop set gone)
		return
	}
	if t.expired {
		t.expired = false
		idle := time.Duration(l.now - t.last)
		switch {
		case !t.inDone && t.cto > 0 && idle >= t.cto:
			t.t1 = 'T'
		case !t.outDone && t.sto > 0 && idle >= t.sto:
			t.t2 = 'T'
		default:
			// there was traffic since: wait for the rest of the timeout
			l.mu.Lock()
			if !t.gone && t.parkIdx < 0 {
				l.timeTunnelLocked(t)
			}
			l.mu.Unlock()
			return
		}
		t.abort()
		return
	}
	if l.buf == nil {
		l.buf = make([]byte, 32*1024)
	}
	t.rid = id
	if !t.inDone && (t.cReady || t.sOut) {
		t.sOut = false
		if !t.move(t.cfd, t.sfd, t.sv, &t.in, &t.inDone, &t.t1, &t.cReady, t.cHup, &t.inPend, &t.inBuf, l.buf) {
			return
		}
	}
	if !t.outDone && (t.sReady || t.cOut) {
		t.cOut = false
		if !t.move(t.sfd, t.cfd, t.cl, &t.out, &t.outDone, &t.t2, &t.sReady, t.sHup, &t.outPend, &t.outBuf, l.buf) {
			return
		}
	}
	t.rid = 0
	if t.inDone && t.outDone {
		t.leave()
		t.f.finish(t.in, t.out, t.t1, t.t2)
		return
	}
	if t.parkIdx < 0 {
		// out of the heap (its time came while it was queued): time it again
		l.mu.Lock()
		if !t.gone {
			l.timeTunnelLocked(t)
		}
		l.mu.Unlock()
	}
}

// move serves one direction: first the bytes dst could not take before (pend), then, once they are all written,
// what src has (pump) when src had an edge (ready) — or could have data left behind the full socket. It returns
// false when the tunnel ended.
func (t *tunnel) move(src, dst int32, dc *dconn, n *int64, done *bool, how *byte, ready *bool, hup bool, pend, store *[]byte, buf []byte) bool {
	if len(*pend) > 0 {
		for len(*pend) > 0 {
			k, e := sendNow(uintptr(dst), *pend)
			if e == syscall.EAGAIN {
				return true // still full: the next writable edge comes back here
			}
			if e != 0 {
				*how = 'E'
				t.abort()
				return false
			}
			*pend = (*pend)[k:]
			*n += int64(k)
			t.last = t.l.now // the direction moves: its inactivity timeout starts again
		}
		// src was last read while dst was full: what it had then is still there, without a new edge
		*ready = true
	}
	if !*ready {
		return true
	}
	*ready = false
	return t.pump(src, dst, dc, n, done, how, hup, pend, store, buf)
}

// pump moves what src has to dst without waiting, until src has nothing more: a read that did not fill the
// buffer emptied the socket, and whatever comes next makes a new edge — except an end of stream that came with
// the data's edge (hup), which is read for then. It returns false when the tunnel ended.
func (t *tunnel) pump(src, dst int32, dc *dconn, n *int64, done *bool, how *byte, hup bool, pend, store *[]byte, buf []byte) bool {
	// Raw system calls on the descriptors: while the tunnel is in its loop only the runner uses its sockets (Stop
	// closes them only once the runners are gone), so Go's descriptor locking and deadlines are not needed.
	for {
		r, e := recvNow(uintptr(src), buf)
		if e == 0 && r > 0 {
			t.last = t.l.now
			w, we := 0, syscall.Errno(0)
			for w < r && we == 0 {
				var k int
				k, we = sendNow(uintptr(dst), buf[w:r])
				w += max(k, 0)
			}
			*n += int64(w)
			if we == syscall.EAGAIN {
				// dst is full: keep the rest and read src no more until dst is writable (move)
				if *store == nil {
					*store = make([]byte, len(buf))
				}
				if pend == &t.inPend {
					t.l.fullIn.Add(1)
				} else {
					t.l.fullOut.Add(1)
				}
				*pend = append((*store)[:0], buf[w:r]...)
				return true
			}
			if we != 0 {
				*how = 'E'
				t.abort()
				return false
			}
			if r < len(buf) && !hup {
				return true
			}
			continue
		}
		switch e {
		case syscall.EAGAIN:
			return true
		case 0:
			// end of stream: half-close the other side, as endDir does
			*done = true
			if cw, ok := dc.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return true
		}
		*how = 'E'
		t.abort()
		return false
	}
}

// abort ends the tunnel after an error or a timeout: both sockets close, as endDir does.
func (t *tunnel) abort() {
	t.rid = 0
	t.leave()
	_ = t.cl.Conn.Close()
	_ = t.sv.Conn.Close()
	t.f.finish(t.in, t.out, t.t1, t.t2)
}

// onGoroutines finishes the tunnel as pipe does, on this goroutine and one more (the loop stops): first the bytes
// a full socket could not take, then every direction that has not ended.
func (t *tunnel) onGoroutines() {
	for _, p := range []struct {
		rest []byte
		dst  *dconn
		n    *int64
		how  *byte
	}{{t.inPend, t.sv, &t.in, &t.t1}, {t.outPend, t.cl, &t.out, &t.t2}} {
		if len(p.rest) == 0 {
			continue
		}
		if _, err := p.dst.Write(p.rest); err != nil {
			*p.how = 'E'
			if isTimeout(err) {
				*p.how = 'T'
			}
			_ = t.cl.Conn.Close()
			_ = t.sv.Conn.Close()
			t.f.finish(t.in, t.out, t.t1, t.t2)
			return
		}
		*p.n += int64(len(p.rest))
	}
	t.inPend, t.outPend = nil, nil
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	if !t.outDone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, how := copyDir(t.cl, t.sv, &last, t.sto)
			t.out += n
			t.t2 = how
		}()
	}
	if !t.inDone {
		n, how := copyDir(t.sv, t.cl, &last, t.cto)
		t.in += n
		t.t1 = how
	}
	wg.Wait()
	t.f.finish(t.in, t.out, t.t1, t.t2)
}
