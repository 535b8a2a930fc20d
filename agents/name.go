package agents

import (
	"fmt"
	"strings"
)

// Name is a parsed crmsh agent name: class, provider (ocf only) and type.
type Name struct {
	Class    string // ocf, lsb, systemd, service, stonith
	Provider string // heartbeat, pacemaker, duet, ...; empty for other classes
	Type     string // IPaddr2, haproxy, nginx.service, fence_xvm
}

// Classes are the agent classes ParseName accepts.
var classes = map[string]bool{"ocf": true, "lsb": true, "systemd": true, "service": true, "stonith": true}

// String returns the canonical full name, e.g. ocf:heartbeat:IPaddr2 or lsb:haproxy.
func (n Name) String() string {
	if n.Class == "ocf" {
		return n.Class + ":" + n.Provider + ":" + n.Type
	}
	return n.Class + ":" + n.Type
}

// ParseName parses an agent name as crmsh writes it. A bare type (IPaddr2) is crmsh's abbreviation for
// ocf:heartbeat:IPaddr2; class:type is accepted for every class but ocf, which needs class:provider:type.
// Classes are matched case-insensitively and returned in lower case; provider and type keep their case.
// The error names the part that is wrong.
func ParseName(s string) (Name, error) {
	if s == "" {
		return Name{}, fmt.Errorf("parse agent name: empty name")
	}
	parts := strings.Split(s, ":")
	var n Name
	switch len(parts) {
	case 1:
		n = Name{Class: "ocf", Provider: "heartbeat", Type: parts[0]}
	case 2:
		n = Name{Class: strings.ToLower(parts[0]), Type: parts[1]}
		if n.Class == "ocf" {
			return Name{}, fmt.Errorf("parse agent name %q: ocf agents need a provider (did you mean ocf:heartbeat:%s?)", s, parts[1])
		}
	case 3:
		n = Name{Class: strings.ToLower(parts[0]), Provider: parts[1], Type: parts[2]}
		if n.Class != "ocf" {
			return Name{}, fmt.Errorf("parse agent name %q: only the ocf class takes a provider (did you mean %s:%s?)", s, n.Class, parts[2])
		}
	default:
		return Name{}, fmt.Errorf("parse agent name %q: too many ':' (want class:provider:type)", s)
	}
	if !classes[n.Class] {
		return Name{}, fmt.Errorf("parse agent name %q: unknown class %q (want ocf, lsb, systemd, service or stonith)", s, n.Class)
	}
	if n.Class == "ocf" {
		if err := checkWord("provider", n.Provider); err != nil {
			return Name{}, fmt.Errorf("parse agent name %q: %w", s, err)
		}
	}
	if err := checkWord("type", n.Type); err != nil {
		return Name{}, fmt.Errorf("parse agent name %q: %w", s, err)
	}
	return n, nil
}

// checkWord accepts the characters that file names of agents, init scripts and systemd units use, and
// rejects anything that could walk out of a directory.
func checkWord(what, w string) error {
	if w == "" {
		return fmt.Errorf("empty %s", what)
	}
	if w == "." || w == ".." || strings.HasPrefix(w, "-") {
		return fmt.Errorf("invalid %s %q", what, w)
	}
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_' || r == '-' || r == '.' || r == '@' || r == '+' || r == '\\':
		default:
			return fmt.Errorf("invalid character %q in %s %q", r, what, w)
		}
	}
	return nil
}
