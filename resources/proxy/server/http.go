package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/balance"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/httpx"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
)

// httpConn is one client connection in HTTP mode. What it needs only while serving a request (the request and
// response heads, the log entry, the small read buffer, the bufio buffers) is pooled and attached while it is busy:
// an idle keep-alive connection, parked without a goroutine (parker), holds none of it.
type httpConn struct {
	vars    map[string]acl.Value // set-var: variables of the connection (sess.) and of the request (rules.go)
	s       *Server
	fe      *frontend
	sess    *session
	c       *dconn
	st      *reqState // attached while busy
	req     *httpx.Head
	resp    *httpx.Head
	entry   *logfmt.Entry
	br      *bufio.Reader
	bw      *bufio.Writer
	feName  string
	src     netip.Addr
	curBE   *backend // backend of the request being served (error files)
	lst     *listener
	idle    atomic.Bool
	fd      int32           // socket of a plain TCP connection; -1 for TLS (no parking, no raw socket calls)
	rc      syscall.RawConn // of the plain TCP socket (nil for TLS)
	dstPort int32
	until   int64 // end of the wait for the next request (Unix ns; 0: not waiting), kept across a park
	// event loop (evloop): the loop the connection waits in, and its bookkeeping there (guarded by the loop's
	// lock while waiting)
	loop *evloop
	rid  uint64 // id of the loop runner serving the connection inline (0: a goroutine of its own)
	loopEntry
	waitFd     int32 // socket waited on (-1: not waiting)
	parkFirst  bool
	waitSrv    bool // waiting for the server's response (else for the next request)
	registered bool // the client socket is in the loop's epoll set
	edge       bool // it became readable while the connection was busy (guarded by the loop's lock)
	hup        bool // the loop saw its peer's end of stream or an error (guarded by the loop's lock)
	escapeFn   func()
	headersFn  func(string) []string // h.Headers, made once: a method value made per request allocates
	// respStatus is the response status while http-response rules run (0 otherwise)
	respStatus int
}

// reqState is the pooled part of a busy connection.
type reqState struct {
	req, resp httpx.Head
	entry     logfmt.Entry
	lbreq     balance.Request
	raw       rawSock
	pc        prefixConn
	prefix    [512]byte
	fw        fwState
}

var reqStatePool = sync.Pool{New: func() any { return new(reqState) }}

func (h *httpConn) attach() {
	if h.st != nil {
		return
	}
	st := reqStatePool.Get().(*reqState)
	h.st, h.req, h.resp, h.entry = st, &st.req, &st.resp, &st.entry
	st.pc = prefixConn{c: h.c, b: &st.prefix}
	if h.rc != nil {
		st.raw.bind(h.rc)
		h.c.raw = &st.raw
	}
	st.raw.owner = h
	if h.headersFn == nil {
		h.headersFn = h.Headers
	}
	st.lbreq = balance.Request{Src: h.src, Headers: h.headersFn, Txn: h}
}

func (h *httpConn) detach() {
	if h.st == nil {
		return
	}
	h.st.pc.c, h.st.lbreq.Headers, h.st.lbreq.Txn, h.st.raw.rc, h.st.raw.owner, h.c.raw = nil, nil, nil, nil, nil, nil
	reqStatePool.Put(h.st)
	h.st, h.req, h.resp, h.entry = nil, nil, nil, nil
}

func (s *Server) serveHTTP(c net.Conn, l *listener, fe *frontend, sess *session, feName string, dstPort int) {
	h := &httpConn{s: s, lst: l, fe: fe, sess: sess, feName: feName, dstPort: int32(dstPort), fd: -1, waitFd: -1}
	h.loopEntry = loopEntry{h: h, parkIdx: -1}
	h.c = &dconn{Conn: c, rto: fe.cfg.Timeouts.Client, wto: fe.cfg.Timeouts.Client}
	h.src = srcAddr(c.RemoteAddr())
	h.fd = socketFD(c)
	if h.fd >= 0 {
		h.rc = tcpRawConn(c)
	}
	if h.rc == nil {
		h.fd = -1
	}
	if h.fd >= 0 && len(s.loops) > 0 {
		h.loop = s.loops[sess.id%uint64(s.httpLoops)]
		h.escapeFn = h.escape
	}
	sess.http.Store(h)
	h.run(true)
}

// socketFD is the descriptor of a plain TCP connection, or -1 (TLS connections may hold decrypted bytes that
// readiness of the socket does not show, so they do not park).
func socketFD(c net.Conn) int32 {
	rc := tcpRawConn(c)
	if rc == nil {
		return -1
	}
	fd := int32(-1)
	if rc.Control(func(v uintptr) { fd = int32(v) }) != nil {
		return -1
	}
	return fd
}

// served is what serving one request leaves: the connection closes, stays open for the next request, or (in an
// event loop) waits there for its server's response.
type served int

const (
	servedClose served = iota
	servedKeep
	servedPending
)

func servedIf(keep bool) served {
	if keep {
		return servedKeep
	}
	return servedClose
}

