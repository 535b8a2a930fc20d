package cib

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PropertyType is the kind of value a cluster property takes.
type PropertyType int

const (
	TypeString PropertyType = iota
	TypeBool
	TypeDuration
	TypeInt
	TypeEnum
	TypeScore
)

// PropertySpec describes one cluster property (pacemaker.md section 3.1).
type PropertySpec struct {
	Name    string
	Aliases []string // other accepted names (pacemaker 3's fencing-* for stonith-*)
	Type    PropertyType
	Default string
	Values  []string // for TypeEnum
	Help    string
}

// propertySpecs is read-only after package init; it lists every property Duet understands.
var propertySpecs = []PropertySpec{
	{Name: "no-quorum-policy", Type: TypeEnum, Default: "stop", Values: []string{"stop", "freeze", "ignore", "demote", "suicide", "fence"},
		Help: "what a partition without quorum does"},
	{Name: "stonith-enabled", Aliases: []string{"fencing-enabled"}, Type: TypeBool, Default: "true",
		Help: "fence unresponsive nodes before recovering their resources"},
	{Name: "stonith-action", Aliases: []string{"fencing-action"}, Type: TypeEnum, Default: "reboot", Values: []string{"reboot", "off", "poweroff"},
		Help: "action sent to fence devices"},
	{Name: "stonith-timeout", Aliases: []string{"fencing-timeout"}, Type: TypeDuration, Default: "60s", Help: "how long a fence action may take"},
	{Name: "stonith-max-attempts", Aliases: []string{"fencing-max-attempts"}, Type: TypeInt, Default: "10", Help: "fence failures before giving up until the recheck interval"},
	{Name: "fence-reaction", Aliases: []string{"fencing-reaction"}, Type: TypeEnum, Default: "stop", Values: []string{"stop", "panic"}, Help: "what a node does on learning it was fenced"},
	{Name: "priority-fencing-delay", Type: TypeDuration, Default: "0", Help: "delay fencing of the node running the higher-priority resources"},
	{Name: "symmetric-cluster", Type: TypeBool, Default: "true", Help: "resources may run anywhere unless constrained"},
	{Name: "maintenance-mode", Type: TypeBool, Default: "false", Help: "no starts, stops or monitors"},
	{Name: "stop-all-resources", Type: TypeBool, Default: "false", Help: "stop every resource"},
	{Name: "start-failure-is-fatal", Type: TypeBool, Default: "true", Help: "a failed start bans the node at once"},
	{Name: "cluster-recheck-interval", Type: TypeDuration, Default: "15min", Help: "polling fail-safe for time-based changes"},
	{Name: "dc-deadtime", Type: TypeDuration, Default: "20s", Help: "how long a starting node waits for its peers"},
	{Name: "startup-fencing", Type: TypeBool, Default: "true", Help: "fence nodes never seen at startup"},
	{Name: "shutdown-lock", Type: TypeBool, Default: "false", Help: "keep resources locked to a cleanly stopped node"},
	{Name: "cluster-delay", Type: TypeDuration, Default: "60s", Help: "extra wait for a remote action's result"},
	{Name: "election-timeout", Type: TypeDuration, Default: "2min", Help: "accepted for compatibility"},
	{Name: "batch-limit", Type: TypeInt, Default: "0", Help: "accepted for compatibility"},
	{Name: "cluster-name", Type: TypeString, Default: "", Help: "the cluster's name"},
	{Name: "cluster-infrastructure", Type: TypeString, Default: "duet", Help: "read only in pacemaker; accepted"},
	{Name: "dc-version", Type: TypeString, Default: "", Help: "informational"},
	{Name: "have-watchdog", Type: TypeBool, Default: "false", Help: "informational"},
	{Name: "placement-strategy", Type: TypeEnum, Default: "default", Values: []string{"default", "utilization", "minimal", "balanced"}, Help: "accepted; only default is used"},
	{Name: "node-health-strategy", Type: TypeEnum, Default: "none", Values: []string{"none", "migrate-on-red", "only-green", "progressive", "custom"}, Help: "accepted; only none is used"},
	// The rest of pacemaker's cluster options (pacemaker.md section 3.1): valid names, checked values, no
	// effect in Duet. Refusing them as unknown would tell a pacemaker user their configuration is wrong.
	{Name: "migration-limit", Type: TypeInt, Default: "-1", Help: "accepted for compatibility"},
	{Name: "node-action-limit", Type: TypeInt, Default: "0", Help: "accepted for compatibility"},
	{Name: "load-threshold", Type: TypeString, Default: "80%", Help: "accepted for compatibility"},
	{Name: "shutdown-lock-limit", Type: TypeDuration, Default: "0", Help: "accepted for compatibility"},
	{Name: "join-integration-timeout", Type: TypeDuration, Default: "3min", Help: "accepted for compatibility"},
	{Name: "join-finalization-timeout", Type: TypeDuration, Default: "30min", Help: "accepted for compatibility"},
	{Name: "node-pending-timeout", Type: TypeDuration, Default: "0", Help: "accepted for compatibility"},
	{Name: "transition-delay", Type: TypeDuration, Default: "0s", Help: "accepted for compatibility"},
	{Name: "stonith-watchdog-timeout", Aliases: []string{"fencing-watchdog-timeout"}, Type: TypeString, Default: "0", Help: "accepted for compatibility (SBD)"},
	{Name: "concurrent-fencing", Type: TypeBool, Default: "true", Help: "accepted for compatibility"},
	{Name: "enable-startup-probes", Type: TypeBool, Default: "true", Help: "accepted for compatibility; Duet always probes"},
	{Name: "stop-orphan-resources", Type: TypeBool, Default: "true", Help: "accepted for compatibility"},
	{Name: "stop-orphan-actions", Type: TypeBool, Default: "true", Help: "accepted for compatibility"},
	{Name: "enable-acl", Type: TypeBool, Default: "false", Help: "accepted for compatibility"},
	{Name: "pe-error-series-max", Type: TypeInt, Default: "-1", Help: "accepted for compatibility"},
	{Name: "pe-warn-series-max", Type: TypeInt, Default: "5000", Help: "accepted for compatibility"},
	{Name: "pe-input-series-max", Type: TypeInt, Default: "4000", Help: "accepted for compatibility"},
	{Name: "node-health-base", Type: TypeScore, Default: "0", Help: "accepted for compatibility"},
	{Name: "node-health-green", Type: TypeScore, Default: "0", Help: "accepted for compatibility"},
	{Name: "node-health-yellow", Type: TypeScore, Default: "0", Help: "accepted for compatibility"},
	{Name: "node-health-red", Type: TypeScore, Default: "-INFINITY", Help: "accepted for compatibility"},
}

