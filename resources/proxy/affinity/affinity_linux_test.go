package affinity

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

// TestSetProcess binds every thread of the test process to one CPU, checks each thread, and gives the process
// its CPUs back.
func TestSetProcess(t *testing.T) {
	allowed, err := Thread(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := SetProcess(allowed); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}()
	one := allowed[len(allowed)-1:]
	if err := SetProcess(one); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if got, err := Thread(tid); err == nil && !slices.Equal(got, one) {
			t.Errorf("thread %d runs on CPUs %v, want %v", tid, got, one)
		}
	}
	if err := SetThread(0, []int{4096}); err == nil {
		t.Error("CPU 4096 accepted")
	}
}