// run serves requests on the caller's goroutine until the connection ends or parks.
func (h *httpConn) run(first bool) {
	for {
		switch h.waitRequest(first) {
		case waitParked:
			return
		case waitEnd:
			h.close()
			return
		}
		r := h.serveOne(first)
		if r == servedPending {
			return // its response is awaited in the loop, which serves the connection from here on
		}
		first = false
		if r != servedKeep || h.s.draining.Load() {
			h.close()
			return
		}
	}
}

// wake serves h, which waited in its loop, when its socket became ready or its wait ran out: on the loop's runner
// id (0: on a goroutine of its own, when the loop stops).
func (h *httpConn) wake(id uint64) {
	srv := h.waitSrv
	h.waitSrv = false
	if !srv && h.expired {
		h.parkTimeout(h.parkFirst)
		return
	}
	h.rid = id
	var r served
	if srv {
		if h.expired {
			h.st.fw.res.conn.c.setRead(time.Nanosecond) // timeout server ran out: the read fails (504)
		}
		r = h.receiveResponse()
	} else {
		first := h.parkFirst
		h.attach()
		h.c.clearAbs() // a deadline left from an earlier wait must not fail a read (tryRead itself never waits)
		n, err := h.c.raw.tryRead(h.st.pc.b[:])
		if err == syscall.EAGAIN {
			// woken for nothing: wait again
			h.detach()
			if !h.loop.park(h, first, false) {
				h.rid = 0
				h.close()
				return
			}
			h.rid = 0
			return
		}
		if h.gotFirstBytes(n, err, first) != waitReady {
			h.rid = 0
			h.close()
			return
		}
		r = h.serveOne(first)
	}
	h.afterServed(r)
}

// afterServed carries on once a runner served a request inline: the next pipelined request, a wait in the loop,
// or the end. When the runner had to hand its loop over meanwhile, the connection goes on on this goroutine.
func (h *httpConn) afterServed(r served) {
	for {
		switch {
		case r == servedPending:
			return // waits for its server in the loop
		case h.rid == 0:
			// handed over: this goroutine is the connection's own now
			if r == servedKeep && !h.s.draining.Load() {
				h.run(false)
			} else {
				h.close()
			}
			return
		case r != servedKeep || h.s.draining.Load():
			h.rid = 0
			h.close()
			return
		}
		switch h.waitRequest(false) {
		case waitParked:
			h.rid = 0 // still the runner's: nobody else takes it before the runner looks again
			return
		case waitEnd:
			h.rid = 0
			h.close()
			return
		}
		r = h.serveOne(false)
	}
}

// escape is called before anything makes the connection's goroutine wait: when that goroutine is a loop runner
// serving the connection inline, the loop goes to a fresh runner first, and the connection keeps this goroutine.
func (h *httpConn) escape() {
	if h.rid == 0 {
		return
	}
	if h.loop.runner.Load() == h.rid {
		h.loop.handoff()
	}
	h.rid = 0
}

// parkTimeout ends a parked connection whose wait ran out: silently after a keep-alive, with haproxy's 408 when
// no request ever came.
func (h *httpConn) parkTimeout(first bool) {
	if first {
		h.fe.cnt.ereq.Add(1)
		_, _ = h.c.Conn.Write(httpx.ErrorResponse(408))
		h.logError(408, "cR", nil, time.Now())
	}
	h.close()
}

func (h *httpConn) releaseBuffers() {
	if h.br != nil {
		putReader(h.br)
		h.br = nil
	}
	if h.bw != nil {
		putWriter(h.bw)
		h.bw = nil
	}
}

func (h *httpConn) close() {
	if h.registered {
		h.loop.unregister(h)
	}
	h.releaseBuffers()
	h.detach()
	h.sess.http.Store(nil)
	h.sess.end()
}

type waitResult int

const (
	waitReady  waitResult = iota // a request has arrived
	waitEnd                      // the connection ends (closed, timed out, stopping)
	waitParked                   // handed to the parker: the caller's goroutine must return
)

// waitRequest waits for the first byte of the next request. A plain TCP connection waits in its event loop
// (waitParked: no goroutine, no per-request state, no buffers); another waits here, without bufio buffers, and
// attaches them when its request comes.
func (h *httpConn) waitRequest(first bool) waitResult {
	if h.br != nil && h.br.Buffered() > 0 {
		// pipelined request already buffered
		return waitReady
	}
	h.releaseBuffers()
	now := time.Now()
	if h.until == 0 {
		t := h.fe.cfg.Timeouts
		to := t.HTTPRequest
		if !first && t.HTTPKeepAlive > 0 {
			to = t.HTTPKeepAlive
		}
		if to == 0 {
			to = t.Client
		}
		if to > 0 {
			h.until = now.Add(to).UnixNano()
		} else {
			h.until = now.Add(100 * 365 * 24 * time.Hour).UnixNano() // no timeout configured: wait as long as the client
		}
	}
	if l := h.loop; l != nil && h.until > now.UnixNano() && !h.s.draining.Load() {
		// wait in the event loop: no goroutine, no per-request state. A last read that filled its buffer may have
		// left bytes behind, which no new edge announces: then the loop looks at once.
		more := h.c.raw != nil && h.c.raw.full
		h.detach()
		if l.park(h, first, more) {
			return waitParked
		}
	}
	// no loop (TLS, or it refused the socket): wait here
	h.attach()
	h.c.setRead(max(time.Duration(h.until-time.Now().UnixNano()), time.Nanosecond))
	h.idle.Store(true)
	if h.s.draining.Load() {
		// stopping: Stop may have looked at this connection before it went idle
		h.idle.Store(false)
		return waitEnd
	}
	n, err := h.c.readNow(h.st.pc.b[:])
	h.idle.Store(false)
	return h.gotFirstBytes(n, err, first)
}

