// Package daemon is clusterd's composition root: it owns the gossip layer, the Raft instance, the replicated
// store, the API servers and every goroutine they need, and runs the one loop that turns membership and
// Raft events into decisions (two-node takeover, fencing, rejoin after a split). Run blocks until its context
// ends and returns only after everything it started has stopped.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/builtin"
	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/client"
	"github.com/duet-ha/duet/cluster/config"
	"github.com/duet-ha/duet/cluster/membership"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/cluster/transport"
	"github.com/duet-ha/duet/quorum"
	"github.com/duet-ha/duet/resources/executor"
)

// Fencer is the seam where STONITH plugs in: Fence powers a node off (or reboots it) and returns only when
// that is confirmed. clusterd never recovers a lost node's resources while stonith-enabled=true and its
// fence has not succeeded.
type Fencer interface {
	Fence(ctx context.Context, node string, action string) error
}

// Daemon is one clusterd.
type Daemon struct {
	cfg    config.Config
	log    *slog.Logger
	store  *store.Store
	fencer Fencer
	incarn int64
	rpc    *http.Client // node-to-node, over the authenticated transport

	mux  *transport.Mux
	ml   *membership.Membership
	reg  *agents.Registry
	exec *executor.Executor

	mu          sync.Mutex // guards everything below
	rn          *raftNode
	fresh       bool // Raft state wiped: waiting for the leader to add this node
	alive       map[string]membership.Meta
	seenAll     bool
	everQuorate bool
	verdict     quorum.Verdict
	meta        membership.Meta
	notices     map[string]string // key -> text
	lostAt      map[string]time.Time
	fenced      map[string]bool // lost peers whose fence succeeded (cleared when they return)
	fencing     map[string]bool // fence in flight
	timeline    *store.Timeline // the failover being recorded
	viewChanged chan struct{}
	dcCancel    context.CancelFunc // stops the DC loop while this node leads
	dcDone      chan struct{}
	nqStopped   bool            // resources were stopped for lack of quorum
	runCtx      context.Context // Run's context: goroutines started outside the loop end with it
	leaving     bool            // a clean stop is under way: announced so that peers need not fence this node
	lastMeta    map[string]membership.Meta
	// pendingFences are fence results not yet in the replicated history.
	pendingFences []store.FenceEvent

	wake chan struct{}
	wg   sync.WaitGroup // goroutines started by the loop (fencing) and by the report queue

	reports *reportQueue // monitor reports on their way to the replicated status
}

// New prepares a daemon; nothing runs until Run.
func New(cfg config.Config, log *slog.Logger) *Daemon {
	d := &Daemon{
		cfg: cfg, log: log.With("node", cfg.NodeName), store: store.New(),
		incarn: time.Now().UnixMilli(), alive: map[string]membership.Meta{}, notices: map[string]string{},
		lostAt: map[string]time.Time{}, lastMeta: map[string]membership.Meta{}, fenced: map[string]bool{}, fencing: map[string]bool{},
		viewChanged: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	d.fencer = stonith{d: d}
	d.rpc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return transport.Dial(ctx, addr, cfg.Key, transport.ChannelRPC)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}, Timeout: 30 * time.Second}
	return d
}

// SetFencer installs the STONITH implementation; call before Run.
func (d *Daemon) SetFencer(f Fencer) { d.fencer = f }

func (d *Daemon) raftAddr(ip string) string {
	return net.JoinHostPort(ip, strconv.Itoa(d.cfg.RaftPort))
}

func (d *Daemon) bootstrapServers() []raft.Server {
	var out []raft.Server
	for _, m := range d.cfg.Members() {
		out = append(out, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(d.raftAddr(m.Addr))})
	}
	return out
}

