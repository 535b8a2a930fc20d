package virtd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duet-ha/duet/fencing/xvm"
)

// Every configuration the real daemon ran with in the captures parses, with the values it used.
func TestParseVectorConfigs(t *testing.T) {
	tests := []struct {
		file     string
		listener string
		hash     xvm.HashType
		auth     xvm.HashType
		v6       bool
		addr     string
		groups   int
	}{
		{"mcast.conf", "multicast", xvm.HashSHA256, xvm.HashSHA256, false, "225.0.0.12", 0},
		{"mcast2.conf", "multicast", xvm.HashSHA1, xvm.HashSHA512, false, "225.0.0.12", 1},
		{"mcast6.conf", "multicast", xvm.HashSHA256, xvm.HashSHA256, true, "ff05::3:1", 0},
		{"mcast_none.conf", "multicast", xvm.HashNone, xvm.HashNone, false, "225.0.0.12", 0},
		{"tcp.conf", "tcp", xvm.HashSHA256, xvm.HashSHA256, false, "127.0.0.1", 0},
		{"tcp_authbug.conf", "tcp", xvm.HashSHA256, xvm.HashNone, false, "127.0.0.1", 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c, err := LoadConfig(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			l := c.Listen
			if c.Listener != tc.listener || c.Backend != "libvirt" || l.Hash != tc.hash || l.Auth != tc.auth ||
				l.IPv6 != tc.v6 || l.Address.String() != tc.addr || l.Port != 1229 || len(c.Groups) != tc.groups {
				t.Fatalf("got %+v / %+v", c, l)
			}
			if l.KeyFile != "/tmp/fvtest/key" {
				t.Errorf("key file %q", l.KeyFile)
			}
			if uri, _ := c.BackendBlock.Get("uri"); uri != "test:///default" {
				t.Errorf("uri %q", uri)
			}
		})
	}
	c, err := LoadConfig("testdata/mcast.conf")
	if err != nil || len(c.Warnings) != 0 {
		t.Fatalf("mcast.conf: %v, warnings %q", err, c.Warnings)
	}
	c, _ = LoadConfig("testdata/mcast2.conf")
	if g := c.Groups[0]; g.Name != "g1" || len(g.IPs) != 1 || g.IPs[0] != "127.0.0.1" || g.UUIDs[0] != "othervm" {
		t.Errorf("group %+v", g)
	}
}

func TestParseConfigGrammar(t *testing.T) {
	src := `# comment
a = "1"; a = "2";   # the last one wins
blk = "v" { inner = "x
y"; }
empty { }
B { k = "first"; }
b { k = "second"; }
`
	root, err := ParseConfig("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := root.Get("a"); v != "2" {
		t.Errorf("a = %q, want the last value", v)
	}
	if vs := root.Values("A"); len(vs) != 2 {
		t.Errorf("values of A: %q", vs)
	}
	blk := root.Block1("blk")
	if blk == nil || !blk.HasValue || blk.Value != "v" || blk.Line != 3 {
		t.Fatalf("blk = %+v", blk)
	}
	if v, _ := root.Lookup("blk/@inner"); v != "x\ny" {
		t.Errorf("inner = %q", v)
	}
	if v, _ := root.Lookup("b/@k"); v != "second" {
		t.Errorf("b/@k = %q, want the last block", v)
	}
	if b := root.Block1("empty"); b == nil || len(b.Children) != 0 {
		t.Errorf("empty = %+v", b)
	}
	if _, ok := root.Lookup("nope/@k"); ok {
		t.Error("lookup of a missing block succeeded")
	}
	if n := root.Block1("b").Children[0]; n.Line != 7 {
		t.Errorf("line of b/k = %d, want 7", n.Line)
	}
}

func TestParseConfigSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		want      string
	}{
		{"unquoted value", "fence_virtd {\n\tport = 1229;\n}\n", 2, "must be double-quoted"},
		{"missing semicolon", "a = \"1\"\nb = \"2\";", 2, "want ';'"},
		{"unclosed block", "a {\n b = \"1\";\n", 3, "want '}'"},
		{"stray brace", "a = \"1\";\n}\n", 2, "unexpected '}'"},
		{"empty value", "\n\na = \"\";", 3, "empty value"},
		{"unterminated string", "a = \"1\";\nb = \"oops;\n", 2, "unterminated"},
		{"empty file", "# nothing\n", 2, "no statements"},
		{"bare identifier", "a;", 1, "want '=' or '{'"},
		{"double equals", "a = = \"x\";", 1, "want a quoted value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("/etc/f.conf", []byte(tc.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want a SyntaxError", err)
			}
			if se.File != "/etc/f.conf" || se.Line != tc.line || !strings.Contains(se.Error(), tc.want) {
				t.Fatalf("err %q (line %d), want line %d containing %q", se, se.Line, tc.line, tc.want)
			}
		})
	}
}

func TestParseConfigFileValues(t *testing.T) {
	base := func(listener, extra string) string {
		return "fence_virtd { listener = \"" + listener + "\"; backend = \"libvirt\"; }\nlisteners { " + listener + " {\n" + extra + "\n} }\n"
	}
	tests := []struct {
		name, src string
		want      string // "" = ok
	}{
		{"defaults", base("multicast", ""), ""},
		{"tcp defaults", base("tcp", `family = "ipv6";`), ""},
		{"bad hash", base("multicast", `hash = "md5";`), "t.conf:3: hash = \"md5\""},
		{"bad port", base("multicast", `port = "0";`), "t.conf:3: port"},
		{"bad family", base("multicast", `family = "ipx";`), "family"},
		{"unicast group", base("multicast", `address = "10.0.0.1";`), "not a multicast group"},
		{"family mismatch", base("multicast", `address = "ff05::3:1";`), "does not match"},
		{"vsock", base("vsock", ""), "Duet supports multicast and tcp"},
		{"cpg", "fence_virtd { listener = \"tcp\"; backend = \"cpg\"; }", "Duet supports libvirt, exec and netns"},
		{"no listener", "fence_virtd { backend = \"libvirt\"; }", "no listener"},
		{"no fence_virtd", "listeners { }", "no fence_virtd block"},
		{"syntax", "fence_virtd { listener = tcp; }", "t.conf:1: syntax error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfigFile("t.conf", []byte(tc.src))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Listen.KeyFile != DefaultKeyFile || c.Listen.Hash != xvm.HashSHA256 {
					t.Errorf("defaults: %+v", c.Listen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
	c, err := ParseConfigFile("t.conf", []byte(base("multicast", `interface = "virbr0"; frobnicate = "1";`)))
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `t.conf:3: multicast: unknown key "frobnicate"`) {
		t.Fatalf("warnings %q, err %v", c.Warnings, err)
	}
}

// The Debian default configuration, verbatim, parses.
func TestParseDebianDefault(t *testing.T) {
	src := "fence_virtd {\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n}\n\nlisteners {\n\tmulticast {\n\t\tkey_file = \"/etc/fence_virt.key\";\n\t\taddress = \"225.0.0.12\";\n\t\t# Needed on Fedora systems\n\t\tinterface = \"virbr0\";\n\t}\n}\n\nbackends {\n\tlibvirt { \n\t\turi = \"qemu:///system\";\n\t}\n}\n"
	c, err := ParseConfigFile("/etc/fence_virt.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.KeyFile != "/etc/fence_virt.key" || c.Listen.Interface != "virbr0" {
		t.Fatalf("%+v", c.Listen)
	}
}

// FuzzParseConfig: the grammar never panics, and an accepted file's statements all have a name and a line.
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`a = "b" { c { d = "e"; } }`))
	f.Add([]byte("{{{{"))
	f.Fuzz(func(t *testing.T, src []byte) {
		root, err := ParseConfig("fuzz.conf", src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a SyntaxError with a line", err)
			}
			return
		}
		var walk func(n *Node, depth int)
		walk = func(n *Node, depth int) {
			for _, c := range n.Children {
				if c.Name == "" || c.Line < 1 || depth > maxDepth+1 {
					t.Fatalf("bad node %+v", c)
				}
				walk(c, depth+1)
			}
		}
		walk(root, 0)
		_, _ = ParseConfigFile("fuzz.conf", src)
	})
}
