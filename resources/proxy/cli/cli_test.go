package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeCfg(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckMode(t *testing.T) {
	dir := t.TempDir()
	good := writeCfg(t, dir, "good.cfg", "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten l\n    bind 127.0.0.1:9\n    server s 127.0.0.1:80\n")
	warn := writeCfg(t, dir, "warn.cfg", "listen l\n    bind 127.0.0.1:9\n    server s 127.0.0.1:80\n")
	bad := writeCfg(t, dir, "bad.cfg", "backend b\n    balanse roundrobin\n")
	nolisten := writeCfg(t, dir, "nol.cfg", "defaults\n    mode http\nbackend b\n    server s 127.0.0.1:80\n")
	sub := filepath.Join(dir, "conf.d")
	_ = os.Mkdir(sub, 0o755)
	writeCfg(t, sub, "10-defaults.cfg", "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n")
	writeCfg(t, sub, "20-listen.cfg", "listen l\n    bind 127.0.0.1:9\n    server s 127.0.0.1:80\n")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"valid", []string{"-c", "-f", good}, 0, "Configuration file is valid\n", ""},
		{"warnings", []string{"-c", "-f", warn}, 0, "Warnings were found.\nConfiguration file is valid\n", "missing timeouts for proxy 'l'"},
		{"errors", []string{"-c", "-f", bad}, 1, "", "parsing [" + bad + ":2] : unknown keyword 'balanse' in 'backend' section; did you mean 'balance' maybe ?"},
		{"no listener", []string{"-c", "-f", nolisten}, 2, "Warnings were found.\nConfiguration file has no error but will not start (no listener) => exit(2).\n", ""},
		{"directory", []string{"-c", "-f", sub}, 0, "Configuration file is valid\n", ""},
		{"quiet", []string{"-c", "-q", "-f", good}, 0, "", ""},
		{"version", []string{"-v"}, 0, "HAProxy version 2.6.12-duet", ""},
		{"cond true", []string{"-cc", "version_atleast(2.4) && defined(HOME)"}, 0, "", ""},
		{"cond false", []string{"-cc", "streq(a,b)"}, 1, "", ""},
		{"unknown flag", []string{"-Z"}, 1, "", "unknown option '-Z'"},
		{"missing file", []string{"-c", "-f", filepath.Join(dir, "nope.cfg")}, 1, "", "no such file"},
		{"no args", nil, 1, "", "Usage"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", tc.name, code, tc.code, errb.String())
		}
		if tc.stdout != "" && !strings.HasPrefix(out.String(), tc.stdout) || tc.stdout == "" && tc.name == "quiet" && out.Len() > 0 {
			t.Errorf("%s: stdout %q, want %q", tc.name, out.String(), tc.stdout)
		}
		if tc.stderr != "" && !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("%s: stderr %q, want it to contain %q", tc.name, errb.String(), tc.stderr)
		}
	}
}

func TestRunAndStop(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pidfile := filepath.Join(dir, "p.pid")
	cfg := writeCfg(t, dir, "run.cfg", fmt.Sprintf("defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:%d\n    monitor-uri /alive\n", port))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- Main(ctx, []string{"-db", "-q", "-f", cfg, "-p", pidfile}, &out, &errb) }()
	up := false
	for i := 0; i < 200 && !up; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			fmt.Fprintf(c, "GET /alive HTTP/1.0\r\n\r\n")
			buf := make([]byte, 64)
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			n, _ := c.Read(buf)
			c.Close()
			up = strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200")
		}
		if !up {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !up {
		t.Errorf("proxy did not answer its monitor-uri")
	}
	if b, err := os.ReadFile(pidfile); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("pidfile %q %v", b, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}
