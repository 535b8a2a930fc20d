// Package clustertest runs real clusterd processes in the namespace topology of DESIGN.md section 6 for
// root integration tests: it builds the binaries once, starts each node's clusterd under ip netns exec,
// talks to it through the typed client on its unix socket, and can SIGKILL a node, pull its cable, or
// partition two nodes with nftables. Everything is stopped and deleted by t.Cleanup.
package clustertest

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

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/client"
	"github.com/duet-ha/duet/internal/nettest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds Duet's commands once per test process and returns the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "duet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/clusterd", "./cmd/crm", "./cmd/crm_mon", "./cmd/fence_virtd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		binDir = dir
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// RemoveBinaries deletes what Binaries built; a TestMain calls it after the tests.
func RemoveBinaries() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// Node is one clusterd in its namespace.
type Node struct {
	Name    string
	Host    *nettest.Host
	Dir     string // data dir, socket and log live here
	Args    []string
	Witness bool

	c       *Cluster
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	log     *bytes.Buffer
}

// Cluster is a set of nodes sharing a key.
type Cluster struct {
	T     testing.TB
	Topo  *nettest.Topology
	Nodes []*Node
	Key   string
	Bin   string
	Extra []string // extra clusterd flags for every node
	// FenceKey is the fence_xvm key file when Options.Fence is set.
	FenceKey string
}

// Options shape a cluster.
type Options struct {
	Nodes   int  // cluster nodes (default 2): n1, n2, ...
	Witness bool // add a witness w
	// Fence runs Duet's fence_virtd with the netns backend on a fence host (10.250.0.1) whose domains are
	// the node names; FenceKey is then the key file a stonith:fence_xvm primitive needs.
	Fence bool
	Extra []string
}

// New builds the topology (nodes at 10.250.0.11, .12, ...; a client at .250, the witness at .5) and
// prepares (does not start) the nodes.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	bin := Binaries(t)
	topo := nettest.New(t)
	dir := t.TempDir()
	c := &Cluster{T: t, Topo: topo, Key: filepath.Join(dir, "cluster.key"), Bin: bin, Extra: o.Extra}
	if err := os.WriteFile(c.Key, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	type spec struct {
		name, ip string
		witness  bool
	}
	var specs []spec
	for i := 1; i <= o.Nodes; i++ {
		specs = append(specs, spec{fmt.Sprintf("n%d", i), fmt.Sprintf("10.250.0.%d", 10+i), false})
	}
	if o.Witness {
		specs = append(specs, spec{"w", "10.250.0.5", true})
	}
	if o.Fence {
		c.startFenceDaemon(dir)
	}
	for _, s := range specs {
		h := topo.AddHost(s.name, s.ip+"/24")
		nd := filepath.Join(dir, s.name)
		if err := os.MkdirAll(nd, 0o700); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, &Node{Name: s.name, Host: h, Dir: nd, Witness: s.witness, c: c})
	}
	for _, n := range c.Nodes {
		args := []string{"--name", n.Name, "--bind", n.Host.IP(), "--data-dir", filepath.Join(n.Dir, "data"),
			"--key-file", c.Key, "--socket", n.Socket(), "--log-level", "debug"}
		if n.Witness {
			args = append(args, "--witness")
		}
		for _, p := range c.Nodes {
			if p == n {
				continue
			}
			spec := p.Name + "=" + p.Host.IP()
			if p.Witness {
				spec += ",witness"
			}
			args = append(args, "--peer", spec)
		}
		n.Args = append(args, c.Extra...)
	}
	t.Cleanup(c.stopAll)
	return c
}

// Node returns the named node.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.T.Fatalf("no node %s", name)
	return nil
}

// Socket is the node's API socket.
func (n *Node) Socket() string { return filepath.Join(n.Dir, "clusterd.sock") }

// Client returns a client for the node's API.
func (n *Node) Client() *client.Client { return client.New(n.Socket()) }

