package server

import (
	"context"
	"io"
	"net"
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

// TestLoopUnbindsWhileStreaming: a bound loop whose tunnel streams gives its thread the process's CPUs, and binds
// it again once its connections have been calm for a while.
func TestLoopUnbindsWhileStreaming(t *testing.T) {
	allowed, err := affinity.Thread(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) < 2 {
		t.Skip("needs 2 CPUs")
	}
	want := [][]int{allowed[:1], allowed[len(allowed)-1:]}
	o := Options{Loops: 2, BlockingLoops: true, LoopCPUs: want, Unbound: allowed, UnbindStreaming: true}
	const size = 32 << 20
	srv := tcpServer(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		first := make([]byte, 1)
		if _, err := io.ReadFull(c, first); err != nil {
			return
		}
		if first[0] == 'B' {
			_, _ = c.Write(make([]byte, size)) // bulk
			return
		}
		_, _ = c.Write(first)
		_, _ = io.Copy(c, c) // echo
	})
	s, addr := tcpProxy(t, o, srv, "")
	bulk, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bulk.Close()
	_ = bulk.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := bulk.Write([]byte("B")); err != nil {
		t.Fatal(err)
	}
	// read at about 200 MB/s, so that the stream lasts several of the watch's windows
	buf := make([]byte, 1<<20)
	for got := 0; got < size; {
		n, err := io.ReadFull(bulk, buf)
		got += n
		if err != nil {
			t.Fatalf("bulk: %d bytes, %v", got, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var streamed []int
	for i, l := range s.loops {
		if l.stream.unbinds.Load() > 0 {
			streamed = append(streamed, i)
			if got, err := affinity.Thread(int(l.tid.Load())); err != nil || !slices.Equal(got, allowed) {
				t.Errorf("loop %d streamed: thread on CPUs %v (%v), want %v", i, got, err, allowed)
			}
		}
	}
	if len(streamed) != 1 {
		t.Fatalf("loops that unbound for the 32 MiB stream: %v, want one", streamed)
	}
	// small exchanges on every loop: a calm runner binds its thread again
	var pings []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		pings = append(pings, c)
	}
	l := s.loops[streamed[0]]
	for end := time.Now().Add(5 * time.Second); ; {
		for _, c := range pings {
			if _, err := c.Write([]byte("Ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:4]); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := affinity.Thread(int(l.tid.Load())); err == nil && slices.Equal(got, want[streamed[0]]) {
			break
		}
		if time.Now().After(end) {
			got, err := affinity.Thread(int(l.tid.Load()))
			t.Fatalf("loop %d still on CPUs %v (%v) after 5 s of small exchanges, want %v", streamed[0], got, err, want[streamed[0]])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
