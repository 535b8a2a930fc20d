// Package cib is the cluster information base: the one canonical, typed cluster configuration (nodes,
// properties, resources, constraints, defaults) that Raft replicates. crmsh syntax is an adapter into it
// (package cluster/cib/crmsh); the scheduler reads it. A CIB value is plain data: copy it with Clone before
// changing a shared one.
package cib

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// CIB is the whole configuration. Epoch increases by one on every committed change and never goes back;
// AdminEpoch changes only by hand. When two diverged copies meet, the higher (AdminEpoch, Epoch) wins.
type CIB struct {
	AdminEpoch  uint64            `json:"admin_epoch"`
	Epoch       uint64            `json:"epoch"`
	LastChange  Change            `json:"last_change"`
	Nodes       []Node            `json:"nodes,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	RscDefaults map[string]string `json:"rsc_defaults,omitempty"`
	OpDefaults  map[string]string `json:"op_defaults,omitempty"`
	Primitives  []Primitive       `json:"primitives,omitempty"`
	Groups      []Group           `json:"groups,omitempty"`
	Clones      []Clone           `json:"clones,omitempty"`
	Locations   []Location        `json:"locations,omitempty"`
	Colocations []Colocation      `json:"colocations,omitempty"`
	Orders      []Order           `json:"orders,omitempty"`
	// Display keeps what crmsh shows but the typed fields do not carry: set ids and attribute order.
	// It is optional; Show falls back to defaults and sorted keys.
	Display Display `json:"display,omitzero"`
}

// Display holds the presentation details of the cluster-wide attribute sets: their ids (crmsh's
// "property cib-bootstrap-options:") and the order in which their keys were written. Keys listed here
// that are absent from the maps are ignored; keys missing from the lists are shown after them, sorted.
type Display struct {
	PropertySetID    string   `json:"property_set_id,omitempty"`     // default cib-bootstrap-options
	RscDefaultsSetID string   `json:"rsc_defaults_set_id,omitempty"` // default rsc-options
	OpDefaultsSetID  string   `json:"op_defaults_set_id,omitempty"`  // default op-options
	PropertyOrder    []string `json:"property_order,omitempty"`
	RscDefaultsOrder []string `json:"rsc_defaults_order,omitempty"`
	OpDefaultsOrder  []string `json:"op_defaults_order,omitempty"`
}

// Change records who made the last change, for crm_mon's "Last change:" line.
type Change struct {
	When time.Time `json:"when"`
	User string    `json:"user,omitempty"`
	Via  string    `json:"via,omitempty"`  // the client, e.g. crm
	Node string    `json:"node,omitempty"` // the node the request entered
}

// Node is a cluster member as configured. Attributes hold permanent node attributes such as standby=on.
type Node struct {
	ID         int               `json:"id"`
	Name       string            `json:"name"`
	Witness    bool              `json:"witness,omitempty"` // a Raft voter that runs no resources
	Attributes map[string]string `json:"attributes,omitempty"`
	// AttrOrder is the order in which Attributes were written, for show (optional).
	AttrOrder   []string `json:"attr_order,omitempty"`
	Description string   `json:"description,omitempty"`
}

// Standby reports whether the node's standby attribute is on.
func (n Node) Standby() bool { return IsTrue(n.Attributes["standby"]) }

// Primitive is one resource: class:provider:type plus instance attributes (Params), meta attributes and ops.
type Primitive struct {
	ID          string            `json:"id"`
	Class       string            `json:"class"`              // ocf, lsb, systemd, stonith, service
	Provider    string            `json:"provider,omitempty"` // only for ocf
	Type        string            `json:"type"`
	Description string            `json:"description,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Ops         []Op              `json:"ops,omitempty"`
	// ParamOrder and MetaOrder keep the order in which Params and Meta were written, for show (optional).
	ParamOrder []string `json:"param_order,omitempty"`
	MetaOrder  []string `json:"meta_order,omitempty"`
}

// Agent returns the full agent name, e.g. ocf:heartbeat:IPaddr2 or lsb:haproxy.
func (p Primitive) Agent() string {
	if p.Provider != "" {
		return p.Class + ":" + p.Provider + ":" + p.Type
	}
	return p.Class + ":" + p.Type
}

