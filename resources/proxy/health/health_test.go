package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestStateRiseFall(t *testing.T) {
	s := NewState(2, 3)
	steps := []struct {
		ok      bool
		changed bool
		status  string
	}{
		{true, false, "UP 2/3"}, {true, false, "UP"}, {false, false, "UP 2/3"}, {false, false, "UP 1/3"},
		{false, true, "DOWN"}, {true, false, "DOWN 1/2"}, {false, false, "DOWN"}, {true, false, "DOWN 1/2"}, {true, true, "UP"},
	}
	for i, st := range steps {
		if got := s.Record(Result{OK: st.ok}); got != st.changed {
			t.Errorf("step %d: changed = %v, want %v", i, got, st.changed)
		}
		if got := s.StatusText(); got != st.status {
			t.Errorf("step %d: status %q, want %q", i, got, st.status)
		}
	}
	down := NewState(1, 1)
	down.Record(Result{})
	if got := down.Interval(2*time.Second, time.Second, 5*time.Second); got != 5*time.Second {
		t.Errorf("down interval %v", got)
	}
	tr := NewState(2, 3)
	if got := tr.Interval(2*time.Second, time.Second, 5*time.Second); got != time.Second {
		t.Errorf("transitional interval %v", got)
	}
}

func TestExpect(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nX-State: ready, warm\r\n\r\nall good here"
	for _, tc := range []struct {
		e    config.Expect
		code int
		want bool
	}{
		{config.Expect{Match: "status", Pattern: "200"}, 200, true},
		{config.Expect{Match: "status", Pattern: "200,300-399"}, 302, true},
		{config.Expect{Match: "status", Pattern: "200"}, 500, false},
		{config.Expect{Match: "status", Pattern: "200", Negate: true}, 500, true},
		{config.Expect{Match: "rstatus", Pattern: "^2"}, 204, true},
		{config.Expect{Match: "string", Pattern: "good"}, 200, true},
		{config.Expect{Match: "rstring", Pattern: "g[o]+d h"}, 200, true},
		{config.Expect{Match: "string", Pattern: "bad"}, 200, false},
		{config.Expect{Match: "hdr", HdrName: "x-state", HdrValue: "warm"}, 200, true},
		{config.Expect{Match: "fhdr", HdrName: "x-state", HdrValue: "ready, warm"}, 200, true},
		{config.Expect{Match: "hdr", HdrName: "x-missing"}, 200, false},
	} {
		if got, _ := expect(&tc.e, tc.code, resp); got != tc.want {
			t.Errorf("expect %+v on %d = %v, want %v", tc.e, tc.code, got, tc.want)
		}
	}
}

// serveOnce answers each connection with the given bytes.
func serveOnce(t *testing.T, reply string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if reply != "" && !strings.HasPrefix(reply, "\n") {
				_, _ = c.Read(buf)
			}
			_, _ = io.WriteString(c, strings.TrimPrefix(reply, "\n"))
			c.Close()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); wg.Wait() }
}

