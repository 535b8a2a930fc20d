package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/virtd"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "key")
	os.WriteFile(kf, []byte("k"), 0o600)
	tests := []struct {
		name  string
		argv  []string
		check func(a *args) bool
		out   string
	}{
		{"defaults", []string{"-H", "vm"}, func(a *args) bool {
			return a.op == xvm.OpReboot && a.port == 1229 && a.retrans == 20 && a.timeout == 30 && a.hash == xvm.HashSHA256 && a.domain == "vm" && !a.err
		}, ""},
		{"attached values and grouped flags", []string{"-ostatus", "-du", "-nvm", "-c", "sha512", "-Cnone", "-t5", "-r", "3", "-w", "2", "-k", kf}, func(a *args) bool {
			return a.op == xvm.OpStatus && a.debug == 1 && a.useUUID && a.domain == "vm" && a.hash == xvm.HashSHA512 &&
				a.auth == xvm.HashNone && a.timeout == 5 && a.retrans == 3 && a.delay == 2 && a.keyFile == kf && !a.err
		}, ""},
		{"ipv6 family and group", []string{"-i", "ipv6", "-a", "ff05::3:1", "-p", "0x4cd", "-o", "list"}, func(a *args) bool {
			return a.family == client.IPv6 && a.group == "ff05::3:1" && a.port == 1229 && a.op == xvm.OpHostList
		}, ""},
		{"bad op", []string{"-o", "bogus"}, func(a *args) bool { return a.err }, "Unsupported operation: bogus\n"},
		{"bad port", []string{"-p", "99999"}, func(a *args) bool { return a.err }, "Invalid port: '99999'\n"},
		{"bad family", []string{"-i", "ipx"}, func(a *args) bool { return a.err }, "Unsupported family: 'ipx'\n"},
		{"bad hash", []string{"-c", "md5"}, func(a *args) bool { return a.err }, "Unsupported hash: md5\n"},
		{"bad auth", []string{"-C", "md5"}, func(a *args) bool { return a.err }, "Unsupported auth type: md5\n"},
		{"bad timeout", []string{"-t", "0"}, func(a *args) bool { return a.err }, "Invalid timeout: '0'\n"},
		{"missing key", []string{"-k", "/nonexistent/key"}, func(a *args) bool { return a.err }, "Invalid key file: '/nonexistent/key' (No such file or directory)\n"},
		{"two domains", []string{"-H", "a", "-n", "b"}, func(a *args) bool { return a.err }, "Domain/UUID may not be specified more than once\n"},
		{"long domain", []string{"-H", strings.Repeat("x", 64)}, func(a *args) bool { return a.err }, "File name too long"},
		{"unknown option", []string{"-Z"}, func(a *args) bool { return a.err }, ""},
		{"missing value", []string{"-o"}, func(a *args) bool { return a.err }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			a := parseArgs(tc.argv, &out, &errb)
			if !tc.check(a) {
				t.Fatalf("parsed %+v", a)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Fatalf("output %q, want %q", out.String(), tc.out)
			}
		})
	}
}

func TestParseStdin(t *testing.T) {
	in := `# pacemaker style
action=off
port=vm1
nodename=node1
agent=fence_xvm
key_file=/dev/null
hash=sha1
auth=sha512
ip_family=ipv4
multicast_address=225.0.0.13
ipport=1300
retrans=10
timeout=12
delay=0
use_uuid=1
frobnicate=yes
`
	var out, errb bytes.Buffer
	a := parseStdin(strings.NewReader(in), &out, &errb)
	if a.err || a.op != xvm.OpOff || a.domain != "vm1" || a.keyFile != "/dev/null" || a.hash != xvm.HashSHA1 ||
		a.auth != xvm.HashSHA512 || a.family != client.IPv4 || a.group != "225.0.0.13" || a.port != 1300 ||
		a.retrans != 10 || a.timeout != 12 || !a.useUUID {
		t.Fatalf("parsed %+v (out %q)", a, out.String())
	}
	if errb.String() != "Parse error: Ignoring unknown option 'frobnicate'\n" {
		t.Fatalf("stderr %q", errb.String())
	}
	// pacemaker may pass both plug and port with the same value.
	a = parseStdin(strings.NewReader("plug=vm1\nport=vm1\n"), &out, &errb)
	if a.err || a.domain != "vm1" {
		t.Fatalf("plug+port: %+v", a)
	}
}

