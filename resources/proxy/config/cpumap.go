package config

import (
	"fmt"
	"math/bits"
	"strings"
)

// CPUMap is one "cpu-map" line of the global section: the CPUs that threads (Duet's event loops, one per thread)
// may run on. haproxy 2.6 has one process, so a line whose process set leaves out process 1 maps nothing and is
// dropped, as haproxy ignores it.
type CPUMap struct {
	Pos     Pos
	Auto    bool   // "auto:": the threads (or the process) take the CPUs one each, in ascending order
	Threads uint64 // bit t-1 stands for thread t; 0: the line maps the whole process
	CPUs    []int  // ascending, no repeats
}

// maxCPU is the highest CPU number cpu-map takes: haproxy 2.6 keeps CPU sets in a cpu_set_t (CPU_SETSIZE 1024).
const maxCPU = 1023

// globalCPUMap parses "cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>...", with haproxy 2.6's messages.
func (p *parser) globalCPUMap(w []string) {
	if len(w) < 3 {
		p.errf("%s expects a process number  ('all', 'odd', 'even', a number from 1 to 64 or a range),  followed by a list of CPU ranges with numbers from 0 to 63.", w[0])
		return
	}
	set := w[1]
	auto := strings.HasPrefix(set, "auto:")
	set = strings.TrimPrefix(set, "auto:")
	procArg, threadArg, hasThreads := strings.Cut(set, "/")
	procs, err := parseIDSet(procArg)
	if err != nil {
		p.errf("%s : %v", w[0], err)
		return
	}
	var threads uint64
	if hasThreads {
		if threads, err = parseIDSet(threadArg); err != nil {
			p.errf("%s : %v", w[0], err)
			return
		}
	}
	cpus, err := parseCPUSet(w[2:])
	if err != nil {
		p.errf("%s : %v", w[0], err)
		return
	}
	if auto && bits.OnesCount64(procs) != len(cpus) && bits.OnesCount64(threads) != len(cpus) {
		p.errf("%s : PROC/THREAD range and CPU sets must have the same size to be automatically bound", w[0])
		return
	}
	if procs&1 == 0 {
		return // another process than the only one
	}
	p.cfg.Global.CPUMaps = append(p.cfg.Global.CPUMaps, CPUMap{Pos: p.pos(), Auto: auto, Threads: threads, CPUs: cpus})
}

// parseIDSet parses a process or thread set: all, odd, even, N, N-M or N- (up to 64), as haproxy's
// parse_process_number does.
func parseIDSet(s string) (uint64, error) {
	switch s {
	case "all":
		return ^uint64(0), nil
	case "odd":
		return ^uint64(0) / 3, nil // 1, 3, 5...: bits 0, 2, 4
	case "even":
		return ^uint64(0) / 3 << 1, nil
	}
	dash := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && dash < 0 {
			dash = i
		} else if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("'%s' is not a valid number/range.", s)
		}
	}
	low := leadingUint(s)
	high := low
	if dash >= 0 {
		if dash == len(s)-1 {
			high = 64
		} else {
			high = leadingUint(s[dash+1:])
		}
	}
	if high < low {
		low, high = high, low
	}
	if low < 1 || high > 64 {
		return 0, fmt.Errorf("'%s' is not a valid number/range. It supports numbers from 1 to 64.", s)
	}
	var set uint64
	for i := low; i <= high; i++ {
		set |= 1 << (i - 1)
	}
	return set, nil
}

// leadingUint is the number the decimal digits at the start of s make (0 when there are none), capped far above
// any valid value so that it cannot overflow.
func leadingUint(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = min(n*10+int(s[i]-'0'), 1<<20)
	}
	return n
}

// parseCPUSet parses CPU numbers and ranges (N, N-M, N-), one or more per argument separated by commas, as
// haproxy's parse_cpu_set does.
func parseCPUSet(args []string) ([]int, error) {
	var set [maxCPU + 1]bool
	for _, arg := range args {
		if arg == "" || arg[0] < '0' || arg[0] > '9' {
			return nil, fmt.Errorf("'%s' is not a CPU range.", arg)
		}
		for _, part := range strings.Split(arg, ",") {
			if part == "" {
				continue
			}
			low := leadingUint(part)
			high := low
			if _, after, ok := strings.Cut(part, "-"); ok {
				if after == "" {
					high = maxCPU
				} else {
					high = leadingUint(after)
				}
			}
			if high < low {
				low, high = high, low
			}
			if high > maxCPU {
				return nil, fmt.Errorf("supports CPU numbers from 0 to %d.", maxCPU)
			}
			for c := low; c <= high; c++ {
				set[c] = true
			}
		}
	}
	var cpus []int
	for c, on := range set {
		if on {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
