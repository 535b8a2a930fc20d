package crm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/cli/crmmon"
	"github.com/duet-ha/duet/cluster/store"
)

func (a *app) resourceCmd() *cobra.Command {
	rsc := &cobra.Command{Use: "resource", Aliases: []string{"rsc"}, Short: "resource management (start, stop, move, ban, cleanup, ...)"}
	rsc.AddCommand(
		&cobra.Command{Use: "start RSC...", Short: "set target-role=Started", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.setMeta(cmd.Context(), args, "target-role", "Started")
			}},
		&cobra.Command{Use: "stop RSC...", Short: "set target-role=Stopped", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.setMeta(cmd.Context(), args, "target-role", "Stopped")
			}},
		&cobra.Command{Use: "restart RSC...", Short: "stop, wait for the stop, start", Args: cobra.MinimumNArgs(1), RunE: a.restart},
		&cobra.Command{Use: "manage RSC...", Short: "set is-managed=true", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.setMeta(cmd.Context(), args, "is-managed", "true")
			}},
		&cobra.Command{Use: "unmanage RSC...", Short: "set is-managed=false", Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.setMeta(cmd.Context(), args, "is-managed", "false")
			}},
		&cobra.Command{Use: "move RSC [NODE] [LIFETIME] [force]", Aliases: []string{"migrate"}, Short: "prefer a node (cli-prefer-RSC)", Args: cobra.RangeArgs(1, 4), RunE: a.move},
		&cobra.Command{Use: "ban RSC [NODE] [LIFETIME] [force]", Short: "keep a resource off a node (cli-ban-RSC-on-NODE)", Args: cobra.RangeArgs(1, 4), RunE: a.ban},
		&cobra.Command{Use: "clear RSC", Aliases: []string{"unmove", "unmigrate", "unban"}, Short: "remove move and ban constraints", Args: cobra.ExactArgs(1), RunE: a.clear},
		&cobra.Command{Use: "cleanup [RSC] [NODE]", Aliases: []string{"refresh"}, Short: "forget failures and fail counts", Args: cobra.MaximumNArgs(3), RunE: a.cleanup},
		&cobra.Command{Use: "status [RSC...]", Aliases: []string{"show", "list"}, Short: "resource status", RunE: a.rscStatus},
		&cobra.Command{Use: "locate RSC...", Short: "where a resource runs", Args: cobra.MinimumNArgs(1), RunE: a.locate},
		&cobra.Command{Use: "failcount RSC set NODE VALUE | delete NODE | show NODE", Short: "fail counts", Args: cobra.RangeArgs(3, 4), RunE: a.failcount},
		&cobra.Command{Use: "meta RSC set|delete|show NAME [VALUE]", Short: "meta attributes", Args: cobra.RangeArgs(3, 4), RunE: a.metaCmd},
		&cobra.Command{Use: "param RSC set|delete|show NAME [VALUE]", Short: "instance attributes", Args: cobra.RangeArgs(3, 4), RunE: a.paramCmd},
		&cobra.Command{Use: "constraints RSC", Short: "constraints naming a resource", Args: cobra.ExactArgs(1), RunE: a.constraints},
	)
	return rsc
}

// attrsOf returns the meta or params map of a primitive, group or clone, creating it.
func attrsOf(c *cib.CIB, id string, meta bool) (map[string]string, error) {
	pick := func(m, p *map[string]string) map[string]string {
		t := p
		if meta {
			t = m
		}
		if *t == nil {
			*t = map[string]string{}
		}
		return *t
	}
	for i := range c.Primitives {
		if c.Primitives[i].ID == id {
			return pick(&c.Primitives[i].Meta, &c.Primitives[i].Params), nil
		}
	}
	for i := range c.Groups {
		if c.Groups[i].ID == id {
			return pick(&c.Groups[i].Meta, &c.Groups[i].Params), nil
		}
	}
	for i := range c.Clones {
		if c.Clones[i].ID == id {
			return pick(&c.Clones[i].Meta, &c.Clones[i].Params), nil
		}
	}
	return nil, fmt.Errorf("resource %s does not exist", id)
}

func (a *app) setMeta(ctx context.Context, ids []string, name, value string) error {
	return a.editCIB(ctx, func(c *cib.CIB) error {
		for _, id := range ids {
			m, err := attrsOf(c, id, true)
			if err != nil {
				return err
			}
			m[name] = value
		}
		return nil
	})
}

