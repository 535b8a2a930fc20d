package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/cluster/transport"
)

// raftNode is one running Raft instance with its stores. A recovery or a wipe replaces it with a new one.
type raftNode struct {
	r      *raft.Raft
	bolt   *raftboltdb.BoltStore
	trans  *raft.NetworkTransport
	layer  *transport.RaftLayer
	notify chan bool
	conf   *raft.Config
	// scannedEpoch is the epoch the persisted history reaches, known before Raft re-applies it.
	scannedEpoch uint64
}

// raftTimers are the timers for a normal multi-voter configuration.
type raftTimers struct {
	heartbeat time.Duration
}

func (t raftTimers) apply(c *raft.Config) {
	c.HeartbeatTimeout = t.heartbeat
	c.ElectionTimeout = t.heartbeat
	c.LeaderLeaseTimeout = t.heartbeat / 2
	// How often the DC tells followers its commit index when no entry is flowing: hashicorp/raft's default.
	// At 5 ms (until Dec 7) these messages cost an idle DC 7.4 % of a core and the other node 3.7 %, against
	// 3.1 % and 2.2 %; a change forwarded by a follower is pushed out by a barrier instead (Submit).
	c.CommitTimeout = 50 * time.Millisecond
}

func raftDir(dataDir string) string { return filepath.Join(dataDir, "raft") }

// openRaft opens (creating if needed) the Raft stores under dataDir and starts Raft. When the stores hold no
// state and bootstrap is non-empty, it bootstraps that configuration. fast selects short timers, used right
// after a recovery to a single voter (nobody else votes, so they cannot disturb anyone).
func openRaft(dataDir, id string, fsm *store.Store, mux *transport.Mux, timers raftTimers, bootstrap []raft.Server, fast bool, log *slog.Logger) (*raftNode, error) {
	dir := raftDir(dataDir)
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	if err := checkSnapshots(dir); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, "raft.db")
	bolt, err := openBolt(dbPath)
	if err != nil {
		return nil, err
	}
	hl := hclogFor(log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, hl)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("open raft snapshots in %s: %w", dir, err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = hl
	conf.SnapshotThreshold = 512
	conf.SnapshotInterval = 30 * time.Second
	conf.TrailingLogs = 1024
	timers.apply(conf)
	if fast {
		conf.HeartbeatTimeout = 10 * time.Millisecond
		conf.ElectionTimeout = 10 * time.Millisecond
		conf.LeaderLeaseTimeout = 5 * time.Millisecond
	}
	notify := make(chan bool, 16)
	conf.NotifyCh = notify

	has, err := raft.HasExistingState(bolt, bolt, snaps)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("read raft state in %s: %w", dbPath, err)
	}
	layer := mux.RaftLayer()
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: time.Second, Logger: hl,
	})
	if !has && len(bootstrap) > 0 {
		if err := raft.BootstrapCluster(conf, bolt, bolt, snaps, trans, raft.Configuration{Servers: bootstrap}); err != nil {
			trans.Close()
			bolt.Close()
			return nil, fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	scanned := scanEpoch(bolt, snaps)
	r, err := raft.NewRaft(conf, fsm, bolt, bolt, snaps, trans)
	if err != nil {
		trans.Close()
		bolt.Close()
		return nil, fmt.Errorf("start raft from %s: %w", dir, err)
	}
	return &raftNode{r: r, bolt: bolt, trans: trans, layer: layer, notify: notify, conf: conf, scannedEpoch: scanned}, nil
}

// checkSnapshots refuses a damaged snapshot under the Raft dir before Raft sees it. Raft itself skips a
// snapshot whose meta.json does not decode, without a word above debug, and starts from older state; a
// truncated or altered state.bin it reports only as "failed to load any existing snapshots". The error
// names the file; nothing is changed on disk.
func checkSnapshots(dir string) error {
	root := filepath.Join(dir, "snapshots", "snapshots")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read raft snapshots: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") { // .tmp: a snapshot Raft never finished
			continue
		}
		snap := filepath.Join(root, e.Name())
		metaPath := filepath.Join(snap, "meta.json")
		b, err := os.ReadFile(metaPath)
		if err != nil {
			return fmt.Errorf("damaged raft snapshot: %w", err)
		}
		var meta struct {
			Size int64
			CRC  []byte
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("damaged raft snapshot %s: %w", metaPath, err)
		}
		statePath := filepath.Join(snap, "state.bin")
		f, err := os.Open(statePath)
		if err != nil {
			return fmt.Errorf("damaged raft snapshot: %w", err)
		}
		h := crc64.New(crc64.MakeTable(crc64.ECMA)) // as raft's FileSnapshotStore
		n, err := io.Copy(h, f)
		f.Close()
		switch {
		case err != nil:
			return fmt.Errorf("damaged raft snapshot %s: %w", statePath, err)
		case n != meta.Size:
			return fmt.Errorf("damaged raft snapshot %s: %d bytes, %s says %d (truncated?)", statePath, n, metaPath, meta.Size)
		case !bytes.Equal(h.Sum(nil), meta.CRC):
			return fmt.Errorf("damaged raft snapshot %s: its checksum does not match %s", statePath, metaPath)
		}
	}
	return nil
}

