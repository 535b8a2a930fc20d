package virtd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
)

// DefaultConfigFile is where fence_virtd reads its configuration.
const DefaultConfigFile = "/etc/fence_virt.conf"

// NewBackend builds the backend cfg names from its backends block.
func NewBackend(cfg *Config, log *slog.Logger) (fencing.Device, error) {
	switch cfg.Backend {
	case "libvirt":
		return NewLibvirt(cfg.BackendBlock, log)
	case "exec":
		return NewExec(cfg.BackendBlock)
	case "netns":
		return NewNetns(cfg.BackendBlock)
	}
	return nil, fmt.Errorf("create backend: unsupported backend %q", cfg.Backend)
}

// ReadKey reads a key file as the real daemon does: raw bytes, at most 4096 (the rest is ignored).
func ReadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, xvm.MaxKeyLen))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	return key, nil
}

// Main is fence_virtd: `fence_virtd [-F] [-f file] [-d level] [-w] [-p pidfile] [-l]`. It always stays in
// the foreground (-F is accepted for compatibility), logs to stderr, and runs until ctx is cancelled
// (the thin main cancels it on SIGINT/SIGTERM). Exit status: 0 after a clean stop, 1 for usage, start-up
// and runtime errors, 255 when the configuration does not parse (as the real daemon).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fence_virtd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("F", true, "stay in the foreground (always)")
	file := fs.String("f", DefaultConfigFile, "configuration `file`")
	debug := fs.Int("d", 0, "debug `level`")
	interactive := fs.Bool("c", false, "interactive configuration (not supported)")
	list := fs.Bool("l", false, "list the available backends and listeners")
	wait := fs.Bool("w", false, "wait for the backend and listener to start, retrying every 5 s")
	pidfile := fs.String("p", "/var/run/fence_virtd.pid", "pid `file`")
	helper := fs.String("libvirt-helper", "", "internal: serve the libvirt backend for `URI` on stdin and stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if *helper != "" {
		if err := RunLibvirtHelper(*helper, os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "fence_virtd: %v\n", err)
			return 1
		}
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fence_virtd: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	if *interactive {
		fmt.Fprintln(stderr, "fence_virtd: interactive configuration (-c) is not supported; edit the file instead")
		return 1
	}
	if *list {
		fmt.Fprintln(stdout, "Available backends:\n    libvirt\n    exec\n    netns\nAvailable listeners:\n    multicast\n    tcp")
		return 0
	}
	cfg, err := LoadConfig(*file)
	if err != nil {
		fmt.Fprintf(stderr, "fence_virtd: Failed to parse %s: %v\n", *file, err)
		return 255
	}
	level := slog.LevelInfo
	if *debug > 0 || cfg.Debug > 0 {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	var key []byte
	if cfg.Listen.Hash != xvm.HashNone || cfg.Listen.Auth != xvm.HashNone {
		if key, err = ReadKey(cfg.Listen.KeyFile); err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		if len(key) == 0 {
			log.Error("cannot start: key file is empty", "key_file", cfg.Listen.KeyFile)
			return 1
		}
		if st, err := os.Stat(cfg.Listen.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("key file is readable by group or others", "key_file", cfg.Listen.KeyFile, "mode", st.Mode().Perm().String())
		}
	}
	if *pidfile != "" {
		if err := writePidfile(*pidfile); err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		defer os.Remove(*pidfile)
	}
	dev, err := NewBackend(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if lv, ok := dev.(*Libvirt); ok {
		useLibvirtHelper(lv, cfg.BackendBlock, log)
	}
	if c, ok := dev.(io.Closer); ok {
		defer c.Close()
	}
	srv, err := NewServer(Options{Device: dev, Key: key, MinHash: cfg.Listen.Hash, Auth: cfg.Listen.Auth,
		Groups: cfg.Groups, Logger: log})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	var l *Listener
	for {
		l, err = Start(ctx, cfg.Listener, cfg.Listen, srv)
		if err == nil {
			break
		}
		if !*wait {
			log.Error("cannot start", "err", err)
			return 1
		}
		log.Warn("listener not ready, retrying in 5 s", "err", err)
		if !sleepCtx(ctx, 5*time.Second) {
			return 0
		}
	}
	log.Info("fence_virtd started", "listener", cfg.Listener, "addr", l.Addr().String(), "backend", cfg.Backend,
		"hash", cfg.Listen.Hash.String(), "auth", cfg.Listen.Auth.String(), "groups", len(cfg.Groups))
	<-ctx.Done()
	l.Stop()
	log.Info("fence_virtd stopped")
	return 0
}

// useLibvirtHelper makes lv run this program as its libvirt helper (libvirt in process, in a child it can
// kill) instead of virsh, unless the configuration names a virsh or the helper cannot load libvirt.
func useLibvirtHelper(lv *Libvirt, b *Node, log *slog.Logger) {
	if _, ok := b.Get("virsh"); ok || !haveLibvirtHelper {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		// The in-process test driver: proves that the helper runs and loads libvirt, with no I/O.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, "-libvirt-helper", "test:///default")
		cmd.Stdin = strings.NewReader("echo ok\n")
		var out []byte
		if out, err = cmd.Output(); err == nil && !strings.Contains(string(out), "ok") {
			err = fmt.Errorf("unexpected answer %q", out)
		}
	}
	if err != nil {
		log.Info("libvirt helper unavailable, driving libvirt through virsh", "err", err)
		return
	}
	lv.Helper = []string{exe, "-libvirt-helper"}
}

// writePidfile refuses when path names a live process, else writes this process's pid.
func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
				return fmt.Errorf("write pid file %s: fence_virtd already running as pid %d", path, pid)
			}
		}
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
