package daemon

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/resources/executor"
	"github.com/duet-ha/duet/resources/scheduler"
)

// runDC is the designated coordinator's loop; it runs while this node is the Raft leader. Each round it
// builds the scheduler's input from the replicated state and the membership view, publishes the placement
// reasons, and runs the plan's ready actions (those waiting for nothing) — local ones through this node's
// executor, remote ones over RPC — recording every result through Raft. Results change the state, so the
// next round plans again from the new facts: the plan is never followed blindly past a surprise.
func (d *Daemon) runDC(ctx context.Context) {
	d.log.Info("DC: scheduler running")
	defer d.log.Info("DC: scheduler stopped")
	var lastPub string
	for {
		if ctx.Err() != nil {
			return
		}
		changed := d.Changed()
		d.commitFences(ctx)
		d.serveFenceRequests(ctx)
		d.forgetLostNodes(ctx)
		in := d.schedulerInput()
		plan := scheduler.Schedule(in)
		if pub := d.publishPlan(ctx, plan, lastPub); pub != "" {
			lastPub = pub
		}
		if len(plan.Actions) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-time.After(2 * time.Second):
				// failure-timeout and move/ban lifetimes expire with time alone.
			}
			continue
		}
		d.runTransition(ctx, in, migrateFirst(in, plan.Actions))
	}
}

// release is the DC's own step of a make-before-break move (see migrateFirst): on the old node, before the
// start on the new one, the resource stops announcing itself (agents.Releaser; a no-op for other agents).
const release scheduler.Kind = "release"

// migrateFirst turns the move of a healthy resource with meta allow-migrate=true (stop on A, then start on B)
// into make-before-break: release on A, start on B, then stop on A — pacemaker's live migration, reduced to
// what a VIP needs. Both nodes hold the address for a moment; only the new holder announces it, and its
// gratuitous ARP moves the clients before the old one lets go.
func migrateFirst(in scheduler.Input, actions []scheduler.Action) []scheduler.Action {
	migratable := map[string]bool{}
	for _, p := range in.CIB.Primitives {
		v, ok := p.Meta["allow-migrate"]
		if !ok {
			v = in.CIB.RscDefaults["allow-migrate"]
		}
		migratable[p.ID] = cib.IsTrue(v)
	}
	healthy := map[[2]string]bool{}
	for _, r := range in.Resources {
		healthy[[2]string{r.Resource, r.Node}] = r.State == scheduler.Running
	}
	online := map[string]bool{}
	for _, n := range in.Nodes {
		online[n.Name] = n.Online
	}
	out := slices.Clone(actions)
	nextID := 0
	for _, a := range out {
		nextID = max(nextID, a.ID+1)
	}
	var releases []scheduler.Action
	for i := range out {
		stop := &out[i]
		if stop.Kind != scheduler.Stop || !migratable[stop.Resource] || !healthy[[2]string{stop.Resource, stop.Node}] || !online[stop.Node] {
			continue
		}
		for j := range out {
			start := &out[j]
			if start.Kind != scheduler.Start || start.Resource != stop.Resource || start.Node == stop.Node || !slices.Contains(start.After, stop.ID) {
				continue
			}
			start.After = slices.DeleteFunc(slices.Clone(start.After), func(id int) bool { return id == stop.ID })
			stop.After = append(slices.Clone(stop.After), start.ID)
			if dependsOn(out, start.ID, stop.ID, map[int]bool{}) {
				// Some other edge still makes the start wait for the stop: keep the plan as it was.
				return actions
			}
			stop.Reason += " (after the start on " + start.Node + ": allow-migrate)"
			rel := scheduler.Action{ID: nextID, Kind: release, Resource: stop.Resource, Clone: stop.Clone, Node: stop.Node,
				Timeout: stop.Timeout, Reason: "moving to " + start.Node + ": stop announcing it here first (allow-migrate)"}
			nextID++
			start.After = append(start.After, rel.ID)
			releases = append(releases, rel)
		}
	}
	return append(out, releases...)
}

// dependsOn reports whether action id waits, directly or not, for action on.
func dependsOn(actions []scheduler.Action, id, on int, seen map[int]bool) bool {
	if seen[id] {
		return false
	}
	seen[id] = true
	for _, a := range actions {
		if a.ID != id {
			continue
		}
		for _, dep := range a.After {
			if dep == on || dependsOn(actions, dep, on, seen) {
				return true
			}
		}
	}
	return false
}

