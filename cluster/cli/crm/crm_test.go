package crm

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/internal/apitest"
	"github.com/duet-ha/duet/resources/executor"
)

// fakeDC is a clusterd that is its own DC: commands go straight into a real store, as Raft would apply
// them, with the status codes clusterd answers (400 for a refused command, 409 for a stale epoch).
type fakeDC struct {
	mu sync.Mutex
	s  *store.Store
}

func (f *fakeDC) Status() api.Status {
	st := f.s.State()
	nodes := []api.NodeStatus{{Name: "n1", ID: 1, Online: true, DC: true}, {Name: "n2", ID: 2, Online: true}}
	return api.Status{Node: "n1", DC: "n1", Version: api.Version, Stack: "duet", Nodes: nodes, CIB: st.CIB, Store: st.Status}
}
func (f *fakeDC) Changed() <-chan struct{} { return make(chan struct{}) }
func (f *fakeDC) Exec(context.Context, executor.Request) executor.Result {
	return executor.Result{}
}
func (f *fakeDC) Submit(_ context.Context, c store.Command, _ bool) (api.CommandResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := c.Encode()
	if err != nil {
		return api.CommandResult{}, &api.StatusError{Code: http.StatusBadRequest, Err: err}
	}
	res := f.s.Apply(&raft.Log{Type: raft.LogCommand, Data: b}).(store.Result)
	if res.Err != nil {
		code := http.StatusBadRequest
		if errors.Is(res.Err, store.ErrConflict) {
			code = http.StatusConflict
		}
		return api.CommandResult{}, &api.StatusError{Code: code, Err: res.Err}
	}
	return api.CommandResult{Epoch: res.Epoch, DC: "n1"}, nil
}

// startFake serves a fakeDC with nodes n1 and n2 on a unix socket and returns a crm runner for it.
func startFake(t *testing.T) func(args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dc := &fakeDC{s: store.New()}
	if _, err := dc.Submit(context.Background(), store.Command{Kind: store.EnsureNodes, Nodes: []cib.Node{{ID: 1, Name: "n1"}, {ID: 2, Name: "n2"}}}, false); err != nil {
		t.Fatal(err)
	}
	sock := apitest.Serve(t, dc)
	return func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"--socket", sock}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
}

