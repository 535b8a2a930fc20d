package interop

import (
	"fmt"
	"strings"
	"testing"

	"github.com/duet-ha/duet/internal/nettest"
)

// TestInteropTCP: the TCP listener (fence_virt -T), both ways: the real fence_virt against Duet's daemon,
// and Duet's fence_xvm -T (an extension) against the real daemon.
func TestInteropTCP(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	duetXVM, duetVirtd := binaries(t)
	for _, p := range []pairing{
		{"real fence_virt to Duet fence_virtd", "fence_virt", duetVirtd},
		{"Duet fence_xvm to real fence_virtd", duetXVM, "fence_virtd"},
	} {
		t.Run(p.name, func(t *testing.T) {
			fv, _ := topology(t, false)
			dir := t.TempDir()
			key := writeFile(t, dir, "key", testKey)
			conf := writeFile(t, dir, "tcp.conf", fmt.Sprintf(`fence_virtd { listener = "tcp"; backend = "libvirt"; }
listeners { tcp { key_file = "%s"; address = "10.250.0.1"; port = "1229"; } }
backends { libvirt { uri = "test:///default"; } }
`, key))
			startDaemon(t, fv, p.daemon, conf, true)
			base := []string{"-T", "10.250.0.1", "-k", key, "-t", "20"}
			for _, s := range []struct {
				args []string
				code int
				want string
			}{
				{[]string{"-o", "status", "-H", "test"}, 0, "Status: ON"},
				{[]string{"-o", "off", "-H", "test"}, 0, ""},
				{[]string{"-o", "status", "-H", "test"}, 2, "Status: OFF"},
				{[]string{"-o", "list"}, 0, testUUID + " off"},
				{[]string{"-o", "on", "-H", "test"}, 0, ""},
				{[]string{"-o", "status", "-H", "nosuch"}, 2, "Status: OFF"},
			} {
				// The client runs on the fence host itself here, over eth0's address.
				code, out := runClient(t, fv, "", p.client, append(append([]string(nil), base...), s.args...)...)
				if code != s.code || !strings.Contains(out, s.want) {
					t.Fatalf("%v: exit %d, %q; want %d, %q", s.args, code, out, s.code, s.want)
				}
			}
		})
	}
}
