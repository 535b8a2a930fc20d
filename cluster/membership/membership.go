// Package membership is the gossip heartbeat: hashicorp/memberlist with the cluster key, tuned timers, and a
// small metadata record per node (its CIB epoch and Raft position) that the rejoin rule compares. Events
// arrive on one channel owned by the caller.
package membership

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what each node gossips about itself.
type Meta struct {
	AdminEpoch uint64   `json:"ae"`
	Epoch      uint64   `json:"e"`
	LastTerm   uint64   `json:"lt"`
	LastIndex  uint64   `json:"li"`
	Voters     []string `json:"v,omitempty"` // the node's latest Raft configuration
	Leader     bool     `json:"l,omitempty"`
	Fresh      bool     `json:"f,omitempty"` // Raft state wiped, waiting to be added by the leader
	Witness    bool     `json:"w,omitempty"`
	Incarn     int64    `json:"i"`           // process start time (unix ms): a restart is a new incarnation
	Leaving    bool     `json:"x,omitempty"` // a clean stop is under way
}

// maxMeta is memberlist's limit for node metadata.
const maxMeta = memberlist.MetaMaxSize

// Encode serialises the record within memberlist's size limit.
func (m Meta) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode meta: %w", err)
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("encode meta: %d bytes, over memberlist's %d", len(b), maxMeta)
	}
	return b, nil
}

// DecodeMeta reads a peer's record; gossip is authenticated, but a bad record still only yields an error.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("decode meta: empty")
	}
	if len(b) > maxMeta {
		return m, fmt.Errorf("decode meta: %d bytes, over %d", len(b), maxMeta)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("decode meta: %w", err)
	}
	return m, nil
}

// EventKind is a membership change.
type EventKind int

const (
	Join EventKind = iota
	Leave
	Update
)

func (k EventKind) String() string { return [...]string{"join", "leave", "update"}[k] }

// Event is one change seen by memberlist.
type Event struct {
	Kind EventKind
	Node string
	Addr string
	Meta Meta
	Err  error // a metadata decoding problem, if any
	// Graceful is set on a Leave that the node announced (a clean stop), as opposed to a failure.
	Graceful bool
	At       time.Time
}

// Config configures the gossip layer.
type Config struct {
	Name          string
	BindAddr      string
	Port          int
	Key           []byte
	ProbeInterval time.Duration
	SuspicionMult int
	Log           *slog.Logger
	// Meta returns this node's current record; memberlist calls it when gossiping.
	Meta func() Meta
}

// Membership owns a memberlist instance.
type Membership struct {
	ml       *memberlist.Memberlist
	events   chan Event
	announce chan struct{}
	cfg      Config
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start creates the memberlist and begins joining peers (addresses host:port) in the background until one
// answers. Events must be consumed from Events(); Stop ends everything.
func Start(cfg Config, peers []string) (*Membership, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.Port
	mc.AdvertiseAddr = cfg.BindAddr
	mc.AdvertisePort = cfg.Port
	mc.SecretKey = cfg.Key
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeInterval * 4 / 5
	mc.SuspicionMult = cfg.SuspicionMult
	mc.GossipInterval = 100 * time.Millisecond
	mc.PushPullInterval = 15 * time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.LogOutput = &slogWriter{log: cfg.Log}
	m := &Membership{events: make(chan Event, 1024), announce: make(chan struct{}, 1), cfg: cfg}
	mc.Delegate = &delegate{meta: cfg.Meta, log: cfg.Log}
	mc.Events = &eventDelegate{m: m}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s:%d: %w", cfg.BindAddr, cfg.Port, err)
	}
	m.ml = ml
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(2)
	go m.joinLoop(ctx, peers)
	go m.announceLoop(ctx)
	return m, nil
}

// joinLoop retries Join until some peer answers, then keeps re-joining configured peers that are not members
// (memberlist forgets dead nodes; a returning peer is found again by this loop or by its own join).
func (m *Membership) joinLoop(ctx context.Context, peers []string) {
	defer m.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		var missing []string
		for _, p := range peers {
			if !m.hasAddr(p) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			if _, err := m.ml.Join(missing); err != nil {
				m.cfg.Log.Debug("gossip join", "peers", missing, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Membership) hasAddr(hostport string) bool {
	for _, n := range m.ml.Members() {
		if n.Name != m.cfg.Name && net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))) == hostport {
			return true
		}
	}
	return false
}

// Events is the stream of membership changes; it must be drained.
func (m *Membership) Events() <-chan Event { return m.events }

// Alive returns the alive members other than this node, with their metadata.
func (m *Membership) Alive() map[string]Meta {
	out := map[string]Meta{}
	for _, n := range m.ml.Members() {
		if n.Name == m.cfg.Name {
			continue
		}
		meta, err := DecodeMeta(n.Meta)
		if err != nil {
			continue
		}
		out[n.Name] = meta
	}
	return out
}

// Announce gossips this node's changed metadata soon. It never blocks: memberlist's UpdateNode waits for
// the broadcast to go out, so a dedicated goroutine makes the call.
func (m *Membership) Announce() {
	select {
	case m.announce <- struct{}{}:
	default:
	}
}

// AnnounceNow gossips this node's metadata and waits up to timeout for the broadcast to go out.
func (m *Membership) AnnounceNow(timeout time.Duration) {
	if err := m.ml.UpdateNode(timeout); err != nil {
		m.cfg.Log.Debug("gossip meta update", "err", err)
	}
}

func (m *Membership) announceLoop(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.announce:
			if err := m.ml.UpdateNode(time.Second); err != nil {
				m.cfg.Log.Debug("gossip meta update", "err", err)
			}
		}
	}
}

// Stop leaves the cluster (when graceful) and shuts gossip down. It waits for its goroutines.
func (m *Membership) Stop(graceful bool) {
	m.cancel()
	m.wg.Wait()
	if graceful {
		_ = m.ml.Leave(500 * time.Millisecond)
	}
	_ = m.ml.Shutdown()
}

type delegate struct {
	meta func() Meta
	log  *slog.Logger
}

func (d *delegate) NodeMeta(limit int) []byte {
	b, err := d.meta().Encode()
	if err != nil || len(b) > limit {
		d.log.Error("node meta too large", "err", err)
		return nil
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

type eventDelegate struct{ m *Membership }

func (e *eventDelegate) emit(kind EventKind, n *memberlist.Node) {
	if n.Name == e.m.cfg.Name {
		return
	}
	ev := Event{Kind: kind, Node: n.Name, Addr: n.Addr.String(), At: time.Now(), Graceful: kind == Leave && n.State == memberlist.StateLeft}
	ev.Meta, ev.Err = DecodeMeta(n.Meta)
	// memberlist calls delegates with its own locks held: never block it. The buffer is large; a full
	// buffer means the owner stopped reading, and the next periodic evaluation catches up from Alive().
	select {
	case e.m.events <- ev:
	default:
		e.m.cfg.Log.Warn("membership event dropped: queue full", "node", n.Name, "event", kind.String())
	}
}

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { e.emit(Join, n) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { e.emit(Leave, n) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { e.emit(Update, n) }

// slogWriter sends memberlist's log lines to slog at debug level (warnings at warn).
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	if bytes.Contains(p, []byte("[WARN]")) || bytes.Contains(p, []byte("[ERR]")) {
		w.log.Warn("memberlist", "msg", line)
	} else {
		w.log.Debug("memberlist", "msg", line)
	}
	return len(p), nil
}

var _ io.Writer = (*slogWriter)(nil)