// TestVerbs drives crm's configure, resource and node verbs against a clusterd stand-in and checks what
// each leaves in the CIB and what it prints, crmsh's way.
func TestVerbs(t *testing.T) {
	crm := startFake(t)
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := crm(args...)
		if code != 0 {
			t.Fatalf("crm %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out + errOut
	}
	fails := func(want string, args ...string) {
		t.Helper()
		out, errOut, code := crm(args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Fatalf("crm %s: exit %d, stderr %q; want a failure saying %q (stdout %q)", strings.Join(args, " "), code, errOut, want, out)
		}
	}
	show := func() string { t.Helper(); return must("configure", "show") }
	has := func(text string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Fatalf("lacks %q:\n%s", w, text)
			}
		}
	}

	must("configure", "property", "stonith-enabled=false", "no-quorum-policy=ignore")
	fails(`unknown property "no-quorum-polcy"`, "configure", "property", "no-quorum-polcy=stop")
	fails(`"sometimes" is not one of`, "configure", "property", "no-quorum-policy=sometimes")
	must("configure", "primitive", "vip", "IPaddr2", "params", "ip=192.0.2.10", "cidr_netmask=24", "op", "monitor", "interval=10s")
	must("configure", "primitive", "web", "ocf:duet:dummy")
	must("configure", "group", "g", "vip", "web")
	must("configure", "primitive", "db", "ocf:duet:dummy")
	must("configure", "rsc_defaults", "resource-stickiness=100", "migration-threshold=3")
	must("configure", "op_defaults", "timeout=60s")
	must("configure", "colocation", "c1", "-inf:", "db", "g")
	must("configure", "order", "o1", "Mandatory:", "db", "g")
	must("configure", "location", "l1", "db", "100:", "n2")
	fails(`interval: "xyz" is not a duration`, "configure", "primitive", "p", "ocf:duet:dummy", "op", "monitor", "interval=xyz")
	fails(`unknown keyword "parms" (did you mean "params"?)`, "configure", "primitive", "p", "ocf:duet:dummy", "parms", "a=b")
	has(show(), "primitive vip IPaddr2 \\\n\tparams ip=192.0.2.10 cidr_netmask=24 \\\n\top monitor interval=10s\n", "group g vip web\n",
		"colocation c1 -inf: db g\n", "order o1 Mandatory: db g\n", "location l1 db 100: n2\n", "resource-stickiness=100", "timeout=60s", "# CIB epoch ")
	must("configure", "verify")
	must("configure", "commit")

	// move, ban, clear leave and remove crmsh's cli-* constraints, with crm_resource's messages.
	must("resource", "move", "g", "n2")
	has(show(), "location cli-prefer-g g role=Started inf: n2\n")
	has(must("resource", "ban", "g", "n1"), "WARNING: Creating rsc_location constraint 'cli-ban-g-on-n1' with a score of -INFINITY for resource g on n1.")
	has(show(), "location cli-ban-g-on-n1 g role=Started -inf: n1\n")
	has(must("resource", "clear", "g"), "INFO: Removed migration constraints for g")
	if text := show(); strings.Contains(text, "cli-") {
		t.Fatalf("clear left a cli-* constraint:\n%s", text)
	}
	fails("resource nosuch does not exist", "resource", "move", "nosuch", "n1")
	fails(`node "n9" is not in the cluster`, "resource", "move", "g", "n9")

	// stop/start set target-role; meta and param edit the primitive.
	must("resource", "stop", "g")
	has(show(), "target-role=Stopped")
	must("resource", "start", "g")
	has(show(), "target-role=Started")
	must("resource", "meta", "web", "set", "migration-threshold", "5")
	has(must("resource", "meta", "web", "show", "migration-threshold"), "5")
	must("resource", "param", "vip", "set", "cidr_netmask", "25")
	has(must("resource", "param", "vip", "show", "cidr_netmask"), "25")

	// fail counts, locate, status.
	must("resource", "failcount", "web", "set", "n1", "3")
	has(must("resource", "failcount", "web", "show", "n1"), "scope=status  name=fail-count-web value=3")
	must("resource", "failcount", "web", "delete", "n1")
	has(must("resource", "failcount", "web", "show", "n1"), "value=0")
	has(must("resource", "locate", "web"), "resource web is NOT running")
	has(must("resource", "status"), "* Resource Group: g:\n", "* web\t(ocf:duet:dummy):\t Stopped")
	must("resource", "cleanup", "web")

	// node verbs.
	must("node", "standby", "n2", "forever")
	has(must("node", "show", "n2"), "n2(2): member", "standby=on")
	fails("lifetime reboot is not supported", "node", "standby", "n1", "reboot")
	must("node", "online", "n2")
	fails(`node "n9" is not in the cluster`, "node", "standby", "n9")

	// delete, load update and replace, erase.
	fails("does not exist", "configure", "delete", "nosuch")
	must("configure", "delete", "c1", "o1", "l1", "db")
	if text := show(); strings.Contains(text, "primitive db") || strings.Contains(text, " c1 ") || strings.Contains(text, " o1 ") || strings.Contains(text, " l1 ") {
		t.Fatalf("delete left db or its constraints:\n%s", text)
	}
	file := filepath.Join(t.TempDir(), "extra.crm")
	if err := os.WriteFile(file, []byte("primitive extra ocf:duet:dummy\nlocation l2 extra 50: n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must("configure", "load", "update", file)
	has(show(), "primitive extra ocf:duet:dummy", "group g vip web")
	must("configure", "load", "replace", file)
	if text := show(); strings.Contains(text, "group g") || !strings.Contains(text, "node 2: n2") || !strings.Contains(text, "location l2 extra 50: n1") {
		t.Fatalf("load replace should keep the nodes and the file's objects only:\n%s", text)
	}
	if err := os.WriteFile(file, []byte("primitive x ocf:duet:dummy\nprimitive y ocf:duet:dummy parms a=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(file+":2: primitive y: unknown keyword \"parms\"", "configure", "load", "update", file)
	if strings.Contains(show(), "primitive x") {
		t.Fatal("a load that failed applied part of its file")
	}
	must("configure", "primitive", "novip", "ocf:duet:vip", "params", "cidr_netmask=24", "bogus=1")
	fails("ERROR: primitive novip: required parameter ip not defined", "configure", "verify")
	if out, errOut, _ := crm("configure", "verify"); out != "" || strings.Count(errOut, "required parameter ip") != 1 ||
		!strings.Contains(errOut, "WARNING: primitive novip: parameter bogus does not exist in ocf:duet:vip") {
		t.Fatalf("verify should print each finding once, on stderr:\nstdout %q\nstderr %q", out, errOut)
	}
	must("configure", "erase")
	if text := show(); strings.Contains(text, "primitive") {
		t.Fatalf("erase left resources:\n%s", text)
	}
	must("node", "standby", "n2", "forever")
	must("configure", "erase")
	has(must("node", "show", "n2"), "standby=on") // plain erase keeps what is set on nodes
	must("configure", "erase", "nodes")
	if text := must("node", "show", "n2"); !strings.Contains(text, "n2(2): member") || strings.Contains(text, "standby") {
		t.Fatalf("erase nodes left the node's attributes:\n%s", text)
	}
	has(must("status"), "Cluster Summary:", "Current DC: n1", "Online: [ n1 n2 ]", "Full List of Resources:")
	has(must("status", "inactive", "verbose"), "Full List of Resources:")
	has(must("status", "bynode"), "  * Node n1: online:\n    * Resources:\n", "\nInactive Resources:\n")
}

// TestUnreachable checks crm's exit code when clusterd is not there: 102, as pacemaker's tools.
func TestUnreachable(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"--socket", filepath.Join(t.TempDir(), "none.sock"), "status"}, &out, &errb)
	if code != 102 || !strings.Contains(errb.String(), "ERROR: ") {
		t.Fatalf("exit %d, stderr %q; want 102 with an ERROR line", code, errb.String())
	}
}