func (h *httpConn) gotFirstBytes(n int, err error, first bool) waitResult {
	h.st.pc.off, h.st.pc.n = 0, n
	if n == 0 || err != nil {
		if first && isTimeout(err) {
			// haproxy answers 408 to a connection that sent nothing in time
			h.fe.cnt.ereq.Add(1)
			_, _ = h.c.Conn.Write(httpx.ErrorResponse(408))
			h.logError(408, "cR", nil, time.Now())
		}
		return waitEnd
	}
	h.until = 0
	h.br = getReader(&h.st.pc)
	h.bw = getWriter(h.c)
	return waitReady
}

// serveOne handles one request; it reports whether the client connection stays open (or, on a loop runner,
// waits for the server's response in the loop).
func (h *httpConn) serveOne(first bool) served {
	if h.lst != nil {
		// after a reload, a keep-alive connection serves its next request with the new configuration
		if cur := h.lst.fe.Load(); cur != h.fe && cur.cfg.Name == h.fe.cfg.Name {
			h.fe = cur
			h.c.rto, h.c.wto = cur.cfg.Timeouts.Client, cur.cfg.Timeouts.Client
		}
	}
	s, fe := h.s, h.fe
	start := time.Now()
	t := fe.cfg.Timeouts
	reqTO := t.HTTPRequest
	if reqTO == 0 {
		reqTO = t.Client
	}
	if first || t.HTTPRequest > 0 {
		h.c.setRead(reqTO)
	}
	err := h.req.ReadRequest(h.br)
	h.c.clearAbs()
	if err != nil {
		var pe *httpx.Error
		switch {
		case errors.As(err, &pe):
			fe.cnt.ereq.Add(1)
			h.writeError(pe.Status)
			h.logError(pe.Status, "PR", nil, start)
		case isTimeout(err):
			fe.cnt.ereq.Add(1)
			h.writeError(408)
			h.logError(408, "cR", nil, start)
		case errors.Is(err, httpx.ErrEmpty):
		default:
			fe.cnt.cliAbrt.Add(1)
			if !fe.cfg.Options.DontLogNull {
				h.logError(400, "CR", nil, start)
			}
		}
		return servedIf(false)
	}
	tR := time.Since(start)
	h.curBE = nil
	s.cumReq.Add(1)
	fe.cnt.reqTot.Add(1)
	fe.cnt.reqRate.add(start)
	reqLine := ""
	if len(fe.cfg.Logs) > 0 {
		reqLine = string(h.req.Method) + " " + string(h.req.URI) + " HTTP/1." + strconv.Itoa(h.req.Minor)
	}
	if fe.cfg.MonitorURI != "" && string(h.req.URI) == fe.cfg.MonitorURI {
		h.writeRaw(200, "text/html", "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n", nil)
		return servedIf(!h.req.ConnClose)
	}
	if len(fe.cfg.TCPContent) > 0 && !tcpRules(fe.cfg.TCPContent, h) {
		fe.cnt.dreq.Add(1)
		h.ruleLog(nil, -1, "PR--", start, tR, reqLine)
		return servedIf(false)
	}
	be, done, keep := h.route(start, tR, reqLine)
	if done {
		return servedIf(keep)
	}
	if st := h.statsFor(be); st != nil {
		keep := h.serveStats(st, be, start, reqLine)
		return servedIf(keep && !h.req.ConnClose)
	}
	if be == nil {
		fe.cnt.status(503)
		keep := h.answerError(503)
		h.log(&logfmt.Entry{Backend: fe.cfg.Name, Server: "<NOSRV>", Status: 503, Term: "SC--", TR: tR.Milliseconds(), Tw: -1, Tc: -1, Tr: -1}, start, reqLine, nil)
		return servedIf(keep)
	}
	h.sess.be.Store(be)
	return h.forward(be, start, tR, reqLine)
}

// fwState is what a request forwarded to a server carries from sending the request to relaying the response
// (a loop runner parks the request between the two).
type fwState struct {
	be                        *backend
	start, tSent              time.Time
	reqLine                   string
	res                       connectResult
	pers                      persistence
	bodyKind                  httpx.BodyKind
	closeServer, closeClient  bool
	canRetryIdle, deadlineSet bool
	inBytes                   int64
}

