package crmmon

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/cib/crmsh"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/internal/apitest"
	"github.com/duet-ha/duet/quorum"
	"github.com/duet-ha/duet/resources/executor"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// TestMain pins the local time zone, in which crm_mon prints times, before any goroutine can read it.
func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

// sample is a status with every shape crm_mon prints: the DC, a standby node, an offline and an unclean
// node, a stonith primitive, a group with a failed member, a clone, a disabled resource, a blocked one and
// one that has no node to run on, a failed action, a fail count, a fence event and a failover timeline.
func sample(t *testing.T) *api.Status {
	t.Helper()
	parsed, diags := crmsh.Parse("t.crm", `node 1: n1
node 2: n2
node 3: n3
node 4: n4
primitive fence_nodes stonith:fence_xvm params pcmk_host_map="n1:v1;n2:v2"
primitive vip IPaddr2 params ip=10.250.0.100 cidr_netmask=24
primitive web lsb:haproxy op monitor interval=10s
primitive d ocf:pacemaker:Dummy
primitive off ocf:duet:dummy meta target-role=Stopped
primitive stuck ocf:duet:dummy
primitive nowhere ocf:duet:dummy
primitive slow ocf:duet:dummy
group g_web vip web
clone cl d
property stonith-enabled=true
rsc_defaults migration-threshold=3
`)
	if err := crmsh.AsError(diags); err != nil {
		t.Fatal(err)
	}
	c := &cib.CIB{}
	if err := crmsh.Update(c, parsed); err != nil {
		t.Fatal(err)
	}
	c.Epoch = 42
	when := time.Date(2026, 11, 25, 9, 6, 6, 0, time.UTC)
	c.LastChange = cib.Change{When: when, User: "root", Via: "crm", Node: "n1"}
	run := store.OpRecord{Op: "start", Running: true, When: when}
	failed := store.OpRecord{Op: "monitor", Interval: 10 * time.Second, Running: true, Failed: true, When: when,
		LastFailure: &store.FailedOp{Op: "monitor", Interval: 10 * time.Second, RC: 7, RCText: "not running", Reason: "haproxy is gone", When: when, Exec: 12 * time.Millisecond}}
	timedOut := store.OpRecord{Op: "start", Failed: true, When: when.Add(time.Second),
		LastFailure: &store.FailedOp{Op: "start", RC: 198, RCText: "Timed Out", Reason: "start did not finish within 2s", When: when.Add(time.Second), Exec: 2 * time.Second}}
	return &api.Status{
		Node: "n1", DC: "n1", Version: api.Version, Stack: "duet", LastUpdated: when.Add(time.Minute),
		Quorum: quorum.Verdict{Quorate: true, Votes: 2, Expected: 4, Quorum: 2},
		Nodes: []api.NodeStatus{{Name: "n1", ID: 1, Online: true, DC: true}, {Name: "n2", ID: 2, Online: true, Standby: true},
			{Name: "n3", ID: 3}, {Name: "n4", ID: 4, Unclean: true}},
		CIB: c,
		Store: store.Status{
			Ops: map[string]map[string]store.OpRecord{
				"n1": {"fence_nodes": run, "vip": run, "web": failed, "d": run, "slow": timedOut},
			},
			FailCounts: map[string]map[string]store.FailCount{"n1": {"web": {Count: 1, Op: "monitor", RC: 7, LastFailure: when}}},
			Transition: &store.Transition{DC: "n1",
				Reason: map[string]string{"off": "target-role=Stopped", "stuck": "blocked: waiting for fencing of n4", "nowhere": "no node allowed: n1 banned",
					"slow": "no node allowed: n1: start of slow failed (start-failure-is-fatal)"},
				Blocked: map[string]bool{"stuck": true}},
			Fencing:  []store.FenceEvent{{Target: "n4", Action: "reboot", By: "n1", Device: "fence_nodes", OK: false, Reason: "timed out", Completed: when}},
			Timeline: &store.Timeline{Start: when, Node: "n1", Events: []store.TimelineEvent{{What: "peer n4 lost (gossip: no answer to probes)"}, {At: 17100 * time.Microsecond, What: "n1 became DC (raft leader)"}}},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update to accept)\n--- got\n%s--- want\n%s", name, t.Name(), got, want)
	}
}

