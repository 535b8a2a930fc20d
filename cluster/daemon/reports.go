package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/duet-ha/duet/resources/executor"
)

// reportQueue delivers recurring monitors' reports to the replicated status. The executor reports a
// monitor only when its result changes, so a report that cannot be committed (no DC during an election or
// a takeover) must not be dropped: the queue retries it until it is delivered, the context ends, or a
// newer report of the same resource replaces it. Reports of one resource are delivered in order, one at a
// time; different resources do not wait for each other.
type reportQueue struct {
	deliver func(context.Context, executor.Report) error // commits one report; an error means "try again"
	retry   time.Duration                                // first pause between attempts; it doubles up to 5 s
	wg      *sync.WaitGroup                              // the owner waits on it for the delivering goroutines

	mu      sync.Mutex
	pending map[string]executor.Report // the latest undelivered report per resource
	busy    map[string]bool            // a goroutine is delivering this resource's reports
}

func newReportQueue(deliver func(context.Context, executor.Report) error, retry time.Duration, wg *sync.WaitGroup) *reportQueue {
	return &reportQueue{deliver: deliver, retry: retry, wg: wg, pending: map[string]executor.Report{}, busy: map[string]bool{}}
}

// add queues r for delivery under ctx and returns at once. It may be called from any goroutine.
func (q *reportQueue) add(ctx context.Context, r executor.Report) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending[r.Resource] = r
	if q.busy[r.Resource] {
		return
	}
	q.busy[r.Resource] = true
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.run(ctx, r.Resource)
	}()
}

// run delivers rsc's reports until none is pending.
func (q *reportQueue) run(ctx context.Context, rsc string) {
	for {
		q.mu.Lock()
		r, ok := q.pending[rsc]
		delete(q.pending, rsc)
		if !ok || ctx.Err() != nil {
			q.busy[rsc] = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		wait := q.retry
		for q.deliver(ctx, r) != nil && !q.superseded(rsc) {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if ctx.Err() != nil {
				break
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
}

func (q *reportQueue) superseded(rsc string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.pending[rsc]
	return ok
}