func run(t *testing.T, argv []string, stdin string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), argv, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunLocalActions(t *testing.T) {
	code, out, _ := run(t, []string{"-o", "metadata"}, "")
	if code != 0 || out != metadataXML || !strings.Contains(out, `<resource-agent name="fence_xvm"`) {
		t.Fatalf("metadata: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "action=metadata\n")
	if code != 0 || out != metadataXML {
		t.Fatalf("stdin metadata: %d", code)
	}
	if code, _, _ := run(t, []string{"-o", "validate-all", "-H", "x"}, ""); code != 0 {
		t.Fatalf("validate-all: %d", code)
	}
	if code, out, _ := run(t, []string{"-o", "validate-all", "-p", "0"}, ""); code != 1 || strings.Contains(out, "usage") {
		t.Fatalf("validate-all with a bad port: %d %q", code, out)
	}
	code, out, errs := run(t, []string{"-o", "off"}, "")
	if code != 1 || errs != "No domain specified!\n" || !strings.HasPrefix(out, "usage: fence_xvm [args]") {
		t.Fatalf("missing domain: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, nil, "action=off\n")
	if code != 1 || !strings.HasPrefix(out, "  debug ") {
		t.Fatalf("stdin missing domain: %d %q", code, out)
	}
	if code, out, _ := run(t, []string{"-h"}, ""); code != 0 || out != usageText {
		t.Fatalf("-h: %d\n%s", code, out)
	}
	if code, out, _ := run(t, []string{"-V"}, ""); code != 0 || !strings.HasPrefix(out, "fence_xvm 1.9.0") {
		t.Fatalf("-V: %d %q", code, out)
	}
}

type dev struct{ state map[string]fencing.PowerState }

func (d *dev) Fence(_ context.Context, target string, a fencing.Action) error {
	if _, ok := d.state[target]; !ok {
		return fencing.ErrNotFound
	}
	d.state[target] = map[fencing.Action]fencing.PowerState{fencing.Off: fencing.PoweredOff, fencing.On: fencing.PoweredOn, fencing.Reboot: fencing.PoweredOn}[a]
	return nil
}
func (d *dev) Status(_ context.Context, target string) (fencing.PowerState, error) {
	if st, ok := d.state[target]; ok {
		return st, nil
	}
	return fencing.Unknown, fencing.ErrNotFound
}
func (d *dev) List(context.Context) ([]fencing.Host, error) {
	return []fencing.Host{{Name: "vm1", UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f", State: d.state["vm1"]}}, nil
}
func (d *dev) Monitor(context.Context) error { return nil }

// The agent's output and exit codes against Duet's daemon over TCP (-T, the fence_virt extension).
func TestRunAgainstDaemon(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "key")
	key := []byte("0123456789abcdef0123456789abcdef")
	os.WriteFile(kf, key, 0o600)
	srv, err := virtd.NewServer(virtd.Options{Device: &dev{state: map[string]fencing.PowerState{"vm1": fencing.PoweredOn, "denied": fencing.PoweredOn}},
		Key: key, MinHash: xvm.HashSHA256, Auth: xvm.HashSHA256,
		Groups: []virtd.Group{{IPs: []string{"127.0.0.1"}, UUIDs: []string{"vm1", "nosuch"}}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := virtd.Start(context.Background(), "tcp", virtd.ListenerConfig{Address: netip.MustParseAddr("127.0.0.1")}, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	base := []string{"-T", "127.0.0.1", "-p", port, "-k", kf, "-t", "20"}
	tests := []struct {
		argv []string
		code int
		out  string
	}{
		{[]string{"-o", "status", "-H", "vm1"}, 0, "Status: ON\n"},
		{[]string{"-o", "off", "-H", "vm1"}, 0, ""},
		{[]string{"-o", "status", "-n", "vm1"}, 2, "Status: OFF\n"},
		{[]string{"-o", "list"}, 0, "vm1                              6695eb01-f6a4-8304-79aa-97f2502e193f off\n"},
		{[]string{"-o", "on", "-H", "vm1"}, 0, ""},
		{[]string{"-o", "off", "-H", "nosuch"}, 1, "Operation failed\n"},
		{[]string{"-o", "off", "-H", "denied"}, 3, "Permission denied\n"},
		{[]string{"-o", "monitor"}, 0, ""},
		{[]string{"-o", "null", "-H", "vm1"}, 1, "Operation failed\n"},
		{[]string{"-o", "status", "-H", "vm1", "-C", "sha512"}, 1, "Invalid response to challenge\nOperation failed\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			code, out, errs := run(t, append(append([]string(nil), base...), tc.argv...), "")
			if code != tc.code || out != tc.out {
				t.Fatalf("exit %d, stdout %q (stderr %q); want %d, %q", code, out, errs, tc.code, tc.out)
			}
		})
	}
	// The stdin form, as pacemaker drives it.
	code, out, errs := run(t, nil, "action=status\nport=vm1\nnodename=n1\nipaddr=127.0.0.1\nipport="+port+"\nkey_file="+kf+"\n")
	if code != 0 || out != "Status: ON\n" {
		t.Fatalf("stdin status: %d %q %q", code, out, errs)
	}
}

// rawDaemon accepts one TCP-mode request, authenticates with sha256 and writes answer, then closes.
func rawDaemon(t *testing.T, key []byte, answer []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var pkt [xvm.RequestSize]byte
		if _, err := io.ReadFull(c, pkt[:]); err != nil {
			return
		}
		if xvm.DaemonAuth(c, key, xvm.HashSHA256, rand.Reader) == nil {
			c.Write(answer)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func TestRunUnusualAnswers(t *testing.T) {
	dir := t.TempDir()
	key := []byte("k")
	kf := filepath.Join(dir, "key")
	os.WriteFile(kf, key, 0o600)
	tests := []struct {
		answer []byte
		code   int
		out    string
	}{
		{nil, 255, "Unknown response (-1)\n"},
		{[]byte{7}, 7, "Unknown response (7)\n"},
		{[]byte{0xfd, 1, 2}, 0, "Bad read!\n"},
	}
	for _, tc := range tests {
		port := rawDaemon(t, key, tc.answer)
		code, out, _ := run(t, []string{"-T", "127.0.0.1", "-p", port, "-k", kf, "-t", "20", "-o", "status", "-H", "vm1"}, "")
		if code != tc.code || out != tc.out {
			t.Errorf("answer %x: exit %d %q, want %d %q", tc.answer, code, out, tc.code, tc.out)
		}
	}
}
