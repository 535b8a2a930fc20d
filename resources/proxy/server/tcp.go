package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duet-ha/duet/resources/proxy/balance"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
)

// session is one client connection, listed by "show sess". It also ends the connection: end runs exactly once,
// when the connection is over, possibly on another goroutine than the one that accepted it (HTTP keep-alive
// connections park between requests and resume on a fresh goroutine).
type session struct {
	id     uint64
	s      *Server
	fe     *frontend
	client net.Conn
	accept time.Time
	be     atomic.Pointer[backend]
	srv    atomic.Pointer[srv]
	http   atomic.Pointer[httpConn] // HTTP mode: the connection (Stop closes idle ones)
}

// end forgets the session, closes the client socket and frees its accept slots.
func (ss *session) end() {
	s := ss.s
	s.sessMu.Lock()
	delete(s.sessions, ss.id)
	s.sessMu.Unlock()
	ss.fe.cnt.scur.Add(-1)
	s.actconn.Add(-1)
	_ = ss.client.Close()
	if ss.fe.sem != nil {
		<-ss.fe.sem
	}
	<-s.global
}

// serve runs one client connection until it ends or parks (HTTP keep-alive).
func (s *Server) serve(sess *session, l *listener, bind *config.Bind) {
	c, fe, now := sess.client, sess.fe, sess.accept
	s.actconn.Add(1)
	s.cumConns.Add(1)
	s.connRate.add(now)
	s.sessRate.add(now)
	fe.cnt.open(now)
	fe.cnt.connTot.Add(1)
	fe.cnt.connRate.add(now)
	if len(fe.cfg.TCPConn) > 0 && !tcpRules(fe.cfg.TCPConn, l4Txn{src: addrPort(c.RemoteAddr()), dst: addrPort(c.LocalAddr())}) {
		fe.cnt.dreq.Add(1)
		sess.end()
		return
	}
	feName := fe.cfg.Name
	if bind.SSL {
		tc := tls.Server(c, fe.tlsConfig[bind.Spec])
		if to := fe.cfg.Timeouts.Client; to > 0 {
			_ = c.SetDeadline(time.Now().Add(to))
		}
		if err := tc.HandshakeContext(s.ctx); err != nil {
			fe.cnt.ereq.Add(1)
			sess.end()
			return
		}
		_ = c.SetDeadline(time.Time{})
		c = tc
		feName += "~"
	}
	dstPort := 0
	if ta, ok := c.LocalAddr().(*net.TCPAddr); ok {
		dstPort = ta.Port
	}
	if fe.cfg.Mode == config.ModeHTTP {
		s.serveHTTP(c, l, fe, sess, feName, dstPort)
		return
	}
	s.serveTCP(c, fe, sess, feName, dstPort) // it ends the session
}

// tcpFlow is a TCP-mode session from its accept to its log line.
type tcpFlow struct {
	s      *Server
	fe     *frontend
	sess   *session
	be     *backend // the backend for the log (may be set before the session opens on it)
	opened bool     // counted in be's current sessions
	sv     *srv     // server slot held
	bc     *beConn
	early  int64 // bytes read by content inspection and sent ahead
	e      logfmt.Entry
}

