package daemon

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// TestCheckSnapshots writes a snapshot with raft's own store, then damages it in each way a disk can:
// checkSnapshots must name the damaged file and leave it as it is; an intact snapshot and an unfinished
// (.tmp) one pass.
func TestCheckSnapshots(t *testing.T) {
	write := func(t *testing.T) (dir, snap string) {
		dir = t.TempDir()
		fss, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		sink, err := fss.Create(raft.SnapshotVersionMax, 10, 2, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(bytes.Repeat([]byte(`{"cib":"x"}`), 100)); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, filepath.Join(dir, "snapshots", "snapshots", sink.ID())
	}
	if dir, _ := write(t); checkSnapshots(dir) != nil {
		t.Fatalf("intact snapshot refused: %v", checkSnapshots(dir))
	}
	if err := checkSnapshots(t.TempDir()); err != nil {
		t.Fatalf("no snapshots at all: %v", err)
	}
	tests := []struct {
		name, file, want string
		damage           func(path string) error
	}{
		{"truncated state", "state.bin", "(truncated?)", func(p string) error { return os.Truncate(p, 100) }},
		{"altered state", "state.bin", "checksum does not match", func(p string) error {
			b, _ := os.ReadFile(p)
			b[5] ^= 0xff
			return os.WriteFile(p, b, 0o600)
		}},
		{"missing state", "state.bin", "state.bin", os.Remove},
		{"garbage meta", "meta.json", "meta.json", func(p string) error { return os.WriteFile(p, []byte("xx{"), 0o600) }},
		{"empty meta", "meta.json", "meta.json", func(p string) error { return os.Truncate(p, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, snap := write(t)
			path := filepath.Join(snap, tt.file)
			if err := tt.damage(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			err := checkSnapshots(dir)
			if err == nil || !strings.Contains(err.Error(), snap) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one naming %s with %q", err, path, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("checkSnapshots changed the damaged file")
			}
		})
	}
	dir, snap := write(t)
	if err := os.Rename(snap, snap+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(snap+".tmp", "state.bin"), 1); err != nil {
		t.Fatal(err)
	}
	if err := checkSnapshots(dir); err != nil {
		t.Fatalf("an unfinished .tmp snapshot is not ours to judge: %v", err)
	}
}

// TestPositionBeats pins the rejoin rule (README, DESIGN.md section 4.3): the higher admin_epoch, then
// epoch, then last term, then last index wins; on a full tie the current leader, then the smaller name.
func TestPositionBeats(t *testing.T) {
	base := position{admin: 1, epoch: 10, term: 3, index: 100, name: "n2"}
	with := func(f func(*position)) position { p := base; f(&p); return p }
	tests := []struct {
		name string
		a, b position
	}{
		{"admin_epoch first", with(func(p *position) { p.admin, p.epoch = 2, 1 }), base},
		{"then epoch", with(func(p *position) { p.epoch, p.term = 11, 1 }), base},
		{"then last term", with(func(p *position) { p.term, p.index = 4, 1 }), base},
		{"then last index", with(func(p *position) { p.index = 101 }), with(func(p *position) { p.leader = true })},
		{"then the leader", with(func(p *position) { p.leader, p.name = true, "n9" }), base},
		{"then the smaller name", with(func(p *position) { p.name = "n1" }), base},
	}
	for _, tt := range tests {
		if !tt.a.beats(tt.b) || tt.b.beats(tt.a) {
			t.Errorf("%s: %+v should beat %+v and not the other way round", tt.name, tt.a, tt.b)
		}
	}
	if base.beats(base) {
		t.Error("a position beats itself")
	}
}
