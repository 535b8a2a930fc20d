package virtd

import (
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/fencing/xvm"
)

// HistoryWindow is how long an answered request is remembered (the real daemon's 10 s).
const HistoryWindow = 10 * time.Second

type histKey struct {
	op     xvm.Op
	seqno  uint32
	domain string // lower case
}

// history de-duplicates requests: fence_xvm sends one copy per local address and retransmits with the same
// seqno, and the daemon must act once. A request is "in flight" from when a handler claims it until it is
// answered; then it is remembered for HistoryWindow. Time is passed in, so it is testable without clocks.
type history struct {
	mu       sync.Mutex
	done     map[histKey]time.Time
	inflight map[histKey]bool
}

func newHistory() *history {
	return &history{done: map[histKey]time.Time{}, inflight: map[histKey]bool{}}
}

func keyOf(r xvm.Request) histKey {
	return histKey{r.Op, r.Seqno, strings.ToLower(r.Domain)}
}

// claim reports whether r may be handled now: it is neither in flight nor answered within the window.
// On true the caller owns r and must call finish.
func (h *history) claim(r xvm.Request, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, t := range h.done {
		if now.Sub(t) >= HistoryWindow || now.Before(t.Add(-HistoryWindow)) {
			delete(h.done, k)
		}
	}
	k := keyOf(r)
	if h.inflight[k] {
		return false
	}
	if _, ok := h.done[k]; ok {
		return false
	}
	h.inflight[k] = true
	return true
}

// finish releases a claim. answered records the request in the history (the result was sent, whatever it
// was); otherwise (no callback, failed authentication) another copy may still be served.
func (h *history) finish(r xvm.Request, answered bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := keyOf(r)
	delete(h.inflight, k)
	if answered {
		h.done[k] = now
	}
}