// serveTCP runs a TCP-mode session: content rules, backend and server choice, then the bytes both ways — in an
// event loop when both sockets are plain TCP (tunnel), else on goroutines (pipe).
func (s *Server) serveTCP(c net.Conn, fe *frontend, sess *session, feName string, dstPort int) {
	f := &tcpFlow{s: s, fe: fe, sess: sess, be: fe.defBE}
	f.e = logfmt.Entry{Client: c.RemoteAddr().String(), Local: c.LocalAddr().String(), Accept: sess.accept, Frontend: feName, Backend: fe.cfg.Name, Server: "<NOSRV>", Tw: -1, Tc: -1}
	l4 := l4Txn{src: addrPort(c.RemoteAddr()), dst: addrPort(c.LocalAddr()), s: s, sess: sess, fe: fe, ins: newInspection(fe.cfg)}
	if !inspectContent(c, fe.cfg, l4) { // tcp_inspect.go
		fe.cnt.dreq.Add(1)
		f.end("PR", 0)
		return
	}
	// use_backend applies in TCP mode too (with layer 4 fetches), then default_backend
	be := fe.defBE
	for _, ub := range fe.useBackends {
		if !ub.cond.Eval(l4) {
			continue
		}
		if ub.name != nil {
			if b := ub.backends[ub.name.Render(l4)]; b != nil && b.cfg.Mode == fe.cfg.Mode {
				be = b
			}
			break
		}
		be = ub.be
		break
	}
	f.be = be
	if be == nil {
		f.end("PC", 0)
		return
	}
	if be.cfg != fe.cfg && !tcpRules(be.cfg.TCPContent, l4) {
		fe.cnt.dreq.Add(1)
		f.end("PR", 0)
		return
	}
	sess.be.Store(be)
	f.e.Backend = be.cfg.Name
	be.cnt.open(time.Now())
	f.opened = true
	cd := &dconn{Conn: c, raw: newRawSock(c)}
	req := &balance.Request{Src: srcAddr(c.RemoteAddr()), Txn: l4}
	early := l4.ins.bytes() // what tcp-request content inspection read
	req.Payload = early
	if be.cfg.Balance.Algo == config.AlgoRDPCookie && len(early) == 0 {
		// look at what the client sent first, waiting for the RDP connection request up to tcp-request
		// inspect-delay (100 ms when unset)
		wait := 100 * time.Millisecond
		if d := fe.cfg.InspectDelay; d > 0 {
			wait = d
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1024)
		n, _ := c.Read(buf)
		_ = c.SetReadDeadline(time.Time{})
		early = buf[:n]
		req.Payload = early
	}
	res := be.connectTo(s.ctx, be.stickMatch(l4), req, dstPort, false, nil, nil)
	f.e.Tw = res.tw.Milliseconds()
	f.e.Retries, f.e.Redispatch = res.retries, res.redispatch
	if res.err != nil {
		term := "SC"
		if errors.Is(res.err, errQueueTimeout) {
			term = "sQ"
		} else if !errors.Is(res.err, errNoServer) {
			f.e.Tc = -1
		}
		if res.srv != nil {
			f.e.Server = res.srv.cfg.Name
		}
		f.end(term, 0)
		return
	}
	sv := res.srv
	be.stickStore(l4, sv)
	sess.srv.Store(sv)
	f.sv, f.bc = sv, res.conn
	f.e.Server = sv.cfg.Name
	f.e.Tc = res.tc.Milliseconds()
	f.e.SrvConn = sv.st.cnt.scur.Load()
	bc := res.conn
	t := be.cfg.Timeouts
	cto, sto := fe.cfg.Timeouts.Client, t.Server
	if t.Tunnel > 0 {
		cto, sto = t.Tunnel, t.Tunnel
	}
	cd.rto, cd.wto = cto, cto
	bc.c.rto, bc.c.wto = sto, sto
	if len(early) > 0 {
		if _, err := bc.c.Write(early); err != nil {
			f.end("SD", 0)
			return
		}
	}
	f.early = int64(len(early))
	fo, bo := fe.cfg.Options, be.cfg.Options
	spIn, spOut := tunnelSplice(&s.rt.Load().cfg.Global, fo, bo)
	if cfd, sfd := socketFD(c), bc.fd; len(s.loops) > 0 && cd.raw != nil && bc.c.raw != nil && cfd >= 0 && sfd >= 0 {
		tn := newTunnel(f, cd, bc.c, cfd, sfd, cto, sto, spIn, spOut)
		if s.loops[sess.id%uint64(len(s.loops))].addTunnel(tn) {
			return // the loop ends it (tunnel)
		}
	}
	in, out, t1, t2 := pipe(cd, bc.c, cto, sto, spIn, spOut, &s.splicedDirs)
	f.finish(in, out, t1, t2)
}

