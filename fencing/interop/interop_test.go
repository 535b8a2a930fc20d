package interop

import (
	"fmt"
	"strings"
	"testing"

	"github.com/duet-ha/duet/internal/nettest"
)

const testUUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

// pairing is one client/daemon combination.
type pairing struct {
	name           string
	client, daemon string
}

func pairings(t *testing.T) []pairing {
	duetXVM, duetVirtd := binaries(t)
	return []pairing{
		{"real fence_xvm to Duet fence_virtd", "fence_xvm", duetVirtd},
		{"Duet fence_xvm to real fence_virtd", duetXVM, "fence_virtd"},
		{"Duet fence_xvm to Duet fence_virtd", duetXVM, duetVirtd},
	}
}

// topology: the fence host "fv" runs the daemon, node "n1" runs the client, over the bridge.
func topology(t *testing.T, v6 bool) (fv, n1 *nettest.Host) {
	tp := nettest.New(t)
	fv = tp.AddHost("fv", "10.250.0.1/24")
	n1 = tp.AddHost("n1", "10.250.0.11/24")
	if v6 {
		fv.Run("ip", "-6", "addr", "add", "fd00:250::1/64", "dev", "eth0", "nodad")
		n1.Run("ip", "-6", "addr", "add", "fd00:250::11/64", "dev", "eth0", "nodad")
	}
	return fv, n1
}

// TestInterop runs the same fence sequence in both directions over IPv4 multicast with a TCP callback.
func TestInterop(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	for _, p := range pairings(t) {
		t.Run(p.name, func(t *testing.T) {
			fv, n1 := topology(t, false)
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			otherKey := writeFile(t, dir, "other.key", "not the key")
			conf := writeFile(t, dir, "fence_virt.conf", mcastConf(key, "ipv4", ""))
			startDaemon(t, fv, p.daemon, conf, false)
			k := []string{"-k", key, "-t", "20"}
			steps := []struct {
				name string
				args []string
				code int
				want string
			}{
				{"list", []string{"-o", "list"}, 0, fmt.Sprintf("%-32s %s on\n", "test", testUUID)},
				{"status", []string{"-o", "status", "-H", "test"}, 0, "Status: ON"},
				{"monitor", []string{"-o", "monitor"}, 0, ""},
				{"off", []string{"-o", "off", "-H", "test"}, 0, ""},
				{"status after off", []string{"-o", "status", "-H", "test"}, 2, "Status: OFF"},
				{"list after off", []string{"-o", "list"}, 0, testUUID + " off"},
				{"on", []string{"-o", "on", "-H", "test"}, 0, ""},
				{"status after on", []string{"-o", "status", "-n", "test"}, 0, "Status: ON"},
				{"reboot", []string{"-o", "reboot", "-H", "test"}, 0, ""},
				{"status after reboot", []string{"-o", "status", "-H", "test"}, 0, "Status: ON"},
				{"status by uuid", []string{"-o", "status", "-H", testUUID}, 0, "Status: ON"},
				{"unknown domain status", []string{"-o", "status", "-H", "nosuch"}, 2, "Status: OFF"},
				{"unknown domain off", []string{"-o", "off", "-H", "nosuch"}, 1, "Operation failed"},
				{"null", []string{"-o", "null", "-H", "test"}, 1, "Operation failed"},
			}
			for _, s := range steps {
				code, out := runClient(t, n1, "", p.client, append(append([]string(nil), k...), s.args...)...)
				if code != s.code || !strings.Contains(out, s.want) {
					t.Fatalf("%s: exit %d, output %q; want %d, %q", s.name, code, out, s.code, s.want)
				}
			}
			// Rejected requests: the daemon drops them, the client times out, nothing is fenced.
			bad := []struct {
				name string
				args []string
			}{
				{"wrong key", []string{"-k", otherKey, "-o", "off", "-H", "test", "-t", "3", "-r", "10"}},
				{"hash weaker than the daemon's minimum", []string{"-k", key, "-c", "sha1", "-o", "off", "-H", "test", "-t", "3", "-r", "10"}},
				{"unsigned", []string{"-k", key, "-c", "none", "-o", "off", "-H", "test", "-t", "3", "-r", "10"}},
			}
			for _, b := range bad {
				code, out := runClient(t, n1, "", p.client, b.args...)
				if code != 1 || !strings.Contains(out, "Timed out waiting for response") {
					t.Fatalf("%s: exit %d, output %q; want a timeout", b.name, code, out)
				}
			}
			// The stdin form pacemaker uses.
			code, out := runClient(t, n1, "action=status\nport=test\nnodename=n1\nkey_file="+key+"\ntimeout=20\n", p.client)
			if code != 0 || !strings.Contains(out, "Status: ON") {
				t.Fatalf("stdin status: exit %d, %q", code, out)
			}
			if code, out := runClient(t, n1, "", p.client, "-k", key, "-o", "status", "-H", "test"); code != 0 {
				t.Fatalf("after rejected requests the VM is not on: %d %q", code, out)
			}
		})
	}
}

