package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/duet-ha/duet/cluster/config"
)

// DefaultConfigFile is read when it exists and --config is not given.
const DefaultConfigFile = "/etc/duet/clusterd.conf"

// Main is clusterd's command line: `clusterd [flags]` runs the daemon until ctx ends (SIGTERM/SIGINT);
// `clusterd keygen FILE` writes a new cluster key. It returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newCommand(ctx, stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "clusterd: %v\n", err)
		return 1
	}
	return 0
}

func newCommand(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	var (
		cfgFile  string
		name     string
		bind     string
		peers    []string
		dataDir  string
		keyFile  string
		socket   string
		witness  bool
		gport    int
		rport    int
		logLevel string
		sets     []string
	)
	root := &cobra.Command{
		Use:           "clusterd",
		Short:         "Duet's cluster daemon: membership, DC election, the replicated CIB, resources",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			path := cfgFile
			if path == "" {
				if _, err := os.Stat(DefaultConfigFile); err == nil {
					path = DefaultConfigFile
				}
			}
			if path != "" {
				if err := cfg.ParseFile(path); err != nil {
					return err
				}
			}
			flags := cmd.Flags()
			set := func(flag, key, val string) error {
				if flags.Changed(flag) {
					if err := cfg.Set(key, val); err != nil {
						return fmt.Errorf("--%s: %w", flag, err)
					}
				}
				return nil
			}
			for _, s := range [][3]string{{"name", "node_name", name}, {"bind", "bind", bind}, {"data-dir", "data_dir", dataDir},
				{"key-file", "key_file", keyFile}, {"socket", "socket", socket}, {"gossip-port", "gossip_port", fmt.Sprint(gport)},
				{"raft-port", "raft_port", fmt.Sprint(rport)}} {
				if err := set(s[0], s[1], s[2]); err != nil {
					return err
				}
			}
			if flags.Changed("witness") {
				cfg.Witness = witness
			}
			for _, p := range peers {
				n, a, ok := strings.Cut(p, "=")
				if !ok {
					return fmt.Errorf("--peer %q: want NAME=ADDRESS", p)
				}
				if err := cfg.Set("peer", n+" "+strings.ReplaceAll(a, ",", " ")); err != nil {
					return fmt.Errorf("--peer: %w", err)
				}
			}
			for _, s := range sets {
				k, v, ok := strings.Cut(s, "=")
				if !ok {
					return fmt.Errorf("--set %q: want KEY=VALUE", s)
				}
				if err := cfg.Set(k, v); err != nil {
					return fmt.Errorf("--set %s: %w", k, err)
				}
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := cfg.LoadKey(); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			return New(cfg, log).Run(ctx)
		},
	}
	f := root.Flags()
	f.StringVarP(&cfgFile, "config", "c", "", "configuration file (default "+DefaultConfigFile+" when it exists)")
	f.StringVar(&name, "name", "", "this node's name")
	f.StringVar(&bind, "bind", "", "this node's cluster address")
	f.StringArrayVar(&peers, "peer", nil, "another node, NAME=ADDRESS or NAME=ADDRESS,witness (repeatable)")
	f.StringVar(&dataDir, "data-dir", "", "where the CIB and Raft state are kept")
	f.StringVar(&keyFile, "key-file", "", "the cluster key (16, 24 or 32 bytes; see clusterd keygen)")
	f.StringVar(&socket, "socket", "", "the API's unix socket")
	f.BoolVar(&witness, "witness", false, "run as a witness: a Raft voter that holds no resources")
	f.IntVar(&gport, "gossip-port", config.DefaultGossipPort, "gossip (memberlist) port")
	f.IntVar(&rport, "raft-port", config.DefaultRaftPort, "raft and RPC port")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringArrayVar(&sets, "set", nil, "any configuration key, KEY=VALUE (repeatable), e.g. probe_interval=20ms")

	root.AddCommand(&cobra.Command{
		Use:   "keygen FILE",
		Short: "write a new random 32-byte cluster key (hex) to FILE, mode 0600",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return err
			}
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return fmt.Errorf("keygen: %s exists; not overwriting a cluster key", args[0])
				}
				return fmt.Errorf("keygen: %w", err)
			}
			defer f.Close()
			_, err = fmt.Fprintln(f, hex.EncodeToString(key))
			return err
		},
	})
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root
}