// scanEpoch replays the persisted snapshot and log into a scratch store and returns the CIB epoch they lead
// to. Raft applies entries after the last snapshot only once they are committed again, which needs a leader;
// until then the live store understates this node's history, and the rejoin rule must not be misled by it.
func scanEpoch(logs raft.LogStore, snaps raft.SnapshotStore) uint64 {
	scratch := store.New()
	var from uint64
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		if _, rc, err := snaps.Open(metas[0].ID); err == nil {
			if scratch.Restore(rc) == nil {
				from = metas[0].Index
			}
		}
	}
	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	for i := max(first, from+1); i <= last && i > 0; i++ {
		var l raft.Log
		if logs.GetLog(i, &l) != nil {
			continue
		}
		scratch.Apply(&l)
	}
	_, epoch := scratch.Epoch()
	return epoch
}

// openBolt opens the log store, turning bolt's errors about a damaged file into one that names it. bolt
// blocks forever on a file another process holds locked, so the open has a timeout.
func openBolt(path string) (*raftboltdb.BoltStore, error) {
	// bolt would initialise an empty file as a fresh log, silently forgetting the term and vote (and the
	// entries after the last snapshot); clusterd creates the file itself, so an empty one was truncated.
	if fi, err := os.Stat(path); err == nil && fi.Size() < 4096 {
		return nil, fmt.Errorf("open raft log store %s: file is truncated (%d bytes); move it away to start this node fresh — its peer holds the cluster's state", path, fi.Size())
	}
	type res struct {
		s   *raftboltdb.BoltStore
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := raftboltdb.New(raftboltdb.Options{Path: path})
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("open raft log store %s: %w (the file is damaged or not a Duet data dir; move it away to start this node fresh)", path, r.err)
		}
		return r.s, nil
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("open raft log store %s: still locked after 10s: is another clusterd using this data dir?", path)
	}
}

// shutdown stops Raft and closes its stores.
func (n *raftNode) shutdown() error {
	n.layer.Abort()
	err := n.r.Shutdown().Error()
	if cerr := n.bolt.Close(); err == nil {
		err = cerr
	}
	return err
}

// servers returns the latest Raft configuration.
func (n *raftNode) servers() []raft.Server {
	f := n.r.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}

// position returns the last log term and index.
func (n *raftNode) position() (term, index uint64) {
	st := n.r.Stats()
	term, _ = strconv.ParseUint(st["last_log_term"], 10, 64)
	index, _ = strconv.ParseUint(st["last_log_index"], 10, 64)
	return term, index
}

// recoverSingle rewrites the Raft state under dataDir so that id is the only voter (hashicorp/raft's
// RecoverCluster). Raft must not be running.
func recoverSingle(dataDir, id, addr string, log *slog.Logger) error {
	dir := raftDir(dataDir)
	bolt, err := openBolt(filepath.Join(dir, "raft.db"))
	if err != nil {
		return err
	}
	defer bolt.Close()
	hl := hclogFor(log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, hl)
	if err != nil {
		return fmt.Errorf("open raft snapshots: %w", err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = hl
	_, trans := raft.NewInmemTransport(raft.ServerAddress(addr))
	defer trans.Close()
	err = raft.RecoverCluster(conf, store.New(), bolt, bolt, snaps, trans, raft.Configuration{Servers: []raft.Server{
		{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)},
	}})
	if err != nil {
		return fmt.Errorf("recover raft as single voter: %w", err)
	}
	return nil
}

func hclogFor(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: &hclogWriter{log: log}})
}

type hclogWriter struct{ log *slog.Logger }

func (w *hclogWriter) Write(p []byte) (int, error) {
	// Raft is chatty while a peer is down (every failed vote request is an error); clusterd logs the
	// decisions that matter itself, so Raft's own lines go to debug.
	w.log.Debug("raft", "msg", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

var _ io.Writer = (*hclogWriter)(nil)