// Start starts clusterd; it fails the test if the process cannot be started.
func (n *Node) Start() {
	n.c.T.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.c.T.Fatalf("%s already running", n.Name)
	}
	n.log = &bytes.Buffer{}
	// Each node gets a private /run (ip netns exec already gives it a mount namespace), as a separate machine
	// has: OCF agents keep their state and pid files there.
	args := append([]string{"-c", `mount -t tmpfs duet-run /run && mkdir -p /run/resource-agents && exec "$@"`, "sh", filepath.Join(n.c.Bin, "clusterd")}, n.Args...)
	cmd := n.Host.Command(context.Background(), "sh", args...)
	logf, err := os.OpenFile(filepath.Join(n.Dir, "clusterd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.c.T.Fatal(err)
	}
	cmd.Stdout = logf
	cmd.Stderr = &teeWriter{a: logf, b: n.log, mu: &n.mu}
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.c.T.Fatalf("start %s: %v", n.Name, err)
	}
	n.cmd = cmd
	done := make(chan struct{})
	n.done = done
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(done)
	}()
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
	mu   *sync.Mutex
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
	return w.a.Write(p)
}

// Log returns what the current or last clusterd process wrote to stderr.
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.log == nil {
		return ""
	}
	return n.log.String()
}

// Running reports whether the node's clusterd process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Wait waits for the process to exit and returns its exit error (nil for status 0).
func (n *Node) Wait(timeout time.Duration) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return fmt.Errorf("%s was not started", n.Name)
	}
	select {
	case <-done:
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", n.Name, timeout)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.exitErr
	n.cmd, n.done = nil, nil
	return err
}

// Kill sends SIGKILL and reaps the process.
func (n *Node) Kill() { n.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits for a clean exit.
func (n *Node) Stop() {
	n.c.T.Helper()
	if err := n.signal(syscall.SIGTERM, 2*time.Minute); err != nil {
		n.c.T.Errorf("%s: clean stop: %v", n.Name, err)
	}
}

func (n *Node) signal(sig syscall.Signal, timeout time.Duration) error {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	return n.Wait(timeout)
}

// SetLink sets the node's cable up or down.
func (n *Node) SetLink(up bool) {
	n.c.T.Helper()
	if err := n.Host.SetLink(up); err != nil {
		n.c.T.Fatalf("link %s: %v", n.Name, err)
	}
}

func (c *Cluster) stopAll() {
	for _, n := range c.Nodes {
		n.Kill()
	}
	if c.T.Failed() {
		for _, n := range c.Nodes {
			b, _ := os.ReadFile(filepath.Join(n.Dir, "clusterd.log"))
			lines := strings.Split(string(b), "\n")
			var keep []string
			for _, l := range lines {
				if !strings.Contains(l, "level=DEBUG") || strings.Contains(l, "msg=raft") {
					keep = append(keep, l)
				}
			}
			if len(keep) > 80 {
				keep = keep[len(keep)-80:]
			}
			c.T.Logf("---- %s clusterd log (last lines, without debug) ----\n%s", n.Name, strings.Join(keep, "\n"))
		}
	}
}

// Start starts every node.
func (c *Cluster) Start() {
	for _, n := range c.Nodes {
		n.Start()
	}
}

// Status asks a node for its status; it returns nil when the node does not answer.
func (n *Node) Status() *api.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := n.Client().Status(ctx)
	if err != nil {
		return nil
	}
	return st
}