// forward sends the request to a server of be and relays the response. On a loop runner, when the response is
// not there yet, the request waits for it in the loop (servedPending) and receiveResponse goes on from there.
func (h *httpConn) forward(be *backend, start time.Time, tR time.Duration, reqLine string) served {
	be.cnt.open(start) // the request's start: the rates count per second
	keep, sent := h.sendRequest(be, start, tR, reqLine)
	if !sent {
		be.cnt.scur.Add(-1)
		return servedIf(keep)
	}
	fw := &h.st.fw
	bc := fw.res.conn
	if h.loop != nil && bc.fd >= 0 && bc.br.Buffered() == 0 {
		// The response is awaited in the loop, also by a connection a goroutine serves now (after a connect, a
		// partial request): waiting here would put the server's socket into Go's netpoller (loopConn) for good.
		// The loop keeps timeout server (wake makes the read fail when it runs out); the socket's own deadline
		// stays the inactivity one, which costs no timer update per request.
		until := int64(0)
		if to := be.cfg.Timeouts.Server; to > 0 {
			until = fw.tSent.Add(to).UnixNano()
		}
		fw.deadlineSet = true
		onRunner := h.rid != 0
		if h.loop.parkServer(h, bc, until) {
			// the loop owns h now: a goroutine must not touch it again (a runner may be serving it already)
			if onRunner {
				h.rid = 0 // still the runner's, as in afterServed
			}
			return servedPending
		}
		fw.deadlineSet = false
	}
	return h.receiveResponse()
}

// receiveResponse relays the response of the request forward sent.
func (h *httpConn) receiveResponse() served {
	fw := &h.st.fw
	be := fw.be
	keep := h.relayResponse(fw)
	be.cnt.scur.Add(-1)
	h.st.fw = fwState{}
	return servedIf(keep)
}

// sendRequest picks a server and sends it the request (head and body); sent reports that the response is to be
// read next (the state is in h.st.fw), else the request was answered (keep: the connection stays open).
func (h *httpConn) sendRequest(be *backend, start time.Time, tR time.Duration, reqLine string) (keep, sent bool) {
	s, fe := h.s, h.fe
	be.cnt.reqTot.Add(1)
	*h.entry = logfmt.Entry{Backend: be.cfg.Name, Server: "<NOSRV>", TR: tR.Milliseconds(), Tw: -1, Tc: -1, Tr: -1}
	e := h.entry // pooled with the connection's busy state: no allocation per request
	opts := be.cfg.Options
	closeServer := opts.HTTPServerClose || opts.HTTPClose || fe.cfg.Options.HTTPServerClose || fe.cfg.Options.HTTPClose
	closeClient := h.req.ConnClose || opts.HTTPClose || fe.cfg.Options.HTTPClose || h.req.HadCLAndTE
	switch be.cfg.Balance.Algo {
	case config.AlgoURI, config.AlgoURLParam, config.AlgoHash:
		h.st.lbreq.URI = string(h.req.URI)
	}
	if be.cfg.Balance.Algo == config.AlgoHash {
		if v := h.req.Get("host"); len(v) > 0 {
			h.st.lbreq.Host = v[0]
		}
	}
	bodyKind := h.req.RequestBody()
	canRetryIdle := bodyKind == httpx.BodyNone
	pers := h.cookieRequest(be)
	fixed := pers.srv
	if fixed == nil {
		fixed = be.stickMatch(h)
	}
	h.st.lbreq.Body = nil
	if be.cfg.Balance.Algo == config.AlgoURLParam && fixed == nil {
		body, err := h.postParams(be)
		if err != nil {
			// haproxy: 408 when the body does not come within timeout http-request
			fe.cnt.ereq.Add(1)
			h.writeError(408)
			h.logError(408, "cD", be, start)
			return false, false
		}
		h.st.lbreq.Body = body
	}
	var res connectResult
	var bc *beConn
	for attempt := 0; ; attempt++ {
		res = be.connectTo(s.ctx, fixed, &h.st.lbreq, int(h.dstPort), !closeServer && attempt == 0, h.escapeFn, h.loop)
		if res.err != nil {
			e.Tw = res.tw.Milliseconds()
			e.Retries, e.Redispatch = res.retries, res.redispatch
			term := "SC--"
			if errors.Is(res.err, errQueueTimeout) {
				term = "sQ--"
			}
			if res.srv != nil {
				e.Server = res.srv.cfg.Name
			}
			fe.cnt.status(503)
			be.cnt.status(503)
			e.Status, e.Term = 503, term
			keep := false
			if closeClient {
				h.writeError(503)
			} else {
				keep = h.answerError(503)
			}
			h.log(e, start, reqLine, be)
			return keep, false
		}
		bc = res.conn
		bc.own(h)
		// write the request head
		werr := h.writeRequestHead(bc, be, closeServer)
		if werr == nil {
			werr = bc.bw.Flush()
		}
		if werr != nil && canRetryIdle && attempt == 0 && res.reused {
			// a reused keep-alive connection the server had closed: retry on a fresh one
			s.untrack(bc.c.Conn)
			bc.close()
			be.release(res.srv)
			continue
		}
		if werr != nil {
			return h.serverFailed(be, res, bc, e, start, reqLine, 502, "SH--"), false
		}
		break
	}
	h.st.lbreq.Body = nil // balancing is over: drop the copy before the state goes back to its pool
	sv := res.srv
	be.stickStore(h, sv)
	h.sess.srv.Store(sv)
	e.Server = sv.cfg.Name
	e.Tw, e.Tc = res.tw.Milliseconds(), res.tc.Milliseconds()
	e.Retries, e.Redispatch = res.retries, res.redispatch
	sv.st.cnt.reqTot.Add(1)
	// request body (after a 100 Continue when the client asked for one)
	var inBytes int64
	if bodyKind != httpx.BodyNone && !h.req.Expect100 {
		n, err := httpx.CopyBody(bc.bw, h.br, bodyKind, h.req.ContentLength, 400)
		inBytes += n
		if err == nil {
			err = bc.bw.Flush()
		}
		if err != nil {
			var pe *httpx.Error
			if errors.As(err, &pe) {
				fe.cnt.ereq.Add(1)
				return h.serverFailed(be, res, bc, e, start, reqLine, 400, "PR--"), false
			}
			return h.serverFailed(be, res, bc, e, start, reqLine, 400, "CD--"), false
		}
	}
	h.st.fw = fwState{be: be, start: start, tSent: time.Now(), reqLine: reqLine, res: res, pers: pers, bodyKind: bodyKind,
		closeServer: closeServer, closeClient: closeClient, canRetryIdle: canRetryIdle, inBytes: inBytes}
	return false, true
}

