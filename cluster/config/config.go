// Package config reads clusterd's configuration file and flags into one Config. The file is line based:
// `key = value`, `#` comments, one `peer = NAME ADDRESS [witness]` line per other node. Every error names the
// file and line.
package config

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
)

// Defaults for the ports and timers; the timers are tuned for sub-second failover on a LAN (DESIGN.md 4.4).
const (
	DefaultGossipPort    = 7946
	DefaultRaftPort      = 7947
	DefaultProbeInterval = 50 * time.Millisecond
	DefaultSuspicionMult = 2
	DefaultRaftHeartbeat = 250 * time.Millisecond
)

// Peer is another node of the cluster.
type Peer struct {
	Name    string
	Addr    string // IP address; the ports are the cluster's
	Witness bool
}

// Config is everything clusterd needs to start.
type Config struct {
	NodeName   string
	BindAddr   string // IP address gossip and raft listen on
	GossipPort int
	RaftPort   int
	Peers      []Peer
	DataDir    string
	KeyFile    string
	Socket     string // API unix socket
	Witness    bool   // this node is a witness: a Raft voter that runs no resources
	// TwoNode and WaitForAll follow corosync; nil means the default (on when exactly two voters).
	TwoNode    *bool
	WaitForAll *bool
	// Timers.
	ProbeInterval time.Duration
	SuspicionMult int
	RaftHeartbeat time.Duration

	Key []byte // read from KeyFile by LoadKey
}

// Default returns a configuration with every default filled in.
func Default() Config {
	return Config{
		GossipPort:    DefaultGossipPort,
		RaftPort:      DefaultRaftPort,
		DataDir:       "/var/lib/duet",
		KeyFile:       "/etc/duet/cluster.key",
		Socket:        "/run/duet/clusterd.sock",
		ProbeInterval: DefaultProbeInterval,
		SuspicionMult: DefaultSuspicionMult,
		RaftHeartbeat: DefaultRaftHeartbeat,
	}
}

// Error is a configuration error at a file and line.
type Error struct {
	File string
	Line int
	Key  string
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ParseFile reads path into c (on top of what c already holds).
func (c *Config) ParseFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return c.Parse(path, data)
}

var keys = []string{"node_name", "bind", "gossip_port", "raft_port", "peer", "data_dir", "key_file", "socket",
	"witness", "two_node", "wait_for_all", "probe_interval", "suspicion_mult", "raft_heartbeat"}

// Parse reads configuration text; name is used in errors. All errors are reported, joined.
func (c *Config) Parse(name string, data []byte) error {
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			errs = append(errs, &Error{name, line, text, errors.New("want key = value")})
			continue
		}
		if err := c.Set(k, v); err != nil {
			errs = append(errs, &Error{name, line, k, err})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &Error{name, line + 1, "line", err})
	}
	return errors.Join(errs...)
}

