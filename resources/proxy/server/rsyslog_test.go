package server

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogsThroughRsyslog sends httplog lines to a real rsyslogd (private config, started as a child and killed by
// PID) and checks that rsyslog parses haproxy's header: program, pid, facility, severity and message.
func TestLogsThroughRsyslog(t *testing.T) {
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/rsyslogd")
		if err != nil {
			t.Skip("rsyslog not installed (scripts/deps.sh)")
		}
	}
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	out := filepath.Join(dir, "out.log")
	conf := fmt.Sprintf(`global(workDirectory="%s")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d")
template(name="fields" type="string" string="%%programname%%|%%procid%%|%%syslogfacility-text%%|%%syslogseverity-text%%|%%msg%%\n")
*.* action(type="omfile" file="%s" template="fields")
`, dir, port, out)
	cf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-f", cf, "-i", filepath.Join(dir, "rsyslog.pid"))
	logf, _ := os.Create(filepath.Join(dir, "rsyslogd.out"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	b := startBackend(t, "s1")
	p := freePort(t)
	startProxy(t, `global
    log 127.0.0.1:{L} local0 info
`+strings.TrimPrefix(defaults, "global\n    maxconn 200\n")+`
    log global
listen web
    bind 127.0.0.1:{P}
    option httplog
    server s1 127.0.0.1:{B}
`, map[string]any{"P": p, "B": b.port, "L": port})
	// rsyslog may take a moment to open its UDP input: send requests until a line arrives (bounded).
	var got string
	for i := 0; i < 100 && got == ""; i++ {
		get(t, fmt.Sprintf("http://127.0.0.1:%d/rsyslog", p))
		time.Sleep(50 * time.Millisecond)
		if data, err := os.ReadFile(out); err == nil && len(data) > 0 {
			got = strings.SplitN(string(data), "\n", 2)[0]
		}
	}
	if got == "" {
		o, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.out"))
		t.Fatalf("rsyslog wrote nothing; rsyslogd said: %s", o)
	}
	f := strings.SplitN(got, "|", 5)
	if len(f) != 5 || f[0] != "haproxy" || f[1] != fmt.Sprint(os.Getpid()) || f[2] != "local0" || f[3] != "info" ||
		!strings.Contains(f[4], " web web/s1 ") || !strings.HasSuffix(f[4], `"GET /rsyslog HTTP/1.1"`) {
		t.Errorf("rsyslog parsed %q", got)
	}
}
