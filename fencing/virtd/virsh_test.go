package virtd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/fencing"
)

func TestCutMarker(t *testing.T) {
	tests := []struct {
		buf      string
		seq      uint64
		text     string
		rest     string
		complete bool
	}{
		{"virsh # domstate test;echo @''1.\nrunning\n@1.virsh # ", 1, "virsh # domstate test;echo @''1.\nrunning\n", "virsh # ", true},
		{"@7.", 7, "", "", true},                     // no readline: nothing before the marker
		{"running\n@12", 0, "", "", false},           // the marker is still arriving
		{"running\n@12.", 12, "running\n", "", true}, // now complete
		{"x@1.\n@2.", 2, "x@1.\n", "", true},         // a marker counts only at the start of a line
		{"@.\n@a.\n@3.z", 3, "@.\n@a.\n", "z", true}, // digits are required
		{"no marker\n", 0, "", "", false},
	}
	for _, tc := range tests {
		seq, text, rest, ok := cutMarker([]byte(tc.buf), []byte(virshMarker))
		if ok != tc.complete || seq != tc.seq || text != tc.text || string(rest) != tc.rest {
			t.Errorf("cutMarker(%q) = %d %q %q %v; want %d %q %q %v", tc.buf, seq, text, rest, ok, tc.seq, tc.text, tc.rest, tc.complete)
		}
	}
}

// sessionPid returns the pid of uri's virsh session (0 if there is none).
func sessionPid(l *Libvirt, uri string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[uri]; s != nil {
		return s.cmd.Process.Pid
	}
	return 0
}

// gone reports whether pid no longer exists (the session reaped it).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// A virsh that dies between commands is noticed and replaced by a new session on the next command.
func TestVirshSessionRestartedAfterDeath(t *testing.T) {
	needVirsh(t)
	ctx := context.Background()
	l := newTestLibvirt(t, "test:///default")
	if st, err := l.Status(ctx, "test"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status = %v, %v", st, err)
	}
	pid := sessionPid(l, "test:///default")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	s := l.sessions["test:///default"]
	l.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not notice that virsh died")
	}
	if st, err := l.Status(ctx, "test"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status after virsh died = %v, %v", st, err)
	}
	if p := sessionPid(l, "test:///default"); p == pid || p == 0 {
		t.Fatalf("session pid %d after restart, was %d", p, pid)
	}
	if !gone(pid) {
		t.Fatalf("dead virsh %d not reaped", pid)
	}
}

// fakeVirsh writes a shell script standing in for virsh; every start appends a line to the returned file.
func fakeVirsh(t *testing.T, body string) (virsh, starts string) {
	t.Helper()
	dir := t.TempDir()
	starts = filepath.Join(dir, "starts")
	return writeScript(t, dir, "virsh", "echo started $$ >> "+starts+"\n"+body), starts
}

func countStarts(t *testing.T, starts string) int {
	t.Helper()
	b, err := os.ReadFile(starts)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "started")
}

// A virsh that exits in the middle of a command fails that command (it is not retried: it may have been
// a destroy); the next command starts a new session.
func TestVirshSessionDiesDuringCommand(t *testing.T) {
	virsh, starts := fakeVirsh(t, "read line\necho 'error: connection lost' >&2\nexit 3")
	l := newTestLibvirt(t, "test:///default")
	l.Virsh = virsh
	for i := 1; i <= 2; i++ {
		_, err := l.Status(context.Background(), "test")
		if !errors.Is(err, errSessionEnded) {
			t.Fatalf("Status %d: %v, want the session's end", i, err)
		}
		if n := countStarts(t, starts); n != i {
			t.Fatalf("after command %d: %d virsh starts", i, n)
		}
	}
}

// A command that gets no answer times out (OpTimeout); the hung virsh is killed and reaped.
func TestVirshCommandTimeout(t *testing.T) {
	virsh, starts := fakeVirsh(t, "exec sleep 60")
	l := newTestLibvirt(t, "test:///default")
	l.Virsh = virsh
	l.OpTimeout = 200 * time.Millisecond
	t0 := time.Now()
	_, err := l.Status(context.Background(), "test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Status: %v, want a timeout", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("timed out after %v", d)
	}
	if pid := sessionPid(l, "test:///default"); pid != 0 {
		t.Fatalf("timed-out session %d still registered", pid)
	}
	// ctx's deadline is honoured as well, and each command gets a fresh virsh.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Fence(ctx, "test", fencing.Off); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fence: %v, want a timeout", err)
	}
	if n := countStarts(t, starts); n != 2 {
		t.Fatalf("%d virsh starts, want 2", n)
	}
}

// Cancelling the context of a pending command ends it at once and kills that virsh.
func TestVirshCancelPending(t *testing.T) {
	virsh, starts := fakeVirsh(t, "exec sleep 60")
	l := newTestLibvirt(t, "test:///default")
	l.Virsh = virsh
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Status(ctx, "test")
		errc <- err
	}()
	var pid int
	for i := 0; i < 500 && pid == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if b, err := os.ReadFile(starts); err == nil {
			fmt.Sscanf(string(b), "started %d", &pid)
		}
	}
	time.Sleep(50 * time.Millisecond) // let the command line reach virsh
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Status: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled command did not return")
	}
	if pid == 0 || !gone(pid) {
		t.Fatalf("virsh %d of the cancelled command left behind", pid)
	}
}