// members returns the primitives a resource id stands for (itself, a group's members, a clone's child).
func members(c *cib.CIB, id string) []string {
	for _, p := range c.Primitives {
		if p.ID == id {
			return []string{id}
		}
	}
	for _, g := range c.Groups {
		if g.ID == id {
			return slices.Clone(g.Members)
		}
	}
	for _, cl := range c.Clones {
		if cl.ID == id {
			return members(c, cl.Child)
		}
	}
	return nil
}

func runningPrimitives(st *api.Status, id string) []string {
	var out []string
	ms := members(st.CIB, id)
	for _, r := range crmmon.Resources(st) {
		if slices.Contains(ms, r.ID) && len(r.Running)+len(r.Failed) > 0 {
			out = append(out, r.ID)
		}
	}
	return out
}

// runningOn returns the nodes a resource (or its members) runs on.
func runningOn(st *api.Status, id string) []string {
	var out []string
	ms := members(st.CIB, id)
	for _, r := range crmmon.Resources(st) {
		if slices.Contains(ms, r.ID) {
			for _, n := range append(append([]string{}, r.Running...), r.Failed...) {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

func (a *app) restart(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	for _, id := range args {
		fmt.Fprintf(a.out, "INFO: ordering %s to stop\n", id)
		if err := a.setMeta(ctx, []string{id}, "target-role", "Stopped"); err != nil {
			return err
		}
		fmt.Fprintf(a.out, "INFO: waiting for stop to finish")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st, err := a.status(ctx)
			if err != nil {
				return err
			}
			if len(runningPrimitives(st, id)) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("resource %s did not stop within 2 minutes", id)
			}
			fmt.Fprint(a.out, ".")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		fmt.Fprintf(a.out, " done\nINFO: ordering %s to start\n", id)
		if err := a.setMeta(ctx, []string{id}, "target-role", "Started"); err != nil {
			return err
		}
	}
	return nil
}

// lifetimeArgs splits [NODE] [LIFETIME] [force].
func lifetimeArgs(args []string) (node string, lifetime time.Duration, force bool, err error) {
	for _, a := range args {
		switch {
		case a == "force":
			force = true
		case strings.HasPrefix(a, "P"):
			lifetime, err = parseISODuration(a)
			if err != nil {
				return "", 0, false, err
			}
		case strings.HasPrefix(a, "lifetime="):
			lifetime, err = parseISODuration(strings.TrimPrefix(a, "lifetime="))
			if err != nil {
				return "", 0, false, err
			}
		default:
			if node != "" {
				return "", 0, false, fmt.Errorf("unexpected argument %q", a)
			}
			node = a
		}
	}
	return node, lifetime, force, nil
}

// parseISODuration reads the ISO 8601 durations crmsh takes for lifetimes: PT10M, P1D, PT1H30M, PT30S.
func parseISODuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("lifetime %q: want an ISO 8601 duration such as PT10M or P1D", s)
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, bad
	}
	var d time.Duration
	inTime := false
	num := ""
	for _, r := range s[1:] {
		switch {
		case r == 'T':
			inTime = true
		case r >= '0' && r <= '9':
			num += string(r)
		default:
			var n int
			if _, err := fmt.Sscan(num, &n); err != nil || num == "" {
				return 0, bad
			}
			num = ""
			unit := map[bool]map[rune]time.Duration{
				false: {'D': 24 * time.Hour, 'W': 7 * 24 * time.Hour},
				true:  {'H': time.Hour, 'M': time.Minute, 'S': time.Second},
			}[inTime][r]
			if unit == 0 {
				return 0, bad
			}
			d += time.Duration(n) * unit
		}
	}
	if num != "" || d == 0 {
		return 0, bad
	}
	return d, nil
}

func (a *app) move(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	id := args[0]
	node, lifetime, force, err := lifetimeArgs(args[1:])
	if err != nil {
		return fmt.Errorf("move %s: %w", id, err)
	}
	st, err := a.status(ctx)
	if err != nil {
		return err
	}
	if members(st.CIB, id) == nil {
		return fmt.Errorf("resource %s does not exist", id)
	}
	if node == "" {
		if !force {
			return fmt.Errorf("move %s: no node given; name one, or add force to ban the current node", id)
		}
		return a.banOn(ctx, st, id, "", lifetime)
	}
	if !hasNode(st, node) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", node, nodeNames(st))
	}
	return a.editCIB(ctx, func(c *cib.CIB) error {
		setLocation(c, cib.Location{ID: "cli-prefer-" + id, Rsc: id, Role: "Started", Score: cib.Infinity, Node: node, Expires: expiry(lifetime)})
		return nil
	})
}