// TestInteropIPv6 fences over the IPv6 group ff05::3:1 with a callback to an fd00:: address.
func TestInteropIPv6(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	for _, p := range pairings(t) {
		t.Run(p.name, func(t *testing.T) {
			fv, n1 := topology(t, true)
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			conf := writeFile(t, dir, "fence_virt.conf", mcastConf(key, "ipv6", ""))
			startDaemon(t, fv, p.daemon, conf, false)
			for _, s := range []struct {
				args []string
				code int
				want string
			}{
				{[]string{"-o", "status", "-H", "test"}, 0, "Status: ON"},
				{[]string{"-o", "off", "-H", "test"}, 0, ""},
				{[]string{"-o", "status", "-H", "test"}, 2, "Status: OFF"},
				{[]string{"-o", "list"}, 0, testUUID + " off"},
			} {
				code, out := runClient(t, n1, "", p.client, append([]string{"-i", "ipv6", "-k", key, "-t", "20"}, s.args...)...)
				if code != s.code || !strings.Contains(out, s.want) {
					t.Fatalf("%v: exit %d, %q; want %d, %q", s.args, code, out, s.code, s.want)
				}
			}
		})
	}
}

// TestInteropStaticMapAndNoAuth: groups deny (exit 3, empty list), and hash/auth none.
func TestInteropStaticMapAndNoAuth(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	for _, p := range pairings(t) {
		t.Run(p.name, func(t *testing.T) {
			fv, n1 := topology(t, false)
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			conf := mcastConf(key, "ipv4", `hash = "sha1"; auth = "sha512";`) +
				`groups { group { name = "g1"; ip = "10.250.0.11"; uuid = "othervm"; } }` + "\n"
			startDaemon(t, fv, p.daemon, writeFile(t, dir, "groups.conf", conf), false)
			k := []string{"-k", key, "-C", "sha512", "-c", "sha1", "-t", "20"}
			if code, out := runClient(t, n1, "", p.client, append(k, "-o", "status", "-H", "test")...); code != 3 || !strings.Contains(out, "Permission denied") {
				t.Fatalf("denied status: %d %q", code, out)
			}
			if code, out := runClient(t, n1, "", p.client, append(k, "-o", "off", "-H", "test")...); code != 3 {
				t.Fatalf("denied off: %d %q", code, out)
			}
			if code, out := runClient(t, n1, "", p.client, append(k, "-o", "list")...); code != 0 || strings.Contains(out, "test") {
				t.Fatalf("filtered list: %d %q", code, out)
			}
			if code, out := runClient(t, n1, "", p.client, append(k, "-o", "status", "-H", "othervm")...); code != 2 {
				t.Fatalf("allowed unknown VM: %d %q", code, out)
			}
		})
		t.Run(p.name+" without auth", func(t *testing.T) {
			fv, n1 := topology(t, false)
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			startDaemon(t, fv, p.daemon, writeFile(t, dir, "none.conf", mcastConf(key, "ipv4", `hash = "none"; auth = "none";`)), false)
			code, out := runClient(t, n1, "", p.client, "-k", key, "-c", "none", "-C", "none", "-t", "20", "-o", "status", "-H", "test")
			if code != 0 || !strings.Contains(out, "Status: ON") {
				t.Fatalf("status without auth: %d %q", code, out)
			}
		})
	}
}