// Close stops every session: no virsh process and no goroutine is left, and the backend works again after.
func TestLibvirtCloseLeavesNothing(t *testing.T) {
	needVirsh(t)
	abs, err := filepath.Abs("testdata/node.xml")
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLibvirt(t, "test://"+abs, "test:///default")
	ctx := context.Background()
	if _, err := l.List(ctx); err != nil {
		t.Fatal(err)
	}
	pids := []int{sessionPid(l, "test://"+abs), sessionPid(l, "test:///default")}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if pid == 0 || !gone(pid) {
			t.Errorf("virsh %d left after Close", pid)
		}
	}
	goleak.VerifyNone(t)
	if st, err := l.Status(ctx, "test"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status after Close = %v, %v", st, err)
	}
}

// Off and on of a plain name take one virsh command line, and its outcome is read right: destroy's error
// for a VM that was already off is not a failure, a failed destroy of a running VM is.
func TestLibvirtOneLineOffOn(t *testing.T) {
	body := `n=0
printf 'virsh # '
while read line; do
  n=$((n+1))
  echo "$line" # readline echoes the command line after the prompt
  echo "$line" >> ` + "\"$(dirname \"$0\")/lines\"" + `
  case "$line" in
  "domstate vm-off;destroy vm-off;"*) echo "shut off"; echo "error: Requested operation is not valid: domain is not running" >&2 ;;
  "domstate vm-stuck;destroy vm-stuck;"*) echo "running"; echo "error: Failed to destroy domain 'vm-stuck'" >&2 ;;
  "domstate vm-on;destroy vm-on;"*) echo "running" ;;
  "domstate vm-on;start vm-on;"*) echo "running"; echo "error: Domain is already active" >&2 ;;
  "domstate nosuch;"*) echo "error: failed to get domain 'nosuch'" >&2; echo "error: failed to get domain 'nosuch'" >&2 ;;
  esac
  printf '@%d.virsh # ' "$n"
done`
	virsh, starts := fakeVirsh(t, body)
	l := newTestLibvirt(t, "test:///default")
	l.Virsh = virsh
	ctx := context.Background()
	for _, tc := range []struct {
		target string
		action fencing.Action
		want   error // nil, fencing.ErrNotFound, or errAny
	}{
		{"vm-off", fencing.Off, nil},
		{"vm-on", fencing.Off, nil},
		{"vm-on", fencing.On, nil},
		{"vm-stuck", fencing.Off, errAny},
		{"nosuch", fencing.Off, fencing.ErrNotFound},
	} {
		err := l.Fence(ctx, tc.target, tc.action)
		switch {
		case tc.want == nil && err != nil, tc.want == errAny && err == nil,
			tc.want == fencing.ErrNotFound && !errors.Is(err, fencing.ErrNotFound):
			t.Errorf("Fence(%s, %v) = %v, want %v", tc.target, tc.action, err, tc.want)
		}
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(virsh), "lines"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 5 {
		t.Errorf("%d virsh command lines for 5 operations:\n%s", n, b)
	}
	if n := countStarts(t, starts); n != 1 {
		t.Errorf("%d virsh starts, want 1", n)
	}
}

var errAny = errors.New("any error")

// The helper answers what virsh would for what the backend sends, errors included, and an unknown URI
// gives errors, not a dead session.
func TestLibvirtHelperProtocol(t *testing.T) {
	if !haveLibvirtHelper {
		t.Skip("built without cgo: no libvirt helper")
	}
	needVirsh(t)
	in := "domstate test;echo @''1.\nlist --all --uuid --name\ndestroy test;domstate test\ndestroy test\n" +
		"start 6695eb01-f6a4-8304-79aa-97f2502e193f;domstate test\ndomstate nosuch\nfrobnicate\n"
	var out strings.Builder
	if err := RunLibvirtHelper("test:///default", strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := "running\n@1.\n6695eb01-f6a4-8304-79aa-97f2502e193f test\nshut off\n" +
		"error: Failed to destroy domain 'test'\nerror: Requested operation is not valid: domain is not running\n" +
		"running\nerror: failed to get domain 'nosuch'\nerror: Domain not found\nerror: unknown command: 'frobnicate'\n"
	if out.String() != want {
		t.Errorf("helper said:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := RunLibvirtHelper("nosuchdriver:///x", strings.NewReader("domstate test\necho @''2.\n"), &out); err != nil {
		t.Fatal(err)
	}
	if lines := parseVirshLines(out.String()); len(lines) < 2 || !lines[0].Err || lines[len(lines)-1].Text != "@2." {
		t.Errorf("helper without a connection said %q", out.String())
	}
}

// fence_virtd uses the helper unless the configuration names a virsh.
func TestUseLibvirtHelper(t *testing.T) {
	if !haveLibvirtHelper {
		t.Skip("built without cgo: no libvirt helper")
	}
	needVirsh(t)
	log := slog.New(slog.DiscardHandler)
	l := newTestLibvirt(t, "test:///default")
	useLibvirtHelper(l, &Node{Block: true}, log)
	if len(l.Helper) != 2 || l.Helper[1] != "-libvirt-helper" {
		t.Fatalf("Helper = %q", l.Helper)
	}
	if st, err := l.Status(context.Background(), "test"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status through the helper = %v, %v", st, err)
	}
	b := &Node{Block: true, Children: []*Node{{Name: "virsh", Value: "/usr/bin/virsh", HasValue: true}}}
	l2 := newTestLibvirt(t, "test:///default")
	useLibvirtHelper(l2, b, log)
	if l2.Helper != nil {
		t.Fatalf("Helper = %q with virsh configured", l2.Helper)
	}
}
