package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/affinity"
)

// boundLoops is the blocking loop case as duet-proxy runs it: each runner's thread bound to CPUs of its own
// (affinity's default plan for two loops on this machine's CPUs).
func boundLoops() Options {
	o := Options{Loops: 2, BlockingLoops: true}
	if allowed, err := affinity.Thread(0); err == nil {
		o.LoopCPUs, o.Unbound = affinity.Make(nil, 2, allowed).Loops, allowed
	}
	return o
}

// TestLoopThreadsBound: a blocking runner binds its thread to its loop's CPUs while it holds it, and gives the
// thread back the process's set when the loop stops.
func TestLoopThreadsBound(t *testing.T) {
	allowed, err := affinity.Thread(0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{allowed[:1], allowed[len(allowed)-1:]}
	o := Options{Loops: 2, BlockingLoops: true, LoopCPUs: want, Unbound: allowed}
	s, addr := loopProxy(t, o, "")
	c := dialClient(t, addr)
	c.send(t, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if code, _ := c.answer(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	tids := make([]int, len(s.loops))
	for i, l := range s.loops {
		var got []int
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if tids[i] = int(l.tid.Load()); tids[i] != 0 {
				if got, err = affinity.Thread(tids[i]); err == nil && slices.Equal(got, want[i]) {
					break
				}
			}
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("loop %d: thread %d runs on CPUs %v, want %v", i, tids[i], got, want[i])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i, tid := range tids {
		// the thread went back to the runtime (it may have ended since: nothing to check then)
		if got, err := affinity.Thread(tid); err == nil && !slices.Equal(got, allowed) {
			t.Errorf("loop %d: thread %d left bound to CPUs %v after the stop, want %v", i, tid, got, allowed)
		}
	}
}