// Op is one operation definition (op monitor interval=10s timeout=20s).
type Op struct {
	Name     string            `json:"name"`
	Interval time.Duration     `json:"interval,omitempty"`
	Timeout  time.Duration     `json:"timeout,omitempty"` // 0 = op_defaults or 20s
	OnFail   string            `json:"on_fail,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"` // everything else, kept for show
	// Text keeps the attributes as written (name, value pairs in order, e.g. interval=60s timeout=100s),
	// so show prints 60s rather than 1m0s. Show uses an entry only while it still agrees with the typed
	// fields above; optional.
	Text []NV `json:"text,omitempty"`
}

// NV is one name=value pair as written.
type NV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Group orders and colocates its members: they start in order, stop in reverse, and run on one node.
type Group struct {
	ID          string            `json:"id"`
	Members     []string          `json:"members"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	MetaOrder   []string          `json:"meta_order,omitempty"`  // display order of Meta (optional)
	ParamOrder  []string          `json:"param_order,omitempty"` // display order of Params (optional)
}

// Clone runs one instance of Child (a primitive or a group) per node, up to clone-max.
type Clone struct {
	ID          string            `json:"id"`
	Child       string            `json:"child"`
	Description string            `json:"description,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	MetaOrder   []string          `json:"meta_order,omitempty"`  // display order of Meta (optional)
	ParamOrder  []string          `json:"param_order,omitempty"` // display order of Params (optional)
}

// Location scores a resource on a node: location ID RSC SCORE: NODE. Rule-based locations keep the rule text.
type Location struct {
	ID    string `json:"id"`
	Rsc   string `json:"rsc"`
	Role  string `json:"role,omitempty"`
	Score Score  `json:"score"`
	Node  string `json:"node,omitempty"`
	Rule  string `json:"rule,omitempty"` // the rule expression, when the constraint is rule-based
	// Expires, when set, ends the constraint (crm resource move/ban with a lifetime).
	Expires time.Time `json:"expires,omitzero"`
	// Discovery is resource-discovery (always, never, exclusive); empty means always.
	Discovery string `json:"discovery,omitempty"`
}

// Colocation places Rsc relative to WithRsc: INFINITY = same node, -INFINITY = never the same node.
type Colocation struct {
	ID       string `json:"id"`
	Score    Score  `json:"score"`
	Rsc      string `json:"rsc"`
	RscRole  string `json:"rsc_role,omitempty"`
	WithRsc  string `json:"with_rsc"`
	WithRole string `json:"with_role,omitempty"`
}

// Order makes Then's action wait for First's action. Kind is Mandatory, Optional or Serialize.
type Order struct {
	ID          string `json:"id"`
	Kind        string `json:"kind,omitempty"`
	First       string `json:"first"`
	FirstAction string `json:"first_action,omitempty"` // default start
	Then        string `json:"then"`
	ThenAction  string `json:"then_action,omitempty"` // default: FirstAction
	Symmetrical *bool  `json:"symmetrical,omitempty"` // nil = true
	// Score, when set, was written instead of Kind (order o inf: a b); pacemaker treats a score above 0 as
	// Mandatory and 0 as Optional.
	Score *Score `json:"score,omitempty"`
}

// EffectiveKind returns Mandatory, Optional or Serialize, resolving Score and the default (Mandatory).
func (o Order) EffectiveKind() string {
	switch {
	case o.Kind != "":
		return o.Kind
	case o.Score != nil && *o.Score <= 0:
		return "Optional"
	}
	return "Mandatory"
}

// IsSymmetrical reports whether stopping happens in the reverse order too (the default).
func (o Order) IsSymmetrical() bool { return o.Symmetrical == nil || *o.Symmetrical }

// Node returns the named node.
func (c *CIB) Node(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Property returns a property's value, or its default when unset. Aliases (fencing-* for stonith-*) resolve.
func (c *CIB) Property(name string) string {
	spec, ok := LookupProperty(name)
	if !ok {
		return c.Properties[name]
	}
	if v, ok := c.Properties[spec.Name]; ok {
		return v
	}
	return spec.Default
}

// Clone returns a deep copy.
func (c *CIB) Clone() *CIB {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("cib: marshal of plain data failed: %v", err))
	}
	var out CIB
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("cib: unmarshal of own encoding failed: %v", err))
	}
	return &out
}

// SortedKeys returns a map's keys in order, for stable output.
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