// TestTextShapes pins crm_mon's text shapes (pacemaker.md section 2.1): the summary lines, the node list
// with its special-state lines, resource lines with TABs, groups, clones, flags, Failed Resource Actions,
// Migration Summary, Fencing History, and Duet's timeline.
func TestTextShapes(t *testing.T) {
	st := sample(t)
	golden(t, "full.golden", Text(st, Options{Inactive: true, FailCounts: true, FenceHistory: true, Timeline: true}))
	golden(t, "active.golden", Text(st, Options{}))
	golden(t, "bynode.golden", Text(st, Options{Inactive: true, ByNode: true}))
}

// TestTimeoutCouldNotBeExecuted checks pacemaker's friendly form for an operation that timed out.
func TestTimeoutCouldNotBeExecuted(t *testing.T) {
	want := "* slow start on n1 could not be executed (Timed Out: start did not finish within 2s) at "
	if text := Text(sample(t), Options{}); !strings.Contains(text, want) {
		t.Errorf("lacks %q:\n%s", want, text)
	}
}

// TestDisabledIsNotBlocked checks the flags of a stopped resource: disabled (target-role=Stopped) shows
// only "disabled", a resource that cannot run anywhere shows the reason but not "blocked", and only a
// resource the cluster cannot act on is "blocked".
func TestDisabledIsNotBlocked(t *testing.T) {
	text := Text(sample(t), Options{Inactive: true})
	for _, want := range []string{"* off\t(ocf:duet:dummy):\t Stopped (disabled)\n", "* nowhere\t(ocf:duet:dummy):\t Stopped (no node allowed: n1 banned)\n",
		"* stuck\t(ocf:duet:dummy):\t Stopped (blocked: waiting for fencing of n4)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "blocked: target-role") {
		t.Errorf("a disabled resource is shown as blocked:\n%s", text)
	}
}

// TestXMLShapes checks the XML against pacemaker's element and attribute names, and that it parses.
func TestXMLShapes(t *testing.T) {
	out, err := XML(sample(t), "crm_mon -1 --output-as=xml")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Request string `xml:"request,attr"`
		Summary struct {
			DC struct {
				Name       string `xml:"name,attr"`
				WithQuorum bool   `xml:"with_quorum,attr"`
			} `xml:"current_dc"`
			Rscs struct {
				Number   int `xml:"number,attr"`
				Disabled int `xml:"disabled,attr"`
				Blocked  int `xml:"blocked,attr"`
			} `xml:"resources_configured"`
		} `xml:"summary"`
		Nodes []struct {
			Name    string `xml:"name,attr"`
			Online  bool   `xml:"online,attr"`
			Standby bool   `xml:"standby,attr"`
			Unclean bool   `xml:"unclean,attr"`
			IsDC    bool   `xml:"is_dc,attr"`
		} `xml:"nodes>node"`
		Groups []struct {
			ID  string `xml:"id,attr"`
			Rsc []struct {
				ID     string `xml:"id,attr"`
				Agent  string `xml:"resource_agent,attr"`
				Role   string `xml:"role,attr"`
				Failed bool   `xml:"failed,attr"`
			} `xml:"resource"`
		} `xml:"resources>group"`
		Resources []struct {
			ID      string `xml:"id,attr"`
			Blocked bool   `xml:"blocked,attr"`
		} `xml:"resources>resource"`
		Failures []struct {
			OpKey  string `xml:"op_key,attr"`
			Code   int    `xml:"exitcode,attr"`
			Status string `xml:"status,attr"`
		} `xml:"failures>failure"`
	}
	if err := xml.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("XML does not parse: %v\n%s", err, out)
	}
	if v.Request != "crm_mon -1 --output-as=xml" || v.Summary.DC.Name != "n1" || !v.Summary.DC.WithQuorum {
		t.Errorf("summary: %+v request %q", v.Summary, v.Request)
	}
	if v.Summary.Rscs.Number != 11 || v.Summary.Rscs.Disabled != 1 || v.Summary.Rscs.Blocked != 1 {
		t.Errorf("resources_configured %+v, want 11 (the clone counts once per node) with 1 disabled and 1 blocked", v.Summary.Rscs)
	}
	if len(v.Nodes) != 4 || !v.Nodes[0].IsDC || !v.Nodes[1].Standby || v.Nodes[2].Online || !v.Nodes[3].Unclean {
		t.Errorf("nodes %+v", v.Nodes)
	}
	if len(v.Groups) != 1 || v.Groups[0].ID != "g_web" || len(v.Groups[0].Rsc) != 2 || v.Groups[0].Rsc[0].Agent != "ocf:heartbeat:IPaddr2" ||
		v.Groups[0].Rsc[1].Role != "FAILED" || !v.Groups[0].Rsc[1].Failed {
		t.Errorf("group %+v", v.Groups)
	}
	blocked := map[string]bool{}
	for _, r := range v.Resources {
		blocked[r.ID] = r.Blocked
	}
	if !blocked["stuck"] || blocked["off"] || blocked["nowhere"] {
		t.Errorf("blocked flags %v: want only stuck", blocked)
	}
	if len(v.Failures) != 2 || v.Failures[0].OpKey != "web_monitor_10000" || v.Failures[0].Code != 7 || v.Failures[0].Status != "complete" ||
		v.Failures[1].OpKey != "slow_start_0" || v.Failures[1].Status != "Timed Out" {
		t.Errorf("failures %+v", v.Failures)
	}
}

