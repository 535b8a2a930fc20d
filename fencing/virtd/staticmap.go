package virtd

import (
	"strings"

	"github.com/duet-ha/duet/fencing"
)

// staticMap is the groups section: which source addresses may fence which VMs. With no groups everything
// is allowed. Matching is case-insensitive; a group's uuid entries may be names or UUIDs.
type staticMap []Group

// allowed reports whether src may act on target (the domain string exactly as the client sent it).
func (m staticMap) allowed(src, target string) bool {
	if len(m) == 0 {
		return true
	}
	for _, g := range m {
		if containsFold(g.IPs, src) && containsFold(g.UUIDs, target) {
			return true
		}
	}
	return false
}

// filter keeps the hosts src may see in a list: those whose name or UUID it may act on.
func (m staticMap) filter(src string, hosts []fencing.Host) []fencing.Host {
	if len(m) == 0 {
		return hosts
	}
	var out []fencing.Host
	for _, h := range hosts {
		if m.allowed(src, h.Name) || (h.UUID != "" && m.allowed(src, h.UUID)) {
			out = append(out, h)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
