package balance

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestHashVectors(t *testing.T) {
	key := make([]byte, 256)
	for i := range key {
		key[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		fn   func([]byte) uint32
		want uint32
	}{
		{"sdbm", SDBM, 905707648},
		{"djb2", DJB2, 2589693061},
		{"wt6", WT6, 4090277559},
		{"crc32", CRC32, 688229491},
	} {
		if got := tc.fn(key); got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := SDBM([]byte("/index.html")); got != 0x33242976 {
		t.Errorf("sdbm(/index.html) = %#x", got)
	}
	if got := SDBM([]byte("10.0.0.1")); got != 0x8AC57D46 {
		t.Errorf("sdbm(10.0.0.1) = %#x", got)
	}
}

func mkServers(weights ...int) []*Server {
	var out []*Server
	for i, w := range weights {
		out = append(out, &Server{Index: i, ID: i + 1, Name: fmt.Sprintf("s%d", i+1), IWeight: w, Weight: w, Usable: true})
	}
	return out
}

func seq(sel Selector, r *Request, n int) string {
	var b []string
	for i := 0; i < n; i++ {
		s := sel.Select(r, nil)
		if s == nil {
			b = append(b, "-")
			continue
		}
		b = append(b, s.Name)
	}
	return strings.Join(b, " ")
}

func TestRoundRobinSequences(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    string
	}{
		{[]int{1, 1}, "s1 s2 s1 s2"},
		{[]int{3, 2, 1}, "s1 s2 s1 s3 s1 s2 s1 s2 s1 s3 s1 s2"},
		{[]int{2, 1, 1, 1}, "s1 s2 s1 s3 s4 s1 s2 s1 s3 s4"},
		{[]int{3, 1}, "s1 s1 s1 s2 s1 s1 s1 s2"},
		{[]int{5, 1}, "s1 s1 s1 s1 s1 s2"},
		{[]int{1, 2, 3, 4}, "s4 s3 s4 s2 s3 s4 s1 s4 s3 s2"},
		{[]int{4, 3, 2, 1}, "s1 s2 s1 s3 s2 s1 s4 s1 s2 s3"},
		{[]int{7, 3, 2, 2}, "s1 s2 s1 s3 s1 s2 s1 s4 s1 s1 s3 s2 s1 s1"},
		{[]int{1, 1, 1, 1}, "s1 s2 s3 s4 s1"},
	} {
		sel := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, false, mkServers(tc.weights...), 1)
		n := len(strings.Fields(tc.want))
		if got := seq(sel, &Request{}, n); got != tc.want {
			t.Errorf("roundrobin %v = %q, want %q", tc.weights, got, tc.want)
		}
	}
}

func TestStaticRRMap(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    string
	}{
		{[]int{3, 2, 1}, "s1 s1 s2 s1 s2 s3"},
		{[]int{1, 2, 3, 4}, "s1 s2 s4 s3 s4 s2 s3 s4 s3 s4"},
		{[]int{7, 3, 2, 2}, "s1 s1 s2 s1 s2 s1 s3 s4 s1 s1 s2 s1"},
		{[]int{2, 4}, "s1 s2 s2"},
	} {
		sel := New(config.Balance{Algo: config.AlgoStaticRR}, config.HashType{}, false, mkServers(tc.weights...), 1)
		n := len(strings.Fields(tc.want))
		if got := seq(sel, &Request{}, n); got != tc.want {
			t.Errorf("static-rr %v = %q, want %q", tc.weights, got, tc.want)
		}
	}
}

func TestSourceBalancing(t *testing.T) {
	for _, tc := range []struct {
		addr              string
		key               uint32
		map2, map3, cons2 string
	}{
		{"10.0.0.1", 0x0A000001, "s2", "s3", "s1"},
		{"10.0.0.2", 0x0A000002, "s1", "s1", "s1"},
		{"192.168.1.10", 0xC0A8010A, "s1", "s3", "s2"},
		{"127.0.0.1", 0x7F000001, "s2", "s3", "s2"},
		{"::1", 0x00000001, "s2", "s2", "s1"},
		{"2001:db8::1", 0x20010DB9, "s2", "s1", "s1"},
	} {
		a := netip.MustParseAddr(tc.addr)
		if k := SourceKey(a.AsSlice()); k != tc.key {
			t.Errorf("key(%s) = %#x, want %#x", tc.addr, k, tc.key)
		}
		r := &Request{Src: a}
		b := config.Balance{Algo: config.AlgoSource}
		if got := New(b, config.HashType{Function: "sdbm"}, false, mkServers(1, 1), 1).Select(r, nil).Name; got != tc.map2 {
			t.Errorf("%s map2 = %s, want %s", tc.addr, got, tc.map2)
		}
		if got := New(b, config.HashType{Function: "sdbm"}, false, mkServers(1, 1, 1), 1).Select(r, nil).Name; got != tc.map3 {
			t.Errorf("%s map3 = %s, want %s", tc.addr, got, tc.map3)
		}
		if got := New(b, config.HashType{Consistent: true, Function: "sdbm", Avalanche: true}, false, mkServers(1, 1), 1).Select(r, nil).Name; got != tc.cons2 {
			t.Errorf("%s consistent2 = %s, want %s", tc.addr, got, tc.cons2)
		}
	}
}

