package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postReq is one raw request: head lines after the request line, and the body bytes to send with the head
// (late: sent only after a 100 Continue, or after 1 s).
type postReq struct {
	method, target, hdrs string
	body                 string
	late                 bool // send the body after the 100 Continue (or after 1 s without one)
	delay                bool // send the body 200 ms after the head
}

// askPost sends r on a new connection, head and body in one write, and returns "server/status/echoed length".
func askPost(t *testing.T, port int, r postReq) string {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: a\r\n%sConnection: close\r\n\r\n", r.method, r.target, r.hdrs)
	br := bufio.NewReader(c)
	if r.delay {
		_, _ = io.WriteString(c, head)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(c, r.body)
	} else if r.late {
		_, _ = io.WriteString(c, head)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		line, _ := br.ReadString('\n')
		if strings.Contains(line, " 100 ") {
			_, _ = br.ReadString('\n') // the empty line ending the 100 response
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, r.body)
	} else {
		_, _ = io.WriteString(c, head+r.body)
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			return "ERR(" + err.Error() + ")"
		}
		if resp.StatusCode != 100 {
			break
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "ERR(" + err.Error() + ")"
	}
	return resp.Header.Get("X-Server") + "/" + strconv.Itoa(resp.StatusCode) + "/" + strconv.Itoa(len(body))
}

