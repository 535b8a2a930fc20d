package server

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/httpx"
	"github.com/duet-ha/duet/resources/proxy/logfmt"
	"github.com/duet-ha/duet/resources/proxy/stats"
)

// statsFor returns the stats configuration that applies to this request (frontend first, then backend), or nil.
func (h *httpConn) statsFor(be *backend) *config.Stats {
	uri := string(h.req.URI)
	for _, st := range []*config.Stats{h.fe.cfg.Stats, beStats(be)} {
		if st != nil && st.Enabled && strings.HasPrefix(uri, st.URI) {
			return st
		}
	}
	return nil
}

func beStats(be *backend) *config.Stats {
	if be == nil {
		return nil
	}
	return be.cfg.Stats
}

// serveStats answers the stats page, its CSV export and admin POSTs.
func (h *httpConn) serveStats(st *config.Stats, be *backend, start time.Time, reqLine string) bool {
	s := h.s
	e := logfmt.Entry{Backend: h.fe.cfg.Name, Server: "<STATS>", Tw: 0, Tc: 0, Tr: -1, Term: "LR--"}
	if be != nil {
		e.Backend = be.cfg.Name
	}
	if len(st.Auth) > 0 && !h.authorized(st) {
		body := "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
		h.drainBody()
		h.writeRaw(401, "text/html", body, []string{"cache-control: no-cache", "www-authenticate: Basic realm=\"" + st.Realm + "\""})
		e.Status, e.Bytes = 401, int64(len(body))
		h.fe.cnt.status(401)
		h.log(&e, start, reqLine, be)
		return true
	}
	uri := string(h.req.URI)
	rest := uri[len(st.URI):]
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	admin := st.AdminCond != nil && st.AdminCond.Eval(h)
	if string(h.req.Method) == "POST" {
		body := h.readSmallBody(65536)
		code := "DENY"
		if admin {
			code = s.statsAdmin(body)
		}
		loc := st.URI + ";st=" + code
		h.writeRaw(303, "text/html", "", []string{"cache-control: no-cache", "location: " + loc})
		e.Status = 303
		h.fe.cnt.status(303)
		h.log(&e, start, reqLine, be)
		return true
	}
	h.drainBody()
	rows := s.Rows()
	if strings.Contains(rest, ";up") {
		var f []stats.Row
		for _, r := range rows {
			if r.Type == stats.TypeServer && strings.HasPrefix(r.Values["status"], "DOWN") {
				continue
			}
			f = append(f, r)
		}
		rows = f
	}
	if q, err := url.ParseQuery(query); err == nil && q.Get("scope") != "" {
		var f []stats.Row
		for _, r := range rows {
			if strings.Contains(r.Values["pxname"], q.Get("scope")) {
				f = append(f, r)
			}
		}
		rows = f
	}
	if len(st.Scope) > 0 {
		var f []stats.Row
		for _, r := range rows {
			for _, sc := range st.Scope {
				if sc == r.Values["pxname"] || (sc == "." && r.Values["pxname"] == h.fe.cfg.Name) {
					f = append(f, r)
					break
				}
			}
		}
		rows = f
	}
	var b strings.Builder
	ctype := "text/html"
	if strings.Contains(rest, ";csv") {
		ctype = "text/plain"
		_ = stats.WriteCSV(&b, rows)
	} else {
		status := ""
		if i := strings.Index(rest, ";st="); i >= 0 {
			status = rest[i+4:]
			if j := strings.IndexByte(status, ';'); j >= 0 {
				status = status[:j]
			}
		}
		_ = stats.WriteHTML(&b, rows, s.Info(), stats.PageOptions{URI: st.URI, Refresh: st.Refresh, Admin: admin,
			HideVersion: st.HideVersion, Version: Version, PID: os.Getpid(), Node: s.node(), Desc: st.ShowDesc,
			Status: status, NoRefresh: strings.Contains(rest, ";norefresh"), UpOnly: strings.Contains(rest, ";up")})
	}
	extra := []string{"cache-control: no-cache"}
	if st.Refresh > 0 && !strings.Contains(rest, ";norefresh") && ctype == "text/html" {
		extra = append(extra, "refresh: "+strconv.Itoa(int(st.Refresh/time.Second)))
	}
	h.writeRaw(200, ctype, b.String(), extra)
	e.Status, e.Bytes = 200, int64(b.Len())
	h.fe.cnt.status(200)
	h.log(&e, start, reqLine, be)
	return true
}

