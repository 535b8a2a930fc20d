package stats

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestHeaderIsHaproxy2612(t *testing.T) {
	cols := Columns()
	if len(cols) < 103 || cols[0] != "pxname" || cols[17] != "status" || cols[32] != "type" || cols[100] != "agg_server_status" || cols[102] != "agg_check_status" || cols[103] != "-" {
		t.Errorf("columns: %d, %v", len(cols), cols[:5])
	}
	if b, err := os.ReadFile("/work/shared/protocols/haproxy_lab/stats-2.6.12-csv-header.txt"); err == nil {
		if strings.TrimRight(string(b), "\n") != Header() {
			t.Error("embedded header differs from the measured 2.6.12 header")
		}
	}
}

func TestWriteCSVQuotingAndFilter(t *testing.T) {
	rows := []Row{
		{Type: TypeFrontend, IID: 1, Values: map[string]string{"pxname": "fe", "svname": "FRONTEND", "status": "OPEN"}},
		{Type: TypeServer, IID: 2, SID: 1, Values: map[string]string{"pxname": "be", "svname": "s1", "status": "UP", "check_desc": `say "hi", ok`}},
		{Type: TypeBackend, IID: 2, Values: map[string]string{"pxname": "be", "svname": "BACKEND", "status": "UP"}},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[2], `,"say ""hi"", ok",`) {
		t.Errorf("csv:\n%s", b.String())
	}
	if got := len(Filter(rows, "be", 4, -1)); got != 1 {
		t.Errorf("filter servers of be: %d", got)
	}
	if got := len(Filter(rows, "2", 3, -1)); got != 1 {
		t.Errorf("filter fe+be of iid 2: %d", got)
	}
	if got := len(Filter(rows, "", -1, -1)); got != 3 {
		t.Errorf("filter all: %d", got)
	}
}

type fake struct {
	calls []string
}

func (f *fake) Rows() []Row {
	return []Row{{Type: TypeServer, Values: map[string]string{"pxname": "b", "svname": "s"}}}
}
func (f *fake) Info() []InfoField { return []InfoField{{Name: "Name", Value: "HAProxy"}} }
func (f *fake) ServersState(b string) ([]string, error) {
	if b == "nope" {
		return nil, errors.New("Can't find backend.")
	}
	return []string{"1 b 1 s 127.0.0.1 2 0 1 1 0 6 3 4 6 0 0 0 - 80 - 0 0 - - 0"}, nil
}
func (f *fake) Sessions() []string { return []string{"0x1: proto=tcpv4"} }
func (f *fake) SetState(b, s, st string) error {
	f.calls = append(f.calls, "state "+b+"/"+s+" "+st)
	if s == "missing" {
		return errors.New("No such server.")
	}
	return nil
}
func (f *fake) SetHealth(b, s, st string) error { f.calls = append(f.calls, "health "+st); return nil }
func (f *fake) SetWeight(b, s, w string) error  { f.calls = append(f.calls, "weight "+w); return nil }
func (f *fake) GetWeight(b, s string) (string, error) {
	return "1 (initial 1)", nil
}

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		line  string
		lvl   Level
		want  string
		calls string
	}{
		{"show info", LevelUser, "Name: HAProxy\n\n", ""},
		{"show stat", LevelUser, Header() + "\nb,s,", ""},
		{"show servers state", LevelUser, "1\n# be_id be_name", ""},
		{"show servers state nope", LevelUser, "Can't find backend.\n", ""},
		{"disable server b/s", LevelAdmin, "\n", "state b/s maint"},
		{"enable server b/s", LevelAdmin, "\n", "state b/s ready"},
		{"disable server b/s", LevelOperator, "Permission denied\n", ""},
		{"set server b/s state drain", LevelAdmin, "\n", "state b/s drain"},
		{"set server b/s state bogus", LevelAdmin, "'set server <srv> state' expects", ""},
		{"set server b/missing state maint", LevelAdmin, "No such server.\n", "state b/missing maint"},
		{"set server b/s health down", LevelAdmin, "\n", "health down"},
		{"set server b/s weight 50%", LevelAdmin, "\n", "weight 50%"},
		{"set weight b/s 7", LevelAdmin, "\n", "weight 7"},
		{"get weight b/s", LevelUser, "1 (initial 1)\n\n", ""},
		{"disable server nobackend", LevelAdmin, "Require 'backend/server'.\n", ""},
		{"show info; get weight b/s", LevelUser, "Name: HAProxy\n\n1 (initial 1)\n\n", ""},
		{"hello", LevelAdmin, "Unknown command: 'hello'", ""},
	} {
		f := &fake{}
		var b bytes.Buffer
		Execute(&b, tc.line, f, f, tc.lvl)
		if !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("%q: got %q, want prefix %q", tc.line, b.String(), tc.want)
		}
		if got := strings.Join(f.calls, ";"); got != tc.calls {
			t.Errorf("%q: calls %q, want %q", tc.line, got, tc.calls)
		}
	}
	if Execute(&bytes.Buffer{}, "quit", &fake{}, &fake{}, LevelUser) {
		t.Error("quit did not end the session")
	}
}

func TestWriteHTML(t *testing.T) {
	rows := []Row{
		{Type: TypeFrontend, IID: 1, Values: map[string]string{"pxname": "web", "svname": "FRONTEND", "status": "OPEN"}},
		{Type: TypeServer, IID: 1, SID: 1, Values: map[string]string{"pxname": "web", "svname": "s<1>", "status": "DOWN", "check_status": "L4CON", "check_duration": "0"}},
		{Type: TypeBackend, IID: 1, Values: map[string]string{"pxname": "web", "svname": "BACKEND", "status": "DOWN"}},
	}
	var b bytes.Buffer
	_ = WriteHTML(&b, rows, []InfoField{{Name: "Pid", Value: "42"}}, PageOptions{URI: "/stats", Admin: true, Version: "2.6.12", PID: 42})
	page := b.String()
	for _, want := range []string{"<title>Statistics Report for HAProxy", "HAProxy version 2.6.12", "Statistics Report for pid 42",
		`value="s&lt;1&gt;"`, "L4CON in 0ms", `name="b" value="#1"`, `<option value="maint">`, "/stats;csv"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	b.Reset()
	_ = WriteHTML(&b, rows, nil, PageOptions{URI: "/stats", UpOnly: true, HideVersion: true, Version: "2.6.12"})
	if strings.Contains(b.String(), "s&lt;1&gt;") || strings.Contains(b.String(), "2.6.12") {
		t.Error(";up or hide-version not applied")
	}
}