func expiry(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Now().Add(d).UTC().Truncate(time.Second)
}

func setLocation(c *cib.CIB, l cib.Location) {
	for i := range c.Locations {
		if c.Locations[i].ID == l.ID {
			c.Locations[i] = l
			return
		}
	}
	c.Locations = append(c.Locations, l)
}

func (a *app) ban(cmd *cobra.Command, args []string) error {
	id := args[0]
	node, lifetime, _, err := lifetimeArgs(args[1:])
	if err != nil {
		return fmt.Errorf("ban %s: %w", id, err)
	}
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if members(st.CIB, id) == nil {
		return fmt.Errorf("resource %s does not exist", id)
	}
	return a.banOn(cmd.Context(), st, id, node, lifetime)
}

func (a *app) banOn(ctx context.Context, st *api.Status, id, node string, lifetime time.Duration) error {
	if node == "" {
		on := runningOn(st, id)
		if len(on) != 1 {
			return fmt.Errorf("ban %s: it runs on %d nodes; name the node to ban", id, len(on))
		}
		node = on[0]
	}
	if !hasNode(st, node) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", node, nodeNames(st))
	}
	cid := "cli-ban-" + id + "-on-" + node
	fmt.Fprintf(a.errw, "WARNING: Creating rsc_location constraint '%s' with a score of -INFINITY for resource %s on %s.\n"+
		"\tThis will prevent %s from running on %s until the constraint is removed using the clear option or by editing the CIB with an appropriate tool\n"+
		"\tThis will be the case even if %s is the last node in the cluster\n", cid, id, node, id, node, node)
	return a.editCIB(ctx, func(c *cib.CIB) error {
		setLocation(c, cib.Location{ID: cid, Rsc: id, Role: "Started", Score: -cib.Infinity, Node: node, Expires: expiry(lifetime)})
		return nil
	})
}

func (a *app) clear(cmd *cobra.Command, args []string) error {
	id := args[0]
	removed := 0
	err := a.editCIB(cmd.Context(), func(c *cib.CIB) error {
		if members(c, id) == nil {
			return fmt.Errorf("resource %s does not exist", id)
		}
		before := len(c.Locations)
		c.Locations = slices.DeleteFunc(c.Locations, func(l cib.Location) bool {
			return l.Rsc == id && (l.ID == "cli-prefer-"+id || strings.HasPrefix(l.ID, "cli-ban-"+id+"-on-"))
		})
		removed = before - len(c.Locations)
		return nil
	})
	if err == nil {
		fmt.Fprintf(a.out, "INFO: Removed migration constraints for %s\n", id)
	}
	_ = removed
	return err
}

func (a *app) cleanup(cmd *cobra.Command, args []string) error {
	var rsc, node string
	for _, arg := range args {
		if arg == "force" {
			continue
		}
		if rsc == "" {
			rsc = arg
		} else {
			node = arg
		}
	}
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if node != "" && !hasNode(st, node) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", node, nodeNames(st))
	}
	ids := []string{""}
	if rsc != "" {
		ids = members(st.CIB, rsc)
		if ids == nil {
			return fmt.Errorf("resource %s does not exist", rsc)
		}
	}
	for _, id := range ids {
		if err := a.submit(cmd.Context(), store.Command{Kind: store.ClearFail, Node: node, Rsc: id}); err != nil {
			return err
		}
	}
	where := "all nodes"
	if node != "" {
		where = node
	}
	what := "all resources"
	if rsc != "" {
		what = rsc
	}
	fmt.Fprintf(a.out, "Cleaned up %s on %s\n", what, where)
	return nil
}

func (a *app) rscStatus(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if len(args) == 0 {
		text := crmmon.Text(st, crmmon.Options{Inactive: true})
		if i := strings.Index(text, "Full List of Resources:\n"); i >= 0 {
			text = text[i+len("Full List of Resources:\n"):]
			if j := strings.Index(text, "\n\n"); j >= 0 {
				text = text[:j+1]
			}
		}
		fmt.Fprint(a.out, text)
		return nil
	}
	return a.locate(cmd, args)
}