// Run starts everything, serves until ctx ends, then stops everything and waits for it. An error means the
// daemon could not start (or its API socket failed).
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.preflight(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.runCtx = ctx
	d.mu.Unlock()
	if err := d.startAgents(); err != nil {
		return err
	}
	defer d.reg.Close()
	mux, err := transport.Listen(d.raftAddr(d.cfg.BindAddr), d.cfg.Key, d.log)
	if err != nil {
		return err
	}
	d.mux = mux
	defer mux.Close()

	rn, err := openRaft(d.cfg.DataDir, d.cfg.NodeName, d.store, mux, d.timers(), d.bootstrapServers(), false, d.log)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.rn = rn
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		rn := d.rn
		d.mu.Unlock()
		// A snapshot on a clean stop lets the next start show the CIB at once, before any leader exists.
		if err := rn.r.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			d.log.Debug("snapshot before stop", "err", err)
		}
		if err := rn.shutdown(); err != nil {
			d.log.Warn("raft shutdown", "err", err)
		}
	}()

	d.refreshMeta()
	var peers []string
	for _, p := range d.cfg.Peers {
		peers = append(peers, net.JoinHostPort(p.Addr, strconv.Itoa(d.cfg.GossipPort)))
	}
	ml, err := membership.Start(membership.Config{
		Name: d.cfg.NodeName, BindAddr: d.cfg.BindAddr, Port: d.cfg.GossipPort, Key: d.cfg.Key,
		ProbeInterval: d.cfg.ProbeInterval, SuspicionMult: d.cfg.SuspicionMult, Log: d.log,
		Meta: func() membership.Meta { d.mu.Lock(); defer d.mu.Unlock(); return d.meta },
	}, peers)
	if err != nil {
		return err
	}
	d.ml = ml
	// Leave gracefully only on a clean stop: the peer then knows at once instead of waiting for probes.
	defer ml.Stop(true)

	sock, err := listenUnix(d.cfg.Socket)
	if err != nil {
		return err
	}
	srvCtx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	apiSrv := &http.Server{Handler: api.NewHandler(d, false), BaseContext: func(net.Listener) context.Context { return srvCtx }}
	rpcSrv := &http.Server{Handler: api.NewHandler(d, true), BaseContext: func(net.Listener) context.Context { return srvCtx }}
	d.wg.Add(2)
	go func() { defer d.wg.Done(); _ = apiSrv.Serve(sock) }()
	go func() { defer d.wg.Done(); _ = rpcSrv.Serve(mux.RPCListener()) }()

	d.log.Info("clusterd started", "bind", d.cfg.BindAddr, "peers", len(d.cfg.Peers), "two_node", d.cfg.TwoNodeMode(),
		"wait_for_all", d.cfg.WaitForAllMode(), "witness", d.cfg.Witness)
	d.loop(ctx)

	// A clean stop: no more DC work, resources stopped here (pacemaker stops a node's resources before it
	// leaves), then the graceful leave tells the peer at once that it may take over without fencing.
	d.stopDC()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 2*time.Minute)
	if !d.cfg.Witness {
		d.stopLocalResources(stopCtx, "clusterd is stopping")
	}
	cancelStop()
	d.exec.Close()
	// Tell the peers this is a clean stop before leaving (memberlist's own leave notice does not reach
	// the event delegate as "left"), so that they take over without fencing.
	d.mu.Lock()
	d.leaving = true
	d.mu.Unlock()
	d.refreshMeta()
	d.ml.AnnounceNow(500 * time.Millisecond)
	stopServers()
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = apiSrv.Shutdown(shutCtx)
	_ = rpcSrv.Shutdown(shutCtx)
	_ = apiSrv.Close()
	_ = rpcSrv.Close()
	d.wg.Wait()
	d.rpc.CloseIdleConnections()
	_ = os.Remove(d.cfg.Socket)
	d.log.Info("clusterd stopped")
	return nil
}

// startAgents builds the agent registry and the executor.
func (d *Daemon) startAgents() error {
	opts, err := builtin.Options(builtin.Config{Logger: d.log})
	if err != nil {
		return err
	}
	d.reg = agents.NewRegistry(opts)
	if err := d.reg.RegisterName("stonith:fence_xvm", newStonithAgent()); err != nil {
		return err
	}
	d.reports = newReportQueue(d.deliverReport, 250*time.Millisecond, &d.wg)
	d.exec = executor.New(d.cfg.NodeName, d.reg, d.log, d.onMonitorReport)
	return nil
}

