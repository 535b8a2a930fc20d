package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/membership"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/cluster/transport"
	"github.com/duet-ha/duet/quorum"
)

// loop is the daemon's one decision-making goroutine. It returns when ctx ends.
func (d *Daemon) loop(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		notify := d.rn.notify
		d.mu.Unlock()
		storeChanged := d.store.Changed()
		select {
		case <-ctx.Done():
			return
		case ev := <-d.ml.Events():
			d.onMember(ev)
		case leader := <-notify:
			d.onLeadership(ctx, leader)
		case <-storeChanged:
			d.mu.Lock()
			d.viewChangedLocked()
			d.mu.Unlock()
		case <-tick.C:
		case <-d.wake:
		}
		d.evaluate(ctx)
	}
}

func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Daemon) onMember(ev membership.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch ev.Kind {
	case membership.Leave:
		delete(d.alive, ev.Node)
		d.lostAt[ev.Node] = ev.At
		if d.timeline == nil || time.Since(d.timeline.Start) > 30*time.Second {
			d.timeline = &store.Timeline{Start: ev.At, Node: d.cfg.NodeName}
		}
		if ev.Graceful || d.lastMeta[ev.Node].Leaving {
			// A clean stop: the peer stopped its resources and said goodbye; nothing to fence.
			d.fenced[ev.Node] = true
			d.log.Info("peer left cleanly", "peer", ev.Node)
			d.timelineLocked(ev.At, fmt.Sprintf("peer %s left cleanly (clusterd stopped)", ev.Node))
		} else {
			d.log.Warn("peer lost", "peer", ev.Node)
			d.timelineLocked(ev.At, fmt.Sprintf("peer %s lost (gossip: no answer to probes)", ev.Node))
		}
	case membership.Join, membership.Update:
		if ev.Err != nil {
			d.log.Warn("bad metadata from peer", "peer", ev.Node, "err", ev.Err)
			return
		}
		if _, was := d.alive[ev.Node]; !was {
			d.log.Info("peer joined", "peer", ev.Node, "epoch", ev.Meta.Epoch)
		}
		d.alive[ev.Node] = ev.Meta
		d.lastMeta[ev.Node] = ev.Meta
		delete(d.lostAt, ev.Node)
		delete(d.fenced, ev.Node)
		delete(d.notices, "fence-"+ev.Node)
	}
	d.viewChangedLocked()
}

func (d *Daemon) onLeadership(ctx context.Context, leader bool) {
	d.mu.Lock()
	rn := d.rn
	if leader {
		d.log.Info("became DC (raft leader)", "term", rn.r.Stats()["term"])
		d.timelineLocked(time.Now(), fmt.Sprintf("%s became DC (raft leader)", d.cfg.NodeName))
	} else {
		d.log.Info("no longer DC")
	}
	fast := rn.conf.HeartbeatTimeout < d.cfg.RaftHeartbeat
	tl := d.timeline
	d.viewChangedLocked()
	d.mu.Unlock()
	if leader && fast {
		// Recovered as a single voter with short timers for a fast election; return to the normal ones
		// before any peer joins again.
		rc := raft.ReloadableConfig{TrailingLogs: rn.conf.TrailingLogs, SnapshotInterval: rn.conf.SnapshotInterval,
			SnapshotThreshold: rn.conf.SnapshotThreshold, HeartbeatTimeout: d.cfg.RaftHeartbeat, ElectionTimeout: d.cfg.RaftHeartbeat}
		if err := rn.r.ReloadConfig(rc); err != nil {
			d.log.Warn("restore raft timers", "err", err)
		} else {
			rn.conf.HeartbeatTimeout, rn.conf.ElectionTimeout = d.cfg.RaftHeartbeat, d.cfg.RaftHeartbeat
		}
	}
	if leader && tl != nil {
		d.commitTimeline(ctx, tl)
	}
	if leader {
		d.startDC(ctx)
	} else {
		d.stopDC()
	}
}