func (h *httpConn) authorized(st *config.Stats) bool {
	for _, v := range h.req.Get("authorization") {
		if !strings.HasPrefix(v, "Basic ") {
			continue
		}
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:]))
		if err != nil {
			continue
		}
		for _, a := range st.Auth {
			if string(dec) == a {
				return true
			}
		}
	}
	return false
}

func (h *httpConn) readSmallBody(limit int64) string {
	if h.req.RequestBody() != httpx.BodyLength || h.req.ContentLength > limit {
		h.drainBody()
		return ""
	}
	buf := make([]byte, h.req.ContentLength)
	if _, err := io.ReadFull(h.br, buf); err != nil {
		return ""
	}
	return string(buf)
}

func (h *httpConn) drainBody() {
	if k := h.req.RequestBody(); k != httpx.BodyNone {
		w := bufio.NewWriter(io.Discard)
		_, _ = httpx.CopyBody(w, h.br, k, h.req.ContentLength, 400)
	}
}

// statsAdmin applies a stats page admin form and returns haproxy's result code (DONE, NONE, PART, ERRP, UNKN).
func (s *Server) statsAdmin(body string) string {
	q, err := url.ParseQuery(body)
	if err != nil {
		return "ERRP"
	}
	b := q.Get("b")
	action := q.Get("action")
	srvs := q["s"]
	if b == "" || action == "" {
		return "ERRP"
	}
	if len(srvs) == 0 {
		return "NONE"
	}
	done, fail := 0, 0
	for _, name := range srvs {
		sv, err := s.lookup(b, name)
		if err != nil {
			fail++
			continue
		}
		switch action {
		case "ready", "drain", "maint":
			sv.setState(action)
		case "hrunn":
			sv.setHealth("up")
		case "hnolb":
			sv.setHealth("stopping")
		case "hdown":
			sv.setHealth("down")
		case "shutdown":
			s.shutdownSessions(sv)
		case "dhlth", "ehlth", "dagent", "eagent", "arunn", "adown":
			// checks and agents stay as configured
		default:
			return "UNKN"
		}
		done++
	}
	switch {
	case fail > 0 && done > 0:
		return "PART"
	case fail > 0:
		return "ERRP"
	}
	return "DONE"
}

func (s *Server) shutdownSessions(sv *srv) {
	for _, ss := range s.sessionList() {
		if ss.srv.Load() == sv {
			_ = ss.client.Close()
		}
	}
}

func (s *Server) node() string {
	if s.opts.Node != "" {
		return s.opts.Node
	}
	if n := s.rt.Load().cfg.Global.Node; n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}