// TestMalformedCommands: incomplete or malformed command lines fail with an ERROR line and a non-zero exit,
// and never panic.
func TestMalformedCommands(t *testing.T) {
	crm := startFake(t)
	for _, args := range [][]string{
		{"configure", "primitive"}, {"configure", "primitive", "x"}, {"configure", "primitive", "x", "ocf:"},
		{"configure", "group"}, {"configure", "group", "g"}, {"configure", "clone", "c"},
		{"configure", "location"}, {"configure", "location", "l", "x"}, {"configure", "location", "l", "x", "100:"},
		{"configure", "colocation", "c"}, {"configure", "colocation", "c", "inf:"}, {"configure", "order", "o", "Mandatory:"},
		{"configure", "rsc_defaults"}, {"configure", "op_defaults", "timeout"}, {"configure", "property"},
		{"configure", "property", "=x"}, {"configure", "property", "cib-bootstrap-options:"},
		{"configure", "delete"}, {"configure", "load", "update"}, {"configure", "load", "sideways", "f"},
		{"configure", "load", "update", "/nonexistent/file.crm"}, {"configure", "erase", "everything"},
		{"resource", "move"}, {"resource", "ban"}, {"resource", "failcount", "x", "set", "n1"},
		{"resource", "failcount", "x", "frobnicate", "n1"}, {"resource", "meta", "x", "set", "a"},
		{"resource", "param", "x", "frob", "a"}, {"resource", "locate"}, {"resource", "clear"},
		{"node", "attribute", "n1", "set", "a"}, {"node", "attribute", "n9", "show", "a"}, {"node", "fence"},
		{"status", "sideways"}, {"status", "ops"}, {"status", "brief"}, {"frobnicate"}, {"node", "standby", "n2", "reboot"},
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("crm %v panicked: %v", args, r)
				}
			}()
			out, errOut, code := crm(args...)
			if code == 0 || !strings.Contains(errOut, "ERROR: ") {
				t.Errorf("crm %v: exit %d, stdout %q, stderr %q; want an ERROR and a non-zero exit", args, code, out, errOut)
			}
		}()
	}
}