// TestSideBySideURLParamPost sends the same POST requests, in the same order, through haproxy and through Duet
// with balance url_param (with and without check_post, map-based and consistent): the parameter is looked for in
// the query string, then in the body bytes that came with the head (Content-Length or chunked), with haproxy's
// rules for values, and round robin otherwise (GET bodies, 100-continue, non-token values). Every request goes to
// the same server, and large bodies are forwarded whole.
func TestSideBySideURLParamPost(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not installed (scripts/deps.sh)")
	}
	var be [4]*testBackend
	var servers strings.Builder
	for i := range be {
		be[i] = startBackend(t, fmt.Sprintf("s%d", i+1))
		fmt.Fprintf(&servers, "    server s%d 127.0.0.1:%d\n", i+1, be[i].port)
	}
	form := "Content-Type: application/x-www-form-urlencoded\r\n"
	cl := func(body string) string { return form + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n" }
	chunked := func(chunks ...string) string {
		var b strings.Builder
		for _, c := range chunks {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
		}
		return b.String() + "0\r\n\r\n"
	}
	post := func(body string) postReq {
		return postReq{method: "POST", target: "/echo", hdrs: cl(body), body: body}
	}
	big := "userid=bigone&data=" + strings.Repeat("x", 300000)
	late := "data=" + strings.Repeat("y", 20000) + "&userid=beyond-the-buffer" // not scanned: round robin
	var reqs []postReq
	for _, v := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "k1", "k22", "k333"} {
		reqs = append(reqs,
			post("userid="+v),
			post("a=1&userid="+v+"&b=2"),
			postReq{method: "POST", target: "/echo", hdrs: form + "Transfer-Encoding: chunked\r\n", body: chunked("userid=" + v)},
		)
	}
	reqs = append(reqs,
		postReq{method: "POST", target: "/echo?userid=fromquery", hdrs: cl("userid=frombody"), body: "userid=frombody"},
		postReq{method: "POST", target: "/echo?other=1", hdrs: cl("userid=frombody"), body: "userid=frombody"},
		post("nothing=here"), post("nothing=here"), post("nothing=here"),
		post("userid=/slash"), post("userid=/slash"), post("userid=%2Fslash"),
		post("userid= space"), post("userid="), post("userid=&x=1"), post("xuserid=1&userid=z"), post("USERID=z"),
		post("userid=a b c"), post("userid=a\x00b"), post("&&userid=amp"), post("userid"),
		postReq{method: "POST", target: "/echo", hdrs: "Content-Type: application/json\r\nContent-Length: 15\r\n", body: "userid=json&a=b"},
		postReq{method: "GET", target: "/echo", hdrs: cl("userid=get"), body: "userid=get"},
		postReq{method: "GET", target: "/echo", hdrs: cl("userid=get"), body: "userid=get"},
		postReq{method: "PUT", target: "/echo", hdrs: cl("userid=put"), body: "userid=put"},
		postReq{method: "POST", target: "/echo", hdrs: form + "Transfer-Encoding: chunked\r\n", body: chunked("user", "id=two-chunks")},
		postReq{method: "POST", target: "/echo", hdrs: form + "Transfer-Encoding: chunked\r\n", body: chunked("a=1&", "userid=second-chunk")},
		postReq{method: "POST", target: "/echo", hdrs: cl("userid=late") + "Expect: 100-continue\r\n", body: "userid=late", late: true},
		postReq{method: "POST", target: "/echo", hdrs: cl("userid=late") + "Expect: 100-continue\r\n", body: "userid=late", late: true},
		post(big), post(big),
		post(late), post(late),
		postReq{method: "POST", target: "/echo", hdrs: cl("userid=delayed"), body: "userid=delayed", delay: true},
		postReq{method: "POST", target: "/echo", hdrs: cl("userid=delayed"), body: "userid=delayed", delay: true},
		postReq{method: "POST", target: "/echo", hdrs: form + "Transfer-Encoding: chunked\r\n", body: chunked("userid=", "delayed-chunked"), delay: true},
	)
	cases := []struct{ name, body string }{
		{"urlp-post", "balance url_param userid check_post\n" + servers.String()},
		{"urlp-nocheck", "balance url_param userid\n" + servers.String()},
		{"urlp-post-maxwait-c", "balance url_param userid check_post 64\n    hash-type consistent\n" + servers.String()},
	}
	head := "global\n    maxconn 100\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"
	var hcfg, dcfg strings.Builder
	hcfg.WriteString(head)
	dcfg.WriteString(head)
	hports, dports := make([]int, len(cases)), make([]int, len(cases))
	for i, c := range cases {
		hports[i], dports[i] = freePort(t), freePort(t)
		fmt.Fprintf(&hcfg, "listen %s\n    bind 127.0.0.1:%d\n    %s", c.name, hports[i], c.body)
		fmt.Fprintf(&dcfg, "listen %s\n    bind 127.0.0.1:%d\n    %s", c.name, dports[i], c.body)
	}
	haproxyProc(t, hcfg.String(), hports)
	startProxy(t, dcfg.String(), nil)
	for i, c := range cases {
		var hs, ds []string
		for _, r := range reqs {
			hs = append(hs, askPost(t, hports[i], r))
		}
		for _, r := range reqs {
			ds = append(ds, askPost(t, dports[i], r))
		}
		for k, r := range reqs {
			if hs[k] != ds[k] {
				t.Errorf("%s request %d (%s %s %q): haproxy %s, duet %s", c.name, k, r.method, r.target, trim(r.body), hs[k], ds[k])
			}
		}
		t.Logf("%s: haproxy %v", c.name, hs[len(hs)-17:])
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// TestSideBySideURLParamPostTimeout: a POST body that does not come within timeout http-request gets 408 from
// both haproxy and Duet while balance url_param waits for it.
func TestSideBySideURLParamPostTimeout(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not installed (scripts/deps.sh)")
	}
	b := startBackend(t, "s1")
	cfg := "global\n    maxconn 100\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n" +
		"    timeout http-request 300ms\nlisten l\n    bind 127.0.0.1:%d\n    balance url_param userid\n    server s1 127.0.0.1:%d\n"
	hp, dp := freePort(t), freePort(t)
	haproxyProc(t, fmt.Sprintf(cfg, hp, b.port), []int{hp})
	startProxy(t, fmt.Sprintf(cfg, dp, b.port), nil)
	for _, port := range []int{hp, dp} {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\nuserid=")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != 408 {
			t.Errorf("port %d: %v %v, want 408", port, resp, err)
		}
	}
}