// relayResponse relays the response to the request sendRequest sent; it reports whether the client connection
// stays open.
func (h *httpConn) relayResponse(fw *fwState) bool {
	s, fe, be, start, reqLine, res := h.s, h.fe, fw.be, fw.start, fw.reqLine, fw.res
	bc, sv, e, pers, bodyKind, inBytes, tSent := res.conn, res.srv, h.entry, fw.pers, fw.bodyKind, fw.inBytes, fw.tSent
	closeServer, closeClient, canRetryIdle := fw.closeServer, fw.closeClient, fw.canRetryIdle
	gotInterim := false
	// response head (relaying interim 1xx responses)
	for {
		if !fw.deadlineSet {
			bc.c.setRead(be.cfg.Timeouts.Server)
		}
		fw.deadlineSet = false
		err := h.resp.ReadResponse(bc.br)
		bc.c.clearAbs()
		if err != nil {
			if errors.Is(err, httpx.ErrEmpty) && canRetryIdle && !gotInterim && res.reused {
				// closed keep-alive connection: haproxy would retry on a new connection
				s.untrack(bc.c.Conn)
				bc.close()
				h.escape()
				nb, derr := s.dial(s.ctx, sv, int(h.dstPort), be.cfg.Timeouts.Connect)
				if derr == nil {
					bc = nb
					bc.own(h)
					res.conn, res.reused = nb, false
					if h.writeRequestHead(bc, be, closeServer) == nil && bc.bw.Flush() == nil {
						continue
					}
				}
				return h.serverFailed(be, res, bc, e, start, reqLine, 502, "SH--")
			}
			bodyRead := (bodyKind == httpx.BodyNone || !h.req.Expect100) && !closeClient
			if isTimeout(err) {
				return h.serverFailedHead(be, res, bc, e, start, reqLine, 504, "sH--", bodyRead)
			}
			sv.st.cnt.eresp.Add(1)
			be.cnt.eresp.Add(1)
			return h.serverFailedHead(be, res, bc, e, start, reqLine, 502, "SH--", bodyRead)
		}
		if h.resp.Status >= 100 && h.resp.Status < 200 && h.resp.Status != 101 {
			gotInterim = true
			h.resp.WriteStatusLine(h.bw)
			h.resp.WriteFields(h.bw)
			h.bw.WriteString("\r\n")
			if err := h.bw.Flush(); err != nil {
				return h.serverFailed(be, res, bc, e, start, reqLine, 400, "CD--")
			}
			if h.resp.Status == 100 && h.req.Expect100 && bodyKind != httpx.BodyNone {
				n, err := httpx.CopyBody(bc.bw, h.br, bodyKind, h.req.ContentLength, 400)
				inBytes += n
				if err == nil {
					err = bc.bw.Flush()
				}
				if err != nil {
					return h.serverFailed(be, res, bc, e, start, reqLine, 400, "CD--")
				}
				bodyKind = httpx.BodyNone
			}
			continue
		}
		break
	}
	if h.req.Expect100 && bodyKind != httpx.BodyNone {
		// the server answered without reading the body: the client's body is still coming, close after
		closeClient = true
	}
	e.Tr = time.Since(tSent).Milliseconds()
	status := h.resp.Status
	e.Status = status
	fe.cnt.status(status)
	be.cnt.status(status)
	sv.st.cnt.status(status)
	respKind := h.resp.ResponseBody(h.req.Method)
	upgrade := status == 101 && h.resp.Upgrade
	if respKind == httpx.BodyUntilClose {
		closeClient = true
	}
	h.cookieResponse(be, sv, pers)
	if r := h.responseRules(be); r != nil {
		return h.responseAnswer(be, res, bc, e, start, reqLine, r) // rules.go
	}
	// response head to the client
	h.resp.WriteStatusLine(h.bw)
	h.resp.WriteFields(h.bw)
	switch {
	case upgrade:
		h.bw.WriteString("Connection: upgrade\r\n")
	case closeClient:
		h.bw.WriteString("Connection: close\r\n")
	case h.req.Minor == 0:
		h.bw.WriteString("Connection: keep-alive\r\n")
	}
	h.bw.WriteString("\r\n")
	outBytes := int64(0)
	if upgrade {
		if err := h.bw.Flush(); err != nil {
			return h.serverFailed(be, res, bc, e, start, reqLine, 0, "CD--")
		}
		// tunnel: flush what is buffered on both sides, then pipe
		if n := h.br.Buffered(); n > 0 {
			b, _ := h.br.Peek(n)
			_, _ = bc.c.Write(b)
		}
		if n := bc.br.Buffered(); n > 0 {
			b, _ := bc.br.Peek(n)
			_, _ = h.c.Write(b)
		}
		tt := be.cfg.Timeouts.Tunnel
		cto, sto := fe.cfg.Timeouts.Client, be.cfg.Timeouts.Server
		if tt > 0 {
			cto, sto = tt, tt
		}
		h.c.rto, h.c.wto, bc.c.rto, bc.c.wto = cto, cto, sto, sto
		// a tunnel waits on both sides at once: a runner hands its loop over first (escape is not for two
		// goroutines at a time)
		h.escape()
		in, out, _, _ := pipe(h.c, bc.c, cto, sto, false, false, nil)
		inBytes += in
		outBytes += out
		h.finish(be, sv, bc, false, inBytes, outBytes, e, start, reqLine, "----")
		return false
	}
	n, err := httpx.CopyBody(h.bw, bc.br, respKind, h.resp.ContentLength, 502)
	outBytes += n
	if err != nil {
		term := "SD--"
		if isTimeout(err) {
			term = "sD--"
		}
		h.finish(be, sv, bc, false, inBytes, outBytes, e, start, reqLine, term)
		return false
	}
	// The server's answer is complete: free its slot (and connection) before the client sees the end of the
	// response, so that the client's next request finds the server idle, as with haproxy (leastconn, first).
	reuse := !closeServer && !h.resp.ConnClose && respKind != httpx.BodyUntilClose && bc.br.Buffered() == 0
	h.releaseServer(be, sv, bc, reuse)
	if err := h.bw.Flush(); err != nil {
		h.account(be, sv, inBytes, outBytes, e, start, reqLine, "CD--")
		return false
	}
	h.account(be, sv, inBytes, outBytes, e, start, reqLine, "----")
	return !closeClient
}

