package clustertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/daemon"
)

// TestWrongKeyRefused starts a node whose key differs from the running peer's: it must exit non-zero with
// a message about the key, and the running node must not accept it.
func TestWrongKeyRefused(t *testing.T) {
	c := New(t, Options{})
	n1, n2 := c.Node("n1"), c.Node("n2")
	n1.Start()
	n1.WaitFor(10*time.Second, "n1 answers", func(*api.Status) bool { return true })
	bad := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("ab"), 32), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, a := range n2.Args {
		if a == "--key-file" {
			n2.Args[i+1] = bad
		}
	}
	n2.Start()
	err := n2.Wait(20 * time.Second)
	if err == nil {
		t.Fatal("node with the wrong key exited 0 or kept running")
	}
	if log := n2.Log(); !strings.Contains(log, "cluster key mismatch") || !strings.Contains(log, "peer n1") {
		t.Fatalf("unclear error:\n%s", log)
	}
	if st := n1.Status(); st == nil || onlineCount(st) != 1 {
		t.Fatalf("n1 accepted the node with the wrong key: %+v", st)
	}
}

// TestCorruptDataDir damages the Raft log file: clusterd must refuse to start, name the file, and leave it
// as it was.
func TestCorruptDataDir(t *testing.T) {
	c := New(t, Options{})
	n1 := c.Node("n1")
	n1.Start()
	n1.WaitFor(10*time.Second, "n1 answers", func(*api.Status) bool { return true })
	n1.Stop()
	db := filepath.Join(n1.Dir, "data", "raft", "raft.db")
	for _, damage := range []struct {
		name string
		data []byte
	}{{"empty", []byte{}}, {"truncated", []byte("short")}, {"garbage", bytes.Repeat([]byte{0x5a}, 64<<10)}} {
		if err := os.WriteFile(db, damage.data, 0o600); err != nil {
			t.Fatal(err)
		}
		n1.Start()
		if err := n1.Wait(20 * time.Second); err == nil {
			t.Fatalf("%s raft.db: clusterd exited 0", damage.name)
		}
		if log := n1.Log(); !strings.Contains(log, db) {
			t.Fatalf("%s raft.db: error does not name the file:\n%s", damage.name, log)
		}
		if b, _ := os.ReadFile(db); !bytes.Equal(b, damage.data) {
			t.Fatalf("%s raft.db: clusterd changed the damaged file", damage.name)
		}
	}
}

// TestBadConfigFile runs clusterd's Main on malformed configuration files (no root needed).
func TestBadConfigFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ text, want string }{
		{"node_name = n1\nbind = 10.250.0.1\npeer = n2\n", "clusterd.conf:3: peer"},
		{"node_nme = n1\n", `clusterd.conf:1: node_nme: unknown key (did you mean "node_name"?)`},
		{"node_name = n1\nbind = 10.250.0.1\npeer = n2 10.250.0.2\nkey_file = " + filepath.Join(dir, "missing.key") + "\n", "key_file"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, "clusterd.conf")
		if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := daemon.Main(context.Background(), []string{"--config", path}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("config %q: exit %d, stderr %q, want %q", tt.text, code, errb.String(), tt.want)
		}
	}
}

// TestBadResourcesReported configures resources that cannot run (an unknown agent, a missing required
// parameter, a VIP on an interface that does not exist, a start that hangs past its timeout) next to one
// that runs: each failure shows in crm status's Failed Resource Actions with its reason, and the good
// resource stays where it was.
func TestBadResourcesReported(t *testing.T) {
	c := New(t, Options{})
	c.Start()
	n1 := c.Node("n1")
	n1.WaitFor(20*time.Second, "both online with a DC", func(st *api.Status) bool { return st.DC != "" && onlineCount(st) == 2 && st.Quorum.Quorate })
	n1.MustCrm("configure", "property", "stonith-enabled=false")
	n1.MustCrm("configure", "primitive", "good", "ocf:duet:dummy", "op", "monitor", "interval=1s")
	st := n1.WaitFor(10*time.Second, "good running", func(st *api.Status) bool { return runningOn(st, "good") != "" })
	home := runningOn(st, "good")
	n1.MustCrm("configure", "primitive", "nosuch", "ocf:duet:nosuch")
	n1.MustCrm("configure", "primitive", "noip", "ocf:duet:vip", "params", "cidr_netmask=24")
	n1.MustCrm("configure", "primitive", "badnic", "ocf:duet:vip", "params", "ip=10.250.0.199", "cidr_netmask=24", "nic=nosuch0")
	n1.MustCrm("configure", "primitive", "hang", "ocf:duet:dummy", "params", "hang_start=true", "op", "start", "timeout=1s")
	failed := func(st *api.Status, rsc string) bool {
		for _, ops := range st.Store.Ops {
			if ops[rsc].LastFailure != nil {
				return true
			}
		}
		return false
	}
	n1.WaitFor(20*time.Second, "every bad resource failed", func(st *api.Status) bool {
		return failed(st, "nosuch") && failed(st, "noip") && failed(st, "badnic") && failed(st, "hang")
	})
	text := n1.MustCrm("status")
	for _, want := range []string{
		"Failed Resource Actions:",
		// These two fail already in the probe (a monitor with interval 0, named so as by pacemaker).
		"* nosuch probe on ", "returned 'not installed' (unknown agent ocf:duet:nosuch",
		"* noip probe on ", "returned 'not configured' (ocf:duet:vip: parameter ip is required but missing)",
		"* badnic start on ", "returned 'invalid parameter' (ocf:duet:vip: parameter nic names interface nosuch0, which does not exist on this node)",
		"* hang start on ", "could not be executed (Timed Out: ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("crm status lacks %q:\n%s", want, text)
		}
	}
	if st := n1.Status(); runningOn(st, "good") != home {
		t.Fatalf("good moved from %s to %q while the bad resources failed:\n%s", home, runningOn(st, "good"), text)
	}
}
