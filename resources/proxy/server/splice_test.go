package server

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTCPSplice: with option splice-*, TCP streams move through kernel pipes both ways with half-close, byte
// counts and inactivity timeouts intact; without it, or with global nosplice, they are copied. The same stream
// must arrive either way.
func TestTCPSplice(t *testing.T) {
	// backend: read everything (until the client's half-close), answer with its digest and 3 MiB of data
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
	backend := tcpServer(t, func(c net.Conn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		fmt.Fprintf(c, "%x\n", h.Sum(nil))
		_, _ = c.Write(big)
	})
	up := bytes.Repeat([]byte("upload-"), 300000) // 2.1 MB
	sum := sha256.Sum256(up)
	want := fmt.Sprintf("%x\n", sum[:]) + string(big)
	for _, opt := range []string{"", "option splice-auto", "option splice-request", "option splice-response", "nosplice"} {
		t.Run(fmt.Sprintf("%q", opt), func(t *testing.T) {
			p, pidle := freePort(t), freePort(t)
			head := defaults
			if opt == "nosplice" {
				// global nosplice wins over the option
				head, opt = strings.Replace(defaults, "global\n", "global\n    nosplice\n", 1), "option splice-auto"
			}
			s := startProxy(t, head+`
listen t
    bind 127.0.0.1:{P}
    mode tcp
    timeout client 20s
    timeout server 20s
    {OPT}
    server s1 127.0.0.1:{B}
listen idle
    bind 127.0.0.1:{PIDLE}
    mode tcp
    timeout client 400ms
    timeout server 400ms
    {OPT}
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "PIDLE": pidle, "B": backend, "OPT": opt})
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			go func() {
				_, _ = c.Write(up)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("got %d bytes (digest line %q), want %d", len(got), bytes.SplitN(got, []byte("\n"), 2)[0], len(want))
			}
			// the transfer's streams in the directions the option names (the idle connection moves no bytes)
			wantSpliced := map[string]int64{"": 0, "option splice-auto": 2, "option splice-request": 1, "option splice-response": 1}[opt]
			if head != defaults {
				wantSpliced = 0
			}
			defer func() {
				eventually(t, "spliced directions", func() bool { return s.splicedDirs.Load() == wantSpliced })
			}()
			eventually(t, "byte counters", func() bool {
				st := s.rt.Load().frontends["t"].cnt
				return st.bin.Load() == int64(len(up)) && st.bout.Load() == int64(len(want))
			})
			// an idle stream ends at the inactivity timeout, spliced or not
			c2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pidle))
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			start := time.Now()
			_ = c2.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadAll(c2); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Fatalf("idle stream closed after %v, before its 400ms timeout", d)
			}
		})
	}
}

// TestPipeLimit: no more kernel pipes than maxpipes; a closed one makes room, and none is left open after a stop.
func TestPipeLimit(t *testing.T) {
	s := startProxy(t, `global
    maxpipes 2
defaults
    mode tcp
listen t
    bind 127.0.0.1:{P}
    server s1 127.0.0.1:9
`, map[string]any{"P": freePort(t)})
	a, b := s.newPipe(), s.newPipe()
	if a == nil || b == nil {
		t.Fatal("no pipe within maxpipes 2")
	}
	if a.size < 4096 {
		t.Errorf("pipe capacity %d", a.size)
	}
	if c := s.newPipe(); c != nil {
		s.closePipe(c)
		t.Fatal("a third pipe with maxpipes 2")
	}
	s.closePipe(a)
	c := s.newPipe()
	if c == nil {
		t.Fatal("no pipe after one was closed")
	}
	if got := s.maxPipes(); got != 2 {
		t.Errorf("maxPipes %d, want 2", got)
	}
	info := map[string]string{}
	for _, f := range s.Info() {
		info[f.Name] = f.Value
	}
	if info["Maxpipes"] != "2" || info["PipesUsed"] != "2" || info["PipesFree"] != "0" {
		t.Errorf("show info: Maxpipes %q PipesUsed %q PipesFree %q, want 2 2 0", info["Maxpipes"], info["PipesUsed"], info["PipesFree"])
	}
	s.closePipe(b)
	s.closePipe(c)
	if n := s.pipes.Load(); n != 0 {
		t.Errorf("%d pipes counted after closing them all", n)
	}
}