// writeRequestHead writes the request head to the server with haproxy's connection handling and forwardfor.
func (h *httpConn) writeRequestHead(bc *beConn, be *backend, closeServer bool) error {
	w := bc.bw
	h.req.WriteRequestLine(w)
	h.req.WriteFields(w)
	ff := be.cfg.Options.Forwardfor
	if ff == nil {
		ff = h.fe.cfg.Options.Forwardfor
	}
	if ff != nil && h.src.IsValid() && !(ff.IfNone && h.req.Has(ff.Header)) && !exceptMatch(ff.Except, h.src) {
		w.WriteString(ff.Header)
		w.WriteString(": ")
		w.WriteString(h.src.String())
		w.WriteString("\r\n")
	}
	switch {
	case h.req.Upgrade:
		w.WriteString("Connection: upgrade\r\n")
	case closeServer:
		w.WriteString("Connection: close\r\n")
	case h.req.Minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
	_, err := w.WriteString("\r\n")
	return err
}

func exceptMatch(except string, a netip.Addr) bool {
	if except == "" {
		return false
	}
	if p, err := netip.ParsePrefix(except); err == nil {
		return p.Contains(a)
	}
	if x, err := netip.ParseAddr(except); err == nil {
		return x == a
	}
	return false
}

// serverFailed answers the client with status (0 = nothing), closes the server connection and logs.
func (h *httpConn) serverFailed(be *backend, res connectResult, bc *beConn, e *logfmt.Entry, start time.Time, reqLine string, status int, term string) bool {
	if status != 0 {
		h.fe.cnt.status(status)
		be.cnt.status(status)
		h.writeError(status)
	}
	e.Status = status
	if status == 0 {
		e.Status = -1
	}
	h.finish(be, res.srv, bc, false, 0, 0, e, start, reqLine, term)
	return false
}

// serverFailedHead is serverFailed for a server that failed (502) or timed out (504) before its response head,
// once the whole request was read from the client: as haproxy 2.6, the client connection stays open (the
// server's is closed).
func (h *httpConn) serverFailedHead(be *backend, res connectResult, bc *beConn, e *logfmt.Entry, start time.Time, reqLine string, status int, term string, bodyRead bool) bool {
	if !bodyRead {
		return h.serverFailed(be, res, bc, e, start, reqLine, status, term)
	}
	h.fe.cnt.status(status)
	be.cnt.status(status)
	keep := h.answerErrorAfterBody(status)
	e.Status = status
	h.finish(be, res.srv, bc, false, 0, 0, e, start, reqLine, term)
	return keep
}

// finish releases or closes the server connection, frees the server slot, counts bytes and logs.
func (h *httpConn) finish(be *backend, sv *srv, bc *beConn, reuse bool, in, out int64, e *logfmt.Entry, start time.Time, reqLine, term string) {
	h.releaseServer(be, sv, bc, reuse)
	h.account(be, sv, in, out, e, start, reqLine, term)
}

// releaseServer keeps or closes the server connection and frees the server slot.
func (h *httpConn) releaseServer(be *backend, sv *srv, bc *beConn, reuse bool) {
	if bc != nil {
		bc.own(nil)
		if reuse {
			sv.putIdle(bc)
		} else {
			h.s.untrack(bc.c.Conn)
			bc.close()
			putReader(bc.br)
			putWriter(bc.bw)
		}
	}
	if sv != nil {
		be.release(sv)
	}
}

// account counts bytes and logs the request.
func (h *httpConn) account(be *backend, sv *srv, in, out int64, e *logfmt.Entry, start time.Time, reqLine, term string) {
	if sv != nil {
		sv.st.cnt.bin.Add(in)
		sv.st.cnt.bout.Add(out)
	}
	h.fe.cnt.bin.Add(in)
	h.fe.cnt.bout.Add(out)
	be.cnt.bin.Add(in)
	be.cnt.bout.Add(out)
	e.Bytes = out
	e.Term = term
	h.log(e, start, reqLine, be)
}

// errorPage returns the answer for status: the backend's or frontend's errorfile/errorloc, else haproxy's
// built-in page (builtin true).
func (h *httpConn) errorPage(status int) (resp []byte, builtin bool) {
	if be := h.curBE; be != nil && be.cfg.ErrorFiles[status] != nil {
		return be.cfg.ErrorFiles[status], false
	}
	if b := h.fe.cfg.ErrorFiles[status]; b != nil {
		return b, false
	}
	return httpx.ErrorResponse(status), true
}

// saysClose reports whether a raw response's head has "Connection: close".
func saysClose(resp []byte) bool {
	head, _, _ := bytes.Cut(resp, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("connection")) && bytes.Contains(bytes.ToLower(val), []byte("close")) {
			return true
		}
	}
	return false
}