func (d *Daemon) timers() raftTimers { return raftTimers{heartbeat: d.cfg.RaftHeartbeat} }

// preflight checks what would otherwise fail late and obscurely: the data dir, and whether a reachable peer
// holds the same cluster key (a peer that answers the handshake with another key stops this node at once).
func (d *Daemon) preflight(ctx context.Context) error {
	if err := os.MkdirAll(d.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	for _, p := range d.cfg.Peers {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := transport.Dial(cctx, d.raftAddr(p.Addr), d.cfg.Key, transport.ChannelRPC)
		cancel()
		if errors.Is(err, transport.ErrWrongKey) {
			return fmt.Errorf("peer %s (%s) refused this node: %w; check key_file %s on both nodes", p.Name, d.raftAddr(p.Addr), err, d.cfg.KeyFile)
		}
		if err == nil {
			conn.Close()
		}
	}
	return nil
}

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("socket %s: another clusterd is running", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return ln, nil
}

// Changed implements api.Backend: the channel closes at the next change of the membership view, of the
// daemon's own state, or of the replicated store (the loop relays store changes).
func (d *Daemon) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.viewChanged
}

func (d *Daemon) viewChangedLocked() {
	close(d.viewChanged)
	d.viewChanged = make(chan struct{})
}

// Status implements api.Backend.
func (d *Daemon) Status() api.Status {
	st := d.store.View()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := api.Status{
		Node: d.cfg.NodeName, Version: api.Version, Stack: "duet", LastUpdated: time.Now(),
		Quorum: d.verdict, CIB: st.CIB, Store: st.Status,
	}
	if d.rn != nil {
		_, id := d.rn.r.LeaderWithID()
		s.DC = string(id)
	}
	var voters []string
	if d.rn != nil {
		for _, srv := range d.rn.servers() {
			voters = append(voters, string(srv.ID))
		}
	}
	for i, m := range d.cfg.Members() {
		ns := api.NodeStatus{Name: m.Name, ID: i + 1, Witness: m.Witness, DC: m.Name == s.DC}
		_, alive := d.alive[m.Name]
		ns.Online = m.Name == d.cfg.NodeName || alive
		if n, ok := st.CIB.Node(m.Name); ok {
			ns.Standby = n.Standby()
			ns.Maintenance = cib.IsTrue(n.Attributes["maintenance"])
		}
		if !ns.Online && cib.IsTrue(st.CIB.Property("stonith-enabled")) && !d.fenced[m.Name] && !d.lostAt[m.Name].IsZero() {
			ns.Unclean = true
		}
		if ns.Online && len(voters) > 0 && !slices.Contains(voters, m.Name) {
			ns.Pending = true
		}
		if m.Name == d.cfg.NodeName && d.fresh {
			ns.Pending = true
		}
		s.Nodes = append(s.Nodes, ns)
	}
	for _, k := range cib.SortedKeys(d.notices) {
		s.Notices = append(s.Notices, d.notices[k])
	}
	return s
}

