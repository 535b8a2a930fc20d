package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// dconn gives a connection haproxy's inactivity timeouts: each Read (Write) pushes the read (write) deadline
// to now+timeout, refreshing the kernel timer only when a quarter of the timeout has elapsed.
type dconn struct {
	net.Conn
	raw      *rawSock // plain TCP: recvfrom/sendto without the VFS and syscall hand-off costs (nil: through Conn)
	rto, wto time.Duration
	rdl, wdl int64 // current deadlines, Unix nanoseconds (0: none)
	abs      bool  // an absolute read deadline (setRead) is in force: no refresh
}

func (d *dconn) Read(p []byte) (int, error) {
	d.armRead()
	return d.readNow(p)
}

func (d *dconn) Write(p []byte) (int, error) {
	d.armWrite()
	if d.raw != nil {
		return d.raw.writeAll(p)
	}
	return d.Conn.Write(p)
}

// readNow reads without touching the deadline.
func (d *dconn) readNow(p []byte) (int, error) {
	if d.raw != nil {
		return d.raw.read(p)
	}
	return d.Conn.Read(p)
}

// armRead pushes the inactivity read deadline back (only when a quarter of it has passed: a deadline change
// costs a timer update in the runtime).
func (d *dconn) armRead() {
	if d.rto > 0 && !d.abs {
		now := time.Now()
		if time.Duration(d.rdl-now.UnixNano()) < d.rto*3/4 {
			dl := now.Add(d.rto)
			d.rdl = dl.UnixNano()
			_ = d.Conn.SetReadDeadline(dl)
		}
	}
}

func (d *dconn) armWrite() {
	if d.wto > 0 {
		now := time.Now()
		if time.Duration(d.wdl-now.UnixNano()) < d.wto*3/4 {
			dl := now.Add(d.wto)
			d.wdl = dl.UnixNano()
			_ = d.Conn.SetWriteDeadline(dl)
		}
	}
}

// setRead sets an absolute read deadline now+to that Reads do not push back, until clearAbs (to <= 0: none).
func (d *dconn) setRead(to time.Duration) {
	if to <= 0 {
		d.clearAbs()
		return
	}
	d.abs = true
	dl := time.Now().Add(to)
	d.rdl = dl.UnixNano()
	_ = d.Conn.SetReadDeadline(dl)
}

// clearAbs returns to the inactivity timeout rto (or no deadline at all). Without an absolute deadline in force
// it does nothing: the inactivity deadline stays, and the next Read pushes it back only when it is due (a
// deadline change costs a runtime timer update, which once cost 3 % of the CPU under keep-alive load).
func (d *dconn) clearAbs() {
	if !d.abs {
		return
	}
	d.abs = false
	d.rdl = 0
	if d.rto <= 0 {
		_ = d.Conn.SetReadDeadline(time.Time{})
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// prefixConn re-injects the bytes read while the connection was idle: an idle keep-alive connection holds only
// this small buffer, and most requests arrive whole in it, so waiting costs no extra system call.
type prefixConn struct {
	c      io.Reader
	b      *[512]byte // pooled with the connection's busy state
	off, n int
}

func (p *prefixConn) Read(buf []byte) (int, error) {
	if p.off < p.n {
		k := copy(buf, p.b[p.off:p.n])
		p.off += k
		return k, nil
	}
	return p.c.Read(buf)
}

const bufSize = 16384

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
	copyPool   = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}
)

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}

// rate counts events per second over the last full second (haproxy's *_rate columns). It is lock-free: a
// concurrent roll-over may lose an event or two, which the statistics tolerate.
type rate struct {
	sec, cur, prev, max atomic.Int64
}

func (r *rate) add(now time.Time) {
	r.roll(now.Unix())
	maxStore(&r.max, r.cur.Add(1))
}

func (r *rate) roll(s int64) {
	old := r.sec.Load()
	if s == old || !r.sec.CompareAndSwap(old, s) {
		return
	}
	if s == old+1 {
		r.prev.Store(r.cur.Swap(0))
	} else {
		r.prev.Store(0)
		r.cur.Store(0)
	}
}

// get returns the current rate (events in the last second) and the max seen.
func (r *rate) get(now time.Time) (int64, int64) {
	r.roll(now.Unix())
	return r.prev.Load(), r.max.Load()
}

// counters are the stats counters of a frontend, backend or server; they survive reloads.
type counters struct {
	scur, smax, stot, lbtot           atomic.Int64
	bin, bout                         atomic.Int64
	dreq, dresp, ereq, econ, eresp    atomic.Int64
	wretr, wredis                     atomic.Int64
	hrsp                              [6]atomic.Int64 // 1xx..5xx, other
	reqTot, cliAbrt, srvAbrt, connTot atomic.Int64
	qmax                              atomic.Int64
	lastSess                          atomic.Int64 // unix seconds, 0 = never
	chkfail, chkdown                  atomic.Int64
	sessRate, reqRate, connRate       rate
	ttimeSum, ttimeN                  atomic.Int64 // for ttime (average over the last requests, approximated)
	qtimeSum, ctimeSum, rtimeSum      atomic.Int64
}

func (c *counters) open(now time.Time) {
	n := c.scur.Add(1)
	for {
		m := c.smax.Load()
		if n <= m || c.smax.CompareAndSwap(m, n) {
			break
		}
	}
	c.stot.Add(1)
	c.sessRate.add(now)
}

func (c *counters) status(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.hrsp[i].Add(1)
}

func maxStore(a *atomic.Int64, v int64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}