// withClose returns resp with a "Connection: close" header when it has none: the connection closes after it.
func withClose(resp []byte) []byte {
	if saysClose(resp) {
		return resp
	}
	i := bytes.Index(resp, []byte("\r\n"))
	if i < 0 {
		return resp
	}
	out := make([]byte, 0, len(resp)+19)
	out = append(out, resp[:i+2]...)
	out = append(out, "Connection: close\r\n"...)
	return append(out, resp[i+2:]...)
}

// writeError answers status with the backend's or frontend's errorfile/errorloc, else haproxy's built-in page;
// the connection closes after it, and the answer says so.
func (h *httpConn) writeError(status int) {
	resp, _ := h.errorPage(status)
	resp = withClose(resp)
	if h.bw != nil {
		h.bw.Write(resp)
		_ = h.bw.Flush()
		return
	}
	_, _ = h.c.Write(resp)
}

// answerError answers status for a complete, well-formed request that the proxy refuses or cannot serve (deny,
// no backend, no server). As haproxy 2.6, the client connection stays open for the next request unless the
// client asked to close, the request body cannot be read to its end, or the page itself says close. It returns
// whether to keep the connection.
func (h *httpConn) answerError(status int) bool {
	if k := h.req.RequestBody(); k != httpx.BodyNone {
		// Like haproxy, a body that fits in a buffer is skipped to keep the connection; a larger one is not
		// waited for: the answer closes the connection.
		if k == httpx.BodyLength && h.req.ContentLength > bufSize {
			h.writeError(status)
			return false
		}
		w := bufio.NewWriterSize(&capWriter{max: bufSize}, 512)
		_, err := httpx.CopyBody(w, h.br, k, h.req.ContentLength, 400)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			h.writeError(status)
			return false
		}
	}
	return h.answerErrorAfterBody(status)
}

// capWriter discards what it is given and fails once more than max bytes came.
type capWriter struct{ n, max int }

var errBodyTooLarge = errors.New("request body larger than a buffer")

func (w *capWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > w.max {
		return 0, errBodyTooLarge
	}
	return len(p), nil
}

// answerErrorAfterBody is answerError once the request body was read.
func (h *httpConn) answerErrorAfterBody(status int) bool {
	keep := !h.req.ConnClose && !h.req.HadCLAndTE
	resp, builtin := h.errorPage(status)
	if builtin {
		resp = bytes.Replace(resp, []byte("Connection: close\r\n"), nil, 1)
	}
	if saysClose(resp) {
		keep = false
	}
	if !keep {
		resp = withClose(resp)
	}
	h.bw.Write(resp)
	if err := h.bw.Flush(); err != nil {
		return false
	}
	return keep
}