// runTransition runs a plan's actions in dependency order, each wave concurrently. It stops early — and the
// caller plans again from the new facts — when an action fails or the membership changes under it.
func (d *Daemon) runTransition(ctx context.Context, in scheduler.Input, actions []scheduler.Action) {
	done := map[int]bool{}
	startView := d.aliveSet()
	for ctx.Err() == nil {
		var wave []scheduler.Action
		for _, a := range actions {
			if done[a.ID] {
				continue
			}
			ready := true
			for _, dep := range a.After {
				ready = ready && done[dep]
			}
			if ready {
				wave = append(wave, a)
			}
		}
		if len(wave) == 0 {
			return
		}
		if !d.runActions(ctx, in, wave) {
			return
		}
		for _, a := range wave {
			done[a.ID] = true
		}
		if d.aliveSet() != startView {
			return
		}
	}
}

func (d *Daemon) aliveSet() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprint(slices.Sorted(maps.Keys(d.alive)))
}

// schedulerInput gathers what the scheduler needs.
func (d *Daemon) schedulerInput() scheduler.Input {
	st := d.store.View()
	d.mu.Lock()
	defer d.mu.Unlock()
	stonith := cib.IsTrue(st.CIB.Property("stonith-enabled"))
	in := scheduler.Input{CIB: st.CIB, Quorate: d.verdict.Quorate, NoQuorumPolicy: string(d.verdict.Policy), Now: time.Now()}
	online := map[string]bool{}
	for _, m := range d.cfg.Members() {
		_, alive := d.alive[m.Name]
		alive = alive || m.Name == d.cfg.NodeName
		if m.Name == d.cfg.NodeName && d.fresh {
			alive = false
		}
		online[m.Name] = alive
		ns := scheduler.NodeState{Name: m.Name, Online: alive, DC: m.Name == d.cfg.NodeName, Fenced: d.fenced[m.Name], Witness: m.Witness}
		if !alive && stonith && !d.fenced[m.Name] && len(st.Status.Ops[m.Name]) > 0 {
			ns.Unclean = true
		}
		in.Nodes = append(in.Nodes, ns)
	}
	for _, p := range st.CIB.Primitives {
		for _, n := range in.Nodes {
			rec, ok := st.Status.Ops[n.Name][p.ID]
			switch {
			case ok:
				rs := scheduler.ResourceState{Resource: p.ID, Node: n.Name, Monitors: rec.Monitors}
				switch {
				case rec.Failed && rec.Op == "stop":
					rs.State = scheduler.StopFailed
				case rec.Failed && rec.Running:
					rs.State = scheduler.Failed
				case rec.Failed:
					// A probe that failed without anything running (e.g. the agent is not installed
					// here): stopped; the failure counts in the fail counts and keeps it off this node.
					rs.State = scheduler.Stopped
				case rec.Running:
					rs.State = scheduler.Running
				default:
					rs.State = scheduler.Stopped
				}
				in.Resources = append(in.Resources, rs)
			case online[n.Name] && !isWitness(st.CIB, n.Name):
				in.Resources = append(in.Resources, scheduler.ResourceState{Resource: p.ID, Node: n.Name, State: scheduler.Unknown})
			}
		}
	}
	for node, m := range st.Status.FailCounts {
		for rsc, fc := range m {
			in.Failures = append(in.Failures, scheduler.FailCount{Resource: rsc, Node: node, Count: fc.Count, Op: fc.Op, RC: fc.RC, LastFailure: fc.LastFailure})
		}
	}
	return in
}

func isWitness(c *cib.CIB, name string) bool {
	n, ok := c.Node(name)
	return ok && n.Witness
}

// forgetLostNodes drops the op history of nodes that are known to be down — lost with stonith disabled, left
// cleanly, or fenced — so that their resources count as stopped and are probed again when they return.
func (d *Daemon) forgetLostNodes(ctx context.Context) {
	st := d.store.View()
	stonith := cib.IsTrue(st.CIB.Property("stonith-enabled"))
	var forget []string
	d.mu.Lock()
	for node, ops := range st.Status.Ops {
		if node == d.cfg.NodeName || len(ops) == 0 {
			continue
		}
		if _, alive := d.alive[node]; alive {
			continue
		}
		if !stonith || d.fenced[node] {
			forget = append(forget, node)
		}
	}
	d.mu.Unlock()
	for _, node := range forget {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if _, err := d.Submit(cctx, store.Command{Kind: store.ForgetNode, Node: node}, false); err != nil {
			d.log.Warn("forget lost node's resources", "node", node, "err", err)
		} else {
			d.log.Info("lost node's resources count as stopped", "node", node)
		}
		cancel()
	}
}

