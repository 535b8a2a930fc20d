// Package stats renders haproxy's statistics: the CSV of "show stat" and "/stats;csv" with 2.6.12's exact column
// order, the HTML stats page, "show info", "show servers state", and parses Runtime API command lines. It holds no
// state: the proxy's server package supplies rows and applies admin actions through the Source and Admin interfaces.
package stats

import (
	_ "embed"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
)

//go:embed csv-header.txt
var csvHeader string

// Header is the CSV header line of haproxy 2.6.12 (starting with "# ", ending with a comma), without newline.
func Header() string { return strings.TrimRight(csvHeader, "\r\n") }

// Columns are the CSV column names in order (the "-" separator included).
func Columns() []string {
	h := strings.TrimPrefix(Header(), "# ")
	h = strings.TrimSuffix(h, ",")
	return strings.Split(h, ",")
}

// Row types, as the CSV "type" column.
const (
	TypeFrontend = 0
	TypeBackend  = 1
	TypeServer   = 2
	TypeListener = 3
)

// Row is one CSV line: its type and the values by column name (missing columns are empty).
type Row struct {
	Type   int
	IID    int // proxy id
	SID    int // server id (0 for frontend/backend)
	Values map[string]string
}

// Get returns a column's value.
func (r Row) Get(col string) string { return r.Values[col] }