// Set applies one key; flags use it too.
func (c *Config) Set(k, v string) error {
	switch k {
	case "node_name":
		if !validName(v) {
			return fmt.Errorf("%q is not a node name (letters, digits, '-', '_', '.')", v)
		}
		c.NodeName = v
	case "bind":
		if net.ParseIP(v) == nil {
			return fmt.Errorf("%q is not an IP address", v)
		}
		c.BindAddr = v
	case "gossip_port", "raft_port":
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%q is not a port (1-65535)", v)
		}
		if k == "gossip_port" {
			c.GossipPort = p
		} else {
			c.RaftPort = p
		}
	case "peer":
		f := strings.Fields(v)
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "witness") {
			return fmt.Errorf("%q: want NAME ADDRESS [witness]", v)
		}
		if !validName(f[0]) {
			return fmt.Errorf("%q is not a node name", f[0])
		}
		if net.ParseIP(f[1]) == nil {
			return fmt.Errorf("peer %s: %q is not an IP address", f[0], f[1])
		}
		for _, p := range c.Peers {
			if p.Name == f[0] {
				return fmt.Errorf("peer %s listed twice", f[0])
			}
		}
		c.Peers = append(c.Peers, Peer{Name: f[0], Addr: f[1], Witness: len(f) == 3})
	case "data_dir", "key_file", "socket":
		if v == "" {
			return errors.New("empty path")
		}
		switch k {
		case "data_dir":
			c.DataDir = v
		case "key_file":
			c.KeyFile = v
		case "socket":
			c.Socket = v
		}
	case "witness", "two_node", "wait_for_all":
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		switch k {
		case "witness":
			c.Witness = b
		case "two_node":
			c.TwoNode = &b
		case "wait_for_all":
			c.WaitForAll = &b
		}
	case "probe_interval", "raft_heartbeat":
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Millisecond || d > time.Minute {
			return fmt.Errorf("%q: want a duration between 5ms and 1m, e.g. 50ms", v)
		}
		if k == "probe_interval" {
			c.ProbeInterval = d
		} else {
			c.RaftHeartbeat = d
		}
	case "suspicion_mult":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 20 {
			return fmt.Errorf("%q: want an integer 1-20", v)
		}
		c.SuspicionMult = n
	default:
		if s := suggest(k); s != "" {
			return fmt.Errorf("unknown key (did you mean %q?)", s)
		}
		return errors.New("unknown key")
	}
	return nil
}

// Validate checks the whole configuration after the file and flags are read.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("node_name: missing (set it in the file or with --name)"))
	}
	if c.BindAddr == "" {
		errs = append(errs, errors.New("bind: missing (the node's cluster address)"))
	}
	if len(c.Peers) == 0 {
		errs = append(errs, errors.New("peer: no peers; a cluster needs at least one other node"))
	}
	for _, p := range c.Peers {
		if p.Name == c.NodeName {
			errs = append(errs, fmt.Errorf("peer %s: is this node's own name", p.Name))
		}
	}
	if c.GossipPort == c.RaftPort {
		errs = append(errs, fmt.Errorf("raft_port: %d is the gossip port too", c.RaftPort))
	}
	return errors.Join(errs...)
}

// Members returns every configured node's name, sorted; node IDs are positions in this list plus one.
func (c *Config) Members() []Peer {
	all := append([]Peer{{Name: c.NodeName, Addr: c.BindAddr, Witness: c.Witness}}, c.Peers...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Voters is the number of configured Raft voters (every node, witnesses included).
func (c *Config) Voters() int { return len(c.Peers) + 1 }

// TwoNodeMode reports whether corosync's two_node rule applies: exactly two voters and not turned off.
func (c *Config) TwoNodeMode() bool {
	if c.TwoNode != nil {
		return *c.TwoNode && c.Voters() == 2
	}
	return c.Voters() == 2
}

// WaitForAllMode is on by default in two-node mode, as corosync's two_node implies it.
func (c *Config) WaitForAllMode() bool {
	if c.WaitForAll != nil {
		return *c.WaitForAll
	}
	return c.TwoNodeMode()
}

// LoadKey reads the cluster key: 16, 24 or 32 raw bytes, or the same as hex or base64 text.
func (c *Config) LoadKey() error {
	data, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return fmt.Errorf("key_file: %w", err)
	}
	key, err := ParseKey(data)
	if err != nil {
		return fmt.Errorf("key_file %s: %w", c.KeyFile, err)
	}
	c.Key = key
	return nil
}

// ParseKey decodes a key file's contents.
func ParseKey(data []byte) ([]byte, error) {
	okLen := func(n int) bool { return n == 16 || n == 24 || n == 32 }
	text := strings.TrimSpace(string(data))
	if b, err := hex.DecodeString(text); err == nil && okLen(len(b)) {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && okLen(len(b)) {
		return b, nil
	}
	if okLen(len(data)) {
		return data, nil
	}
	return nil, fmt.Errorf("want 16, 24 or 32 bytes (raw, hex or base64); the file holds %d bytes", len(data))
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (yes/no, true/false, on/off, 1/0)", v)
}

func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func suggest(k string) string { return cib.Suggest(k, keys) }
