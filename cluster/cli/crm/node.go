package crm

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/store"
)

func (a *app) nodeCmd() *cobra.Command {
	node := &cobra.Command{Use: "node", Short: "node management (standby, online, show, attribute, maintenance)"}
	setAttr := func(name, value string) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			nodes, err := a.targetNodes(cmd.Context(), args)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if err := a.submit(cmd.Context(), store.Command{Kind: store.SetNodeAttr, Node: n, Name: name, Value: value}); err != nil {
					return fmt.Errorf("node %s: %w", n, err)
				}
			}
			return nil
		}
	}
	node.AddCommand(
		&cobra.Command{Use: "standby [--all | NODE...] [forever|reboot]", Short: "put nodes in standby (all resources move away)", RunE: setAttr("standby", "on")},
		&cobra.Command{Use: "online [--all | NODE...]", Short: "bring nodes out of standby", RunE: setAttr("standby", "off")},
		&cobra.Command{Use: "maintenance [NODE...]", Short: "put nodes in maintenance (resources left alone)", RunE: setAttr("maintenance", "on")},
		&cobra.Command{Use: "ready [NODE...]", Short: "take nodes out of maintenance", RunE: setAttr("maintenance", "off")},
		&cobra.Command{Use: "show [NODE]", Short: "show nodes and their attributes", Args: cobra.MaximumNArgs(1), RunE: a.nodeShow},
		&cobra.Command{Use: "attribute NODE set|delete|show NAME [VALUE]", Short: "node attributes", Args: cobra.RangeArgs(3, 4), RunE: a.nodeAttribute},
		&cobra.Command{Use: "fence NODE", Short: "fence a node through the configured stonith devices", Args: cobra.ExactArgs(1), RunE: a.nodeFence},
		&cobra.Command{Use: "clearstate NODE", Short: "confirm by hand that a lost node is down (as stonith_admin --confirm); wrong use can corrupt data", Args: cobra.ExactArgs(1), RunE: a.nodeClearstate},
	)
	for _, c := range node.Commands() {
		if strings.HasPrefix(c.Use, "standby") || strings.HasPrefix(c.Use, "online") {
			c.Flags().Bool("all", false, "all nodes")
		}
	}
	return node
}

// targetNodes resolves crmsh's node arguments: none = the local node, --all = every node; a trailing
// lifetime word forever is accepted; reboot (an attribute that ends when the node restarts) is refused, as
// Duet keeps node attributes only in the CIB. Unknown names are an error naming them.
func (a *app) targetNodes(ctx context.Context, args []string) ([]string, error) {
	st, err := a.status(ctx)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		switch args[len(args)-1] {
		case "forever", "lifetime=forever":
			args = args[:len(args)-1]
		case "reboot", "lifetime=reboot":
			return nil, fmt.Errorf("lifetime reboot is not supported: the attribute would outlive the node's restart; use forever (the default) and undo it by hand")
		}
	}
	all := false
	var names []string
	for _, arg := range args {
		if arg == "--all" {
			all = true
			continue
		}
		names = append(names, arg)
	}
	if all {
		names = nil
		for _, n := range st.Nodes {
			if !n.Witness {
				names = append(names, n.Name)
			}
		}
		return names, nil
	}
	if len(names) == 0 {
		return []string{st.Node}, nil
	}
	for _, n := range names {
		if !hasNode(st, n) {
			return nil, fmt.Errorf("node %q is not in the cluster (nodes: %s)", n, nodeNames(st))
		}
	}
	return names, nil
}

func hasNode(st *api.Status, name string) bool {
	for _, n := range st.Nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

func nodeNames(st *api.Status) string {
	var out []string
	for _, n := range st.Nodes {
		out = append(out, n.Name)
	}
	return strings.Join(out, ", ")
}

// nodeShow prints nodes as crmsh does: "n1(1): member" then its attributes.
func (a *app) nodeShow(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if len(args) == 1 && !hasNode(st, args[0]) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", args[0], nodeNames(st))
	}
	for _, n := range st.Nodes {
		if len(args) == 1 && n.Name != args[0] {
			continue
		}
		kind := "member"
		if n.Witness {
			kind = "witness"
		}
		fmt.Fprintf(a.out, "%s(%d): %s\n", n.Name, n.ID, kind)
		if cn, ok := st.CIB.Node(n.Name); ok {
			for _, k := range cib.SortedKeys(cn.Attributes) {
				fmt.Fprintf(a.out, "\t%s=%s\n", k, cn.Attributes[k])
			}
		}
		state := "online"
		if !n.Online {
			state = "offline"
		}
		fmt.Fprintf(a.out, "\tstate=%s\n", state)
	}
	return nil
}

func (a *app) nodeAttribute(cmd *cobra.Command, args []string) error {
	node, verb, name := args[0], args[1], args[2]
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if !hasNode(st, node) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", node, nodeNames(st))
	}
	switch verb {
	case "set":
		if len(args) != 4 {
			return fmt.Errorf("node attribute %s set %s: missing value", node, name)
		}
		return a.submit(cmd.Context(), store.Command{Kind: store.SetNodeAttr, Node: node, Name: name, Value: args[3]})
	case "delete":
		return a.submit(cmd.Context(), store.Command{Kind: store.SetNodeAttr, Node: node, Name: name, Delete: true})
	case "show":
		cn, _ := st.CIB.Node(node)
		v, ok := cn.Attributes[name]
		if !ok {
			return fmt.Errorf("node %s: attribute %s is not set", node, name)
		}
		fmt.Fprintf(a.out, "scope=nodes  name=%s value=%s\n", name, v)
		return nil
	}
	return fmt.Errorf("node attribute: unknown action %q (want set, delete or show)", verb)
}

// nodeFence asks the DC to fence a node (crmsh: crm node fence); the result shows in crm_mon -m.
func (a *app) nodeFence(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if !hasNode(st, args[0]) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", args[0], nodeNames(st))
	}
	if !st.CIB.HasStonith() {
		return fmt.Errorf("fence %s: no stonith resource is configured", args[0])
	}
	return a.submit(cmd.Context(), store.Command{Kind: store.RequestFence, Node: args[0]})
}

// nodeClearstate tells this node that a lost node is really down, standing in for a fence that cannot be
// done. It goes to the local clusterd (not the DC): the survivor that waits for a fence is not DC yet.
func (a *app) nodeClearstate(cmd *cobra.Command, args []string) error {
	fmt.Fprintf(a.errw, "WARNING: confirming %s down without fencing it: if it is in fact up, its resources will run twice\n", args[0])
	return a.submit(cmd.Context(), store.Command{Kind: store.ConfirmDown, Node: args[0]})
}
