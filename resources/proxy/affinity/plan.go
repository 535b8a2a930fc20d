// Package affinity decides which CPUs duet-proxy's event-loop threads run on (haproxy's cpu-map), and binds
// threads to them.
//
// Why Duet binds its loop threads by default, where haproxy 2.6 leaves its threads unbound: a loop's runner is a
// goroutine locked to its thread, and Go's runtime preempts a goroutine that has run for 10 ms, which for a
// locked one means a trip through a second thread. Measured on 2 CPUs shared with wrk and nginx, the kernel then
// kept both runners on the same CPU for whole runs, taking turns in 4 ms ticks, while haproxy's two threads
// stayed on separate CPUs: Duet's saturated keep-alive p99 was 3-4 ms against haproxy's 1.7 ms. Bound one per
// CPU, it was 1.0 ms (resources/proxy/README.md, "CPU binding").
package affinity

import (
	"fmt"
	"math/bits"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// Plan says where the threads go: Process (nil: unchanged) is the CPU set of the whole process, Loops[i] that of
// loop i's thread (thread i+1 in cpu-map's numbering; nil: the process's set), and Notes what could not be
// applied as written.
type Plan struct {
	Process []int
	Loops   [][]int
	Notes   []string
}

// Make plans the CPU sets of loops threads from the cpu-map lines, for a process allowed to run on allowed (its
// affinity mask at start, ascending). Without any cpu-map line, two loops or more are spread over the allowed
// CPUs: with as many loops as CPUs, one CPU each; with fewer, loop i takes every CPU whose position is i modulo
// the loop count (so the loops never share a CPU, and together use them all); with more, loop i takes CPU i
// modulo the CPU count. A single loop is left unbound. With cpu-map lines, only what they say applies, as in
// haproxy: a thread no line maps is not bound.
func Make(maps []config.CPUMap, loops int, allowed []int) Plan {
	p := Plan{Loops: make([][]int, max(loops, 0))}
	if len(maps) == 0 {
		if loops < 2 || len(allowed) == 0 {
			return p
		}
		for i := range p.Loops {
			if loops >= len(allowed) {
				p.Loops[i] = []int{allowed[i%len(allowed)]}
				continue
			}
			for j := i; j < len(allowed); j += loops {
				p.Loops[i] = append(p.Loops[i], allowed[j])
			}
		}
		return p
	}
	// the process: the last line without a thread set
	var procLine *config.CPUMap
	for i := range maps {
		if maps[i].Threads == 0 {
			procLine = &maps[i]
		}
	}
	if procLine != nil {
		want := procLine.CPUs
		if procLine.Auto {
			want = want[:1] // process 1 takes the first CPU
		}
		p.Process = p.within(want, allowed, procLine.Pos, "the process")
		if p.Process != nil {
			allowed = p.Process
		}
	}
	for i := range p.Loops {
		t := uint(i) // thread i+1
		var line *config.CPUMap
		var want []int
		for j := range maps {
			m := &maps[j]
			if m.Threads&(1<<t) == 0 {
				continue
			}
			line, want = m, m.CPUs
			if m.Auto {
				// the k-th thread of the line's set takes its k-th CPU
				k := bits.OnesCount64(m.Threads & (1<<t - 1))
				if k >= len(m.CPUs) {
					want = nil
				} else {
					want = m.CPUs[k : k+1]
				}
			}
		}
		if line == nil {
			continue
		}
		if want == nil {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: cpu-map: thread %d has no CPU of its own in the list: it is not bound", line.Pos, i+1))
			continue
		}
		p.Loops[i] = p.within(want, allowed, line.Pos, fmt.Sprintf("thread %d", i+1))
	}
	return p
}

// within is want's CPUs that are in allowed; when there are none it notes so and returns nil (not bound).
func (p *Plan) within(want, allowed []int, pos config.Pos, who string) []int {
	var out []int
	for _, c := range want {
		for _, a := range allowed {
			if a == c {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) == 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: cpu-map: %s: none of CPUs %s is available to the process (it may use %s): not bound",
			pos, who, List(want), List(allowed)))
	}
	return out
}

// List writes a CPU set as the kernel's cpu lists do ("0-3,6").
func List(cpus []int) string {
	s := ""
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if s != "" {
			s += ","
		}
		if j > i {
			s += fmt.Sprintf("%d-%d", cpus[i], cpus[j])
		} else {
			s += fmt.Sprint(cpus[i])
		}
		i = j + 1
	}
	return s
}