// WaitFor polls cond on the node's status until it holds or timeout passes, failing the test with the
// last status and what was expected.
func (n *Node) WaitFor(timeout time.Duration, what string, cond func(*api.Status) bool) *api.Status {
	n.c.T.Helper()
	deadline := time.Now().Add(timeout)
	var last *api.Status
	for time.Now().Before(deadline) {
		if st := n.Status(); st != nil {
			last = st
			if cond(st) {
				return st
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.c.T.Fatalf("%s: %s: not reached in %s; last status: %s", n.Name, what, timeout, brief(last))
	return nil
}

func brief(st *api.Status) string {
	if st == nil {
		return "(no answer)"
	}
	var nodes []string
	for _, n := range st.Nodes {
		nodes = append(nodes, fmt.Sprintf("%s online=%v standby=%v", n.Name, n.Online, n.Standby))
	}
	return fmt.Sprintf("dc=%q quorate=%v epoch=%d nodes=[%s] notices=%v", st.DC, st.Quorum.Quorate, st.CIB.Epoch, strings.Join(nodes, "; "), st.Notices)
}

// WaitDC waits until the node reports a DC (any, when dc is "") with quorum.
func (n *Node) WaitDC(timeout time.Duration, dc string) *api.Status {
	n.c.T.Helper()
	return n.WaitFor(timeout, "DC "+dc+" with quorum", func(st *api.Status) bool {
		return st.DC != "" && (dc == "" || st.DC == dc) && st.Quorum.Quorate
	})
}

// Crm runs the crm command against the node and returns its combined output and exit code.
func (n *Node) Crm(args ...string) (string, int) {
	cmd := exec.Command(filepath.Join(n.c.Bin, "crm"), append([]string{"--socket", n.Socket()}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

// MustCrm runs crm and fails the test on a non-zero exit.
func (n *Node) MustCrm(args ...string) string {
	n.c.T.Helper()
	out, code := n.Crm(args...)
	if code != 0 {
		n.c.T.Fatalf("crm %s on %s: exit %d\n%s", strings.Join(args, " "), n.Name, code, out)
	}
	return out
}

// Partition drops all traffic between a and b with nftables rules inside both namespaces (each still
// reaches every other host). Heal removes the rules.
func (c *Cluster) Partition(a, b *Node) {
	c.T.Helper()
	for _, pair := range [][2]*Node{{a, b}, {b, a}} {
		rules := fmt.Sprintf(`table inet duetpart {
  chain in { type filter hook input priority 0; ip saddr %s drop; }
  chain out { type filter hook output priority 0; ip daddr %s drop; }
}`, pair[1].Host.IP(), pair[1].Host.IP())
		cmd := pair[0].Host.Command(context.Background(), "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			c.T.Fatalf("partition %s from %s: %v\n%s", pair[0].Name, pair[1].Name, err, out)
		}
	}
}

// Heal removes the partition rules.
func (c *Cluster) Heal(a, b *Node) {
	c.T.Helper()
	for _, n := range []*Node{a, b} {
		if out, err := n.Host.Try("nft", "delete", "table", "inet", "duetpart"); err != nil {
			c.T.Fatalf("heal %s: %v\n%s", n.Name, err, out)
		}
	}
}

// startFenceDaemon runs fence_virtd (netns backend) on host fv; it is stopped by t.Cleanup.
func (c *Cluster) startFenceDaemon(dir string) {
	c.T.Helper()
	fv := c.Topo.AddHost("fv", "10.250.0.1/24")
	c.FenceKey = filepath.Join(dir, "fence_xvm.key")
	if err := os.WriteFile(c.FenceKey, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		c.T.Fatal(err)
	}
	conf := filepath.Join(dir, "fence_virt.conf")
	text := fmt.Sprintf("fence_virtd { listener = \"multicast\"; backend = \"netns\"; }\n"+
		"listeners { multicast { key_file = \"%s\"; interface = \"eth0\"; } }\n"+
		"backends { netns { prefix = \"%s-\"; } }\n", c.FenceKey, c.Topo.Prefix())
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		c.T.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "fence_virtd.log"))
	if err != nil {
		c.T.Fatal(err)
	}
	cmd := fv.Command(context.Background(), filepath.Join(c.Bin, "fence_virtd"), "-F", "-f", conf, "-p", filepath.Join(dir, "fence_virtd.pid"), "-d", "1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.T.Fatalf("start fence_virtd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	c.T.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if c.T.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "fence_virtd.log"))
			c.T.Logf("---- fence_virtd log ----\n%s", b)
		}
	})
}

// InNodeMounts runs a command in the node's namespaces as clusterd sees them (its private /run included).
func (n *Node) InNodeMounts(args ...string) (string, error) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return "", fmt.Errorf("%s is not running", n.Name)
	}
	full := append([]string{"-t", fmt.Sprint(cmd.Process.Pid), "-m", "-n", "--"}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}