func (h *httpConn) writeRaw(status int, ctype, body string, extra []string) {
	reason := httpx.Reason(status)
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n")
	b.WriteString("content-length: " + strconv.Itoa(len(body)) + "\r\n")
	if ctype != "" {
		b.WriteString("content-type: " + ctype + "\r\n")
	}
	for _, x := range extra {
		b.WriteString(x + "\r\n")
	}
	if h.req.ConnClose {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	if string(h.req.Method) != "HEAD" {
		b.WriteString(body)
	}
	_, _ = io.WriteString(h.bw, b.String())
	_ = h.bw.Flush()
}

func (h *httpConn) logError(status int, term string, be *backend, start time.Time) {
	e := logfmt.Entry{Backend: h.fe.cfg.Name, Server: "<NOSRV>", Status: status, Term: term, TR: -1, Tw: -1, Tc: -1, Tr: -1}
	h.log(&e, start, "", be)
}

// log sends the httplog line for one request.
func (h *httpConn) log(e *logfmt.Entry, start time.Time, reqLine string, be *backend) {
	s, fe := h.s, h.fe
	if s.logs == nil || len(fe.cfg.Logs) == 0 {
		return
	}
	if fe.cfg.Options.DontLogNormal && e.Status > 0 && e.Status < 500 && strings.HasPrefix(e.Term, "--") {
		return
	}
	e.Client = h.c.Conn.RemoteAddr().String()
	e.Local = h.c.Conn.LocalAddr().String()
	e.Accept = h.sess.accept
	e.Request = start
	e.Frontend = h.feName
	e.Ta = time.Since(start).Milliseconds()
	e.Tt = e.Ta
	e.RequestLine = reqLine
	e.ActConn = s.actconn.Load()
	e.FeConn = fe.cnt.scur.Load()
	if be != nil {
		e.BeConn = be.cnt.scur.Load()
	}
	s.logs.Send(fe.cfg.Logs, logfmt.LevelInfo, s.formatLog(fe, e, true), time.Now())
}

// formatLog picks the proxy's log format: httplog [clf], tcplog, or haproxy's default "Connect from" line.
func (s *Server) formatLog(fe *frontend, e *logfmt.Entry, isHTTP bool) string {
	o := fe.cfg.Options
	switch {
	case o.HTTPLog && o.HTTPLogCLF && isHTTP:
		return logfmt.CLFLog(e)
	case o.HTTPLog && isHTTP:
		return logfmt.HTTPLog(e)
	case o.TCPLog || (o.HTTPLog && !isHTTP):
		if e.Tt == 0 && e.Ta > 0 {
			e.Tt = e.Ta
		}
		return logfmt.TCPLog(e)
	}
	mode := "TCP"
	if isHTTP {
		mode = "HTTP"
	}
	// haproxy's default format: "Connect from %ci:%cp to %fi:%fp (%f/%HM)"
	return "Connect from " + e.Client + " to " + e.Local + " (" + fe.cfg.Name + "/" + mode + ")"
}

// postParamsLimit is how much body balance url_param waits for: haproxy's buffer (tune.bufsize 16384) less its
// tune.maxrewrite reserve (1024).
const postParamsLimit = bufSize - 1024

// postParams returns what balance url_param scans in a POST body when the query string lacks the parameter. As
// haproxy 2.6 (with or without check_post), it first waits for the body: all of it, or the first
// postParamsLimit bytes of a larger one, which then streams as usual; it answers an "Expect: 100-continue"
// itself (and drops the header). The wait is bounded by the backend's timeout http-request (else the client
// timeout); a timeout is returned as an error. The result is a copy, de-chunked; nil when there is nothing to scan.
func (h *httpConn) postParams(be *backend) ([]byte, error) {
	kind := h.req.RequestBody()
	if string(h.req.Method) != "POST" || kind == httpx.BodyNone || h.br == nil {
		return nil, nil
	}
	if _, ok := balance.URLParam(string(h.req.URI), be.cfg.Balance.Param); ok {
		return nil, nil
	}
	if h.req.Expect100 && h.req.Minor == 1 {
		h.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := h.bw.Flush(); err != nil {
			return nil, nil // the forwarding that follows meets the error
		}
		h.req.Drop("Expect")
		h.req.Expect100 = false
	}
	if to := be.cfg.Timeouts.HTTPRequest; to > 0 {
		h.c.setRead(to)
		defer h.c.clearAbs()
	}
	for {
		n := h.br.Buffered()
		b, _ := h.br.Peek(n)
		switch kind {
		case httpx.BodyLength:
			if int64(n) >= h.req.ContentLength || n >= postParamsLimit {
				return append([]byte(nil), b[:min(int64(n), h.req.ContentLength)]...), nil
			}
		case httpx.BodyChunked:
			data, complete := balance.Dechunk(b)
			if complete || n >= postParamsLimit {
				return data, nil
			}
		}
		if _, err := h.br.Peek(n + 1); err != nil {
			if isTimeout(err) {
				return nil, err
			}
			// the client closed or failed: scan what came, the forwarding meets the error
			b, _ = h.br.Peek(h.br.Buffered())
			if kind == httpx.BodyChunked {
				data, _ := balance.Dechunk(b)
				return data, nil
			}
			return append([]byte(nil), b[:min(int64(len(b)), h.req.ContentLength)]...), nil
		}
	}
}