// publishPlan stores the placement reasons for crm_mon and crm resource locate when they changed.
func (d *Daemon) publishPlan(ctx context.Context, plan scheduler.Plan, last string) string {
	tr := &store.Transition{DC: d.cfg.NodeName, Placed: map[string][]string{}, Reason: map[string]string{}, Blocked: map[string]bool{}}
	for _, pl := range plan.Placements {
		if len(pl.Nodes) == 0 || pl.Blocked {
			tr.Reason[pl.Resource] = pl.Reason
		}
		if pl.Blocked {
			tr.Blocked[pl.Resource] = true
		}
		for _, n := range pl.Nodes {
			tr.Placed[n] = append(tr.Placed[n], pl.Resource)
		}
	}
	for _, n := range plan.Notes {
		tr.Reason["*"] += n + "; "
	}
	key := fmt.Sprint(tr.Placed, tr.Reason, tr.Blocked)
	if key == last {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := d.Submit(cctx, store.Command{Kind: store.SetPlan, Transition: tr}, false); err != nil {
		return ""
	}
	return key
}

// runActions runs actions concurrently and records each result; it reports whether all succeeded.
func (d *Daemon) runActions(ctx context.Context, in scheduler.Input, actions []scheduler.Action) bool {
	prims := map[string]cib.Primitive{}
	for _, p := range in.CIB.Primitives {
		prims[p.ID] = p
	}
	var wg sync.WaitGroup
	ok := make([]bool, len(actions))
	for i, a := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = d.runAction(ctx, in.CIB, prims, a)
		}()
	}
	wg.Wait()
	return !slices.Contains(ok, false)
}

func (d *Daemon) runAction(ctx context.Context, c *cib.CIB, prims map[string]cib.Primitive, a scheduler.Action) bool {
	if a.Kind == scheduler.Fence {
		d.fenceAction(ctx, a)
		return false // fencing completes asynchronously; plan again when it does
	}
	p, ok := prims[a.Resource]
	if !ok {
		d.log.Warn("plan names an unknown resource", "rsc", a.Resource)
		return false
	}
	meta := maps.Clone(c.RscDefaults)
	if meta == nil {
		meta = map[string]string{}
	}
	maps.Copy(meta, p.Meta)
	req := executor.Request{Op: string(a.Kind), Resource: p.ID, Agent: p.Agent(), Params: p.Params, Meta: meta,
		Interval: a.Interval, Timeout: a.Timeout}
	d.log.Info("DC: action", "rsc", a.Resource, "op", req.Op, "node", a.Node, "interval", a.Interval, "reason", a.Reason)
	res, err := d.execOn(ctx, a.Node, req)
	if a.Kind == release {
		// Best effort, and no entry in the operation history: the move goes on whatever the answer.
		if err != nil || res.Failed {
			d.log.Warn("DC: release before a move failed; moving anyway", "rsc", a.Resource, "node", a.Node, "err", err, "reason", res.Reason)
		}
		return true
	}
	if err != nil {
		d.log.Warn("DC: remote action failed to run", "rsc", a.Resource, "op", req.Op, "node", a.Node, "err", err)
		// The node may be going away; membership decides. Do not record a result we do not have.
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
		return false
	}
	if err := d.recordResult(ctx, a.Node, req, res, time.Now()); err != nil {
		d.log.Warn("record operation result", "rsc", req.Resource, "op", req.Op, "node", a.Node, "err", err)
	}
	if req.Op == "start" && !res.Failed {
		d.TimelineEvent(fmt.Sprintf("%s started on %s", p.ID, a.Node))
	}
	switch req.Op {
	case "probe":
		return !res.Failed
	case "stop":
		return !res.Failed
	default:
		return !res.Failed && res.Running
	}
}

