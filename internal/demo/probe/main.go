// Command probe is the client of the demo and the failover benchmark: every -every it opens a new TCP
// connection to -addr (each request on its own, so a hung one delays no other), sends one HTTP request, and
// records who answered and when. On SIGINT/SIGTERM, after -for, or when the
// -stop file appears, it prints every change of the answering node and the client-visible outage of each
// (from the last answer of the old node to the first answer of the new one), the count of failed requests,
// and a last line: RESULT answers=N failed=N switches=N max_outage_ms=X max_gap_ms=X last=NODE
// (max_gap_ms is the longest time between two successful answers, switch or not).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type sample struct {
	start time.Time // when the request began
	at    time.Time
	node  string // "" = failed
	err   string
}

func main() {
	addr := flag.String("addr", "10.250.0.100:8080", "host:port to probe")
	every := flag.Duration("every", 10*time.Millisecond, "interval between requests")
	timeout := flag.Duration("timeout", 200*time.Millisecond, "per-request timeout")
	dur := flag.Duration("for", 10*time.Minute, "stop after this long")
	stopFile := flag.String("stop", "", "stop when this file exists")
	live := flag.Bool("live", false, "print each change as it happens")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()

	// Requests run concurrently, one started every -every, so that a request hanging on a dead node does
	// not delay the next ones: the outage is measured, not the timeout.
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
	)
	results := make(chan sample, 1024)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		last := ""
		var lastOK time.Time
		for s := range results {
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
			if s.node != "" {
				lastOK = s.at
			} else if s.start.Before(lastOK) {
				// A request that began before the last answer and failed later (it went to the node that
				// died): counted in the summary, but not news for the live view.
				continue
			}
			if *live && s.node != last {
				what := s.node
				if what == "" {
					what = "no answer (" + s.err + ")"
				}
				fmt.Printf("%s client: %s\n", s.at.Format("15:04:05.000"), what)
				last = s.node
			}
		}
	}()
	t := time.NewTicker(*every)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		if *stopFile != "" {
			if _, err := os.Stat(*stopFile); err == nil {
				break loop
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- probe(*addr, *timeout)
		}()
	}
	wg.Wait()
	close(results)
	<-printed
	sort.Slice(samples, func(i, j int) bool { return samples[i].at.Before(samples[j].at) })
	report(samples)
}

// probe makes one request; the sample's time is when the answer (or the failure) came.
func probe(addr string, timeout time.Duration) (s sample) {
	s.start = time.Now()
	defer func() { s.at = time.Now() }()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		s.err = shortErr(err)
		return s
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		s.err = "bad answer"
		if err != nil {
			s.err = shortErr(err)
		}
		return s
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.err = shortErr(err)
			return s
		}
		if line == "\r\n" {
			break
		}
	}
	body, _ := r.ReadString('\n')
	// "n1", or "rs1 via n1" through a proxy: the node is the last word.
	if f := strings.Fields(body); len(f) > 0 {
		s.node = f[len(f)-1]
	}
	if s.node == "" {
		s.err = "empty body"
	}
	return s
}

func shortErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

func report(samples []sample) {
	answers, failed, switches := 0, 0, 0
	var maxOutage, maxGap time.Duration
	lastNode := ""
	var lastAt time.Time
	for _, s := range samples {
		if s.node == "" {
			failed++
			continue
		}
		answers++
		if lastNode != "" {
			gap := s.at.Sub(lastAt)
			maxGap = max(maxGap, gap)
			if s.node != lastNode {
				switches++
				maxOutage = max(maxOutage, gap)
				fmt.Printf("switch %s -> %s at %s: outage %.1f ms (last answer from %s to first from %s)\n",
					lastNode, s.node, s.at.Format("15:04:05.000"), ms(gap), lastNode, s.node)
			}
		}
		lastNode, lastAt = s.node, s.at
	}
	fmt.Printf("RESULT answers=%d failed=%d switches=%d max_outage_ms=%.1f max_gap_ms=%.1f last=%s\n", answers, failed, switches, ms(maxOutage), ms(maxGap), lastNode)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