// finish ends a session whose bytes moved both ways: in and out bytes (client to server, server to client) and
// how each direction ended (as copyDir) make its counters and termination state.
func (f *tcpFlow) finish(in, out int64, t1, t2 byte) {
	in += f.early
	be, sv := f.be, f.sv
	f.fe.cnt.bin.Add(in)
	f.fe.cnt.bout.Add(out)
	be.cnt.bin.Add(in)
	be.cnt.bout.Add(out)
	sv.st.cnt.bin.Add(in)
	sv.st.cnt.bout.Add(out)
	term := "--"
	switch {
	case t1 == 'T':
		term = "cD"
	case t2 == 'T':
		term = "sD"
	case t1 == 'E':
		term = "CD"
		f.fe.cnt.cliAbrt.Add(1)
	case t2 == 'E':
		term = "SD"
		sv.st.cnt.srvAbrt.Add(1)
	}
	f.end(term, out)
}

// end closes the server side, frees the server slot and the backend session, logs with term (haproxy's two
// termination characters of tcplog) and ends the client session.
func (f *tcpFlow) end(term string, bytesOut int64) {
	s, fe := f.s, f.fe
	if bc := f.bc; bc != nil {
		s.untrack(bc.c.Conn)
		bc.close()
		putReader(bc.br)
		putWriter(bc.bw)
	}
	if f.sv != nil {
		f.be.release(f.sv)
	}
	if f.opened {
		f.be.cnt.scur.Add(-1)
	}
	if s.logs != nil && len(fe.cfg.Logs) > 0 && !(fe.cfg.Options.DontLogNull && bytesOut == 0 && term == "--") {
		e := &f.e
		e.Tt = time.Since(f.sess.accept).Milliseconds()
		e.Bytes = bytesOut
		e.Term = term
		e.ActConn = s.actconn.Load()
		e.FeConn = fe.cnt.scur.Load()
		if f.be != nil {
			e.BeConn = f.be.cnt.scur.Load()
		}
		s.logs.Send(fe.cfg.Logs, logfmt.LevelInfo, s.formatLog(fe, e, false), time.Now())
	}
	f.sess.end()
}

// pipe copies both ways with half-close until both directions end. It returns the bytes client->server and
// server->client and how each direction ended: 0 normal, 'T' timeout, 'E' error. spliceReq and spliceResp move the
// direction through kernel pipes (option splice-*); spliced (may be nil) counts the directions that did.
func pipe(client, server *dconn, cto, sto time.Duration, spliceReq, spliceResp bool, spliced *atomic.Int64) (int64, int64, byte, byte) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	var out int64
	var t2 byte
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, t2 = moveDir(client, server, &last, sto, spliceResp, spliced)
	}()
	in, t1 := moveDir(server, client, &last, cto, spliceReq, spliced)
	wg.Wait()
	return in, out, t1, t2
}

func moveDir(dst, src *dconn, last *atomic.Int64, to time.Duration, splice bool, spliced *atomic.Int64) (int64, byte) {
	if splice {
		if n, how, ok := spliceDir(dst, src, last, to); ok {
			if spliced != nil {
				spliced.Add(1)
			}
			return n, how
		}
	}
	return copyDir(dst, src, last, to)
}

// copyDir copies src to dst; a read timeout only ends the copy when neither direction moved data for the timeout.
func copyDir(dst, src *dconn, last *atomic.Int64, to time.Duration) (int64, byte) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var n int64
	var how byte
	for {
		r, err := src.Read(buf)
		if r > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:r]); werr != nil {
				how = 'E'
				if isTimeout(werr) {
					how = 'T'
				}
				break
			}
			n += int64(r)
		}
		if err != nil {
			if isTimeout(err) {
				if to > 0 && time.Since(time.Unix(0, last.Load())) < to {
					src.rdl = 0
					continue
				}
				how = 'T'
			} else if err != io.EOF {
				how = 'E'
			}
			break
		}
	}
	endDir(dst, src, how)
	return n, how
}

// endDir ends one direction: after a clean end of stream, tell the other side we are done writing (half-close);
// after an error or timeout, close both sockets.
func endDir(dst, src *dconn, how byte) {
	if cw, ok := dst.Conn.(interface{ CloseWrite() error }); ok && how == 0 {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Conn.Close()
		_ = src.Conn.Close()
	}
}
