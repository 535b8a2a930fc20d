package balance

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// lbsimDir holds the executable spec lbsim.py (haproxy_lab in the shared protocol notes).
const lbsimDir = "/work/shared/protocols/haproxy_lab"

// TestAgainstLBSim compares roundrobin, static-rr and consistent/map hashing with lbsim.py on random weight sets.
func TestAgainstLBSim(t *testing.T) {
	if _, err := os.Stat(lbsimDir + "/lbsim.py"); err != nil {
		t.Skip("lbsim.py not available")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var script bytes.Buffer
	script.WriteString("import sys\nsys.path.insert(0, '" + lbsimDir + "')\nfrom lbsim import *\n")
	type tcase struct {
		weights []int
		keys    []uint32
	}
	var cases []tcase
	for i := 0; i < 30; i++ {
		n := 1 + rng.IntN(5)
		var ws []int
		for j := 0; j < n; j++ {
			ws = append(ws, 1+rng.IntN(12))
		}
		var keys []uint32
		for j := 0; j < 20; j++ {
			keys = append(keys, rng.Uint32())
		}
		cases = append(cases, tcase{ws, keys})
		fmt.Fprintf(&script, "ws=%s\nf=FWRR(ws)\nprint('rr', ' '.join(f.pick() for _ in range(%d)))\n", pyList(ws), 3*sum(ws))
		fmt.Fprintf(&script, "t=build_map(ws)\nprint('map', ' '.join('s%%d'%%(i+1) for i in t))\n")
		fmt.Fprintf(&script, "pts=build_chash(ws)\nprint('ch', ' '.join('s%%d'%%(chash_pick(pts,k)+1) for k in %s))\n", pyKeys(keys))
	}
	out, err := exec.Command(py, "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("run lbsim: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for _, tc := range cases {
		var lines [3]string
		for k := range lines {
			if !sc.Scan() {
				t.Fatal("lbsim output too short")
			}
			lines[k] = sc.Text()
		}
		rr := New(config.Balance{Algo: config.AlgoRoundRobin}, config.HashType{}, false, mkServers(tc.weights...), 1)
		if got := "rr " + seq(rr, &Request{}, 3*sum(tc.weights)); got != lines[0] {
			t.Errorf("weights %v:\n got %s\nwant %s", tc.weights, got, lines[0])
		}
		srv := mkServers(tc.weights...)
		m := buildMap(srv, gcdWeights(srv))
		var names []string
		for _, s := range m {
			names = append(names, s.Name)
		}
		if got := "map " + strings.Join(names, " "); got != lines[1] {
			t.Errorf("weights %v map:\n got %s\nwant %s", tc.weights, got, lines[1])
		}
		ring := buildRing(srv)
		names = names[:0]
		for _, k := range tc.keys {
			names = append(names, ringLookup(ring, k, nil).Name)
		}
		if got := "ch " + strings.Join(names, " "); got != lines[2] {
			t.Errorf("weights %v chash:\n got %s\nwant %s", tc.weights, got, lines[2])
		}
	}
}

func sum(ws []int) int {
	n := 0
	for _, w := range ws {
		n += w
	}
	return n
}

func pyList(ws []int) string {
	var s []string
	for _, w := range ws {
		s = append(s, fmt.Sprint(w))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func pyKeys(ks []uint32) string {
	var s []string
	for _, k := range ks {
		s = append(s, fmt.Sprint(k))
	}
	return "[" + strings.Join(s, ",") + "]"
}
