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
// reader) keeps the rest in the direction (pend) and stops reading it until the other side's socket says it is
// writable again (EPOLLOUT), as haproxy's buffers do. (Until Dec 7 such a tunnel went to
// goroutines for good: 18 % more CPU per byte than haproxy in the bulk benchmark.)
type tunnel struct {
	loopEntry
	l        *evloop
	f        *tcpFlow
	cl, sv   *dconn // client and server sides, both plain TCP sockets with raw calls
	cfd, sfd int32
	cto, sto time.Duration // inactivity timeouts while reading the client, the server
	in, out  direction     // client to server, server to client
	last     int64         // last activity (Unix ns)
	rid      uint64        // runner serving it (0: none)
	queued   bool          // in the runner's ready list (runner only)
	gone     bool          // left the loop: its events are ignored (guarded by the loop's lock)
}

// direction is one way through a tunnel. Its edge flags, pend, store and pipe belong to the runner.
type direction struct {
	src, dst int32         // the sockets read and written
	to       *dconn        // dst's connection (half-closed when src ends)
	n        int64         // bytes moved
	done     bool          // src ended
	how      byte          // how it ended, as copyDir: 0, 'T' timeout, 'E' error
	ready    bool          // src had an edge since it was last read
	hup      bool          // ... and the edge said end of stream or error: read until it shows
	writable bool          // dst had a writable edge while bytes waited for it
	pend     []byte        // bytes dst could not take yet
	store    []byte        // pend's storage, made the first time dst fills
	full     *atomic.Int64 // the loop's count of times this direction found dst full (tests)

	// Splicing (tunnel_splice_linux.go): the direction moves socket to socket through a kernel pipe, so that its
	// bytes never pass through user space.
	splice  bool   // option splice-*
	pipe    *kpipe // while a burst lasts: the pipe, from the loop's pool
	piped   int    // bytes in pipe that dst has not taken yet
	spliced bool   // counted in the server's splicedDirs
}

// newTunnel makes the tunnel of a TCP-mode connection; addTunnel gives it to a loop.
// in and out say whether the request (client to server) and response directions splice.
func newTunnel(f *tcpFlow, cl, sv *dconn, cfd, sfd int32, cto, sto time.Duration, in, out bool) *tunnel {
	t := &tunnel{f: f, cl: cl, sv: sv, cfd: cfd, sfd: sfd, cto: cto, sto: sto}
	t.in = direction{src: cfd, dst: sfd, to: sv, splice: in}
	t.out = direction{src: sfd, dst: cfd, to: cl, splice: out}
	return t
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
	t.in.full, t.out.full = &l.fullIn, &l.fullOut
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
	}{{t.in.done, t.cto}, {t.out.done, t.sto}} {
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
		case !t.in.done && t.cto > 0 && idle >= t.cto:
			t.in.how = 'T'
		case !t.out.done && t.sto > 0 && idle >= t.sto:
			t.out.how = 'T'
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
	for _, d := range []*direction{&t.in, &t.out} {
		if !d.done && (d.ready || d.writable) {
			d.writable = false
			if !t.move(d, l.buf) {
				return
			}
		}
	}
	t.rid = 0
	if t.in.done && t.out.done {
		t.leave()
		t.finish()
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

// move serves the direction d: first the bytes its dst could not take before (pend, or what waits in its pipe),
// then, once they are all written, what src has (pump, or splicePump for a splicing direction) when src had an
// edge — or could have data left behind the full socket. It returns false when the tunnel ended.
func (t *tunnel) move(d *direction, buf []byte) bool {
	if len(d.pend) > 0 || d.piped > 0 {
		for len(d.pend) > 0 {
			k, e := sendNow(uintptr(d.dst), d.pend)
			if e == syscall.EAGAIN {
				return true // still full: the next writable edge comes back here
			}
			if e != 0 {
				d.how = 'E'
				t.abort()
				return false
			}
			d.pend = d.pend[k:]
			d.n += int64(k)
			t.last = t.l.now // the direction moves: its inactivity timeout starts again
		}
		if !t.drain(d) {
			return false
		}
		if d.piped > 0 {
			return true // still full
		}
		// src was last read while dst was full: what it had then is still there, without a new edge
		d.ready = true
	}
	if !d.ready {
		return true
	}
	d.ready = false
	if d.splice && t.l.takePipe(d) {
		return t.splicePump(d)
	}
	return t.pump(d, buf)
}

// pump moves what src has to dst without waiting, until src has nothing more: a read that did not fill the
// buffer emptied the socket, and whatever comes next makes a new edge — except an end of stream that came with
// the data's edge (hup), which is read for then. It returns false when the tunnel ended.
func (t *tunnel) pump(d *direction, buf []byte) bool {
	// Raw system calls on the descriptors: while the tunnel is in its loop only the runner uses its sockets (Stop
	// closes them only once the runners are gone), so Go's descriptor locking and deadlines are not needed.
	for {
		r, e := recvNow(uintptr(d.src), buf)
		if e == 0 && r > 0 {
			t.last = t.l.now
			if r == len(buf) {
				t.l.stream.full++ // the socket had a whole buffer or more: a stream (watchStreaming)
			}
			w, we := 0, syscall.Errno(0)
			for w < r && we == 0 {
				var k int
				k, we = sendNow(uintptr(d.dst), buf[w:r])
				w += max(k, 0)
			}
			d.n += int64(w)
			if we == syscall.EAGAIN {
				// dst is full: keep the rest and read src no more until dst is writable (move)
				if d.store == nil {
					d.store = make([]byte, len(buf))
				}
				d.full.Add(1)
				d.pend = append(d.store[:0], buf[w:r]...)
				return true
			}
			if we != 0 {
				d.how = 'E'
				t.abort()
				return false
			}
			if r < len(buf) && !d.hup {
				return true
			}
			continue
		}
		switch e {
		case syscall.EAGAIN:
			return true
		case 0:
			// end of stream: half-close the other side, as endDir does
			d.done = true
			if cw, ok := d.to.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return true
		}
		d.how = 'E'
		t.abort()
		return false
	}
}

// abort ends the tunnel after an error or a timeout: both sockets close, as endDir does.
func (t *tunnel) abort() {
	t.rid = 0
	t.leave()
	t.in.dropPipe(t.l.s)
	t.out.dropPipe(t.l.s)
	_ = t.cl.Conn.Close()
	_ = t.sv.Conn.Close()
	t.finish()
}

// finish logs the tunnel's end and counts its bytes (tcpFlow.finish).
func (t *tunnel) finish() {
	t.f.finish(t.in.n, t.out.n, t.in.how, t.out.how)
}

// onGoroutines finishes the tunnel as pipe does, on this goroutine and one more (the loop stops): first the bytes
// a full socket could not take, then every direction that has not ended.
func (t *tunnel) onGoroutines() {
	for _, d := range []*direction{&t.in, &t.out} {
		d.unpipe(t.l.s)
		if len(d.pend) == 0 {
			continue
		}
		if _, err := d.to.Write(d.pend); err != nil {
			d.how = 'E'
			if isTimeout(err) {
				d.how = 'T'
			}
			_ = t.cl.Conn.Close()
			_ = t.sv.Conn.Close()
			t.finish()
			return
		}
		d.n += int64(len(d.pend))
		d.pend = nil
	}
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	if !t.out.done {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, how := copyDir(t.cl, t.sv, &last, t.sto)
			t.out.n += n
			t.out.how = how
		}()
	}
	if !t.in.done {
		n, how := copyDir(t.sv, t.cl, &last, t.cto)
		t.in.n += n
		t.in.how = how
	}
	wg.Wait()
	t.finish()
}
