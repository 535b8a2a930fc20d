package affinity

import (
	"slices"
	"strings"
	"testing"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// cpuMaps parses a global section's cpu-map lines.
func cpuMaps(t *testing.T, lines ...string) []config.CPUMap {
	t.Helper()
	text := "global\n"
	for _, l := range lines {
		text += "    cpu-map " + l + "\n"
	}
	cfg, _, err := config.Parse([]config.Source{{Name: "t.cfg", Data: []byte(text)}}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%q: %v", lines, err)
	}
	return cfg.Global.CPUMaps
}

func TestMake(t *testing.T) {
	for _, c := range []struct {
		name    string
		maps    []string
		loops   int
		allowed []int
		want    string // process | loop sets, "-" for none
		note    string // a note that must be there
	}{
		{"default: one loop is not bound", nil, 1, []int{0, 1}, "- | -", ""},
		{"default: one CPU each", nil, 2, []int{0, 1}, "- | 0 1", ""},
		{"default: allowed CPUs only", nil, 2, []int{2, 5}, "- | 2 5", ""},
		{"default: fewer loops than CPUs share none", nil, 2, []int{0, 1, 2, 3, 4}, "- | 0,2,4 1,3", ""},
		{"default: more loops than CPUs", nil, 3, []int{0, 1}, "- | 0 1 0", ""},
		{"auto: one each in order", []string{"auto:1/1-2 1 0"}, 2, []int{0, 1}, "- | 0 1", ""},
		{"a set for all threads", []string{"1/all 0-1"}, 2, []int{0, 1, 2}, "- | 0-1 0-1", ""},
		{"only the mapped thread", []string{"1/2 1"}, 2, []int{0, 1}, "- | - 1", ""},
		{"a later line wins", []string{"1/all 0-1", "1/1 1"}, 2, []int{0, 1}, "- | 1 0-1", ""},
		{"the process", []string{"1 1-2"}, 2, []int{0, 1, 2}, "1-2 | - -", ""},
		{"auto process takes the first CPU", []string{"auto:1 2"}, 2, []int{0, 1, 2}, "2 | - -", ""},
		{"threads within the process's set", []string{"1 0-1", "1/all 1-2"}, 2, []int{0, 1, 2}, "0-1 | 1 1", ""},
		{"another process maps nothing", []string{"2/1 0"}, 2, []int{0, 1}, "- | 0 1", ""},
		{"threads beyond the loops are ignored", []string{"auto:1/1-4 0-3"}, 2, []int{0, 1, 2, 3}, "- | 0 1", ""},
		{"unavailable CPU", []string{"1/1 7"}, 1, []int{0, 1}, "- | -", "none of CPUs 7 is available"},
		{"partly available", []string{"1/1 1-7"}, 1, []int{0, 1}, "- | 1", ""},
		{"auto with fewer CPUs than threads", []string{"auto:1/1-2 1"}, 2, []int{0, 1}, "- | 1 -", "thread 2 has no CPU of its own"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var maps []config.CPUMap
			if c.maps != nil {
				maps = cpuMaps(t, c.maps...)
			}
			p := Make(maps, c.loops, c.allowed)
			show := func(s []int) string {
				if s == nil {
					return "-"
				}
				return List(s)
			}
			parts := []string{}
			for _, l := range p.Loops {
				parts = append(parts, show(l))
			}
			got := show(p.Process) + " | " + strings.Join(parts, " ")
			if got != c.want {
				t.Errorf("got %q, want %q (notes %q)", got, c.want, p.Notes)
			}
			notes := strings.Join(p.Notes, "\n")
			if c.note == "" && notes != "" {
				t.Errorf("unexpected notes %q", notes)
			}
			if c.note != "" && !strings.Contains(notes, c.note) {
				t.Errorf("notes %q lack %q", notes, c.note)
			}
			if c.note != "" && !strings.Contains(notes, "t.cfg:2") {
				t.Errorf("notes %q do not name the line", notes)
			}
		})
	}
}

func TestList(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{
		{nil, ""}, {[]int{3}, "3"}, {[]int{0, 1, 2, 3}, "0-3"}, {[]int{0, 2, 3, 4, 7}, "0,2-4,7"},
	} {
		if got := List(c.in); got != c.want {
			t.Errorf("List(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzMake plans from any cpu-map lines the parser accepts, for any loop count and allowed set: no panic, and
// every CPU a loop or the process gets is one the process may use.
func FuzzMake(f *testing.F) {
	f.Add("auto:1/1-2 0-1", "1/all 0,3", uint8(2), uint16(3))
	f.Add("auto:1 1", "odd 0-", uint8(5), uint16(0xf0))
	f.Add("1/2 7", "auto:1/1-4 0-3", uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, a, b string, loops uint8, allowedMask uint16) {
		text := "global\n    cpu-map " + a + "\n    cpu-map " + b + "\n"
		cfg, _, err := config.Parse([]config.Source{{Name: "f.cfg", Data: []byte(text)}}, func(string) (string, bool) { return "", false })
		if err != nil {
			return
		}
		var allowed []int
		for c := 0; c < 16; c++ {
			if allowedMask&(1<<c) != 0 {
				allowed = append(allowed, c)
			}
		}
		p := Make(cfg.Global.CPUMaps, int(loops%70), allowed)
		if len(p.Loops) != int(loops%70) {
			t.Fatalf("%d loop sets for %d loops", len(p.Loops), loops%70)
		}
		for _, set := range append(p.Loops, p.Process) {
			for _, c := range set {
				if !slices.Contains(allowed, c) {
					t.Fatalf("CPU %d planned, the process may use %v (plan %+v)", c, allowed, p)
				}
			}
		}
	})
}
