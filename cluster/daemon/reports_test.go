package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/resources/executor"
)

// fakeDeliver fails while down is set and records what it delivered, in order.
type fakeDeliver struct {
	mu        sync.Mutex
	down      bool
	attempts  int
	delivered []executor.Report
}

func (f *fakeDeliver) deliver(_ context.Context, r executor.Report) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.down {
		return errors.New("no DC elected")
	}
	f.delivered = append(f.delivered, r)
	return nil
}

func (f *fakeDeliver) set(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

func (f *fakeDeliver) snapshot() (int, []executor.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, append([]executor.Report(nil), f.delivered...)
}

func report(rsc string, rc agents.RC) executor.Report {
	return executor.Report{Resource: rsc, Result: executor.Result{RC: rc, Failed: rc != agents.Success}}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startQueue runs a report queue over a fake delivery that starts failing (no DC); stop cancels the queue's
// context and waits for its goroutines.
func startQueue() (q *reportQueue, f *fakeDeliver, ctx context.Context, stop func()) {
	var wg sync.WaitGroup
	f = &fakeDeliver{down: true}
	q = newReportQueue(f.deliver, time.Millisecond, &wg)
	ctx, cancel := context.WithCancel(context.Background())
	return q, f, ctx, func() { cancel(); wg.Wait() }
}

// TestReportQueueRetriesUntilDelivered: a monitor failure reported while no DC can commit it is delivered
// once a DC can, instead of being lost (the executor reports a change only once).
func TestReportQueueRetriesUntilDelivered(t *testing.T) {
	q, f, ctx, stop := startQueue()
	defer stop()
	q.add(ctx, report("vip", agents.NotRunning))
	waitUntil(t, "a few failed attempts", func() bool { n, _ := f.snapshot(); return n >= 3 })
	f.set(false)
	waitUntil(t, "the delivery", func() bool { _, d := f.snapshot(); return len(d) == 1 })
	stop()
	if _, d := f.snapshot(); len(d) != 1 || d[0].Result.RC != agents.NotRunning {
		t.Fatalf("delivered %+v, want the one failure", d)
	}
}

// TestReportQueueNewerReplacesOlder: while a resource's report waits, a newer one of the same resource
// replaces it (never delivered after it); other resources are delivered independently.
func TestReportQueueNewerReplacesOlder(t *testing.T) {
	q, f, ctx, stop := startQueue()
	defer stop()
	q.add(ctx, report("vip", agents.NotRunning))
	waitUntil(t, "an attempt", func() bool { n, _ := f.snapshot(); return n >= 1 })
	q.add(ctx, report("vip", agents.Success))
	q.add(ctx, report("web", agents.ErrGeneric))
	f.set(false)
	lastVIP := func() (agents.RC, bool) {
		_, d := f.snapshot()
		rc, web := agents.RC(-1), false
		for _, r := range d {
			if r.Resource == "vip" {
				rc = r.Result.RC
			}
			web = web || r.Resource == "web"
		}
		return rc, web
	}
	waitUntil(t, "vip's newer report and web's delivered", func() bool { rc, web := lastVIP(); return rc == agents.Success && web })
	stop()
	if rc, _ := lastVIP(); rc != agents.Success {
		t.Fatalf("vip's last delivered report is rc %d: the older failure came after the newer success", rc)
	}
}

// TestReportQueueStopsWithContext: retries end when the daemon stops.
func TestReportQueueStopsWithContext(t *testing.T) {
	q, f, ctx, stop := startQueue()
	q.add(ctx, report("vip", agents.NotRunning))
	waitUntil(t, "an attempt", func() bool { n, _ := f.snapshot(); return n >= 1 })
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the queue kept retrying after its context ended")
	}
}
