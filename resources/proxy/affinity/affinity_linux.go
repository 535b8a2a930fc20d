package affinity

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// mask is a kernel CPU mask as sched_{get,set}affinity take it (CPU_SETSIZE bits).
type mask [1024 / 64]uint64

func toMask(cpus []int) (mask, error) {
	var m mask
	for _, c := range cpus {
		if c < 0 || c >= len(m)*64 {
			return m, fmt.Errorf("CPU %d out of range", c)
		}
		m[c/64] |= 1 << (c % 64)
	}
	return m, nil
}

func (m *mask) cpus() []int {
	var out []int
	for c := 0; c < len(m)*64; c++ {
		if m[c/64]&(1<<(c%64)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// Thread returns the CPUs the calling thread may run on (tid 0) or those of the thread tid.
func Thread(tid int) ([]int, error) {
	var m mask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return nil, fmt.Errorf("sched_getaffinity: %w", e)
	}
	return m.cpus(), nil
}

// SetThread binds the thread tid (0: the calling one; lock the goroutine to it first) to cpus.
func SetThread(tid int, cpus []int) error {
	m, err := toMask(cpus)
	if err != nil {
		return err
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return fmt.Errorf("sched_setaffinity %s: %w", List(cpus), e)
	}
	return nil
}

// SetProcess binds every thread of the process to cpus; threads made later inherit the set from the thread that
// makes them (Go makes threads from unbound ones: a goroutine locked to its thread hands the making to another).
func SetProcess(cpus []int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("bind the process: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := SetThread(tid, cpus); err != nil && !errors.Is(err, syscall.ESRCH) /* gone meanwhile */ {
			return fmt.Errorf("bind the process: thread %d: %w", tid, err)
		}
	}
	return nil
}

// Gettid is the calling thread's id.
func Gettid() int { return syscall.Gettid() }
