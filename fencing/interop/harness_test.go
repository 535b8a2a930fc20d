package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duet-ha/duet/internal/nettest"
)

const testKey = "0123456789abcdef0123456789abcdef"

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds Duet's fence_xvm and fence_virtd once per test binary, fence_xvm static as it is meant
// to be built (fencing/README.md).
func binaries(t *testing.T) (fenceXVM, fenceVirtd string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "duet-fence-bin-")
		if buildErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = "/usr/local/go/bin/go"
		}
		for _, c := range []string{"fence_xvm", "fence_virtd"} {
			cmd := exec.Command(gobin, "build", "-o", filepath.Join(binDir, c), "github.com/duet-ha/duet/cmd/"+c)
			if c == "fence_xvm" {
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", c, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "fence_xvm"), filepath.Join(binDir, "fence_virtd")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func needReal(t *testing.T) {
	t.Helper()
	for _, b := range []string{"fence_xvm", "fence_virtd", "virsh"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s missing: run scripts/deps.sh", b)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is a fence_virtd (real or Duet's) running in a namespace; the test owns and reaps it.
type daemon struct {
	cmd *exec.Cmd
	log *syncBuf
}

// startDaemon runs bin with conf inside host and waits until UDP or TCP port 1229 is bound there.
// Cleanup stops it by PID (SIGTERM, then SIGKILL) and reaps it.
func startDaemon(t *testing.T, host *nettest.Host, bin, conf string, tcp bool) *daemon {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-F", "-f", conf, "-p", filepath.Join(dir, "pid"), "-d", "1"}
	d := &daemon{log: &syncBuf{}}
	d.cmd = host.Command(context.Background(), "stdbuf", append([]string{"-oL", bin}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", bin, d.log.String())
		}
	})
	proto := "-Hlun"
	if tcp {
		proto = "-Hltn"
	}
	for i := 0; i < 200; i++ {
		select {
		case <-done:
			t.Fatalf("%s exited at start: %s", bin, d.log.String())
		default:
		}
		out, _ := host.Try("ss", proto, "sport = :1229")
		if strings.Contains(out, ":1229") {
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not bind port 1229: %s", bin, d.log.String())
	return nil
}

// runClient runs a fence client in host and returns its exit status and stdout+stderr.
func runClient(t *testing.T, host *nettest.Host, stdin string, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := host.Command(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return 0, out.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mcastConf is a fence_virt.conf for a multicast listener on eth0 with the libvirt test driver.
func mcastConf(keyFile, family, extra string) string {
	return fmt.Sprintf(`fence_virtd { listener = "multicast"; backend = "libvirt"; module_path = "/usr/lib/x86_64-linux-gnu/fence-virt"; }
listeners { multicast { key_file = "%s"; interface = "eth0"; family = "%s"; %s } }
backends { libvirt { uri = "test:///default"; } }
`, keyFile, family, extra)
}