func TestURIBalancing(t *testing.T) {
	b := config.Balance{Algo: config.AlgoURI}
	two := New(b, config.HashType{Function: "sdbm"}, false, mkServers(1, 1), 1)
	for uri, want := range map[string]string{"/index.html": "s1", "/": "s2"} {
		if got := two.Select(&Request{URI: uri}, nil).Name; got != want {
			t.Errorf("uri %s = %s, want %s", uri, got, want)
		}
	}
	four := New(b, config.HashType{Function: "sdbm"}, false, mkServers(1, 1, 1, 1), 1)
	for uri, want := range map[string]string{"/url1": "s2", "/url1?ignore=this-arg": "s2", "/url2": "s3", "/url3": "s4"} {
		if got := four.Select(&Request{URI: uri}, nil).Name; got != want {
			t.Errorf("uri %s = %s, want %s", uri, got, want)
		}
	}
}

func TestURIKey(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		b    config.Balance
		want string
	}{
		{"/a/b/c?x=1", config.Balance{}, "/a/b/c"},
		{"/a/b/c?x=1", config.Balance{URIWhole: true}, "/a/b/c?x=1"},
		{"/a/b/c?x=1", config.Balance{URIDepth: 1}, "/a"},
		{"/a/b/c?x=1", config.Balance{URIDepth: 2}, "/a/b"},
		{"/a/b/c?x=1", config.Balance{URILen: 4}, "/a/b"},
		{"http://h/a/b?q", config.Balance{URIPathOnly: true}, "/a/b"},
		{"http://h/a/b?q", config.Balance{}, "http://h/a/b"},
	} {
		got, _ := URIKey(tc.uri, tc.b)
		if got != tc.want {
			t.Errorf("URIKey(%q, %+v) = %q, want %q", tc.uri, tc.b, got, tc.want)
		}
	}
}

func TestHdrAndParamKeys(t *testing.T) {
	r := &Request{Headers: func(n string) []string {
		if strings.EqualFold(n, "x-key") {
			return []string{"a, b", "c"}
		}
		if strings.EqualFold(n, "host") {
			return []string{"haproxy.1wt.eu"}
		}
		return nil
	}}
	if v, _ := HdrKey(r, "X-Key", false); v != "a" {
		t.Errorf("hdr key = %q, want a", v)
	}
	if v, _ := HdrKey(r, "Host", true); v != "1wt" {
		t.Errorf("use_domain_only = %q, want 1wt", v)
	}
	if _, ok := HdrKey(r, "missing", false); ok {
		t.Error("missing header gave a key")
	}
	for _, tc := range []struct {
		uri, name, want string
		ok              bool
	}{
		{"/x?a=1&userid=42&b=2", "userid", "42", true},
		{"/x?userid=", "userid", "", true},
		{"/x?user=1", "userid", "", false},
		{"/x;userid=1", "userid", "", false},
		{"/x?a=1;userid=1", "userid", "", false},
	} {
		v, ok := URLParam(tc.uri, tc.name)
		if v != tc.want || ok != tc.ok {
			t.Errorf("URLParam(%q) = %q,%v want %q,%v", tc.uri, v, ok, tc.want, tc.ok)
		}
	}
}

func TestFallbackAndBackups(t *testing.T) {
	// A missing header falls back to the static-rr cursor over the map.
	sel := New(config.Balance{Algo: config.AlgoHdr, Header: "X-Key"}, config.HashType{Function: "sdbm"}, false, mkServers(1, 1, 1), 1)
	if got := seq(sel, &Request{Headers: func(string) []string { return nil }}, 4); got != "s1 s2 s3 s1" {
		t.Errorf("fallback = %q", got)
	}
	srv := mkServers(1, 1, 1, 1)
	srv[2].Backup, srv[3].Backup = true, true
	rr := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, false, srv, 1)
	srv[0].Usable, srv[1].Usable = false, false
	rr.Update()
	if got := seq(rr, &Request{}, 3); got != "s3 s3 s3" {
		t.Errorf("first backup only = %q", got)
	}
	all := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, true, srv, 1)
	if got := seq(all, &Request{}, 2); got != "s3 s4" {
		t.Errorf("allbackups = %q", got)
	}
	srv[0].Usable = true
	rr.Update()
	if got := seq(rr, &Request{}, 2); got != "s1 s1" {
		t.Errorf("active back = %q", got)
	}
}