func (a *app) locate(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	for _, id := range args {
		if members(st.CIB, id) == nil {
			return fmt.Errorf("resource %s does not exist", id)
		}
		on := runningOn(st, id)
		if len(on) == 0 {
			fmt.Fprintf(a.out, "resource %s is NOT running\n", id)
			if st.Store.Transition != nil {
				for _, m := range members(st.CIB, id) {
					if why := st.Store.Transition.Reason[m]; why != "" {
						fmt.Fprintf(a.out, "  %s: %s\n", m, why)
					}
				}
			}
			continue
		}
		fmt.Fprintf(a.out, "resource %s is running on: %s\n", id, strings.Join(on, " "))
	}
	return nil
}

func (a *app) failcount(cmd *cobra.Command, args []string) error {
	rsc, verb, node := args[0], args[1], args[2]
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	if members(st.CIB, rsc) == nil {
		return fmt.Errorf("resource %s does not exist", rsc)
	}
	if !hasNode(st, node) {
		return fmt.Errorf("node %q is not in the cluster (nodes: %s)", node, nodeNames(st))
	}
	switch verb {
	case "show":
		n := st.Store.FailCounts[node][rsc].Count
		fmt.Fprintf(a.out, "scope=status  name=fail-count-%s value=%d\n", rsc, n)
		return nil
	case "delete":
		return a.submit(cmd.Context(), store.Command{Kind: store.ClearFail, Node: node, Rsc: rsc})
	case "set":
		if len(args) != 4 {
			return fmt.Errorf("failcount %s set %s: missing value", rsc, node)
		}
		return a.submit(cmd.Context(), store.Command{Kind: store.SetFail, Node: node, Rsc: rsc, Value: args[3]})
	}
	return fmt.Errorf("failcount: unknown action %q (want set, delete or show)", verb)
}

func (a *app) attrCmd(cmd *cobra.Command, args []string, meta bool) error {
	id, verb, name := args[0], args[1], args[2]
	if verb == "show" {
		st, err := a.status(cmd.Context())
		if err != nil {
			return err
		}
		m, err := attrsOf(st.CIB, id, meta)
		if err != nil {
			return err
		}
		v, ok := m[name]
		if !ok {
			return fmt.Errorf("%s: %s is not set", id, name)
		}
		fmt.Fprintln(a.out, v)
		return nil
	}
	if verb != "set" && verb != "delete" {
		return fmt.Errorf("unknown action %q (want set, delete or show)", verb)
	}
	if verb == "set" && len(args) != 4 {
		return fmt.Errorf("%s set %s: missing value", id, name)
	}
	return a.editCIB(cmd.Context(), func(c *cib.CIB) error {
		m, err := attrsOf(c, id, meta)
		if err != nil {
			return err
		}
		if verb == "delete" {
			if _, ok := m[name]; !ok {
				return fmt.Errorf("%s: %s is not set", id, name)
			}
			delete(m, name)
		} else {
			m[name] = args[3]
		}
		return nil
	})
}

func (a *app) metaCmd(cmd *cobra.Command, args []string) error  { return a.attrCmd(cmd, args, true) }
func (a *app) paramCmd(cmd *cobra.Command, args []string) error { return a.attrCmd(cmd, args, false) }

func (a *app) constraints(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	id := args[0]
	if members(st.CIB, id) == nil {
		return fmt.Errorf("resource %s does not exist", id)
	}
	c := st.CIB
	for _, l := range c.Locations {
		if l.Rsc == id {
			fmt.Fprintf(a.out, "location %s %s %s: %s\n", l.ID, l.Rsc, l.Score, l.Node)
		}
	}
	for _, co := range c.Colocations {
		if co.Rsc == id || co.WithRsc == id {
			fmt.Fprintf(a.out, "colocation %s %s: %s %s\n", co.ID, co.Score, co.Rsc, co.WithRsc)
		}
	}
	for _, o := range c.Orders {
		if o.First == id || o.Then == id {
			fmt.Fprintf(a.out, "order %s %s %s\n", o.ID, o.First, o.Then)
		}
	}
	return nil
}
