package crm

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/cib/crmsh"
	"github.com/duet-ha/duet/cluster/store"
)

// statementVerbs are the crmsh statements that `crm configure VERB ...` applies as one command line.
var statementVerbs = []string{"primitive", "group", "clone", "ms", "master", "colocation", "collocation", "order",
	"location", "rsc_defaults", "op_defaults", "node"}

func (a *app) configureCmd() *cobra.Command {
	conf := &cobra.Command{Use: "configure", Aliases: []string{"cfg", "conf"}, Short: "CIB configuration in crmsh syntax"}
	for _, verb := range statementVerbs {
		conf.AddCommand(&cobra.Command{
			Use:                verb + " ...",
			Short:              "crmsh statement: " + verb,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				args = a.globalFlags(args)
				return a.statement(cmd.Context(), append([]string{verb}, args...))
			},
		})
	}
	conf.AddCommand(
		&cobra.Command{Use: "property [SET:] NAME=VALUE...", Short: "set cluster properties", DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error { return a.property(cmd.Context(), a.globalFlags(args)) }},
		&cobra.Command{Use: "show [ID...]", Short: "show the configuration in crmsh syntax", RunE: a.show},
		&cobra.Command{Use: "verify", Short: "check the configuration (crm_verify)", Args: cobra.NoArgs, RunE: a.verify},
		&cobra.Command{Use: "commit [force] [replace]", Short: "accepted: changes made from the command line apply at once", RunE: func(*cobra.Command, []string) error { return nil }},
		&cobra.Command{Use: "delete [--force] ID...", Short: "delete resources or constraints", DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.deleteObjects(cmd.Context(), a.globalFlags(args))
			}},
		&cobra.Command{Use: "load update|replace|push FILE", Short: "load a configuration file in crmsh syntax", Args: cobra.ExactArgs(2), RunE: a.load},
		&cobra.Command{Use: "erase [nodes]", Short: "remove every resource, constraint and property", Args: cobra.MaximumNArgs(1), RunE: a.erase},
	)
	return conf
}

// globalFlags takes crm's own flags out of a crmsh statement (flag parsing is off there, because scores
// such as -inf: look like flags).
func (a *app) globalFlags(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "-F" || arg == "--force":
			a.force = true
		case strings.HasPrefix(arg, "--socket="):
			a.socket = strings.TrimPrefix(arg, "--socket=")
		case arg == "--socket" && i+1 < len(args):
			a.socket = args[i+1]
			i++
		default:
			out = append(out, arg)
		}
	}
	return out
}

func (a *app) statement(ctx context.Context, args []string) error {
	var warnings []crmsh.Diagnostic
	err := a.editCIB(ctx, func(c *cib.CIB) error {
		d, err := crmsh.Command(c, args)
		warnings = d
		return err
	})
	a.warn(warnings)
	return err
}

// property sets each NAME=VALUE through its own command, validated by the store (unknown names and bad
// values are refused with the name).
func (a *app) property(ctx context.Context, args []string) error {
	if len(args) > 0 && strings.HasSuffix(args[0], ":") && !strings.Contains(args[0], "=") {
		args = args[1:] // the set id, e.g. cib-bootstrap-options:
	}
	if len(args) == 0 {
		return fmt.Errorf("property: want NAME=VALUE")
	}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok || name == "" {
			return fmt.Errorf("property: %q: want NAME=VALUE", arg)
		}
		if _, err := cib.ValidateProperty(name, value); err != nil {
			return err
		}
		if err := a.submit(ctx, store.Command{Kind: store.SetProperty, Name: name, Value: value}); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) show(cmd *cobra.Command, args []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	text := crmsh.Show(st.CIB)
	if len(args) > 0 {
		text, err = filterShow(text, args)
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(a.out, "%s", text)
	if len(args) == 0 {
		fmt.Fprintf(a.out, "# CIB epoch %d, admin_epoch %d\n", st.CIB.Epoch, st.CIB.AdminEpoch)
	}
	return nil
}

// filterShow keeps the statements whose id (second word) is one of ids.
func filterShow(text string, ids []string) (string, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out strings.Builder
	found := map[string]bool{}
	keep := false
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "\t") {
			f := strings.Fields(line)
			keep = false
			if len(f) > 1 {
				id := strings.TrimSuffix(f[1], ":")
				if want[id] {
					keep, found[id] = true, true
				}
			}
		}
		if keep {
			out.WriteString(line)
		}
	}
	for _, id := range ids {
		if !found[id] {
			return "", fmt.Errorf("object %s does not exist", id)
		}
	}
	return out.String(), nil
}

func (a *app) verify(cmd *cobra.Command, _ []string) error {
	st, err := a.status(cmd.Context())
	if err != nil {
		return err
	}
	// Warnings go to stderr as crmsh's "WARNING: ..." lines; errors come back as the command's error and
	// are printed once, as "ERROR: ..." lines (they were also printed unprefixed on stdout before).
	diags := crmsh.Verify(st.CIB, metadataFunc(cmd.Context()))
	a.warn(diags)
	return crmsh.AsError(diags)
}

func (a *app) deleteObjects(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("delete: name the objects to delete")
	}
	st, err := a.status(ctx)
	if err != nil {
		return err
	}
	if !a.force {
		for _, id := range args {
			for _, r := range runningPrimitives(st, id) {
				return fmt.Errorf("resource %s is running, can't delete it (stop it first, or use --force)", r)
			}
		}
	}
	return a.editCIB(ctx, func(c *cib.CIB) error { return crmsh.Delete(c, args...) })
}

func (a *app) load(cmd *cobra.Command, args []string) error {
	method, path := args[0], args[1]
	if method != "update" && method != "replace" && method != "push" {
		return fmt.Errorf("load: unknown method %q (want update, replace or push)", method)
	}
	text, err := readFile(path)
	if err != nil {
		return err
	}
	name := path
	if path == "-" {
		name = "<stdin>"
	}
	st, diags := crmsh.Parse(name, text)
	a.warn(diags)
	if err := crmsh.AsError(diags); err != nil {
		return err
	}
	return a.editCIB(cmd.Context(), func(c *cib.CIB) error {
		if method == "update" {
			return crmsh.Update(c, st)
		}
		return crmsh.Replace(c, st)
	})
}

func (a *app) erase(cmd *cobra.Command, args []string) error {
	if len(args) == 1 && args[0] != "nodes" {
		return fmt.Errorf("erase: unknown argument %q (want nodes or nothing)", args[0])
	}
	nodes := len(args) == 1
	return a.editCIB(cmd.Context(), func(c *cib.CIB) error {
		if err := crmsh.Replace(c, nil); err != nil {
			return err
		}
		if nodes {
			// crmsh removes the node entries too; in Duet nodes are membership, so what goes is what was
			// configured on them: attributes (standby included) and descriptions
			for i := range c.Nodes {
				c.Nodes[i].Attributes, c.Nodes[i].AttrOrder, c.Nodes[i].Description = nil, nil, ""
			}
		}
		return nil
	})
}