// WriteCSV writes the header and rows.
func WriteCSV(w io.Writer, rows []Row) error {
	cols := Columns()
	var b strings.Builder
	b.WriteString(Header())
	b.WriteByte('\n')
	for _, r := range rows {
		for _, c := range cols {
			b.WriteString(csvQuote(r.Values[c]))
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func csvQuote(v string) string {
	if strings.ContainsAny(v, ",\"\n") {
		return "\"" + strings.ReplaceAll(v, "\"", "\"\"") + "\""
	}
	return v
}

// Filter selects rows like "show stat [<iid|proxy> <type-mask> <sid>]": iid -1 or proxy name, mask 1 fe, 2 be,
// 4 servers, sid -1 for all.
func Filter(rows []Row, proxy string, mask int, sid int) []Row {
	var out []Row
	for _, r := range rows {
		if proxy != "" && proxy != "-1" && r.Values["pxname"] != proxy && strconv.Itoa(r.IID) != proxy {
			continue
		}
		bit := map[int]int{TypeFrontend: 1, TypeBackend: 2, TypeServer: 4, TypeListener: 8}[r.Type]
		if mask != -1 && mask&bit == 0 {
			continue
		}
		if sid != -1 && r.Type == TypeServer && r.SID != sid {
			continue
		}
		out = append(out, r)
	}
	return out
}

// InfoField is one "show info" line.
type InfoField struct{ Name, Value string }

// WriteInfo writes "Name: value" lines.
func WriteInfo(w io.Writer, info []InfoField) error {
	var b strings.Builder
	for _, f := range info {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PageOptions control the HTML page.
type PageOptions struct {
	URI         string // the stats prefix
	Refresh     time.Duration
	Admin       bool
	HideVersion bool
	Version     string
	PID         int
	Uptime      time.Duration
	Node        string
	Desc        string
	Status      string // ;st=XXX result of an admin action
	NoRefresh   bool
	UpOnly      bool
}

var stateClass = map[string]string{"UP": "active_up", "DOWN": "active_down", "MAINT": "maintain", "DRAIN": "active_draining",
	"no check": "active_no_check", "OPEN": "active_up", "FULL": "active_down", "NOLB": "active_nolb"}

// WriteHTML writes the stats page: general information, then one table per proxy with frontend, server and backend
// rows (queue, session rate, sessions, bytes, denied, errors, warnings, server status, last check, weight).
func WriteHTML(w io.Writer, rows []Row, info []InfoField, o PageOptions) error {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n<html><head><title>Statistics Report for HAProxy")
	if o.Node != "" {
		b.WriteString(" on " + html.EscapeString(o.Node))
	}
	b.WriteString("</title>\n<meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n<style type=\"text/css\"><!--\n")
	b.WriteString("body{font-family:arial,helvetica,sans-serif;font-size:12px;font-weight:normal;color:black;background:white;}\n")
	b.WriteString("table.tbl{border-collapse:collapse;border-style:none;} table.tbl td,table.tbl th{border:1px solid gray;padding:1px 3px;text-align:right;}\n")
	b.WriteString("th.pxname{background:#b00040;color:#ffff40;font-weight:bold;text-align:left;} .titre{background:#20D0D0;color:#000000;font-weight:bold;text-align:center;}\n")
	b.WriteString(".frontend{background:#e8e8d0;} .backend{background:#e8e8d0;} .active_up{background:#c0ffc0;} .active_down{background:#ff9090;} .maintain{background:#c07820;} .active_draining{background:#20a0FF;} .active_no_check{background:#e0e0e0;} .active_nolb{background:#20a0ff;}\n")
	b.WriteString("--></style></head>\n<body>")
	ver := o.Version
	if o.HideVersion {
		ver = ""
	}
	if ver != "" {
		fmt.Fprintf(&b, "<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy version %s</a></h1>\n", html.EscapeString(ver))
	} else {
		b.WriteString("<h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy</a></h1>\n")
	}
	fmt.Fprintf(&b, "<h2>Statistics Report for pid %d", o.PID)
	if o.Node != "" {
		fmt.Fprintf(&b, " on %s", html.EscapeString(o.Node))
	}
	b.WriteString("</h2>\n<hr width=\"100%%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n<table border=0><tr><td align=\"left\" nowrap width=\"1%%\">\n")
	for _, f := range info {
		switch f.Name {
		case "Pid", "Nbproc", "Nbthread", "Uptime", "Memmax_MB", "Ulimit-n", "Maxsock", "Maxconn", "Maxpipes", "CurrConns", "ConnRate", "Tasks", "Run_queue", "Idle_pct":
			fmt.Fprintf(&b, "<b>%s = </b>%s<br>\n", html.EscapeString(strings.ToLower(f.Name)), html.EscapeString(f.Value))
		}
	}
	b.WriteString("</td></tr></table>\n")
	if o.Status != "" {
		fmt.Fprintf(&b, "<p><div class=active_up><b>Action processed: %s</b></div></p>\n", html.EscapeString(o.Status))
	}
	fmt.Fprintf(&b, "<p>Display option: <a href=\"%s;csv\">CSV export</a>", html.EscapeString(o.URI))
	if !o.NoRefresh && o.Refresh > 0 {
		fmt.Fprintf(&b, " | <a href=\"%s;norefresh\">Disable refresh</a>", html.EscapeString(o.URI))
	}
	fmt.Fprintf(&b, " | <a href=\"%s\">Refresh now</a> | <a href=\"%s;up\">Hide 'DOWN' servers</a></p>\n", html.EscapeString(o.URI), html.EscapeString(o.URI))
	// group rows by proxy
	var order []string
	by := map[string][]Row{}
	for _, r := range rows {
		px := r.Values["pxname"]
		if _, ok := by[px]; !ok {
			order = append(order, px)
		}
		by[px] = append(by[px], r)
	}
	for _, px := range order {
		prs := by[px]
		admin := o.Admin && hasServers(prs)
		if admin {
			fmt.Fprintf(&b, "<form method=\"post\">")
		}
		fmt.Fprintf(&b, "<table class=\"tbl\" width=\"100%%\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%%\"><a name=\"%s\"></a><a class=px href=\"#%s\">%s</a></th><th class=\"empty\" width=\"90%%\" colspan=28></th></tr>\n",
			html.EscapeString(px), html.EscapeString(px), html.EscapeString(px))
		b.WriteString("<tr class=\"titre\">")
		if admin {
			b.WriteString("<th rowspan=2 width=1></th>")
		}
		b.WriteString("<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th></tr>\n")
		b.WriteString("<tr class=\"titre\">")
		b.WriteString("<th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>\n")
		for _, r := range prs {
			v := r.Values
			status := v["status"]
			if o.UpOnly && r.Type == TypeServer && strings.HasPrefix(status, "DOWN") {
				continue
			}
			cls := "frontend"
			name := "Frontend"
			switch r.Type {
			case TypeServer:
				base := strings.SplitN(status, " ", 2)[0]
				if status == "no check" {
					base = status
				}
				cls = stateClass[base]
				if cls == "" {
					cls = "active_up"
				}
				name = v["svname"]
			case TypeBackend:
				cls, name = "backend", "Backend"
			}
			fmt.Fprintf(&b, "<tr class=\"%s\">", cls)
			if admin {
				if r.Type == TypeServer {
					fmt.Fprintf(&b, "<td><input type=\"checkbox\" name=\"s\" value=\"%s\"></td>", html.EscapeString(v["svname"]))
				} else {
					b.WriteString("<td></td>")
				}
			}
			lastchk := ""
			if v["check_status"] != "" {
				lastchk = v["check_status"]
				if v["check_code"] != "" {
					lastchk += "/" + v["check_code"]
				}
				if v["check_duration"] != "" {
					lastchk += " in " + v["check_duration"] + "ms"
				}
			}
			cells := []string{v["qcur"], v["qmax"], v["qlimit"], v["rate"], v["rate_max"], v["rate_lim"], v["scur"], v["smax"], v["slim"],
				v["stot"], v["lbtot"], lastSess(v["lastsess"]), v["bin"], v["bout"], v["dreq"], v["dresp"], v["ereq"], v["econ"], v["eresp"],
				v["wretr"], v["wredis"], status, lastchk, v["weight"], v["act"], v["bck"], v["chkfail"], v["chkdown"], v["downtime"], v["throttle"]}
			fmt.Fprintf(&b, "<td class=ac><a name=\"%s/%s\"></a>%s</td>", html.EscapeString(px), html.EscapeString(name), html.EscapeString(name))
			for _, c := range cells {
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(c))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
		if admin {
			iid := 0
			for _, r := range prs {
				if r.Type == TypeBackend {
					iid = r.IID
				}
			}
			fmt.Fprintf(&b, "Choose the action to perform on the checked servers : <select name=action><option value=\"\"></option><option value=\"ready\">Set state to READY</option><option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option><option value=\"dhlth\">Health: disable checks</option><option value=\"ehlth\">Health: enable checks</option><option value=\"hrunn\">Health: force UP</option><option value=\"hnolb\">Health: force NOLB</option><option value=\"hdown\">Health: force DOWN</option><option value=\"shutdown\">Kill Sessions</option></select><input type=\"hidden\" name=\"b\" value=\"#%d\">&nbsp;<input type=\"submit\" value=\"Apply\"></form>\n", iid)
		}
		b.WriteString("<p>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func hasServers(rows []Row) bool {
	for _, r := range rows {
		if r.Type == TypeServer {
			return true
		}
	}
	return false
}

func lastSess(s string) string {
	if s == "" || s == "-1" {
		return ""
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return s
	}
	return (time.Duration(n) * time.Second).String()
}

// ServersStateHeader is the header of "show servers state" (format version 1).
const ServersStateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