// Properties returns every known property, in a stable order.
func Properties() []PropertySpec { return slices.Clone(propertySpecs) }

// LookupProperty finds a property by its name or an alias.
func LookupProperty(name string) (PropertySpec, bool) {
	for _, s := range propertySpecs {
		if s.Name == name || slices.Contains(s.Aliases, name) {
			return s, true
		}
	}
	return PropertySpec{}, false
}

// ValidateProperty checks name and value and returns the canonical name. The error names the property
// and, for a typo, suggests the closest known one.
func ValidateProperty(name, value string) (string, error) {
	spec, ok := LookupProperty(name)
	if !ok {
		names := make([]string, 0, len(propertySpecs))
		for _, s := range propertySpecs {
			names = append(names, s.Name)
			names = append(names, s.Aliases...)
		}
		if s := Suggest(name, names); s != "" {
			return "", fmt.Errorf("unknown property %q (did you mean %q?)", name, s)
		}
		return "", fmt.Errorf("unknown property %q", name)
	}
	if err := spec.check(value); err != nil {
		return "", fmt.Errorf("property %s: %w", name, err)
	}
	return spec.Name, nil
}

func (s PropertySpec) check(v string) error {
	switch s.Type {
	case TypeBool:
		if _, ok := ParseBool(v); !ok {
			return fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off, 1/0)", v)
		}
	case TypeDuration:
		if _, err := ParseDuration(v); err != nil {
			return err
		}
	case TypeInt:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
	case TypeScore:
		if _, err := ParseScore(v); err != nil {
			return err
		}
	case TypeEnum:
		if !slices.Contains(s.Values, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(s.Values, ", "))
		}
	}
	return nil
}

// ParseBool reads pacemaker's booleans: true/false, yes/no, on/off, y/n, 1/0 (any case).
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "y", "1":
		return true, true
	case "false", "no", "off", "n", "0":
		return false, true
	}
	return false, false
}

// IsTrue reports whether v is a true boolean.
func IsTrue(v string) bool { b, _ := ParseBool(v); return b }

// ParseDuration reads pacemaker's durations: a bare number is seconds; suffixes ms, msec, us, usec, s, sec,
// m, min, h, hr; ISO 8601 forms such as PT5M are not accepted here.
func ParseDuration(v string) (time.Duration, error) {
	s := strings.TrimSpace(strings.ToLower(v))
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], s[i:]
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 500ms, 2min)", v)
	}
	var mult time.Duration
	switch unit {
	case "", "s", "sec", "secs":
		mult = time.Second
	case "ms", "msec", "msecs":
		mult = time.Millisecond
	case "us", "usec", "usecs":
		mult = time.Microsecond
	case "m", "min", "mins":
		mult = time.Minute
	case "h", "hr", "hrs":
		mult = time.Hour
	default:
		return 0, fmt.Errorf("%q: unknown duration unit %q (use ms, s, min or h)", v, unit)
	}
	if f > float64(1<<62)/float64(mult) {
		return 0, fmt.Errorf("%q: duration too large", v)
	}
	return time.Duration(f * float64(mult)), nil
}

// Suggest returns the candidate closest to s by edit distance, or "" when none is close enough.
func Suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
