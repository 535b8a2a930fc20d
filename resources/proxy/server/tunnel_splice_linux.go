package server

import (
	"syscall"

	"github.com/duet-ha/duet/resources/proxy/config"
	"golang.org/x/sys/unix"
)

// tunnelSplice says whether the request (client to server) and response directions of a TCP-mode connection
// splice: move their bytes socket to socket through a kernel pipe with splice(2) instead of reading them into the
// loop's buffer and writing them out again. As in haproxy, only when an option asks for it, and never with global
// nosplice. (Splicing every bulk stream by default was measured on Dec 7 and dropped: on loopback it cost as much
// CPU per byte as copying and moved 15-20 % fewer bytes per second in the bulk benchmark.)
func tunnelSplice(g *config.Global, fo, bo config.Options) (in, out bool) {
	if g.NoSplice {
		return false, false
	}
	in = fo.SpliceAuto || fo.SpliceRequest || bo.SpliceAuto || bo.SpliceRequest
	out = fo.SpliceAuto || fo.SpliceResponse || bo.SpliceAuto || bo.SpliceResponse
	return in, out
}

// kpipe is a kernel pipe a direction splices through: socket to w, r to socket.
type kpipe struct {
	r, w int32
	size int // its capacity, the most one splice asks for
}

// maxIdlePipes is how many empty pipes a loop keeps for the next bursts; more are closed.
const maxIdlePipes = 64

// takePipe gives d a pipe for a burst: its own, one from the loop's pool, or a new one within maxpipes. false when
// there is none to have (d then copies).
func (l *evloop) takePipe(d *direction) bool {
	if d.pipe != nil {
		return true
	}
	if n := len(l.pipes); n > 0 {
		d.pipe = l.pipes[n-1]
		l.pipes[n-1] = nil
		l.pipes = l.pipes[:n-1]
		l.s.pipesFree.Add(-1)
		return true
	}
	d.pipe = l.s.newPipe()
	return d.pipe != nil
}

// givePipe puts d's empty pipe back in the loop's pool (the burst is over).
func (l *evloop) givePipe(d *direction) {
	p := d.pipe
	if p == nil {
		return
	}
	d.pipe = nil
	if d.piped > 0 || len(l.pipes) >= maxIdlePipes {
		l.s.closePipe(p)
		d.piped = 0
		return
	}
	l.pipes = append(l.pipes, p)
	l.s.pipesFree.Add(1)
}

// closePipes closes the pool's pipes (the loop stops; its runners are gone).
func (l *evloop) closePipes() {
	for _, p := range l.pipes {
		l.s.closePipe(p)
		l.s.pipesFree.Add(-1)
	}
	l.pipes = nil
}

// maxPipes is the configuration's maxpipes, by default a quarter of maxconn as in haproxy.
func (s *Server) maxPipes() int64 {
	g := &s.rt.Load().cfg.Global
	if g.Maxpipes > 0 {
		return int64(g.Maxpipes)
	}
	mc := g.Maxconn
	if mc <= 0 {
		mc = config.DefaultMaxconn
	}
	return int64(max(mc/4, 1))
}

// newPipe makes a non-blocking pipe of tune.pipesize (default: the kernel's), or nil past maxpipes or when the
// kernel refuses (no descriptors left).
func (s *Server) newPipe() *kpipe {
	if s.pipes.Add(1) > s.maxPipes() {
		s.pipes.Add(-1)
		return nil
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		s.pipes.Add(-1)
		return nil
	}
	p := &kpipe{r: int32(fds[0]), w: int32(fds[1]), size: 64 * 1024}
	if want := s.rt.Load().cfg.Global.PipeSize; want > 0 {
		// the kernel rounds it up to pages, and caps it for unprivileged processes (fs.pipe-max-size)
		_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, want)
	}
	if n, err := unix.FcntlInt(uintptr(fds[1]), unix.F_GETPIPE_SZ, 0); err == nil && n > 0 {
		p.size = n
	}
	return p
}

// closePipe closes p (with whatever it holds).
func (s *Server) closePipe(p *kpipe) {
	_ = syscall.Close(int(p.r))
	_ = syscall.Close(int(p.w))
	s.pipes.Add(-1)
}

// spliceNow is one non-blocking splice(2) of at most n bytes from in to out (EINTR retried). Splicing into a
// socket whose peer is gone raises SIGPIPE, which the Go runtime ignores for descriptors other than 1 and 2.
func spliceNow(in, out int32, n int) (int, syscall.Errno) {
	for {
		k, _, e := syscall.RawSyscall6(syscall.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), spliceMove|spliceNonblock)
		if e != syscall.EINTR {
			return int(k), e
		}
	}
}

// splicePump is pump through d's pipe: src to the pipe, the pipe to dst, until src has nothing more (the pipe then
// goes back to the loop's pool) or dst is full (the pipe stays with d, holding what dst could not take, and src is
// read no more until dst is writable: move). It returns false when the tunnel ended.
func (t *tunnel) splicePump(d *direction) bool {
	for {
		k, e := spliceNow(d.src, d.pipe.w, d.pipe.size)
		switch {
		case e == 0 && k > 0:
			t.last = t.l.now
			d.piped = k
			if k >= 32*1024 {
				t.l.stream.full++ // as a full read in pump
			}
			if !d.spliced {
				d.spliced = true
				t.l.s.splicedDirs.Add(1)
			}
			if !t.drain(d) {
				return false
			}
			if d.piped > 0 {
				d.full.Add(1)
				return true
			}
		case e == syscall.EAGAIN:
			// the pipe is empty here, so src is: the burst is over
			t.l.givePipe(d)
			return true
		case e == 0:
			// end of stream: half-close the other side, as endDir does
			t.l.givePipe(d)
			d.done = true
			if cw, ok := d.to.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return true
		default:
			d.how = 'E'
			t.abort()
			return false
		}
	}
}

// drain writes what d's pipe holds to dst, until the pipe is empty or dst is full; false when the tunnel ended.
func (t *tunnel) drain(d *direction) bool {
	for d.piped > 0 {
		k, e := spliceNow(d.pipe.r, d.dst, d.piped)
		if e == syscall.EAGAIN {
			return true
		}
		if e != 0 {
			d.how = 'E'
			t.abort()
			return false
		}
		d.piped -= k
		d.n += int64(k)
		t.last = t.l.now
	}
	return true
}

// dropPipe closes d's pipe, with what it holds (the tunnel was aborted).
func (d *direction) dropPipe(s *Server) {
	if d.pipe != nil {
		s.closePipe(d.pipe)
		d.pipe, d.piped = nil, 0
	}
}

// unpipe reads what d's pipe holds into pend and closes the pipe (the loop stops: goroutines finish the tunnel).
func (d *direction) unpipe(s *Server) {
	if d.pipe == nil {
		return
	}
	if d.piped > 0 {
		b := make([]byte, d.piped)
		got := 0
		for got < len(b) {
			k, err := syscall.Read(int(d.pipe.r), b[got:])
			if k <= 0 || err != nil {
				break
			}
			got += k
		}
		d.pend = b[:got]
	}
	d.dropPipe(s)
}