// recordResult commits an operation's result to the replicated status. Committing the same failed result
// twice counts it once (the store matches the failure's time), so a caller may retry.
func (d *Daemon) recordResult(ctx context.Context, node string, req executor.Request, res executor.Result, when time.Time) error {
	op := req.Op
	rec := &store.OpRecord{Op: op, Interval: req.Interval, RC: int(res.RC), Reason: res.Reason, Running: res.Running,
		Failed: res.Failed, When: when.UTC(), Exec: res.Exec, Monitors: res.Monitors}
	if res.Failed {
		name := op
		if op == "probe" {
			name = "monitor"
		}
		rec.LastFailure = &store.FailedOp{Op: name, Interval: req.Interval, RC: int(res.RC), RCText: res.RC.String(), Reason: res.Reason, When: when.UTC(), Exec: res.Exec}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := d.Submit(cctx, store.Command{Kind: store.RecordOp, Node: node, Rsc: req.Resource, Op: rec}, false)
	return err
}

// execOn runs an operation on node: here through the executor, elsewhere over the RPC channel (an error
// means the node could not be asked).
func (d *Daemon) execOn(ctx context.Context, node string, req executor.Request) (executor.Result, error) {
	if node == d.cfg.NodeName {
		return d.exec.Exec(ctx, req), nil
	}
	return d.remoteExec(ctx, node, req)
}

// remoteExec runs an operation on another node over the RPC channel.
func (d *Daemon) remoteExec(ctx context.Context, node string, req executor.Request) (executor.Result, error) {
	var addr string
	for _, m := range d.cfg.Members() {
		if m.Name == node {
			addr = net.JoinHostPort(m.Addr, strconv.Itoa(d.cfg.RaftPort))
		}
	}
	if addr == "" {
		return executor.Result{}, fmt.Errorf("node %s is not configured", node)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = executor.DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	return execClient(d.rpc, addr).Exec(cctx, req)
}

// fenceAction runs a fence the scheduler asked for (a failed stop, or an unclean node).
func (d *Daemon) fenceAction(ctx context.Context, a scheduler.Action) {
	d.mu.Lock()
	inflight, done := d.fencing[a.Node], d.fenced[a.Node]
	d.mu.Unlock()
	if inflight || done {
		return
	}
	d.startFence(ctx, a.Node, a.Reason)
}

// exec is the RPC entry point for the DC's actions (api.Backend).
func (d *Daemon) Exec(ctx context.Context, req executor.Request) executor.Result {
	return d.exec.Exec(ctx, req)
}

// onMonitorReport forwards a recurring monitor's changed result to the DC as an op record, through the
// report queue: the executor reports a change only once, so the queue retries until a DC takes it.
func (d *Daemon) onMonitorReport(r executor.Report) {
	d.mu.Lock()
	ctx := d.runCtx
	d.mu.Unlock()
	if ctx == nil {
		return
	}
	d.reports.add(ctx, r)
}

// deliverReport is the report queue's delivery: one attempt to commit a monitor's report.
func (d *Daemon) deliverReport(ctx context.Context, r executor.Report) error {
	err := d.recordResult(ctx, d.cfg.NodeName, r.Request, r.Result, r.When)
	if err != nil && ctx.Err() == nil {
		d.log.Warn("record monitor result; will retry", "rsc", r.Resource, "rc", int(r.Result.RC), "err", err)
	}
	return err
}

// stopLocalResources stops what this node runs, in reverse start order, before a clean shutdown or when
// the partition lost quorum under no-quorum-policy=stop and no DC can tell it to.
func (d *Daemon) stopLocalResources(ctx context.Context, why string) {
	st := d.store.View()
	ops := st.Status.Ops[d.cfg.NodeName]
	var running []cib.Primitive
	for _, p := range st.CIB.Primitives {
		if rec, ok := ops[p.ID]; ok && rec.Running {
			running = append(running, p)
		}
	}
	if len(running) == 0 {
		return
	}
	slices.Reverse(running)
	d.log.Warn("stopping local resources", "why", why, "count", len(running))
	for _, p := range running {
		timeout := executor.DefaultTimeout
		for _, op := range p.Ops {
			if op.Name == "stop" && op.Timeout > 0 {
				timeout = op.Timeout
			}
		}
		res := d.exec.Exec(ctx, executor.Request{Op: "stop", Resource: p.ID, Agent: p.Agent(), Params: p.Params, Meta: p.Meta, Timeout: timeout})
		d.log.Info("stopped", "rsc", p.ID, "rc", int(res.RC), "reason", res.Reason)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := d.recordResult(cctx, d.cfg.NodeName, executor.Request{Op: "stop", Resource: p.ID}, res, time.Now()); err != nil {
			d.log.Warn("record operation result", "rsc", p.ID, "op", "stop", "node", d.cfg.NodeName, "err", err)
		}
		cancel()
	}
}

func fenceEvent(target, action, device, by string, err error) store.FenceEvent {
	ev := store.FenceEvent{Target: target, Action: action, By: by, Device: device, OK: err == nil, Completed: time.Now().UTC()}
	if err != nil {
		ev.Reason = err.Error()
	}
	return ev
}

// commitFences records pending fence results in the replicated history (on the DC).
func (d *Daemon) commitFences(ctx context.Context) {
	d.mu.Lock()
	pending := d.pendingFences
	d.pendingFences = nil
	d.mu.Unlock()
	for i, ev := range pending {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := d.Submit(cctx, store.Command{Kind: store.RecordFence, Fence: &ev}, false)
		cancel()
		if err != nil {
			d.mu.Lock()
			d.pendingFences = append(pending[i:], d.pendingFences...)
			d.mu.Unlock()
			return
		}
	}
}

// serveFenceRequests runs the fences users asked for (crm node fence) and clears each request.
func (d *Daemon) serveFenceRequests(ctx context.Context) {
	for _, node := range d.store.View().Status.FenceRequests {
		d.mu.Lock()
		inflight := d.fencing[node]
		d.mu.Unlock()
		if !inflight {
			d.startFence(ctx, node, "requested by crm node fence")
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, _ = d.Submit(cctx, store.Command{Kind: store.RequestFence, Node: node, Delete: true}, false)
		cancel()
	}
}
