// Package crm is Duet's crm command: crmsh's verbs (status, node, configure, resource) against the local
// clusterd. Configuration commands take crmsh's own syntax (package crmsh) and apply at once, as
// `crm configure <statement>` does from a shell; every change carries the epoch it was made against, so a
// change made meanwhile by someone else is refused instead of overwritten.
package crm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/cib"
	"github.com/duet-ha/duet/cluster/cib/crmsh"
	"github.com/duet-ha/duet/cluster/cli/crmmon"
	"github.com/duet-ha/duet/cluster/client"
	"github.com/duet-ha/duet/cluster/store"
)

// Main runs crm with args and returns the exit code (0 ok, 1 error, 102 clusterd unreachable).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &app{out: stdout, errw: stderr}
	root := app.command()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		msg := err.Error()
		for _, line := range strings.Split(msg, "\n") {
			fmt.Fprintf(stderr, "ERROR: %s\n", line)
		}
		if errors.Is(err, client.ErrUnreachable) {
			return 102
		}
		return 1
	}
	return 0
}

type app struct {
	out, errw io.Writer
	socket    string
	force     bool
	c         *client.Client
}

func (a *app) client() *client.Client {
	if a.c == nil {
		a.c = client.New(a.socket)
	}
	return a.c
}

func (a *app) command() *cobra.Command {
	root := &cobra.Command{
		Use:           "crm",
		Short:         "Duet's cluster shell: crmsh's verbs against clusterd",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.socket, "socket", client.DefaultSocket, "clusterd's API socket")
	root.PersistentFlags().BoolVarP(&a.force, "force", "F", false, "force changes (crmsh -F)")
	root.SetOut(a.out)
	root.SetErr(a.errw)
	root.AddCommand(a.statusCmd(), a.nodeCmd(), a.configureCmd(), a.resourceCmd())
	return root
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status [full|failcounts|...]",
		Short: "show the cluster status (crm_mon -1 -r)",
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			o := crmmon.Options{Inactive: true, Timeline: true}
			for _, arg := range args {
				switch arg {
				case "failcounts", "full":
					o.FailCounts = true
					o.FenceHistory = arg == "full"
					o.ByNode = o.ByNode || arg == "full" // crmsh's full is crm_mon -ncrft
				case "bynode":
					o.ByNode = true
				case "xml":
					x, err := crmmon.XML(st, "crm_mon -1 -r --output-as=xml")
					if err != nil {
						return err
					}
					_, err = io.WriteString(a.out, x)
					return err
				case "simple":
					_, err = io.WriteString(a.out, crmmon.Simple(st))
					return err
				case "inactive", "verbose":
					// crm_mon -r is on already; -V only raises crm_mon's own log level
				case "ops", "timing", "quiet", "noheaders", "detail", "brief", "tickets", "html":
					return fmt.Errorf("status: option %q (crm_mon %s) is not supported by Duet yet", arg, crmMonFlag[arg])
				default:
					return fmt.Errorf("status: unknown option %q", arg)
				}
			}
			_, err = io.WriteString(a.out, crmmon.Text(st, o))
			return err
		},
	}
}

// crmMonFlag is crmsh's translation of a status option into crm_mon's flag (crmsh/cmd_status.py).
var crmMonFlag = map[string]string{"ops": "-o", "timing": "-t", "quiet": "-Q", "noheaders": "-D",
	"detail": "-R", "brief": "-b", "tickets": "-c", "html": "--output-as html"}

// change is who makes a change, for "Last change: ... by USER via crm on NODE".
func change() cib.Change {
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	c := store.Now(name, "crm", "")
	return c
}

// submit sends one command and reports the epoch on stderr at debug level only; crmsh prints nothing.
// A command that finds no DC (an election or a takeover under way) is retried for a few seconds.
func (a *app) submit(ctx context.Context, cmd store.Command) error {
	cmd.Change = change()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.client().Submit(ctx, cmd)
		var ce *client.Error
		if err == nil || !errors.As(err, &ce) || ce.Code != 503 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// editCIB fetches the CIB, lets fn change a copy, and replaces the CIB with it, refusing if the CIB changed
// meanwhile (then it retries a few times from the fresh copy: fn must be repeatable).
func (a *app) editCIB(ctx context.Context, fn func(c *cib.CIB) error) error {
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		st, err := a.client().Status(ctx)
		if err != nil {
			return err
		}
		next := st.CIB.Clone()
		if err := fn(next); err != nil {
			return err
		}
		err = a.submit(ctx, store.Command{Kind: store.ReplaceCIB, CIB: next, ExpectEpoch: st.CIB.Epoch})
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == 409 {
			lastErr = err
			continue
		}
		return err
	}
	return lastErr
}

func (a *app) status(ctx context.Context) (*api.Status, error) { return a.client().Status(ctx) }

func readFile(path string) (string, error) {
	if path == "-" {
		b, err := io.ReadAll(os.Stdin)
		return string(b), err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	return string(b), nil
}

// warn prints crmsh-style warnings.
func (a *app) warn(diags []crmsh.Diagnostic) {
	for _, d := range diags {
		if d.Severity == crmsh.Warning {
			fmt.Fprintf(a.errw, "%s\n", d.String())
		}
	}
}
