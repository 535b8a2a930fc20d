// Package api is clusterd's local API: HTTP+JSON on a unix socket (mode 0600), plus the same command endpoint
// on the node-to-node RPC channel so that any node can forward a write to the DC. This file holds the types
// both sides share; server.go the handlers.
package api

import (
	"time"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/quorum"
)

// Paths of the API.
const (
	PathStatus  = "/v1/status"
	PathWatch   = "/v1/watch"
	PathCommand = "/v1/command"
	PathExec    = "/v1/exec" // node-to-node: the DC runs an operation on this node
	// HeaderForwarded marks a command that another node forwarded, so it is never forwarded twice.
	HeaderForwarded = "X-Duet-Forwarded"
)

// Version is Duet's version, shown where crm_mon shows pacemaker's.
const Version = "0.1.0"

// Status is one node's view of the cluster: everything crm_mon prints.
type Status struct {
	Node        string         `json:"node"` // the node that answered
	DC          string         `json:"dc"`   // "" when there is none
	Version     string         `json:"version"`
	Stack       string         `json:"stack"`
	LastUpdated time.Time      `json:"last_updated"`
	Quorum      quorum.Verdict `json:"quorum"`
	Nodes       []NodeStatus   `json:"nodes"`
	CIB         *cib.CIB       `json:"cib"`
	Store       store.Status   `json:"store"`
	// Notices are conditions a user must see: waiting for fencing, blocked resources, discarded state.
	Notices []string `json:"notices,omitempty"`
}

// NodeStatus is a node as this node sees it.
type NodeStatus struct {
	Name        string `json:"name"`
	ID          int    `json:"id"`
	Online      bool   `json:"online"`
	Standby     bool   `json:"standby"`
	Maintenance bool   `json:"maintenance,omitempty"`
	Witness     bool   `json:"witness,omitempty"`
	DC          bool   `json:"dc,omitempty"`
	Unclean     bool   `json:"unclean,omitempty"` // lost and not yet fenced while fencing is required
	Pending     bool   `json:"pending,omitempty"` // up but not yet part of the Raft configuration
}

// CommandResult answers a command.
type CommandResult struct {
	Epoch uint64 `json:"epoch"`
	Index uint64 `json:"index"` // the Raft log index of the change
	DC    string `json:"dc,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}