func TestLeastConnAndFirst(t *testing.T) {
	srv := mkServers(1, 2, 1)
	lc := New(config.Balance{Algo: config.AlgoLeastConn}, config.HashType{}, false, srv, 1)
	var got []string
	for i := 0; i < 6; i++ {
		s := lc.Select(&Request{}, nil)
		got = append(got, s.Name)
		// sequential: take and release
		s.Served++
		lc.(Repositioner).Reposition(s)
		s.Served--
		lc.(Repositioner).Reposition(s)
	}
	if g := strings.Join(got, " "); g != "s1 s2 s3 s1 s2 s3" {
		t.Errorf("leastconn sequential = %q", g)
	}
	srv[0].Served = 3
	if s := lc.Select(&Request{}, nil); s.Name != "s2" {
		t.Errorf("leastconn loaded = %s", s.Name)
	}
	fs := mkServers(1, 1)
	f := New(config.Balance{Algo: config.AlgoFirst}, config.HashType{}, false, fs, 1)
	if s := f.Select(&Request{}, nil); s.Name != "s1" {
		t.Errorf("first = %s", s.Name)
	}
	fs[0].Maxconn, fs[0].Served = 1, 1
	if s := f.Select(&Request{}, nil); s.Name != "s2" {
		t.Errorf("first full = %s", s.Name)
	}
	fs[1].Maxconn, fs[1].Served = 1, 1
	if s := f.Select(&Request{}, nil); s != nil {
		t.Errorf("first all full = %s", s.Name)
	}
}

func TestAvoid(t *testing.T) {
	srv := mkServers(1, 1)
	rr := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, false, srv, 1)
	for i := 0; i < 4; i++ {
		if s := rr.Select(&Request{}, srv[0]); s != srv[1] {
			t.Fatalf("avoid s1: got %s", s.Name)
		}
	}
	one := mkServers(1)
	rr1 := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, false, one, 1)
	if s := rr1.Select(&Request{}, one[0]); s != one[0] {
		t.Fatal("avoided server not used as the last resort")
	}
}

func TestRandomDistributes(t *testing.T) {
	srv := mkServers(1, 1, 1)
	r := New(config.Balance{Algo: config.AlgoRandom, Draws: 2}, config.HashType{}, false, srv, 42)
	count := map[string]int{}
	for i := 0; i < 3000; i++ {
		count[r.Select(&Request{}, nil).Name]++
	}
	for _, s := range srv {
		if count[s.Name] < 500 {
			t.Errorf("random: %s got %d of 3000", s.Name, count[s.Name])
		}
	}
}

func FuzzSelectors(f *testing.F) {
	f.Add([]byte{3, 2, 1}, "/a/b?c=d", uint8(0))
	f.Fuzz(func(t *testing.T, ws []byte, uri string, algo uint8) {
		if len(ws) > 16 {
			ws = ws[:16]
		}
		var weights []int
		for _, w := range ws {
			weights = append(weights, int(w))
		}
		algos := []config.Algo{config.AlgoRoundRobin, config.AlgoStaticRR, config.AlgoLeastConn, config.AlgoFirst,
			config.AlgoSource, config.AlgoURI, config.AlgoURLParam, config.AlgoHdr, config.AlgoRandom}
		a := algos[int(algo)%len(algos)]
		srv := mkServers(weights...)
		for _, cons := range []bool{false, true} {
			sel := New(config.Balance{Algo: a, Param: "c", Header: "h", Draws: 2, URIDepth: int(algo % 3)},
				config.HashType{Consistent: cons, Function: "wt6"}, algo%2 == 0, srv, 1)
			for i := 0; i < 5; i++ {
				s := sel.Select(&Request{URI: uri, Src: netip.MustParseAddr("10.0.0.1"), Headers: func(string) []string { return []string{uri} }}, nil)
				if s != nil && !s.inLB() {
					t.Fatalf("picked unusable server %s", s.Name)
				}
			}
		}
	})
}

func TestHashBalanceFactor(t *testing.T) {
	srv := mkServers(1, 1, 1)
	sel := NewWithFactor(config.Balance{Algo: config.AlgoURI}, config.HashType{Consistent: true, Function: "sdbm", Avalanche: true}, false, srv, 1, 125)
	// the same URI again and again: bounded load spreads it once its server holds its share
	counts := map[string]int{}
	for i := 0; i < 30; i++ {
		s := sel.Select(&Request{URI: "/same"}, nil)
		s.Served++
		counts[s.Name]++
	}
	if len(counts) != 3 {
		t.Errorf("bounded load did not spread: %v", counts)
	}
	for n, c := range counts {
		if c > 13 {
			t.Errorf("%s took %d of 30 with factor 125", n, c)
		}
	}
}