// Rows returns the stats rows: for each proxy, its FRONTEND row, its servers and its BACKEND row.
func (s *Server) Rows() []stats.Row {
	rt := s.rt.Load()
	now := time.Now()
	pid := strconv.Itoa(1)
	var rows []stats.Row
	for _, p := range rt.proxies {
		px := p.cfg
		mode := px.Mode.String()
		if fe := p.fe; fe != nil {
			c := fe.cnt
			v := map[string]string{"pxname": px.Name, "svname": "FRONTEND", "pid": pid, "iid": strconv.Itoa(px.ID), "sid": "0", "type": "0", "mode": mode}
			v["scur"] = itoa(c.scur.Load())
			v["smax"] = itoa(c.smax.Load())
			lim := px.Maxconn
			if lim == 0 {
				lim = rt.cfg.Global.Maxconn
				if lim == 0 {
					lim = config.DefaultMaxconn
				}
			}
			v["slim"] = strconv.Itoa(lim)
			v["stot"] = itoa(c.stot.Load())
			v["bin"], v["bout"] = itoa(c.bin.Load()), itoa(c.bout.Load())
			v["dreq"], v["dresp"], v["ereq"] = itoa(c.dreq.Load()), itoa(c.dresp.Load()), itoa(c.ereq.Load())
			status := "OPEN"
			if fe.sem != nil && len(fe.sem) >= cap(fe.sem) {
				status = "FULL"
			}
			v["status"] = status
			r, m := c.sessRate.get(now)
			v["rate"], v["rate_lim"], v["rate_max"] = itoa(r), "0", itoa(m)
			if px.Mode == config.ModeHTTP {
				for i, col := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
					v[col] = itoa(c.hrsp[i].Load())
				}
				rr, rm := c.reqRate.get(now)
				v["req_rate"], v["req_rate_max"], v["req_tot"] = itoa(rr), itoa(rm), itoa(c.reqTot.Load())
				v["intercepted"], v["cache_lookups"], v["cache_hits"], v["comp_in"], v["comp_out"], v["comp_byp"], v["comp_rsp"] = "0", "0", "0", "0", "0", "0", "0"
			}
			cr, cm := c.connRate.get(now)
			v["conn_rate"], v["conn_rate_max"], v["conn_tot"] = itoa(cr), itoa(cm), itoa(c.connTot.Load())
			v["dcon"], v["dses"], v["wrew"], v["eint"] = "0", "0", "0", "0"
			v["cli_abrt"] = ""
			rows = append(rows, stats.Row{Type: stats.TypeFrontend, IID: px.ID, Values: v})
		}
		if be := p.be; be != nil {
			act, bck, wsum := 0, 0, 0
			be.mu.Lock()
			type snap struct {
				served, queued int
				usable         bool
			}
			snaps := make([]snap, len(be.servers))
			for i, sv := range be.servers {
				snaps[i] = snap{sv.lb.Served, sv.queue.len(), sv.lb.Usable}
			}
			bq := be.queue.len()
			be.mu.Unlock()
			for i, sv := range be.servers {
				rows = append(rows, s.serverRow(px, sv, snaps[i].queued, now))
				if snaps[i].usable {
					if sv.cfg.Backup {
						bck++
					} else {
						act++
					}
					sv.st.mu.Lock()
					wsum += sv.st.weight
					sv.st.mu.Unlock()
				}
			}
			c := be.cnt
			v := map[string]string{"pxname": px.Name, "svname": "BACKEND", "pid": pid, "iid": strconv.Itoa(px.ID), "sid": "0", "type": "1", "mode": mode}
			v["qcur"], v["qmax"] = strconv.Itoa(bq), itoa(c.qmax.Load())
			v["scur"], v["smax"], v["stot"] = itoa(c.scur.Load()), itoa(c.smax.Load()), itoa(c.stot.Load())
			fc := px.Fullconn
			if fc == 0 {
				fc = 1
				if rt.cfg.Global.Maxconn > 0 {
					fc = rt.cfg.Global.Maxconn / 10
				} else {
					fc = config.DefaultMaxconn / 10
				}
			}
			v["slim"] = strconv.Itoa(fc)
			v["bin"], v["bout"] = itoa(c.bin.Load()), itoa(c.bout.Load())
			v["dreq"], v["dresp"] = itoa(c.dreq.Load()), itoa(c.dresp.Load())
			v["econ"], v["eresp"], v["wretr"], v["wredis"] = itoa(c.econ.Load()), itoa(c.eresp.Load()), itoa(c.wretr.Load()), itoa(c.wredis.Load())
			if act+bck > 0 {
				v["status"] = "UP"
			} else {
				v["status"] = "DOWN"
			}
			v["weight"], v["act"], v["bck"] = strconv.Itoa(wsum), strconv.Itoa(act), strconv.Itoa(bck)
			v["chkdown"] = "0"
			v["lastchg"] = itoa(int64(now.Sub(be.lastChg) / time.Second))
			v["downtime"] = "0"
			v["lbtot"] = itoa(c.lbtot.Load())
			r, m := c.sessRate.get(now)
			v["rate"], v["rate_max"] = itoa(r), itoa(m)
			if px.Mode == config.ModeHTTP {
				for i, col := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
					v[col] = itoa(c.hrsp[i].Load())
				}
				v["req_tot"] = itoa(c.reqTot.Load())
				v["comp_in"], v["comp_out"], v["comp_byp"], v["comp_rsp"], v["cache_lookups"], v["cache_hits"] = "0", "0", "0", "0", "0", "0"
			}
			v["cli_abrt"], v["srv_abrt"] = itoa(c.cliAbrt.Load()), itoa(c.srvAbrt.Load())
			v["lastsess"] = lastSessCol(c.lastSess.Load(), now)
			v["qtime"], v["ctime"], v["rtime"], v["ttime"] = "0", "0", "0", "0"
			v["algo"] = string(px.Balance.Algo)
			v["dcon"], v["dses"], v["wrew"], v["connect"], v["reuse"], v["eint"] = "0", "0", "0", "0", "0", "0"
			v["qtime_max"], v["ctime_max"], v["rtime_max"], v["ttime_max"] = "0", "0", "0", "0"
			v["uweight"] = strconv.Itoa(wsum)
			v["cookie"] = ""
			rows = append(rows, stats.Row{Type: stats.TypeBackend, IID: px.ID, Values: v})
		}
	}
	return rows
}

