package cib

import (
	"strings"
	"testing"
	"time"
)

func TestValidateProperty(t *testing.T) {
	tests := []struct {
		name, value, canon, errSub string
	}{
		{"no-quorum-policy", "ignore", "no-quorum-policy", ""},
		{"no-quorum-policy", "fence", "no-quorum-policy", ""},
		{"no-quorum-policy", "suicide", "no-quorum-policy", ""},
		{"no-quorum-policy", "maybe", "", "not one of"},
		{"fencing-enabled", "false", "stonith-enabled", ""},
		{"stonith-enabled", "perhaps", "", "not a boolean"},
		{"stonith-timeout", "30s", "stonith-timeout", ""},
		{"stonith-timeout", "30 parsecs", "", "duration"},
		{"no-quorum-polcy", "stop", "", `did you mean "no-quorum-policy"`},
		{"zzzzzzzzzzzzzzzzzzzz", "1", "", "unknown property"},
		{"batch-limit", "x", "", "not an integer"},
		{"migration-limit", "2", "migration-limit", ""},
		{"migration-limit", "two", "", "not an integer"},
		{"fencing-watchdog-timeout", "10s", "stonith-watchdog-timeout", ""},
		{"node-health-red", "-inf", "node-health-red", ""},
		{"transition-delay", "soon", "", "duration"},
	}
	for _, tt := range tests {
		got, err := ValidateProperty(tt.name, tt.value)
		if tt.errSub != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Errorf("ValidateProperty(%q,%q) err=%v, want containing %q", tt.name, tt.value, err, tt.errSub)
			}
			continue
		}
		if err != nil || got != tt.canon {
			t.Errorf("ValidateProperty(%q,%q) = %q,%v want %q", tt.name, tt.value, got, err, tt.canon)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"10", 10 * time.Second, false}, {"10s", 10 * time.Second, false}, {"500ms", 500 * time.Millisecond, false},
		{"2min", 2 * time.Minute, false}, {"1h", time.Hour, false}, {"0", 0, false}, {"1.5s", 1500 * time.Millisecond, false},
		{"", 0, true}, {"s", 0, true}, {"10 weeks", 0, true}, {"99999999999999999999h", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v,%v", tt.in, got, err)
		}
	}
}

func TestScore(t *testing.T) {
	for in, want := range map[string]Score{"inf": Infinity, "-INFINITY": -Infinity, "100": 100, "5000000": Infinity, "Mandatory": Infinity} {
		if got, err := ParseScore(in); err != nil || got != want {
			t.Errorf("ParseScore(%q) = %v,%v want %v", in, got, err, want)
		}
	}
	if _, err := ParseScore("lots"); err == nil {
		t.Error("ParseScore(lots) accepted")
	}
	if Infinity.Add(-Infinity) != -Infinity || Score(5).Add(7) != 12 || Infinity.Add(3) != Infinity {
		t.Error("Score.Add breaks pacemaker's rules")
	}
}

func TestPropertyDefaultsAndAliases(t *testing.T) {
	c := &CIB{Properties: map[string]string{"stonith-enabled": "false"}}
	if c.Property("fencing-enabled") != "false" || c.Property("no-quorum-policy") != "stop" {
		t.Errorf("Property: got %q %q", c.Property("fencing-enabled"), c.Property("no-quorum-policy"))
	}
	for _, s := range Properties() {
		if err := s.check(s.Default); err != nil && s.Default != "" {
			t.Errorf("default of %s does not validate: %v", s.Name, err)
		}
	}
}
