package virtd

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/duet-ha/duet/fencing/xvm"
)

// Config is a fence_virt.conf in typed form.
type Config struct {
	File     string
	Listener string // "multicast" or "tcp"
	Backend  string // "libvirt", "exec" or "netns"
	Debug    int
	Listen   ListenerConfig
	// BackendBlock is the backends/<Backend> block (nil when absent): each backend reads its own keys.
	BackendBlock *Node
	Groups       []Group
	// Warnings are keys Duet does not use; they are reported, never silently dropped.
	Warnings []string
}

// ListenerConfig is the listeners/<listener> block.
type ListenerConfig struct {
	KeyFile   string
	Hash      xvm.HashType // minimum request hash
	Auth      xvm.HashType // challenge-response hash
	IPv6      bool
	Address   netip.Addr // multicast group, or the TCP listen address
	Port      int
	Interface string // multicast only; "" joins the group on the default interface
}

// Group is one groups/group block of the static map.
type Group struct {
	Name  string
	UUIDs []string // VM names or UUIDs this group may fence
	IPs   []string // source addresses allowed to fence them
}

// DefaultKeyFile is the compiled-in key path of the real daemon.
const DefaultKeyFile = "/etc/cluster/fence_xvm.key"

// LoadConfig reads and parses a fence_virt.conf file.
func LoadConfig(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfigFile(path, src)
}

var knownKeys = map[string][]string{
	"fence_virtd": {"listener", "backend", "debug", "foreground", "wait_for_init", "wait_for_backend", "module_path", "name_mode"},
	"multicast":   {"key_file", "hash", "auth", "family", "address", "port", "interface"},
	"tcp":         {"key_file", "hash", "auth", "family", "address", "port"},
}

// ParseConfigFile parses fence_virt.conf text (file names the source in errors) into a Config. Syntax
// errors are *SyntaxError; bad values are errors naming file, line and key.
func ParseConfigFile(file string, src []byte) (*Config, error) {
	root, err := ParseConfig(file, src)
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	c := &Config{File: file}
	fv := root.Block1("fence_virtd")
	if fv == nil {
		return nil, fmt.Errorf("parse config: %s: no fence_virtd block", file)
	}
	c.warnUnknown(fv, "fence_virtd")
	var ok bool
	if c.Listener, ok = fv.Get("listener"); !ok {
		return nil, fmt.Errorf("parse config: %s:%d: fence_virtd: no listener", file, fv.Line)
	}
	if c.Backend, ok = fv.Get("backend"); !ok {
		return nil, fmt.Errorf("parse config: %s:%d: fence_virtd: no backend", file, fv.Line)
	}
	if v, ok := fv.Get("debug"); ok {
		if c.Debug, err = strconv.Atoi(v); err != nil {
			return nil, c.valueErr(fv, "debug", v, "not a number")
		}
	}
	switch c.Listener {
	case "multicast", "tcp":
	default:
		return nil, c.valueErr(fv, "listener", c.Listener, "Duet supports multicast and tcp")
	}
	switch c.Backend {
	case "libvirt", "exec", "netns":
	default:
		return nil, c.valueErr(fv, "backend", c.Backend, "Duet supports libvirt, exec and netns")
	}
	var lb *Node
	if ls := root.Block1("listeners"); ls != nil {
		lb = ls.Block1(c.Listener)
	}
	if lb == nil {
		lb = &Node{Block: true, Line: fv.Line}
	} else {
		c.warnUnknown(lb, c.Listener)
	}
	if err := c.parseListener(lb); err != nil {
		return nil, err
	}
	if bs := root.Block1("backends"); bs != nil {
		c.BackendBlock = bs.Block1(c.Backend)
	}
	if gs := root.Block1("groups"); gs != nil {
		for _, g := range gs.Blocks("group") {
			name, _ := g.Get("name")
			c.Groups = append(c.Groups, Group{Name: name, UUIDs: g.Values("uuid"), IPs: g.Values("ip")})
		}
	}
	return c, nil
}

func (c *Config) warnUnknown(b *Node, kind string) {
	known := knownKeys[kind]
	for _, ch := range b.Children {
		found := false
		for _, k := range known {
			if strings.EqualFold(ch.Name, k) {
				found = true
			}
		}
		if !found {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: %s: unknown key %q ignored", c.File, ch.Line, kind, ch.Name))
		}
	}
}

func (c *Config) valueErr(n *Node, key, val, why string) error {
	line := n.Line
	for _, ch := range n.Children {
		if strings.EqualFold(ch.Name, key) {
			line = ch.Line
		}
	}
	return fmt.Errorf("parse config: %s:%d: %s = %q: %s", c.File, line, key, val, why)
}

func (c *Config) parseListener(b *Node) error {
	l := &c.Listen
	l.KeyFile = DefaultKeyFile
	if v, ok := b.Get("key_file"); ok {
		l.KeyFile = v
	}
	l.Hash, l.Auth = xvm.HashSHA256, xvm.HashSHA256
	for _, k := range []string{"hash", "auth"} {
		v, ok := b.Get(k)
		if !ok {
			continue
		}
		h, err := xvm.ParseHash(v)
		if err != nil {
			return c.valueErr(b, k, v, "want none, sha1, sha256 or sha512")
		}
		if k == "hash" {
			l.Hash = h
		} else {
			l.Auth = h
		}
	}
	if v, ok := b.Get("family"); ok {
		switch strings.ToLower(v) {
		case "ipv4":
		case "ipv6":
			l.IPv6 = true
		default:
			return c.valueErr(b, "family", v, "want ipv4 or ipv6")
		}
	}
	def := map[[2]bool]string{{true, false}: xvm.DefaultGroupIPv4, {true, true}: xvm.DefaultGroupIPv6,
		{false, false}: "127.0.0.1", {false, true}: "::1"}[[2]bool{c.Listener == "multicast", l.IPv6}]
	addr := def
	if v, ok := b.Get("address"); ok {
		addr = v
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return c.valueErr(b, "address", addr, "not an IP address")
	}
	if a.Is6() != l.IPv6 {
		return c.valueErr(b, "address", addr, "does not match the family")
	}
	if c.Listener == "multicast" && !a.IsMulticast() {
		return c.valueErr(b, "address", addr, "not a multicast group")
	}
	l.Address = a
	l.Port = xvm.DefaultPort
	if v, ok := b.Get("port"); ok {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			return c.valueErr(b, "port", v, "want a port number 1-65535")
		}
		l.Port = p
	}
	l.Interface, _ = b.Get("interface")
	return nil
}