// startDC starts the DC loop unless it runs already.
func (d *Daemon) startDC(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dcCancel != nil {
		return
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	d.dcCancel, d.dcDone = cancel, done
	go func() {
		defer close(done)
		d.runDC(dctx)
	}()
}

// stopDC stops the DC loop and waits for its in-flight actions.
func (d *Daemon) stopDC() {
	d.mu.Lock()
	cancel, done := d.dcCancel, d.dcDone
	d.dcCancel, d.dcDone = nil, nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// timelineLocked appends an event to the failover being recorded.
func (d *Daemon) timelineLocked(at time.Time, what string) {
	if d.timeline == nil {
		return
	}
	d.timeline.Events = append(d.timeline.Events, store.TimelineEvent{At: at.Sub(d.timeline.Start), What: what})
}

// TimelineEvent lets other parts (the executor) add a step, such as a resource start, to the current failover.
func (d *Daemon) TimelineEvent(what string) {
	d.mu.Lock()
	tl := d.timeline
	if tl == nil || time.Since(tl.Start) > 30*time.Second {
		d.mu.Unlock()
		return
	}
	d.timelineLocked(time.Now(), what)
	cp := *tl
	cp.Events = slices.Clone(tl.Events)
	ctx := d.runCtx
	d.mu.Unlock()
	if ctx == nil {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.commitTimeline(ctx, &cp)
	}()
}

func (d *Daemon) commitTimeline(ctx context.Context, tl *store.Timeline) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cp := *tl
	cp.Events = slices.Clone(tl.Events)
	if _, err := d.Submit(cctx, store.Command{Kind: store.SetTimeline, Timeline: &cp}, false); err != nil {
		d.log.Debug("record failover timeline", "err", err)
	}
}

// evaluate recomputes quorum and acts: keep the CIB's node list complete, take over when the peer of a
// two-node cluster is lost, and reconcile a diverged peer that came back.
func (d *Daemon) evaluate(ctx context.Context) {
	// Alive() is memberlist's truth; events only make us react sooner.
	alive := d.ml.Alive()
	st := d.store.View()
	d.mu.Lock()
	for name := range d.alive {
		if _, ok := alive[name]; !ok {
			delete(d.alive, name)
		}
	}
	for name, m := range alive {
		if _, ok := d.alive[name]; !ok {
			d.viewChangedLocked()
		}
		d.alive[name] = m
		d.lastMeta[name] = m
	}
	members := d.cfg.Members()
	var qm []quorum.Member
	all := true
	for _, m := range members {
		_, ok := d.alive[m.Name]
		ok = ok || m.Name == d.cfg.NodeName
		all = all && ok
		qm = append(qm, quorum.Member{Name: m.Name, Votes: 1, Witness: m.Witness, Alive: ok})
	}
	if all && !d.seenAll {
		d.seenAll = true
		d.log.Info("all nodes seen: wait_for_all satisfied")
	}
	policy, _ := quorum.ParsePolicy(st.CIB.Property("no-quorum-policy"))
	stonith := cib.IsTrue(st.CIB.Property("stonith-enabled"))
	v := quorum.Decide(quorum.Config{TwoNode: d.cfg.TwoNodeMode(), WaitForAll: d.cfg.WaitForAllMode(), Policy: policy, StonithEnabled: stonith},
		quorum.View{Members: qm, SeenAll: d.seenAll, EverQuorate: d.everQuorate})
	if v.Quorate {
		d.everQuorate = true
	}
	if v.Quorate != d.verdict.Quorate || v.Reason != d.verdict.Reason {
		d.log.Info("quorum", "quorate", v.Quorate, "reason", v.Reason)
		d.viewChangedLocked()
	}
	d.verdict = v
	rn := d.rn
	fresh := d.fresh
	d.mu.Unlock()

	isLeader := rn.r.State() == raft.Leader
	voters := serverIDs(rn.servers())
	if fresh && slices.Contains(voters, d.cfg.NodeName) {
		d.mu.Lock()
		d.fresh, fresh = false, false
		d.mu.Unlock()
		d.log.Info("rejoined: this node is a raft voter again", "voters", voters)
	}
	d.refreshMeta()
	if isLeader {
		d.ensureNodes(ctx, st.CIB)
	}
	if !fresh {
		d.maybeTakeover(ctx, rn, voters, v, policy, stonith)
	}
	d.noQuorumStop(ctx, v, isLeader)
	d.maybeRejoin(ctx, rn, voters, isLeader, fresh)
}

// noQuorumStop applies no-quorum-policy=stop locally on a node that lost quorum and is not DC: no DC can
// reach it to tell it, and its peers will recover its resources.
func (d *Daemon) noQuorumStop(ctx context.Context, v quorum.Verdict, isLeader bool) {
	d.mu.Lock()
	if v.Quorate {
		d.nqStopped = false
	}
	act := !v.Quorate && d.everQuorate && (v.Action == quorum.StopAll || v.Action == quorum.DemoteAll) && !isLeader && !d.nqStopped && !d.cfg.Witness
	if act {
		d.nqStopped = true
	}
	d.mu.Unlock()
	if act {
		d.stopLocalResources(ctx, "partition without quorum: "+v.Reason)
	}
}

// serverIDs returns the voters of a configuration (non-voters are still catching up).
func serverIDs(servers []raft.Server) []string {
	var out []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	return out
}

// refreshMeta updates what this node gossips and announces it when it changed.
func (d *Daemon) refreshMeta() {
	admin, epoch := d.store.Epoch()
	d.mu.Lock()
	rn := d.rn
	epoch = max(epoch, rn.scannedEpoch)
	term, index := rn.position()
	m := membership.Meta{AdminEpoch: admin, Epoch: epoch, LastTerm: term, LastIndex: index,
		Voters: serverIDs(rn.servers()), Leader: rn.r.State() == raft.Leader, Fresh: d.fresh, Witness: d.cfg.Witness, Incarn: d.incarn,
		Leaving: d.leaving}
	changed := !metaEqual(m, d.meta)
	d.meta = m
	d.mu.Unlock()
	if changed && d.ml != nil {
		d.ml.Announce()
	}
}

func metaEqual(a, b membership.Meta) bool {
	return a.AdminEpoch == b.AdminEpoch && a.Epoch == b.Epoch && a.LastTerm == b.LastTerm && a.LastIndex == b.LastIndex &&
		slices.Equal(a.Voters, b.Voters) && a.Leader == b.Leader && a.Fresh == b.Fresh && a.Leaving == b.Leaving
}

// ensureNodes adds configured nodes missing from the CIB (the DC does this once after bootstrap).
func (d *Daemon) ensureNodes(ctx context.Context, c *cib.CIB) {
	var want []cib.Node
	missing := false
	for i, m := range d.cfg.Members() {
		want = append(want, cib.Node{ID: i + 1, Name: m.Name, Witness: m.Witness})
		if n, ok := c.Node(m.Name); !ok || n.ID != i+1 || n.Witness != m.Witness {
			missing = true
		}
	}
	if !missing {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := d.Submit(cctx, store.Command{Kind: store.EnsureNodes, Nodes: want, Change: store.Now("root", "clusterd", d.cfg.NodeName)}, false); err != nil {
		d.log.Debug("add nodes to CIB", "err", err)
	}
}

// twoNodePeer returns the other voter of a two-voter configuration.
func (d *Daemon) twoNodePeer() string {
	for _, p := range d.cfg.Peers {
		return p.Name
	}
	return ""
}

// maybeTakeover handles the loss of the peer of a two-node cluster (DESIGN.md 4.2): fence it when stonith is
// enabled, then shrink Raft to this node alone so that it is DC. With a witness, Raft's own majority decides.
func (d *Daemon) maybeTakeover(ctx context.Context, rn *raftNode, voters []string, v quorum.Verdict, policy quorum.Policy, stonith bool) {
	if d.cfg.Voters() != 2 || d.cfg.Witness {
		return
	}
	peer := d.twoNodePeer()
	d.mu.Lock()
	_, peerAlive := d.alive[peer]
	lost := !d.lostAt[peer].IsZero()
	d.mu.Unlock()
	if peerAlive {
		d.clearNotice("takeover")
	}
	if peerAlive || !slices.Contains(voters, peer) || !lost {
		return
	}
	if d.answersDirectly(ctx, peer) {
		d.setNotice("takeover", fmt.Sprintf("gossip lost %s, but it answers on the cluster port: not taking over (false suspicion?)", peer))
		return
	}
	mayAct := v.Quorate || (policy == quorum.Ignore && !stonith && d.everQuorateSnapshot())
	if !mayAct {
		d.setNotice("takeover", fmt.Sprintf("peer %s lost, not taking over: %s", peer, v.Reason))
		return
	}
	if stonith {
		d.mu.Lock()
		done, inflight := d.fenced[peer], d.fencing[peer]
		d.mu.Unlock()
		if !done {
			if !inflight {
				d.startFence(ctx, peer, "peer lost")
			}
			return
		}
	} else {
		d.mu.Lock()
		if d.timeline != nil && !d.timelineHas("fencing skipped") {
			d.timelineLocked(time.Now(), "fencing skipped: stonith-enabled=false")
		}
		d.mu.Unlock()
	}
	d.clearNotice("takeover")
	d.takeover(rn, peer)
}

// answersDirectly checks a peer that gossip declared dead over the authenticated cluster port before this node
// does anything irreversible (fence it, take over). Gossip can suspect a live but CPU-starved node; a
// connection that completes the key handshake proves it is alive. A dead process answers with a reset at
// once; a pulled cable costs 20 ms of waiting.
func (d *Daemon) answersDirectly(ctx context.Context, peer string) bool {
	var addr string
	for _, p := range d.cfg.Peers {
		if p.Name == peer {
			addr = d.raftAddr(p.Addr)
		}
	}
	if addr == "" {
		return false
	}
	// 20 ms for the kernel's SYN-ACK is generous on a LAN; the process then has a second to prove itself.
	if err := transport.Probe(addr, d.cfg.Key, 20*time.Millisecond, time.Second); err != nil {
		return false
	}
	d.log.Debug("peer declared dead by gossip answers directly", "peer", peer)
	return true
}

func (d *Daemon) everQuorateSnapshot() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.everQuorate
}

func (d *Daemon) timelineHas(prefix string) bool {
	for _, e := range d.timeline.Events {
		if len(e.What) >= len(prefix) && e.What[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// takeover makes this node the only Raft voter. As leader it removes the peer (committed at once, since the
// new configuration counts only this node); otherwise it stops Raft, rewrites its configuration
// (RecoverCluster) and starts again with short timers so that it elects itself within milliseconds.
func (d *Daemon) takeover(rn *raftNode, peer string) {
	start := time.Now()
	if rn.r.State() == raft.Leader {
		if err := rn.r.RemoveServer(raft.ServerID(peer), 0, 300*time.Millisecond).Error(); err == nil {
			d.log.Warn("took over: removed lost peer from raft", "peer", peer, "took", time.Since(start))
			return
		} else {
			d.log.Warn("remove lost peer as leader failed; recovering", "peer", peer, "err", err)
		}
	}
	d.becomeSingle(rn)
	d.log.Warn("took over: raft recovered as single voter", "peer", peer, "took", time.Since(start))
}

// becomeSingle stops Raft, rewrites its configuration so that this node is the only voter
// (RecoverCluster), and starts it again with short timers so that it elects itself within milliseconds.
func (d *Daemon) becomeSingle(rn *raftNode) {
	if err := rn.shutdown(); err != nil {
		d.log.Warn("raft shutdown before recovery", "err", err)
	}
	addr := d.raftAddr(d.cfg.BindAddr)
	if err := recoverSingle(d.cfg.DataDir, d.cfg.NodeName, addr, d.log); err != nil {
		d.log.Error("recover raft as single voter", "err", err)
	}
	nrn, err := openRaft(d.cfg.DataDir, d.cfg.NodeName, d.store, d.mux, d.timers(), nil, true, d.log)
	if err != nil {
		d.log.Error("restart raft after recovery", "err", err)
		d.setNotice("raft", "raft failed to restart: "+err.Error())
		nrn, err = openRaft(d.cfg.DataDir, d.cfg.NodeName, d.store, d.mux, d.timers(), nil, false, d.log)
		if err != nil {
			panic(fmt.Sprintf("clusterd: raft cannot restart: %v", err))
		}
	}
	d.mu.Lock()
	d.rn = nrn
	d.viewChangedLocked()
	d.mu.Unlock()
}

// startFence fences peer in the background; the result comes back through d.fenced and a poke.
func (d *Daemon) startFence(ctx context.Context, peer, why string) {
	d.mu.Lock()
	d.fencing[peer] = true
	d.notices["fence-"+peer] = fmt.Sprintf("waiting for fencing of %s (%s)", peer, why)
	d.viewChangedLocked()
	d.mu.Unlock()
	action := d.store.State().CIB.Property("stonith-action")
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		err := d.fencer.Fence(fctx, peer, action)
		d.mu.Lock()
		if err == nil {
			delete(d.fencing, peer)
			d.fenced[peer] = true
			delete(d.notices, "fence-"+peer)
			d.timelineLocked(time.Now(), fmt.Sprintf("%s fenced (%s)", peer, action))
			d.log.Warn("peer fenced", "peer", peer, "action", action)
		} else {
			d.notices["fence-"+peer] = fmt.Sprintf("fencing of %s failed: %v; its resources stay stopped until it is fenced or returns", peer, err)
			d.log.Error("fencing failed", "peer", peer, "err", err)
		}
		d.viewChangedLocked()
		d.mu.Unlock()
		if err != nil {
			// Retry after a pause, as pacemaker retries fencing; until then the fence counts as in flight.
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			d.mu.Lock()
			delete(d.fencing, peer)
			d.mu.Unlock()
		}
		d.poke()
	}()
}

func (d *Daemon) setNotice(key, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.notices[key] != text {
		d.notices[key] = text
		d.log.Warn(text)
		d.viewChangedLocked()
	}
}

func (d *Daemon) clearNotice(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.notices[key]; ok {
		delete(d.notices, key)
		d.viewChangedLocked()
	}
}

// position orders two Raft histories by the rejoin rule: higher (admin epoch, epoch, last term, last index)
// wins; on a tie the node that leads now wins (no needless churn), then the lexically smaller node name (as
// pacemaker's election prefers).
type position struct {
	admin, epoch, term, index uint64
	leader                    bool
	name                      string
}

func (a position) beats(b position) bool {
	switch {
	case a.admin != b.admin:
		return a.admin > b.admin
	case a.epoch != b.epoch:
		return a.epoch > b.epoch
	case a.term != b.term:
		return a.term > b.term
	case a.index != b.index:
		return a.index > b.index
	case a.leader != b.leader:
		return a.leader
	}
	return a.name < b.name
}

// maybeRejoin reconciles with peers whose Raft configuration diverged from this node's (DESIGN.md 4.3).
// The loser saves its state beside the data dir, wipes its Raft state and waits ("fresh"); the winner leads
// (making itself the single voter if it must) and takes the fresh node back: first as a non-voter, so that
// the newcomer's catching up cannot cost the leader its lease, then as a voter once it has the log.
func (d *Daemon) maybeRejoin(ctx context.Context, rn *raftNode, voters []string, isLeader, fresh bool) {
	d.mu.Lock()
	alive := make(map[string]membership.Meta, len(d.alive))
	for k, v := range d.alive {
		alive[k] = v
	}
	mine := d.meta
	d.mu.Unlock()
	configured := map[string]string{}
	for _, m := range d.cfg.Members() {
		configured[m.Name] = m.Addr
	}
	servers := rn.servers()
	suffrage := map[string]raft.ServerSuffrage{}
	for _, srv := range servers {
		suffrage[string(srv.ID)] = srv.Suffrage
	}
	for name, peer := range alive {
		addr, ok := configured[name]
		if !ok {
			continue
		}
		if peer.Fresh {
			if !isLeader {
				continue
			}
			sf, in := suffrage[name]
			switch {
			case !in:
				d.addServer(rn, name, addr, false)
			case sf == raft.Nonvoter && peer.LastIndex+2 >= rn.r.LastIndex():
				d.addServer(rn, name, addr, true)
			}
			continue
		}
		if fresh {
			continue // waiting to be taken back
		}
		if _, leaderID := rn.r.LeaderWithID(); string(leaderID) == name {
			continue // we follow this peer: one cluster, whatever its gossip says yet
		}
		diverged := !slices.Contains(voters, name) || !slices.Contains(peer.Voters, d.cfg.NodeName)
		if !diverged {
			continue
		}
		me := position{mine.AdminEpoch, mine.Epoch, mine.LastTerm, mine.LastIndex, isLeader, d.cfg.NodeName}
		them := position{peer.AdminEpoch, peer.Epoch, peer.LastTerm, peer.LastIndex, peer.Leader, name}
		if !them.beats(me) {
			// This node's history wins. It must lead to take the peer back: unless it does, it makes itself
			// the single voter; the peer discards its history once it sees this node lead.
			if !isLeader && !slices.Equal(voters, []string{d.cfg.NodeName}) {
				d.log.Warn("rejoin: our history wins; becoming the single voter to take the peer back", "peer", name,
					"ours", fmt.Sprintf("epoch %d term %d index %d", mine.Epoch, mine.LastTerm, mine.LastIndex),
					"theirs", fmt.Sprintf("epoch %d term %d index %d", peer.Epoch, peer.LastTerm, peer.LastIndex))
				d.becomeSingle(rn)
				return
			}
			continue
		}
		// Step aside only for a peer that can take this node back: one that leads.
		if !peer.Leader {
			continue
		}
		d.wipe(rn, fmt.Sprintf("rejoin: %s's history (epoch %d, term %d, index %d) beats ours (epoch %d, term %d, index %d)",
			name, peer.Epoch, peer.LastTerm, peer.LastIndex, mine.Epoch, mine.LastTerm, mine.LastIndex))
		return
	}
}

// addServer adds a returning peer to the Raft configuration, as a non-voter or (promotion) as a voter.
func (d *Daemon) addServer(rn *raftNode, name, ip string, voter bool) {
	addr := raft.ServerAddress(d.raftAddr(ip))
	var err error
	if voter {
		err = rn.r.AddVoter(raft.ServerID(name), addr, 0, 2*time.Second).Error()
	} else {
		err = rn.r.AddNonvoter(raft.ServerID(name), addr, 0, 2*time.Second).Error()
	}
	if err != nil {
		d.log.Warn("add returning peer to raft", "peer", name, "voter", voter, "err", err)
		return
	}
	if voter {
		d.log.Info("returning peer is a raft voter again", "peer", name)
	} else {
		d.log.Info("returning peer added as raft non-voter; it becomes a voter once it has the log", "peer", name)
	}
}

// wipe discards this node's Raft state after saving the CIB and status beside the data dir, and restarts Raft
// empty, waiting for the leader to add it.
func (d *Daemon) wipe(rn *raftNode, reason string) {
	path, err := d.saveDiscarded(reason)
	if err != nil {
		d.log.Error("save state before discarding it; keeping it", "err", err)
		return
	}
	if err := rn.shutdown(); err != nil {
		d.log.Warn("raft shutdown before wipe", "err", err)
	}
	dir := raftDir(d.cfg.DataDir)
	moved := filepath.Join(d.cfg.DataDir, "discarded", filepath.Base(path)+".raft")
	if err := os.Rename(dir, moved); err != nil {
		d.log.Error("move raft state aside", "err", err)
		_ = os.RemoveAll(dir)
	}
	d.log.Warn("discarded local cluster state to rejoin", "reason", reason, "saved", path, "raft_dir", moved)
	// The leader replays its whole history into the store (log entries from the start, or a snapshot), so
	// the store must start empty too.
	d.store.Reset()
	nrn, err := openRaft(d.cfg.DataDir, d.cfg.NodeName, d.store, d.mux, d.timers(), nil, false, d.log)
	if err != nil {
		panic(fmt.Sprintf("clusterd: raft cannot restart after wipe: %v", err))
	}
	d.mu.Lock()
	d.rn = nrn
	d.fresh = true
	d.notices["discarded"] = fmt.Sprintf("this node discarded its diverged CIB to rejoin; saved in %s", path)
	d.viewChangedLocked()
	d.mu.Unlock()
	d.refreshMeta()
}
