package crmmon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/client"
)

// Main is the crm_mon command. It returns the exit code: 0, 1 for usage errors, 102 (pacemaker's
// CRM_EX_UNAVAILABLE... shown as "not connected") when clusterd cannot be reached.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := NewCommand(stdout)
	cmd.SetArgs(fenceLevelArgs(args))
	cmd.Annotations = map[string]string{"request": strings.TrimSpace("crm_mon " + strings.Join(args, " "))}
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		fmt.Fprintf(stderr, "crm_mon: %v\n", err)
		if errors.Is(err, client.ErrUnreachable) {
			return 102
		}
		return 1
	}
	return 0
}

// fenceLevelArgs rewrites pacemaker's -mLEVEL (an optional argument attached to the short flag, as in
// crm_mon -1 -m3) to --fence-history=LEVEL, which the flag parser understands.
func fenceLevelArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if len(a) == 3 && a[:2] == "-m" && a[2] >= '0' && a[2] <= '3' {
			a = "--fence-history=" + a[2:]
		}
		out = append(out, a)
	}
	return out
}

// NewCommand builds crm_mon's cobra command.
func NewCommand(stdout io.Writer) *cobra.Command {
	var (
		oneShot, inactive, failcounts, simple bool
		byNode                                bool
		fenceHistory                          int
		outputAs, socket, interval            string
		noTimeline                            bool
	)
	cmd := &cobra.Command{
		Use:           "crm_mon",
		Short:         "show the cluster's status, live or once",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch outputAs {
			case "text", "console", "xml":
			default:
				return fmt.Errorf("--output-as=%s: want text, console or xml", outputAs)
			}
			c := client.New(socket)
			o := Options{Inactive: inactive, FailCounts: failcounts, FenceHistory: fenceHistory > 0, Timeline: !noTimeline, ByNode: byNode}
			render := func(st *api.Status) (string, error) {
				if simple {
					return Simple(st), nil
				}
				if outputAs == "xml" {
					request := cmd.Annotations["request"] // the command line, as pacemaker's request attribute
					if request == "" {
						request = "crm_mon"
					}
					return XML(st, request)
				}
				return Text(st, o), nil
			}
			if oneShot || outputAs == "xml" || simple {
				st, err := c.Status(cmd.Context())
				if err != nil {
					return err
				}
				out, err := render(st)
				if err != nil {
					return err
				}
				_, err = io.WriteString(stdout, out)
				return err
			}
			_ = interval // live mode redraws on every change instead of polling
			return c.Watch(cmd.Context(), func(st *api.Status) error {
				out, err := render(st)
				if err != nil {
					return err
				}
				// Home the cursor and clear, then draw: the screen is redrawn in place.
				_, err = io.WriteString(stdout, "\x1b[H\x1b[2J"+out)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&oneShot, "one-shot", "1", false, "display the cluster status once and exit")
	f.BoolVarP(&inactive, "inactive", "r", false, "display inactive resources")
	f.BoolVarP(&failcounts, "failcounts", "f", false, "display resource fail counts")
	f.BoolVarP(&byNode, "group-by-node", "n", false, "group resources by node")
	f.IntVarP(&fenceHistory, "fence-history", "m", 0, "show fence history (0-3)")
	f.Lookup("fence-history").NoOptDefVal = "1"
	f.StringVar(&outputAs, "output-as", "text", "text or xml")
	f.BoolVarP(&simple, "simple-status", "s", false, "one line, Nagios style")
	f.StringVarP(&interval, "interval", "i", "5s", "accepted for compatibility; live mode redraws on every change")
	f.StringVar(&socket, "socket", client.DefaultSocket, "clusterd's API socket")
	f.BoolVar(&noTimeline, "no-timeline", false, "hide Duet's last failover timeline")
	cmd.SetOut(stdout)
	return cmd
}

// Simple is the one-line status of crm_mon -s.
func Simple(st *api.Status) string {
	var offline []string
	online := 0
	for _, n := range st.Nodes {
		if n.Online {
			online++
		} else {
			offline = append(offline, n.Name)
		}
	}
	switch {
	case st.DC == "":
		return "CLUSTER WARN: No DC\n"
	case len(offline) > 0:
		return fmt.Sprintf("CLUSTER WARN: offline node: %s\n", strings.Join(offline, ", "))
	case !st.Quorum.Quorate:
		return "CLUSTER WARN: no quorum\n"
	}
	total, _ := Configured(st, Resources(st))
	return fmt.Sprintf("CLUSTER OK: %d nodes online, %d resource instances configured\n", online, total)
}