func (s *Server) serverRow(px *config.Proxy, sv *srv, queued int, now time.Time) stats.Row {
	c := &sv.st.cnt
	v := map[string]string{"pxname": px.Name, "svname": sv.cfg.Name, "pid": "1", "iid": strconv.Itoa(px.ID), "sid": strconv.Itoa(sv.cfg.ID), "type": "2", "mode": px.Mode.String()}
	v["qcur"], v["qmax"] = strconv.Itoa(queued), itoa(c.qmax.Load())
	v["scur"], v["smax"], v["stot"] = itoa(c.scur.Load()), itoa(c.smax.Load()), itoa(c.stot.Load())
	if sv.cfg.Maxconn > 0 {
		v["slim"] = strconv.Itoa(sv.cfg.Maxconn)
	}
	if sv.cfg.Maxqueue > 0 {
		v["qlimit"] = strconv.Itoa(sv.cfg.Maxqueue)
	}
	v["bin"], v["bout"] = itoa(c.bin.Load()), itoa(c.bout.Load())
	v["dresp"], v["econ"], v["eresp"] = itoa(c.dresp.Load()), itoa(c.econ.Load()), itoa(c.eresp.Load())
	v["wretr"], v["wredis"] = itoa(c.wretr.Load()), itoa(c.wredis.Load())
	v["status"] = sv.status()
	sv.st.mu.Lock()
	v["weight"] = strconv.Itoa(sv.st.weight)
	v["uweight"] = strconv.Itoa(sv.st.weight)
	if sv.cfg.Backup {
		v["act"], v["bck"] = "0", "1"
	} else {
		v["act"], v["bck"] = "1", "0"
	}
	v["lastchg"] = itoa(int64(now.Sub(sv.st.lastChange) / time.Second))
	if hs := sv.st.health; hs != nil {
		v["chkfail"], v["chkdown"] = itoa(c.chkfail.Load()), itoa(c.chkdown.Load())
		dt := sv.st.downtime
		if !sv.st.downSince.IsZero() {
			dt += now.Sub(sv.st.downSince)
		}
		v["downtime"] = itoa(int64(dt / time.Second))
		last := hs.Last
		if last.Status == "" {
			v["check_status"] = "INI"
		} else {
			v["check_status"] = string(last.Status)
			if last.Code != 0 {
				v["check_code"] = strconv.Itoa(last.Code)
			}
			v["check_duration"] = itoa(last.Duration.Milliseconds())
			v["last_chk"] = last.Info
		}
		v["check_desc"] = health0(last.Status).Desc()
		v["check_rise"], v["check_fall"], v["check_health"] = strconv.Itoa(hs.Rise), strconv.Itoa(hs.Fall), strconv.Itoa(hs.Health)
	}
	sv.st.mu.Unlock()
	v["throttle"] = ""
	v["lbtot"] = itoa(c.lbtot.Load())
	r, m := c.sessRate.get(now)
	v["rate"], v["rate_max"] = itoa(r), itoa(m)
	if px.Mode == config.ModeHTTP {
		for i, col := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
			v[col] = itoa(c.hrsp[i].Load())
		}
		v["req_tot"] = itoa(c.reqTot.Load())
	}
	v["cli_abrt"], v["srv_abrt"] = itoa(c.cliAbrt.Load()), itoa(c.srvAbrt.Load())
	v["lastsess"] = lastSessCol(c.lastSess.Load(), now)
	v["qtime"], v["ctime"], v["rtime"], v["ttime"] = "0", "0", "0", "0"
	v["qtime_max"], v["ctime_max"], v["rtime_max"], v["ttime_max"] = "0", "0", "0", "0"
	if sv.network == "unix" {
		v["addr"] = "unix@" + sv.host
	} else {
		v["addr"] = net.JoinHostPort(sv.host, strconv.Itoa(sv.port))
	}
	v["cookie"] = sv.cfg.Cookie
	v["connect"], v["reuse"], v["eint"] = "0", "0", "0"
	sv.idleMu.Lock()
	v["idle_conn_cur"] = strconv.Itoa(len(sv.idle))
	sv.idleMu.Unlock()
	v["safe_conn_cur"], v["used_conn_cur"], v["need_conn_est"], v["srv_icur"], v["src_ilim"] = "0", "0", "0", "0", ""
	v["wrew"], v["dcon"], v["dses"] = "0", "0", "0"
	v["agg_server_status"], v["agg_server_check_status"], v["agg_check_status"] = "", "", ""
	return stats.Row{Type: stats.TypeServer, IID: px.ID, SID: sv.cfg.ID, Values: v}
}

