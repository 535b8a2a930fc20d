package scheduler

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/cib/crmsh"
)

var update = flag.Bool("update", false, "rewrite the [expect] section of testdata/*.txt with the current plans")

// A scenario file has three sections, in the style of pacemaker's cts-scheduler:
//
//	# what the scenario shows
//	[cib]
//	crmsh configuration (cluster/cib/crmsh syntax)
//	[state]
//	quorum yes|no                     (default yes)
//	policy stop|freeze|ignore|...     (no-quorum-policy verdict; default: the CIB's)
//	now 2026-11-25T10:00:00Z          (default 2026-01-01T00:00:00Z)
//	node NAME online|offline [dc] [unclean] [fenced] [witness] [fence-requested] [attr=value...]
//	rsc RSC NODE running|stopped|failed|stop-failed|unknown [monitors=10s,30s]
//	fail RSC NODE COUNT [op=start] [rc=N] [at=TIME]  (at defaults to now; rc is the OCF exit code)
//	expires LOCATION TIME             (a lifetime, as crm resource move|ban LIFETIME sets)
//	[expect]
//	the plan as Plan.String prints it
//
// Nodes of the CIB not listed under [state] are offline; unlisted resources are stopped.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			head, sections := splitScenario(string(raw))
			in, err := scenarioInput(f, sections["cib"], sections["state"])
			if err != nil {
				t.Fatal(err)
			}
			got := Schedule(in).String()
			if again := Schedule(in).String(); again != got {
				t.Fatalf("Schedule is not deterministic:\n%s\n---\n%s", got, again)
			}
			if *update {
				out := head + "[cib]\n" + sections["cib"] + "[state]\n" + sections["state"] + "[expect]\n" + got
				if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := sections["expect"]; got != want {
				t.Errorf("plan differs (go test -run TestScenarios -update to accept)\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// splitScenario returns the text before the first section and each section's body.
func splitScenario(text string) (string, map[string]string) {
	sections := map[string]string{}
	var head strings.Builder
	cur := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") && !strings.Contains(trimmed, " ") {
			cur = strings.Trim(trimmed, "[]")
			sections[cur] += ""
			continue
		}
		if cur == "" {
			head.WriteString(line)
			continue
		}
		if line != "" && !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		sections[cur] += line
	}
	return head.String(), sections
}

func scenarioInput(file, cibText, stateText string) (Input, error) {
	st, diags := crmsh.Parse(file+" [cib]", cibText)
	if err := crmsh.AsError(diags); err != nil {
		return Input{}, err
	}
	c := &cib.CIB{}
	if err := crmsh.Replace(c, st); err != nil {
		return Input{}, err
	}
	in := Input{CIB: c, Quorate: true, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i, line := range strings.Split(stateText, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s [state] line %d: %s", file, i+1, fmt.Sprintf(format, args...))
		}
		switch f[0] {
		case "quorum":
			if len(f) != 2 {
				return in, bad("quorum yes|no")
			}
			in.Quorate = f[1] == "yes"
		case "policy":
			if len(f) != 2 {
				return in, bad("policy NAME")
			}
			in.NoQuorumPolicy = f[1]
		case "expires":
			if len(f) != 3 {
				return in, bad("expires LOCATION TIME")
			}
			t, err := time.Parse(time.RFC3339, f[2])
			if err != nil {
				return in, bad("%v", err)
			}
			found := false
			for i := range c.Locations {
				if c.Locations[i].ID == f[1] {
					c.Locations[i].Expires, found = t, true
				}
			}
			if !found {
				return in, bad("no location %q", f[1])
			}
		case "now":
			if len(f) != 2 {
				return in, bad("now TIME")
			}
			t, err := time.Parse(time.RFC3339, f[1])
			if err != nil {
				return in, bad("%v", err)
			}
			in.Now = t
		case "node":
			if len(f) < 3 {
				return in, bad("node NAME online|offline ...")
			}
			n := NodeState{Name: f[1], Online: f[2] == "online"}
			for _, w := range f[3:] {
				switch {
				case w == "dc":
					n.DC = true
				case w == "unclean":
					n.Unclean = true
				case w == "fenced":
					n.Fenced = true
				case w == "witness":
					n.Witness = true
				case w == "fence-requested":
					n.FenceRequested = true
				case strings.Contains(w, "="):
					k, v, _ := strings.Cut(w, "=")
					if n.Attributes == nil {
						n.Attributes = map[string]string{}
					}
					n.Attributes[k] = v
				default:
					return in, bad("unknown node word %q", w)
				}
			}
			in.Nodes = append(in.Nodes, n)
		case "rsc":
			if len(f) < 4 {
				return in, bad("rsc RSC NODE STATE")
			}
			r := ResourceState{Resource: f[1], Node: f[2]}
			found := false
			for i, name := range runStateNames {
				if name == f[3] {
					r.State, found = RunState(i), true
				}
			}
			if !found {
				return in, bad("unknown state %q", f[3])
			}
			for _, w := range f[4:] {
				v, ok := strings.CutPrefix(w, "monitors=")
				if !ok {
					return in, bad("unknown rsc word %q", w)
				}
				for _, d := range strings.Split(v, ",") {
					iv, err := cib.ParseDuration(d)
					if err != nil {
						return in, bad("%v", err)
					}
					r.Monitors = append(r.Monitors, iv)
				}
			}
			in.Resources = append(in.Resources, r)
		case "fail":
			if len(f) < 4 {
				return in, bad("fail RSC NODE COUNT")
			}
			n, err := strconv.Atoi(f[3])
			if err != nil {
				return in, bad("count: %v", err)
			}
			fc := FailCount{Resource: f[1], Node: f[2], Count: n, Op: "monitor", LastFailure: in.Now}
			for _, w := range f[4:] {
				k, v, _ := strings.Cut(w, "=")
				switch k {
				case "op":
					fc.Op = v
				case "rc":
					rc, err := strconv.Atoi(v)
					if err != nil {
						return in, bad("rc: %v", err)
					}
					fc.RC = rc
				case "at":
					t, err := time.Parse(time.RFC3339, v)
					if err != nil {
						return in, bad("%v", err)
					}
					fc.LastFailure = t
				default:
					return in, bad("unknown fail word %q", w)
				}
			}
			in.Failures = append(in.Failures, fc)
		default:
			return in, bad("unknown line %q", f[0])
		}
	}
	return in, nil
}
