package scheduler

import (
	"fmt"
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

// sheet is a score per node with the reasons that made it, pacemaker's allowed-node table.
type sheet struct {
	score map[string]cib.Score
	why   map[string][]string
}

func newSheet() *sheet {
	return &sheet{score: map[string]cib.Score{}, why: map[string][]string{}}
}

func (sh *sheet) add(node string, sc cib.Score, why string) {
	sh.score[node] = sh.score[node].Add(sc)
	if why != "" {
		sh.why[node] = append(sh.why[node], why)
	}
}

// plus returns sh + o (nodes are summed one by one; reasons concatenated).
func (sh *sheet) plus(o *sheet) *sheet {
	out := newSheet()
	for n, v := range sh.score {
		out.score[n] = v
	}
	for n, w := range sh.why {
		out.why[n] = append(out.why[n], w...)
	}
	for n, v := range o.score {
		out.score[n] = out.score[n].Add(v)
	}
	for n, w := range o.why {
		out.why[n] = append(out.why[n], w...)
	}
	return out
}

// banned returns the first reason of a -INFINITY score on the node, or "".
func (sh *sheet) banned(node string) string {
	if sh.score[node] > -cib.Infinity {
		return ""
	}
	for _, w := range sh.why[node] {
		if strings.Contains(w, "-inf") || !strings.HasPrefix(w, "+") {
			return strings.TrimPrefix(w, "-inf ")
		}
	}
	return node + " not allowed"
}

// negWhy explains why no node is allowed: "n1 standby, n2 banned by cli-ban-vip-on-n2".
func (sh *sheet) negWhy(nodes []string) string {
	var parts []string
	for _, n := range nodes {
		if sh.score[n] >= 0 {
			continue
		}
		if r := sh.banned(n); r != "" {
			if !contains(parts, r) {
				parts = append(parts, r)
			}
		} else if r := sh.negReason(n); r != "" {
			parts = append(parts, r)
		} else {
			parts = append(parts, fmt.Sprintf("%s score %s", n, sh.score[n]))
		}
	}
	return strings.Join(parts, ", ")
}

// posWhy lists the reasons that raised the node's score.
func (sh *sheet) posWhy(node string) string {
	var parts []string
	for _, w := range sh.why[node] {
		if strings.HasPrefix(w, "+") {
			parts = append(parts, strings.TrimPrefix(w, "+"))
		}
	}
	return strings.Join(parts, ", ")
}

// negReason returns the first reason that lowered the node's score, or "".
func (sh *sheet) negReason(node string) string {
	for _, w := range sh.why[node] {
		if !strings.HasPrefix(w, "+") {
			return w
		}
	}
	return ""
}