type health0 string

func (h health0) Desc() string {
	switch string(h) {
	case "":
		return "Initializing"
	case "L4OK":
		return "Layer4 check passed"
	case "L4TOUT":
		return "Layer4 timeout"
	case "L4CON":
		return "Layer4 connection problem"
	case "L7OK":
		return "Layer7 check passed"
	case "L7TOUT":
		return "Layer7 timeout"
	case "L7RSP":
		return "Layer7 invalid response"
	case "L7STS":
		return "Layer7 wrong status"
	}
	return string(h)
}

func lastSessCol(unix int64, now time.Time) string {
	if unix == 0 {
		return "-1"
	}
	return itoa(now.Unix() - unix)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// Info returns "show info" fields in haproxy's order.
func (s *Server) Info() []stats.InfoField {
	rt := s.rt.Load()
	now := time.Now()
	up := now.Sub(s.started)
	if s.started.IsZero() {
		up = 0
	}
	mc := rt.cfg.Global.Maxconn
	if mc == 0 {
		mc = config.DefaultMaxconn
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	cr, cm := s.connRate.get(now)
	sr, sm := s.sessRate.get(now)
	d := int64(up / time.Second)
	uptime := fmt.Sprintf("%dd %dh%02dm%02ds", d/86400, d%86400/3600, d%3600/60, d%60)
	mp, pf := s.maxPipes(), s.pipesFree.Load()
	pu := s.pipes.Load() - pf
	kv := [][2]string{
		{"Name", "HAProxy"}, {"Version", Version}, {"Release_date", ReleaseDate}, {"Nbthread", strconv.Itoa(goruntime.GOMAXPROCS(0))},
		{"Nbproc", "1"}, {"Process_num", "1"}, {"Pid", strconv.Itoa(os.Getpid())}, {"Uptime", uptime}, {"Uptime_sec", itoa(d)},
		{"Memmax_MB", "0"}, {"PoolAlloc_MB", itoa(int64(ms.HeapAlloc >> 20))}, {"PoolUsed_MB", itoa(int64(ms.HeapInuse >> 20))},
		{"PoolFailed", "0"}, {"Ulimit-n", strconv.Itoa(ulimitN())}, {"Maxsock", itoa(2*int64(mc) + 2*mp + 100)}, {"Maxconn", strconv.Itoa(mc)},
		{"Hard_maxconn", strconv.Itoa(mc)}, {"CurrConns", itoa(s.actconn.Load())}, {"CumConns", itoa(s.cumConns.Load())},
		{"CumReq", itoa(s.cumReq.Load())}, {"MaxSslConns", "0"}, {"CurrSslConns", "0"}, {"CumSslConns", "0"},
		{"Maxpipes", itoa(mp)}, {"PipesUsed", itoa(pu)}, {"PipesFree", itoa(pf)}, {"ConnRate", itoa(cr)}, {"ConnRateLimit", "0"},
		{"MaxConnRate", itoa(cm)}, {"SessRate", itoa(sr)}, {"SessRateLimit", "0"}, {"MaxSessRate", itoa(sm)},
		{"SslRate", "0"}, {"SslRateLimit", "0"}, {"MaxSslRate", "0"}, {"SslFrontendKeyRate", "0"},
		{"SslFrontendMaxKeyRate", "0"}, {"SslFrontendSessionReuse_pct", "0"}, {"SslBackendKeyRate", "0"},
		{"SslBackendMaxKeyRate", "0"}, {"SslCacheLookups", "0"}, {"SslCacheMisses", "0"}, {"CompressBpsIn", "0"},
		{"CompressBpsOut", "0"}, {"CompressBpsRateLim", "0"}, {"Tasks", strconv.Itoa(goruntime.NumGoroutine())},
		{"Run_queue", "0"}, {"Idle_pct", "100"}, {"node", s.node()}, {"Stopping", "0"}, {"Jobs", itoa(s.actconn.Load())},
		{"Unstoppable Jobs", "0"}, {"Listeners", strconv.Itoa(len(s.listenersSnapshot()))}, {"ActivePeers", "0"},
		{"ConnectedPeers", "0"}, {"DroppedLogs", "0"}, {"BusyPolling", "0"}, {"FailedResolutions", "0"},
		{"TotalBytesOut", itoa(s.totalBytesOut(rt))}, {"TotalSplicedBytesOut", "0"}, {"BytesOutRate", "0"},
		{"DebugCommandsIssued", "0"}, {"CumRecvLogs", "0"}, {"Build info", "Duet " + Version},
		{"Memmax_bytes", "0"}, {"PoolAlloc_bytes", itoa(int64(ms.HeapAlloc))}, {"PoolUsed_bytes", itoa(int64(ms.HeapInuse))},
		{"Start_time_sec", itoa(s.started.Unix())}, {"Tainted", "0"},
	}
	f := make([]stats.InfoField, len(kv))
	for i, x := range kv {
		f[i] = stats.InfoField{Name: x[0], Value: x[1]}
	}
	return f
}

func (s *Server) listenersSnapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.listeners {
		out = append(out, k)
	}
	return out
}

func (s *Server) totalBytesOut(rt *runtime) int64 {
	var n int64
	for _, fe := range rt.frontends {
		n += fe.cnt.bout.Load()
	}
	return n
}

func ulimitN() int {
	var r syscallRlimit
	if getRlimit(&r) == nil {
		return int(r.Cur)
	}
	return 0
}

// ServersState returns "show servers state" lines.
func (s *Server) ServersState(backend string) ([]string, error) {
	rt := s.rt.Load()
	var out []string
	found := backend == ""
	now := time.Now()
	for _, p := range rt.proxies {
		be := p.be
		if be == nil || (backend != "" && be.cfg.Name != backend) {
			continue
		}
		found = true
		for _, sv := range be.servers {
			st := sv.st
			st.mu.Lock()
			op := 2
			if st.health != nil && !st.health.Up || st.forced == "down" {
				op = 0
			} else if st.forced == "stopping" {
				op = 3
			}
			admin := 0
			switch st.admin {
			case "maint":
				admin = 1
			case "drain":
				admin = 8
			}
			chkState, chkRes, chkHealth, chkStatus := 0, 0, 0, 6
			if st.health != nil {
				chkState, chkHealth = 6, st.health.Health
				chkRes = 2
				if !st.health.Up {
					chkRes = 1
				}
			}
			forced := 0
			if sv.cfg.ExplicitID {
				forced = 1
			}
			bforced := 0
			line := fmt.Sprintf("%d %s %d %s %s %d %d %d %d %d %d %d %d %d %d %d %d - %d - %d %d - - 0",
				be.cfg.ID, be.cfg.Name, sv.cfg.ID, sv.cfg.Name, sv.host, op, admin, st.weight, st.iweight,
				int64(now.Sub(st.lastChange)/time.Second), chkStatus, chkRes, chkHealth, chkState, 0, bforced, forced,
				sv.port, boolInt(sv.cfg.SSL), sv.cfg.CheckPort)
			st.mu.Unlock()
			out = append(out, line)
		}
	}
	if !found {
		return nil, fmt.Errorf("Can't find backend.")
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Sessions lists live sessions like "show sess".
func (s *Server) Sessions() []string {
	var out []string
	now := time.Now()
	for _, ss := range s.sessionList() {
		be, sv := "<none>", "<none>"
		if b := ss.be.Load(); b != nil {
			be = b.cfg.Name
		}
		if x := ss.srv.Load(); x != nil {
			sv = x.cfg.Name
		}
		out = append(out, fmt.Sprintf("%#x: proto=tcpv4 src=%s fe=%s be=%s srv=%s ts=00 epoch=0 age=%ds calls=0 rate=0 cpu=0 lat=0",
			ss.id, ss.client.RemoteAddr(), ss.fe.cfg.Name, be, sv, int(now.Sub(ss.accept)/time.Second)))
	}
	return out
}

// SetState implements stats.Admin.
func (s *Server) SetState(b, sv, state string) error {
	x, err := s.lookup(b, sv)
	if err != nil {
		return err
	}
	x.setState(state)
	return nil
}

// SetHealth implements stats.Admin.
func (s *Server) SetHealth(b, sv, state string) error {
	x, err := s.lookup(b, sv)
	if err != nil {
		return err
	}
	x.setHealth(state)
	return nil
}

// SetWeight implements stats.Admin.
func (s *Server) SetWeight(b, sv, w string) error {
	x, err := s.lookup(b, sv)
	if err != nil {
		return err
	}
	return x.setWeight(w)
}

// GetWeight implements stats.Admin.
func (s *Server) GetWeight(b, sv string) (string, error) {
	x, err := s.lookup(b, sv)
	if err != nil {
		return "", err
	}
	x.st.mu.Lock()
	defer x.st.mu.Unlock()
	return fmt.Sprintf("%d (initial %d)", x.st.weight, x.st.iweight), nil
}

// cliSocket is one "stats socket".
type cliSocket struct {
	cfg config.StatsSocket
	ln  net.Listener
}

// applySockets opens the configured stats sockets not yet open. Caller holds s.mu.
func (s *Server) applySockets(rt *runtime) error {
	want := map[string]bool{}
	for _, sc := range rt.cfg.Global.StatsSockets {
		key := sc.Network + " " + sc.Address
		want[key] = true
		if old, ok := s.sockets[key]; ok {
			old.cfg = sc
			continue
		}
		if sc.Network == "unix" {
			_ = os.Remove(sc.Address)
		}
		ln, err := net.Listen(sc.Network, sc.Address)
		if err != nil {
			return fmt.Errorf("open stats socket %s: %w", sc.Address, err)
		}
		if sc.Network == "unix" {
			_ = os.Chmod(sc.Address, os.FileMode(sc.Mode))
		}
		cs := &cliSocket{cfg: sc, ln: ln}
		s.sockets[key] = cs
		s.wg.Add(1)
		go s.cliAccept(cs)
	}
	for k, cs := range s.sockets {
		if !want[k] {
			_ = cs.ln.Close()
			delete(s.sockets, k)
		}
	}
	return nil
}

func (s *Server) cliAccept(cs *cliSocket) {
	defer s.wg.Done()
	for {
		c, err := cs.ln.Accept()
		if err != nil {
			return
		}
		s.track(c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.untrack(c)
				_ = c.Close()
			}()
			s.cliServe(c, stats.ParseLevel(cs.cfg.Level))
		}()
	}
}

// cliServe answers Runtime API commands: one command line then close, or an interactive session after "prompt".
func (s *Server) cliServe(c net.Conn, lvl stats.Level) {
	to := s.rt.Load().cfg.Global.StatsTimeout
	if to <= 0 {
		to = 10 * time.Second
	}
	br := bufio.NewReader(c)
	interactive := false
	for {
		_ = c.SetReadDeadline(time.Now().Add(to))
		line, err := br.ReadString('\n')
		if err != nil && line == "" {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "prompt" {
			interactive = !interactive
			if interactive {
				_, _ = io.WriteString(c, "\n> ")
			}
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(to))
		if !stats.Execute(c, line, s, s, lvl) {
			return
		}
		if !interactive {
			return
		}
		_, _ = io.WriteString(c, "> ")
	}
}