type fakeBackend struct{ st api.Status }

func (f *fakeBackend) Status() api.Status       { return f.st }
func (f *fakeBackend) Changed() <-chan struct{} { return make(chan struct{}) }
func (f *fakeBackend) Exec(context.Context, executor.Request) executor.Result {
	return executor.Result{}
}
func (f *fakeBackend) Submit(context.Context, store.Command, bool) (api.CommandResult, error) {
	return api.CommandResult{}, nil
}

// TestMainFlags runs crm_mon against a fake clusterd: the XML's request attribute is the command line,
// and -m0 hides the fence history as in pacemaker while -m shows it.
func TestMainFlags(t *testing.T) {
	sock := apitest.Serve(t, &fakeBackend{st: *sample(t)})
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(context.Background(), append([]string{"--socket", sock}, args...), &out, &errb); code != 0 {
			t.Fatalf("crm_mon %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if x := run("-1", "--output-as=xml"); !strings.Contains(x, `request="crm_mon --socket `+sock+` -1 --output-as=xml"`) {
		t.Errorf("request attribute is not the command line:\n%s", x)
	}
	if text := run("-1", "-m0"); strings.Contains(text, "Fencing History:") {
		t.Errorf("-m0 shows the fence history:\n%s", text)
	}
	if text := run("-1", "-m"); !strings.Contains(text, "Fencing History:") {
		t.Errorf("-m hides the fence history:\n%s", text)
	}
	if text := run("-1", "-m3"); !strings.Contains(text, "Fencing History:") {
		t.Errorf("-m3 hides the fence history:\n%s", text)
	}
}

// liveBackend is a clusterd whose status changes when the test says so.
type liveBackend struct {
	mu      sync.Mutex
	st      api.Status
	changed chan struct{}
}

func (l *liveBackend) Status() api.Status { l.mu.Lock(); defer l.mu.Unlock(); return l.st }
func (l *liveBackend) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}
func (l *liveBackend) Exec(context.Context, executor.Request) executor.Result {
	return executor.Result{}
}
func (l *liveBackend) Submit(context.Context, store.Command, bool) (api.CommandResult, error) {
	return api.CommandResult{}, nil
}

