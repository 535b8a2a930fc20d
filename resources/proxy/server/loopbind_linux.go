package server

import (
	"sync/atomic"
	"time"
)

// A bound runner serves small requests best and streams worst. Measured on 2 CPUs shared with wrk and nginx
// (resources/proxy/README.md, "CPU binding"): bound, the saturated keep-alive p99 was 1.0-1.1 ms against 3-4 ms
// unbound, because the kernel stacked the unbound runners on one CPU; but 64 MiB transfers ran at 1.43-1.57 GiB/s
// bound against 1.70-1.77 unbound, with 16-26 % of the CPUs idle, because a bound runner that a woken wrk or
// nginx preempts cannot move to the other CPU when it idles. So a bound runner watches its tunnels: while they
// stream (full reads), it gives its thread the process's CPUs; once they have been calm for a while, it binds
// the thread again.

const (
	streamWindow = 50 * time.Millisecond // the watch looks at the full reads of each window...
	streamFull   = 32                    // ...and unbinds at this many (1 MiB in 50 ms: 20 MiB/s)...
	streamCalm   = 10                    // ...and binds again after this many windows in a row under half of it
)

// streamWatch is a runner's watch over its tunnels (runner only, handed over with the loop; on is set before the
// loop starts).
type streamWatch struct {
	on      bool         // the loop is bound by duet-proxy's default plan (Options.UnbindStreaming)
	full    int          // reads that filled the buffer (or a pipe's 32 kB) since the window began
	next    int64        // when the window ends (Unix ns)
	loose   bool         // the thread has the process's CPUs for now
	calm    int          // windows in a row under streamFull/2 while loose
	unbinds atomic.Int64 // times it unbound (tests)
}

// threadCPUs is what a runner's thread is bound to: the loop's CPUs, or the process's while the loop streams.
func (l *evloop) threadCPUs() []int {
	if l.stream.loose {
		return l.unbound
	}
	return l.cpus
}

// watchStreaming ends a window (l.now is fresh): a loop that streamed in it unbinds its thread; one that was calm
// for streamCalm windows binds it again. A runner waiting for work looks when it wakes: the window then counts
// as one, however long it was.
func (l *evloop) watchStreaming() {
	w := &l.stream
	w.next = l.now + int64(streamWindow)
	n := w.full
	w.full = 0
	switch {
	case !w.loose && n >= streamFull:
		if l.bind(l.unbound) {
			w.loose, w.calm = true, 0
			w.unbinds.Add(1)
		}
	case w.loose && n < streamFull/2:
		w.calm++
		if w.calm >= streamCalm && l.bind(l.cpus) {
			w.loose = false
		}
	case w.loose:
		w.calm = 0
	}
}
