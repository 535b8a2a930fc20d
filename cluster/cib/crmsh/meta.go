package crmsh

import (
	"fmt"
	"strings"

	"github.com/duet-ha/duet/cluster/cib"
)

// Meta attribute names pacemaker knows (Pacemaker Explained, resource and clone options).
var (
	resourceMeta = []string{"priority", "critical", "target-role", "is-managed", "maintenance", "resource-stickiness",
		"requires", "migration-threshold", "failure-timeout", "multiple-active", "allow-migrate",
		"allow-unhealthy-nodes", "container-attribute-target", "remote-node", "remote-port", "remote-addr",
		"remote-connect-timeout", "remote-allow-migrate", "description"}
	cloneMeta = []string{"clone-max", "clone-node-max", "clone-min", "notify", "globally-unique", "ordered",
		"interleave", "promotable", "promoted-max", "promoted-node-max", "master-max", "master-node-max"}
	groupMeta     = []string{"ordered", "collocated"}
	opDefaultKeys = []string{"timeout", "interval", "on-fail", "record-pending", "enabled", "start-delay",
		"interval-origin", "requires", "role"}
	knownOps = []string{"start", "stop", "monitor", "promote", "demote", "notify", "migrate_to", "migrate_from",
		"reload", "reload-agent", "meta-data", "validate-all", "status"}
	targetRoles = []string{"Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave"}
)

// checkMetaValue validates the value of a meta attribute whose type Duet relies on.
func checkMetaValue(name, value string) error {
	switch name {
	case "resource-stickiness", "migration-threshold", "priority":
		if _, err := cib.ParseScore(value); err != nil {
			return err
		}
	case "failure-timeout":
		if _, err := cib.ParseDuration(value); err != nil {
			return err
		}
	case "target-role":
		for _, r := range targetRoles {
			if strings.EqualFold(r, value) {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", value, strings.Join(targetRoles, ", "))
	case "is-managed", "maintenance", "critical", "allow-migrate", "notify", "globally-unique", "ordered",
		"interleave", "promotable", "collocated":
		if _, ok := cib.ParseBool(value); !ok {
			return fmt.Errorf("%q is not a boolean", value)
		}
	case "clone-max", "clone-node-max", "clone-min", "promoted-max", "promoted-node-max":
		var n int
		if _, err := fmt.Sscanf(value, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != value {
			return fmt.Errorf("%q is not a non-negative integer", value)
		}
	case "multiple-active":
		if !contains([]string{"block", "stop_only", "stop_start", "stop_unexpected"}, value) {
			return fmt.Errorf("%q is not one of block, stop_only, stop_start, stop_unexpected", value)
		}
	case "requires":
		if !contains([]string{"nothing", "quorum", "fencing", "unfencing"}, value) {
			return fmt.Errorf("%q is not one of nothing, quorum, fencing, unfencing", value)
		}
	}
	return nil
}