// set changes the status and wakes the watchers.
func (l *liveBackend) set(fn func(*api.Status)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(&l.st)
	close(l.changed)
	l.changed = make(chan struct{})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestLiveRedrawsOnChange runs crm_mon without -1: it draws at once, redraws in place (cursor home, clear)
// when the cluster changes, without waiting for an interval, and exits 0 when interrupted.
func TestLiveRedrawsOnChange(t *testing.T) {
	lb := &liveBackend{st: *sample(t), changed: make(chan struct{})}
	sock := apitest.Serve(t, lb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"--socket", sock, "-i", "1h"}, &out, io.Discard) }()
	waitOut := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(out.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%q", what, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOut("the first frame", func(s string) bool { return strings.HasPrefix(s, "\x1b[H\x1b[2JCluster Summary:") })
	lb.set(func(st *api.Status) { st.Nodes[0].Standby = true })
	waitOut("a redraw showing n1 in standby", func(s string) bool {
		return strings.Count(s, "\x1b[H\x1b[2J") >= 2 && strings.Contains(s[strings.LastIndex(s, "\x1b[H\x1b[2J"):], "Node n1: standby")
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("interrupted crm_mon exited %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("crm_mon did not stop when interrupted")
	}
}

// TestReadableInterval pins pacemaker's pcmk__readable_interval, whose thresholds are strict.
func TestReadableInterval(t *testing.T) {
	for ms, want := range map[int64]string{0: "0s", 12: "12ms", 1000: "1000ms", 1001: "1.001s", 2000: "2s", 10000: "10s",
		60000: "60s", 90000: "1m30s", 3600000: "60m", 3600001: "1h1ms", 90061500: "1d1h1m1.500s"} {
		if got := readableInterval(time.Duration(ms) * time.Millisecond); got != want {
			t.Errorf("readableInterval(%dms) = %q, want %q", ms, got, want)
		}
	}
}

// TestFailedProbeLine checks pacemaker's wording for a failed one-shot monitor ("probe") that took no
// measurable time (no " after").
func TestFailedProbeLine(t *testing.T) {
	st := sample(t)
	when := time.Date(2026, 11, 25, 9, 6, 8, 0, time.UTC)
	st.Store.Ops["n1"]["nowhere"] = store.OpRecord{Op: "monitor", Failed: true, When: when,
		LastFailure: &store.FailedOp{Op: "monitor", RC: 5, RCText: "not installed", Reason: "no such agent", When: when}}
	want := "* nowhere probe on n1 returned 'not installed' (no such agent) at Wed Nov 25 09:06:08 2026\n"
	if text := Text(st, Options{}); !strings.Contains(text, want) {
		t.Errorf("lacks %q:\n%s", want, text)
	}
}

// TestNoResourcesLines checks pacemaker's placeholders: "No resources" with -r and nothing configured,
// "No active resources" without -r when nothing runs (an inactive clone is not listed then).
func TestNoResourcesLines(t *testing.T) {
	st := sample(t)
	st.Store.Ops = nil
	if text := Text(st, Options{}); !strings.Contains(text, "Active Resources:\n  * No active resources\n") || strings.Contains(text, "Clone Set") {
		t.Errorf("nothing running, without -r:\n%s", text)
	}
	st.CIB = &cib.CIB{Nodes: st.CIB.Nodes}
	if text := Text(st, Options{Inactive: true}); !strings.Contains(text, "Full List of Resources:\n  * No resources\n") {
		t.Errorf("nothing configured, with -r:\n%s", text)
	}
	if text := Text(st, Options{}); !strings.Contains(text, "Active Resources:\n  * No active resources\n") {
		t.Errorf("nothing configured, without -r:\n%s", text)
	}
}

// TestSimpleCountsInstances: crm_mon -s counts resource instances as the summary does.
func TestSimpleCountsInstances(t *testing.T) {
	st := sample(t)
	for i := range st.Nodes {
		st.Nodes[i].Online = true
	}
	if got, want := Simple(st), "CLUSTER OK: 4 nodes online, 11 resource instances configured\n"; got != want {
		t.Errorf("Simple = %q, want %q", got, want)
	}
}
