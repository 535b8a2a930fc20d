package cib

import (
	"fmt"
	"strconv"
	"strings"
)

// Score is a pacemaker score: an integer clamped to ±INFINITY (1,000,000).
type Score int64

// Infinity is pacemaker's INFINITY score.
const Infinity Score = 1_000_000

// ParseScore reads inf, INFINITY, +inf, -inf, -INFINITY, Mandatory (= INFINITY), Optional (= 0) or an integer.
func ParseScore(s string) (Score, error) {
	switch strings.ToLower(strings.TrimSuffix(s, ":")) {
	case "inf", "+inf", "infinity", "+infinity", "mandatory":
		return Infinity, nil
	case "-inf", "-infinity":
		return -Infinity, nil
	case "optional":
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s, ":"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q: want an integer, inf or -inf", s)
	}
	return Score(n).Clamp(), nil
}

// Clamp limits the score to ±INFINITY.
func (s Score) Clamp() Score {
	if s > Infinity {
		return Infinity
	}
	if s < -Infinity {
		return -Infinity
	}
	return s
}

// Add adds with pacemaker's rules: -INFINITY wins over INFINITY, and the sum is clamped.
func (s Score) Add(o Score) Score {
	if s <= -Infinity || o <= -Infinity {
		return -Infinity
	}
	if s >= Infinity || o >= Infinity {
		return Infinity
	}
	return (s + o).Clamp()
}

// String prints inf / -inf the way crmsh shows them.
func (s Score) String() string {
	switch {
	case s >= Infinity:
		return "inf"
	case s <= -Infinity:
		return "-inf"
	}
	return strconv.FormatInt(int64(s), 10)
}