// Submit implements api.Backend: apply on the DC, or forward to it.
func (d *Daemon) Submit(ctx context.Context, cmd store.Command, forwarded bool) (api.CommandResult, error) {
	d.mu.Lock()
	rn := d.rn
	d.mu.Unlock()
	if cmd.Change.Node == "" {
		cmd.Change.Node = d.cfg.NodeName
	}
	if cmd.Change.When.IsZero() {
		cmd.Change.When = time.Now().UTC().Truncate(time.Millisecond)
	}
	if cmd.Kind == store.ConfirmDown {
		return d.confirmDown(cmd.Node)
	}
	if rn.r.State() == raft.Leader {
		b, err := cmd.Encode()
		if err != nil {
			return api.CommandResult{}, &api.StatusError{Code: http.StatusBadRequest, Err: err}
		}
		f := rn.r.Apply(b, 5*time.Second)
		if err := f.Error(); err != nil {
			return api.CommandResult{}, &api.StatusError{Code: http.StatusServiceUnavailable, Err: fmt.Errorf("commit on DC %s: %w", d.cfg.NodeName, err)}
		}
		res, _ := f.Response().(store.Result)
		if res.Err != nil {
			code := http.StatusBadRequest
			if errors.Is(res.Err, store.ErrConflict) {
				code = http.StatusConflict
			}
			return api.CommandResult{Epoch: res.Epoch, DC: d.cfg.NodeName, Index: f.Index()}, &api.StatusError{Code: code, Err: res.Err}
		}
		if forwarded {
			// The node that forwarded the change answers only once it has applied the change itself, and a
			// follower learns that an entry is committed from the next entry the DC sends it (or after
			// CommitTimeout, 50-100 ms, when nothing else comes). A barrier is that next entry; nothing
			// waits for it here.
			_ = rn.r.Barrier(0)
		}
		return api.CommandResult{Epoch: res.Epoch, DC: d.cfg.NodeName, Index: f.Index()}, nil
	}
	if forwarded {
		return api.CommandResult{}, &api.StatusError{Code: http.StatusServiceUnavailable, Err: fmt.Errorf("%s is not the DC any more; retry", d.cfg.NodeName)}
	}
	addr, id := rn.r.LeaderWithID()
	if addr == "" {
		return api.CommandResult{}, &api.StatusError{Code: http.StatusServiceUnavailable, Err: errors.New("no DC elected: the change cannot be committed now (is the cluster quorate? see crm status)")}
	}
	res, err := client.NewHTTP(d.rpc, "http://"+string(addr)).Forward(ctx, cmd)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			return res, &api.StatusError{Code: ce.Code, Err: errors.New(ce.Message)}
		}
		return res, &api.StatusError{Code: http.StatusBadGateway, Err: fmt.Errorf("forward to DC %s: %w", id, err)}
	}
	// Read your writes: answer only once this node has applied the change too, so that the next read
	// here (crm's next command) sees it.
	deadline := time.After(3 * time.Second)
	for {
		ch := d.store.Changed()
		if _, e := d.store.Epoch(); e >= res.Epoch && rn.r.AppliedIndex() >= res.Index {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			return res, nil
		case <-ctx.Done():
			return res, nil
		}
	}
	return res, nil
}

// saveDiscarded writes the state this node is about to drop next to its data dir and returns the path.
func (d *Daemon) saveDiscarded(reason string) (string, error) {
	dir := filepath.Join(d.cfg.DataDir, "discarded")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	st := d.store.View()
	name := fmt.Sprintf("%s-epoch%d.json", time.Now().UTC().Format("20060102T150405.000"), st.CIB.Epoch)
	b, err := json.MarshalIndent(struct {
		Reason string      `json:"reason"`
		State  store.State `json:"state"`
	}{reason, st}, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// confirmDown is crm node clearstate: a user vouches that a lost node is down, standing in for a fence that
// cannot be done. Refused for a node this node sees alive.
func (d *Daemon) confirmDown(node string) (api.CommandResult, error) {
	known := false
	for _, m := range d.cfg.Members() {
		known = known || m.Name == node
	}
	if !known {
		return api.CommandResult{}, &api.StatusError{Code: http.StatusBadRequest, Err: fmt.Errorf("unknown node %q", node)}
	}
	d.mu.Lock()
	_, alive := d.alive[node]
	if node == d.cfg.NodeName || alive {
		d.mu.Unlock()
		return api.CommandResult{}, &api.StatusError{Code: http.StatusConflict, Err: fmt.Errorf("node %s is up (this node sees it): not confirming it down", node)}
	}
	d.fenced[node] = true
	delete(d.notices, "fence-"+node)
	d.timelineLocked(time.Now(), fmt.Sprintf("%s confirmed down by hand (crm node clearstate)", node))
	d.viewChangedLocked()
	d.mu.Unlock()
	d.log.Warn("node confirmed down by hand", "node", node)
	d.recordFence(node, "off", "manual (crm node clearstate)", nil)
	return api.CommandResult{}, nil
}