func TestRunChecks(t *testing.T) {
	ok200, stop1 := serveOnce(t, "HTTP/1.0 200 OK\r\n\r\nfine")
	defer stop1()
	err500, stop2 := serveOnce(t, "HTTP/1.0 500 Oops\r\n\r\n")
	defer stop2()
	nf, stop5 := serveOnce(t, "HTTP/1.0 404 Not Found\r\n\r\n")
	defer stop5()
	junk, stop3 := serveOnce(t, "SSH-2.0-nope\r\n")
	defer stop3()
	banner, stop4 := serveOnce(t, "\nSSH-2.0-nope\r\n")
	defer stop4()
	closed := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	httpchk := config.CheckConfig{Kind: config.CheckHTTP, Method: "GET", URI: "/h", Version: "HTTP/1.0"}
	tgt := func(a string) Target { return Target{Addr: a, ConnectTimeout: time.Second, ReadTimeout: time.Second} }
	for _, tc := range []struct {
		name   string
		cc     config.CheckConfig
		addr   string
		status Status
		code   int
	}{
		{"tcp ok", config.CheckConfig{}, ok200, L4OK, 0},
		{"tcp refused", config.CheckConfig{}, closed, L4CON, 0},
		{"http 200", httpchk, ok200, L7OK, 200},
		{"http 500", httpchk, err500, L7STS, 500},
		{"http junk", httpchk, junk, L7RSP, 0},
		{"http expect string", config.CheckConfig{Kind: config.CheckHTTP, Expect: &config.Expect{Match: "string", Pattern: "fine"}}, ok200, L7OK, 200},
		{"http expect miss", config.CheckConfig{Kind: config.CheckHTTP, Expect: &config.Expect{Match: "string", Pattern: "nope"}}, ok200, L7RSP, 200},
		{"mysql junk", config.CheckConfig{Kind: config.CheckMySQL}, banner, L7RSP, 0},
		{"http 404", httpchk, nf, L7STS, 404},
		{"disable-on-404", config.CheckConfig{Kind: config.CheckHTTP, DisableOn404: true}, nf, L7OKC, 404},
	} {
		r := Run(context.Background(), tc.cc, tgt(tc.addr), nil)
		if r.Status != tc.status || r.Code != tc.code || r.OK != (tc.status == L4OK || tc.status == L7OK || tc.status == L7OKC) {
			t.Errorf("%s: %+v, want %s/%d", tc.name, r, tc.status, tc.code)
		}
	}
}

// TestMySQLCheckAgainstMariaDB starts a private mariadbd (datadir in t.TempDir, killed by PID afterwards) and runs
// option mysql-check with and without a user.
func TestMySQLCheckAgainstMariaDB(t *testing.T) {
	mysqld, err1 := exec.LookPath("mariadbd")
	if err1 != nil {
		mysqld, err1 = exec.LookPath("/usr/sbin/mariadbd")
	}
	install, err2 := exec.LookPath("mariadb-install-db")
	client, err3 := exec.LookPath("mariadb")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Skip("mariadb-server not installed (scripts/deps.sh)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "mysqld.sock")
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"}
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, user...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, _ := os.Create(filepath.Join(dir, "mysqld.log"))
	defer logf.Close()
	margs := append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + sock, "--port=" + fmt.Sprint(port),
		"--bind-address=127.0.0.1", "--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--log-error=" + filepath.Join(dir, "error.log")}, user...)
	cmd := exec.Command(mysqld, margs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	up := false
	for i := 0; i < 300 && !up; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			up = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !up {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("mariadbd did not listen: %s", b)
	}
	sql := "CREATE USER 'haproxy'@'127.0.0.1'; FLUSH PRIVILEGES;"
	if out, err := exec.Command(client, "--no-defaults", "-S", sock, "-uroot", "-e", sql).CombinedOutput(); err != nil {
		t.Fatalf("create user: %v\n%s", err, out)
	}
	tgt := Target{Addr: addr, ConnectTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second}
	for _, tc := range []struct {
		name   string
		cc     config.CheckConfig
		status Status
	}{
		{"greeting only", config.CheckConfig{Kind: config.CheckMySQL}, L7OK},
		{"user haproxy", config.CheckConfig{Kind: config.CheckMySQL, MySQLUser: "haproxy", MySQLPost41: true}, L7OK},
		{"unknown user", config.CheckConfig{Kind: config.CheckMySQL, MySQLUser: "nobody", MySQLPost41: true}, L7STS},
	} {
		r := Run(context.Background(), tc.cc, tgt, nil)
		if r.Status != tc.status {
			t.Errorf("%s: %+v, want %s", tc.name, r, tc.status)
		}
		if tc.status == L7STS && r.Code != 1045 {
			t.Errorf("%s: MySQL error code %d, want 1045 (access denied)", tc.name, r.Code)
		}
	}
}
