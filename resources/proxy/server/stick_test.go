package server

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestStickTableLRUAndExpiry(t *testing.T) {
	st := newStickTable(config.StickTable{Type: "string", Len: 4, Size: 2, Expire: time.Minute})
	now := time.Unix(1000, 0)
	k, _ := st.normalize("abcdefg")
	if k != "abcd" {
		t.Errorf("string key truncated to len: %q", k)
	}
	st.put("a", 1, now)
	st.put("b", 2, now)
	st.get("a", now) // a is now the most recent
	st.put("c", 3, now)
	if _, ok := st.get("b", now); ok {
		t.Error("least recently used entry not evicted")
	}
	if sid, ok := st.get("a", now.Add(30*time.Second)); !ok || sid != 1 {
		t.Errorf("a = %d %v", sid, ok)
	}
	if _, ok := st.get("a", now.Add(2*time.Minute)); ok {
		t.Error("expired entry returned")
	}
	ip := newStickTable(config.StickTable{Type: "ip", Size: 10})
	if _, ok := ip.normalize("::1"); ok {
		t.Error("IPv6 key accepted by an ip table")
	}
	if k, ok := ip.normalize("::ffff:10.0.0.1"); !ok || k != "10.0.0.1" {
		t.Errorf("mapped address: %q %v", k, ok)
	}
}

// TestSideBySideStick compares stick on src / stick on req.hdr with haproxy: same server for each request.
func TestSideBySideStick(t *testing.T) {
	var be [3]*testBackend
	for i := range be {
		be[i] = startBackend(t, fmt.Sprintf("s%d", i+1))
	}
	srvs := fmt.Sprintf("    server s1 127.0.0.1:%d\n    server s2 127.0.0.1:%d weight 2\n    server s3 127.0.0.1:%d\n", be[0].port, be[1].port, be[2].port)
	body := func(p1, p2 int) string {
		return fmt.Sprintf("listen bysrc\n    bind 127.0.0.1:%d\n    balance roundrobin\n    stick-table type ip size 100 expire 30m\n    stick on src\n%s"+
			"listen byuser\n    bind 127.0.0.1:%d\n    balance roundrobin\n    stick-table type string len 16 size 100\n    stick on req.hdr(x-user) if { hdr(x-user) -m found }\n%s", p1, srvs, p2, srvs)
	}
	head := "global\n    maxconn 200\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
	h1, h2, d1, d2 := freePort(t), freePort(t), freePort(t), freePort(t)
	haproxyProc(t, head+body(h1, h2), []int{h1, h2})
	startProxy(t, head+body(d1, d2), nil)
	rng := rand.New(rand.NewPCG(9, 9))
	var srcs, users []sbsReq
	pool := []string{"127.1.1.1", "127.1.1.2", "127.2.0.3", "127.3.4.5", "127.6.7.8"}
	for i := 0; i < 30; i++ {
		srcs = append(srcs, sbsReq{src: pool[rng.IntN(len(pool))], target: "/"})
		u := []string{"alice", "bob", "carol", "dave", ""}[rng.IntN(5)]
		hdr := ""
		if u != "" {
			hdr = "X-User: " + u + "\r\n"
		}
		users = append(users, sbsReq{target: "/", hdrs: hdr})
	}
	for _, c := range []struct {
		name   string
		hp, dp int
		reqs   []sbsReq
	}{{"bysrc", h1, d1, srcs}, {"byuser", h2, d2, users}} {
		var hs, ds []string
		for _, r := range c.reqs {
			hs = append(hs, ask(t, c.hp, r))
		}
		for _, r := range c.reqs {
			ds = append(ds, ask(t, c.dp, r))
		}
		if strings.Join(hs, " ") != strings.Join(ds, " ") {
			t.Errorf("%s:\n haproxy %s\n duet    %s", c.name, strings.Join(hs, " "), strings.Join(ds, " "))
		}
	}
}
