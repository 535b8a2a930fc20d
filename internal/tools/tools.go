//go:build tools

// Package tools pins modules that packages are about to import, so go mod tidy keeps them.
package tools

import (
	_ "github.com/hashicorp/memberlist"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/mdlayher/arp"
	_ "github.com/mdlayher/ndp"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "go.uber.org/goleak"
)
