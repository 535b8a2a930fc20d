package virtd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duet-ha/duet/fencing"
)

func needVirsh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh missing: run scripts/deps.sh (libvirt-clients)")
	}
}

func newTestLibvirt(t *testing.T, uris ...string) *Libvirt {
	t.Helper()
	b := &Node{Block: true}
	for i, u := range uris {
		k := "uri"
		if i > 0 {
			k = "uri" + string(rune('0'+i))
		}
		b.Children = append(b.Children, &Node{Name: k, Value: u, HasValue: true})
	}
	l, err := NewLibvirt(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// libvirtModes runs f with the backend driving libvirt through virsh, and through the libvirt helper
// (this test binary, see TestMain) where the build has it.
func libvirtModes(t *testing.T, f func(t *testing.T, helper bool)) {
	t.Run("virsh", func(t *testing.T) {
		needVirsh(t)
		f(t, false)
	})
	t.Run("helper", func(t *testing.T) {
		if !haveLibvirtHelper {
			t.Skip("built without cgo: no libvirt helper")
		}
		needVirsh(t) // libvirt-clients brings libvirt0
		f(t, true)
	})
}

func useTestHelper(l *Libvirt, helper bool) {
	if helper {
		l.Helper = []string{os.Args[0], "-libvirt-helper"}
	}
}

// The libvirt backend against libvirt's in-process test driver: the session keeps the driver's state.
func TestLibvirtTestDriver(t *testing.T) { libvirtModes(t, testLibvirtTestDriver) }

func testLibvirtTestDriver(t *testing.T, helper bool) {
	ctx := context.Background()
	l := newTestLibvirt(t, "test:///default")
	useTestHelper(l, helper)
	const uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
	steps := []struct {
		name string
		do   func() (any, error)
		want any
	}{
		{"status", func() (any, error) { return l.Status(ctx, "test") }, fencing.PoweredOn},
		{"status by uuid", func() (any, error) { return l.Status(ctx, strings.ToUpper(uuid)) }, fencing.PoweredOn},
		{"status case-sensitive name", func() (any, error) { return l.Status(ctx, "TEST") }, fencing.ErrNotFound},
		{"off", func() (any, error) { return nil, l.Fence(ctx, "test", fencing.Off) }, nil},
		{"status after off", func() (any, error) { return l.Status(ctx, "test") }, fencing.PoweredOff},
		{"off again", func() (any, error) { return nil, l.Fence(ctx, "test", fencing.Off) }, nil},
		{"reboot of an off VM leaves it off", func() (any, error) { return nil, l.Fence(ctx, "test", fencing.Reboot) }, nil},
		{"still off", func() (any, error) { return l.Status(ctx, "test") }, fencing.PoweredOff},
		{"on", func() (any, error) { return nil, l.Fence(ctx, uuid, fencing.On) }, nil},
		{"status after on", func() (any, error) { return l.Status(ctx, "test") }, fencing.PoweredOn},
		{"reboot", func() (any, error) { return nil, l.Fence(ctx, "test", fencing.Reboot) }, nil},
		{"on after reboot", func() (any, error) { return l.Status(ctx, "test") }, fencing.PoweredOn},
		{"off unknown", func() (any, error) { return nil, l.Fence(ctx, "nosuch", fencing.Off) }, fencing.ErrNotFound},
		{"hostile name", func() (any, error) { return nil, l.Fence(ctx, "test'; destroy test", fencing.Off) }, fencing.ErrNotFound},
		{"monitor", func() (any, error) { return nil, l.Monitor(ctx) }, nil},
	}
	for _, s := range steps {
		got, err := s.do()
		if werr, ok := s.want.(error); ok {
			if !errors.Is(err, werr) {
				t.Fatalf("%s: err %v, want %v", s.name, err, werr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want != nil && got != s.want {
			t.Fatalf("%s: %v, want %v", s.name, got, s.want)
		}
	}
	hosts, err := l.List(ctx)
	if err != nil || len(hosts) != 1 || hosts[0] != (fencing.Host{Name: "test", UUID: uuid, State: fencing.PoweredOn}) {
		t.Fatalf("List = %+v, %v", hosts, err)
	}
}

// A custom fixture (paused and shut-off VMs) and two URIs tried in order.
func TestLibvirtFixtureAndURIs(t *testing.T) { libvirtModes(t, testLibvirtFixtureAndURIs) }

func testLibvirtFixtureAndURIs(t *testing.T, helper bool) {
	ctx := context.Background()
	abs, err := filepath.Abs("testdata/node.xml")
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLibvirt(t, "test://"+abs, "test:///default")
	useTestHelper(l, helper)
	tests := []struct {
		target string
		want   fencing.PowerState
	}{
		{"vm-running", fencing.PoweredOn},
		{"vm-off", fencing.PoweredOff},
		{"vm-paused", fencing.PoweredOn}, // paused counts as on, as in the real daemon
		{"test", fencing.PoweredOn},      // found on the second URI
	}
	for _, tc := range tests {
		if st, err := l.Status(ctx, tc.target); err != nil || st != tc.want {
			t.Errorf("Status(%s) = %v, %v; want %v", tc.target, st, err, tc.want)
		}
	}
	if err := l.Fence(ctx, "vm-off", fencing.On); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Status(ctx, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"); st != fencing.PoweredOn {
		t.Errorf("vm-off after on: %v", st)
	}
	hosts, err := l.List(ctx)
	if err != nil || len(hosts) != 4 {
		t.Fatalf("List = %+v, %v", hosts, err)
	}
}

func TestLibvirtBadVirsh(t *testing.T) {
	l := newTestLibvirt(t, "test:///default")
	l.Virsh = "/nonexistent/virsh"
	if _, err := l.Status(context.Background(), "test"); err == nil || errors.Is(err, fencing.ErrNotFound) {
		t.Fatalf("Status with no virsh: %v, want a real error", err)
	}
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecBackend(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	rec := writeScript(t, dir, "rec", `echo "$FENCE_ACTION $1" >> `+logf+`; [ "$1" != bad ]`)
	status := writeScript(t, dir, "status", `case "$1" in on) exit 0;; off) exit 2;; *) exit 7;; esac`)
	list := writeScript(t, dir, "list", `printf 'n1 11111111-2222-3333-4444-555555555555 on\n# comment\nn2 off\n'`)
	b, err := ParseConfig("t", []byte(`exec { off = "`+rec+`"; on = "`+rec+`"; status = "`+status+`"; list = "`+list+`"; monitor = "`+rec+`"; }`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExec(b.Block1("exec"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Fence(ctx, "n1", fencing.Off); err != nil {
		t.Fatal(err)
	}
	if err := e.Fence(ctx, "n1", fencing.Reboot); err != nil { // no reboot command: off then on
		t.Fatal(err)
	}
	if err := e.Fence(ctx, "bad", fencing.Off); !errors.Is(err, fencing.ErrFailed) {
		t.Fatalf("failing command: %v", err)
	}
	if err := e.Monitor(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(logf)
	if want := "off n1\noff n1\non n1\noff bad\nmonitor \n"; string(got) != want {
		t.Fatalf("commands ran:\n%s\nwant:\n%s", got, want)
	}
	for target, want := range map[string]fencing.PowerState{"on": fencing.PoweredOn, "off": fencing.PoweredOff} {
		if st, err := e.Status(ctx, target); err != nil || st != want {
			t.Errorf("Status(%s) = %v, %v", target, st, err)
		}
	}
	if _, err := e.Status(ctx, "x"); !errors.Is(err, fencing.ErrFailed) {
		t.Errorf("Status with exit 7: %v", err)
	}
	hosts, err := e.List(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].UUID == "" || hosts[0].State != fencing.PoweredOn || hosts[1].State != fencing.PoweredOff {
		t.Fatalf("List = %+v, %v", hosts, err)
	}
	for _, bad := range []string{`exec { on = "/bin/true"; }`, `exec { off = "/bin/true"; status = "/bin/true"; timeout = "x"; }`} {
		b, _ := ParseConfig("t", []byte(bad))
		if _, err := NewExec(b.Block1("exec")); err == nil {
			t.Errorf("NewExec(%s) succeeded", bad)
		}
	}
}

// A cancelled context ends a virsh command at once, and the backend still works afterwards.
func TestLibvirtCancel(t *testing.T) {
	needVirsh(t)
	l := newTestLibvirt(t, "test:///default")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Status(ctx, "test"); err == nil {
		t.Fatal("Status with a cancelled context succeeded")
	}
	if st, err := l.Status(context.Background(), "test"); err != nil || st != fencing.PoweredOn {
		t.Fatalf("Status afterwards: %v %v", st, err)
	}
}
