package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
)

// stonith is the Fencer clusterd uses: it fences through the stonith primitives of the CIB (today
// stonith:fence_xvm, with pacemaker's pcmk_host_map, pcmk_host_list, pcmk_delay_base and pcmk_delay_max),
// in configuration order, until one confirms.
type stonith struct {
	d *Daemon
}

// ErrNoDevice means no stonith resource can fence the node.
var ErrNoDevice = errors.New("no fence device configured for this node")

// Fence implements Fencer. It blocks through the configured delays and the device's answer.
func (s stonith) Fence(ctx context.Context, node, action string) error {
	c := s.d.store.View().CIB
	act := fencing.Reboot
	if action == "off" || action == "poweroff" {
		act = fencing.Off
	}
	timeout := 60 * time.Second
	if d, err := cib.ParseDuration(c.Property("stonith-timeout")); err == nil && d > 0 {
		timeout = d
	}
	var errs []error
	tried := 0
	for _, p := range c.Primitives {
		if p.Class != "stonith" {
			continue
		}
		port, ok := targetPort(p.Params, node)
		if !ok {
			continue
		}
		tried++
		delay, err := fenceDelay(p.Params, node)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
			continue
		}
		delay += s.priorityDelay(c, node)
		if delay > 0 {
			s.d.log.Warn("fencing delay", "target", node, "device", p.ID, "delay", delay)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
		}
		dev, err := newDevice(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		err = dev.Fence(fctx, port, act)
		cancel()
		s.d.recordFence(node, action, p.ID, err)
		if err == nil {
			s.d.log.Warn("fenced", "target", node, "device", p.ID, "port", port, "action", action, "took", time.Since(start))
			return nil
		}
		errs = append(errs, fmt.Errorf("%s (port %s): %w", p.ID, port, err))
	}
	if tried == 0 {
		return fmt.Errorf("fence %s: %w (add a stonith primitive, e.g. stonith:fence_xvm with pcmk_host_map)", node, ErrNoDevice)
	}
	return fmt.Errorf("fence %s: %w", node, errors.Join(errs...))
}

// priorityDelay is priority-fencing-delay when node runs the resources of higher total priority than this
// node: the node that holds the services wins a fence race, as pacemaker arranges.
func (s stonith) priorityDelay(c *cib.CIB, target string) time.Duration {
	d, err := cib.ParseDuration(c.Property("priority-fencing-delay"))
	if err != nil || d <= 0 {
		return 0
	}
	ops := s.d.store.View().Status.Ops
	total := func(node string) int {
		sum := 0
		for _, p := range c.Primitives {
			if rec, ok := ops[node][p.ID]; ok && rec.Running {
				v := p.Meta["priority"]
				if v == "" {
					v = c.RscDefaults["priority"]
				}
				n, _ := strconv.Atoi(v)
				sum += n
			}
		}
		return sum
	}
	if total(target) > total(s.d.cfg.NodeName) {
		return d
	}
	return 0
}

// targetPort maps a node to the device's port: pcmk_host_map "n1:vm1;n2:vm2" (also with commas or spaces),
// else pcmk_host_list limits the device to the listed nodes, else the node name itself.
func targetPort(params map[string]string, node string) (string, bool) {
	if m := params["pcmk_host_map"]; m != "" {
		for _, pair := range strings.FieldsFunc(m, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' }) {
			name, ports, ok := strings.Cut(pair, ":")
			if ok && strings.TrimSpace(name) == node {
				port := strings.Split(ports, ",")[0]
				return strings.TrimSpace(port), port != ""
			}
		}
		return "", false
	}
	if l := params["pcmk_host_list"]; l != "" {
		for _, n := range strings.FieldsFunc(l, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			if n == node {
				return node, true
			}
		}
		return "", false
	}
	return node, true
}

// fenceDelay is pcmk_delay_base (a duration, or "n1:2s;n2:0s" per target) plus a random part up to
// pcmk_delay_max.
func fenceDelay(params map[string]string, node string) (time.Duration, error) {
	var base time.Duration
	if v := params["pcmk_delay_base"]; v != "" {
		if strings.Contains(v, ":") {
			for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
				n, dv, _ := strings.Cut(pair, ":")
				if n == node {
					d, err := cib.ParseDuration(dv)
					if err != nil {
						return 0, fmt.Errorf("pcmk_delay_base: %w", err)
					}
					base = d
				}
			}
		} else {
			d, err := cib.ParseDuration(v)
			if err != nil {
				return 0, fmt.Errorf("pcmk_delay_base: %w", err)
			}
			base = d
		}
	}
	if v := params["pcmk_delay_max"]; v != "" {
		d, err := cib.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("pcmk_delay_max: %w", err)
		}
		if d > base {
			base += rand.N(d - base)
		}
	}
	return base, nil
}

// newDevice builds the fence device of a stonith primitive.
func newDevice(p cib.Primitive) (fencing.Device, error) {
	if p.Type != "fence_xvm" {
		return nil, fmt.Errorf("stonith:%s is not supported (Duet fences with stonith:fence_xvm)", p.Type)
	}
	cfg := client.Config{Hash: xvm.HashSHA256, Auth: xvm.HashSHA256, CallbackPort: client.EphemeralPort, Timeout: 20 * time.Second}
	keyFile := p.Params["key_file"]
	if keyFile == "" {
		keyFile = "/etc/cluster/fence_xvm.key"
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key_file: %w", err)
	}
	cfg.Key = key
	for name, set := range map[string]*xvm.HashType{"hash": &cfg.Hash, "auth": &cfg.Auth} {
		if v := p.Params[name]; v != "" {
			h, err := xvm.ParseHash(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			*set = h
		}
	}
	if v := p.Params["multicast_address"]; v != "" {
		cfg.Group = v
	}
	if v := p.Params["ipport"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("ipport %q: want a port", v)
		}
		cfg.Port = n
	}
	switch p.Params["ip_family"] {
	case "ipv4":
		cfg.Family = client.IPv4
	case "ipv6":
		cfg.Family = client.IPv6
	}
	if v := p.Params["ipaddr"]; v != "" {
		cfg.Mode, cfg.Addr = client.TCP, v
	}
	if v := p.Params["timeout"]; v != "" {
		d, err := cib.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		cfg.Timeout = d
	}
	return client.New(cfg)
}

// recordFence keeps a fence result for the history; the DC commits pending ones (the node fencing its peer
// is often not DC yet: it becomes DC only after the fence).
func (d *Daemon) recordFence(target, action, device string, err error) {
	ev := fenceEvent(target, action, device, d.cfg.NodeName, err)
	d.mu.Lock()
	d.pendingFences = append(d.pendingFences, ev)
	d.mu.Unlock()
	d.poke()
}
