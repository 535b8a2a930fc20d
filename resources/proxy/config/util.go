package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime parses a haproxy time value: a non-negative integer followed by an optional unit
// (us, ms, s, m, h, d); milliseconds without a unit.
func ParseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("parse time '%s': expects an integer value", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, fmt.Errorf("parse time '%s': value too large", s)
	}
	unit := time.Millisecond
	switch s[i:] {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("parse time '%s': unexpected character '%c'", s, s[i])
	}
	d := time.Duration(n) * unit
	if d/unit != time.Duration(n) || d > time.Duration(1<<31-1)*time.Millisecond {
		return 0, fmt.Errorf("parse time '%s': timer overflow, the maximum is 2147483647 ms (~24.8 days)", s)
	}
	return d, nil
}

// ParseSize parses a size with an optional k, m or g suffix (powers of 1024).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	t := s
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1024, t[:n-1]
		case 'm', 'M':
			mult, t = 1024*1024, t[:n-1]
		case 'g', 'G':
			mult, t = 1024*1024*1024, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("parse size '%s': expects a positive integer with an optional k, m or g suffix", s)
	}
	return v * mult, nil
}

// parseInt parses a decimal integer within [min, max].
func parseInt(s string, min, max int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("expects an integer argument, got '%s'", s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("value %d out of range [%d..%d]", v, min, max)
	}
	return v, nil
}

// suggest returns the candidate closest to word, or "" when none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(word), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(word) >= 8 {
		limit = 3
	}
	if bestD <= limit && bestD < len(word) {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
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
			// transposition
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev[j-1]) // approximate Damerau
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
