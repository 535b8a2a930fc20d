package config

import (
	"strings"
	"testing"
)

func TestParseGood(t *testing.T) {
	c := Default()
	err := c.Parse("n1.conf", []byte(`
# node one
node_name = n1
bind = 10.250.0.11
peer = n2 10.250.0.12
peer = w 10.250.0.5 witness   # the witness
probe_interval = 20ms
two_node = no
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Voters() != 3 || c.TwoNodeMode() || c.WaitForAllMode() || !c.Peers[1].Witness || c.ProbeInterval.Milliseconds() != 20 {
		t.Fatalf("parsed %+v", c)
	}
	m := c.Members()
	if m[0].Name != "n1" || m[1].Name != "n2" || m[2].Name != "w" {
		t.Fatalf("members %+v", m)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct{ text, want string }{
		{"node_nam = n1", `x.conf:1: node_nam: unknown key (did you mean "node_name"?)`},
		{"\nbind = 10.0.0.300", `x.conf:2: bind: "10.0.0.300" is not an IP address`},
		{"peer = n2", `x.conf:1: peer: "n2": want NAME ADDRESS [witness]`},
		{"gossip_port = 70000", `x.conf:1: gossip_port: "70000" is not a port`},
		{"just words", `x.conf:1: just words: want key = value`},
		{"two_node = maybe", `x.conf:1: two_node: "maybe" is not a boolean`},
		{"probe_interval = 1ms", `x.conf:1: probe_interval: "1ms": want a duration`},
		{"peer = a 10.250.0.1\npeer = a 10.250.0.2", `x.conf:2: peer: peer a listed twice`},
	}
	for _, tt := range tests {
		c := Default()
		err := c.Parse("x.conf", []byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	err := c.Validate()
	for _, want := range []string{"node_name: missing", "bind: missing", "peer: no peers"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	c = Default()
	_ = c.Parse("x", []byte("node_name = a\nbind = 127.0.0.1\npeer = a 127.0.0.2"))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "own name") {
		t.Errorf("self as peer: %v", err)
	}
	if !(&Config{NodeName: "a", Peers: []Peer{{Name: "b"}}}).WaitForAllMode() {
		t.Error("two nodes: wait_for_all should default on")
	}
}

func TestParseKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	for _, in := range [][]byte{raw, []byte("30313233343536373839616263646566\n"), []byte("MDEyMzQ1Njc4OWFiY2RlZg==")} {
		if k, err := ParseKey(in); err != nil || (len(k) != 32 && len(k) != 16) {
			t.Errorf("ParseKey(%q) = %d bytes, %v", in, len(k), err)
		}
	}
	if _, err := ParseKey([]byte("short")); err == nil || !strings.Contains(err.Error(), "holds 5 bytes") {
		t.Errorf("short key: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("node_name = n1\nbind = 10.250.0.1\npeer = n2 10.250.0.2 witness\n"))
	f.Add([]byte("probe_interval = 50ms # c\n=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		if err := c.Parse("f", data); err != nil && !strings.HasPrefix(err.Error(), "f:") {
			t.Fatalf("error without file name: %v", err)
		}
		_ = c.Validate()
	})
}
