// Package cli implements duet-proxy's command line, compatible with haproxy's: -f FILE|DIR (repeatable), -c,
// -cc COND, -d, -D, -p PIDFILE, -W, -Ws, -sf/-st PID..., -L NAME, -q, -V, -v/-vv. Signals: SIGHUP or SIGUSR2
// reload the files in place, SIGUSR1 stops gracefully (haproxy's soft stop), SIGTERM and SIGINT stop.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/duet-ha/duet/resources/proxy/affinity"
	"github.com/duet-ha/duet/resources/proxy/config"
	"github.com/duet-ha/duet/resources/proxy/server"
)

type options struct {
	files              []string
	check, debug       bool
	daemon, quiet      bool
	verbose            bool
	pidfile, localPeer string
	softStop, hardStop []int
	cond               string
	version            int
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Usage : duet-proxy [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -p <pidfile> ] [ -L <name> ] [ -sf/-st <pid>* ]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -D goes daemon ; -W master-worker mode (accepted; Duet reloads in place).
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -p writes pids of all children to this file
        -L set local peer name
        -sf/-st [pid ]* finishes/terminates old pids.
`)
}

func parseArgs(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option '%s' requires an argument", a)
			}
			i++
			return args[i], nil
		}
		switch a {
		case "-f":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.files = append(o.files, v)
		case "-c":
			o.check = true
		case "-cc":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.cond = v
			o.check = true
		case "-d", "-db", "-dW", "-dM", "-dr", "-dV":
			o.debug = true
		case "-D":
			o.daemon = true
		case "-W", "-Ws":
		case "-q":
			o.quiet = true
		case "-V":
			o.verbose = true
		case "-v":
			o.version = 1
		case "-vv":
			o.version = 2
		case "-p":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.pidfile = v
		case "-L":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.localPeer = v
		case "-n", "-N", "-m", "-C", "-x":
			if _, err := next(); err != nil {
				return nil, err
			}
		case "-sf", "-st":
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				pid, err := strconv.Atoi(args[i])
				if err != nil {
					return nil, fmt.Errorf("option '%s' expects PIDs, got '%s'", a, args[i])
				}
				if a == "-sf" {
					o.softStop = append(o.softStop, pid)
				} else {
					o.hardStop = append(o.hardStop, pid)
				}
			}
		case "--":
			o.files = append(o.files, args[i+1:]...)
			i = len(args)
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("unknown option '%s'", a)
			}
			o.files = append(o.files, a)
		}
	}
	return o, nil
}

// Main runs duet-proxy with haproxy's arguments and returns the process exit code. It blocks until ctx is done or
// a stop signal arrives when running a configuration.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT]    (%d) : %v\n", os.Getpid(), err)
		usage(stderr)
		return 1
	}
	if o.version > 0 {
		fmt.Fprintf(stdout, "HAProxy version %s %s - https://haproxy.org/ (Duet's embedded proxy)\n", server.Version, server.ReleaseDate)
		if o.version > 1 {
			fmt.Fprintln(stdout, "Feature list : +EPOLL +LINUX_SPLICE +OPENSSL +TPROXY +GETADDRINFO")
			fmt.Fprintln(stdout, "Built with Go's crypto/tls; HTTP/1.1 only.")
		}
		return 0
	}
	if o.cond != "" {
		toks, terr := config.Tokenize(o.cond, os.LookupEnv, nil)
		if terr != nil {
			fmt.Fprintf(stderr, "[ALERT] %v\n", terr)
			return 2
		}
		ok, cerr := config.EvalCond(toks.Words, os.LookupEnv)
		if cerr != nil {
			fmt.Fprintf(stderr, "[ALERT] %v\n", cerr)
			return 2
		}
		if ok {
			return 0
		}
		return 1
	}
	if len(o.files) == 0 {
		usage(stderr)
		return 1
	}
	cfg, diags, err := config.Load(o.files...)
	for _, d := range diags {
		if o.quiet && d.Severity == config.Warning {
			continue
		}
		fmt.Fprintln(stderr, d.String())
	}
	if err != nil {
		if errors.Is(err, config.ErrInvalid) {
			fmt.Fprintf(stderr, "[ALERT]    config : Fatal errors found in configuration.\n")
		} else {
			fmt.Fprintf(stderr, "[ALERT]    config : %v\n", err)
		}
		return 1
	}
	if o.check {
		if len(diags) > 0 && !o.quiet {
			fmt.Fprintln(stdout, "Warnings were found.")
		}
		if !hasListener(cfg) {
			// like haproxy: valid, but it would not start
			if !o.quiet {
				fmt.Fprintln(stdout, "Configuration file has no error but will not start (no listener) => exit(2).")
			}
			return 2
		}
		if !o.quiet {
			fmt.Fprintln(stdout, "Configuration file is valid")
		}
		return 0
	}
	if (o.daemon || cfg.Global.Daemon) && !o.debug && os.Getenv("DUET_PROXY_CHILD") == "" {
		return daemonize(args, o, cfg, stderr)
	}
	return run(ctx, o, cfg, stdout, stderr)
}

func hasListener(cfg *config.Config) bool {
	if len(cfg.Global.StatsSockets) > 0 {
		return true
	}
	for _, p := range cfg.Proxies {
		if !p.Disabled && p.Cap&config.CapFE != 0 && len(p.Binds) > 0 {
			return true
		}
	}
	return false
}

// daemonize starts a detached copy of this process (Go cannot fork) and writes its PID.
func daemonize(args []string, o *options, cfg *config.Config, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT] daemonize: %v\n", err)
		return 1
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "[ALERT] daemonize: %v\n", err)
		return 1
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "DUET_PROXY_CHILD=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "[ALERT] daemonize: %v\n", err)
		return 1
	}
	pidfile := o.pidfile
	if pidfile == "" {
		pidfile = cfg.Global.Pidfile
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			fmt.Fprintf(stderr, "[ALERT] write pidfile: %v\n", err)
		}
	}
	_ = cmd.Process.Release()
	return 0
}

func run(ctx context.Context, o *options, cfg *config.Config, stdout, stderr io.Writer) int {
	level := slog.LevelInfo
	if o.debug || o.verbose {
		level = slog.LevelDebug
	}
	if o.quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if path := os.Getenv("DUET_PROXY_CPUPROFILE"); path != "" {
		// profiling aid for the benchmarks: CPU profile of the whole run
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	if path := os.Getenv("DUET_PROXY_MEMPROFILE"); path != "" {
		// profiling aid for the benchmarks: what the whole run allocated, written when the proxy stops
		defer func() {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	// One event loop per thread (nbthread, else one per CPU), each runner blocking in epoll_wait on a thread of
	// its own as haproxy's threads do, and one P more for everything else (checks, TLS, connections handed off
	// by a loop): server.Options.BlockingLoops.
	threads := goruntime.GOMAXPROCS(0)
	if n := cfg.Global.Nbthread; n > 0 {
		threads = n
	}
	goruntime.GOMAXPROCS(threads + 1)
	opts := server.Options{Stdout: stdout, Stderr: stderr, Node: o.localPeer, Loops: threads, BlockingLoops: true}
	opts.LoopCPUs, opts.Unbound = bindCPUs(cfg, threads, log)
	opts.UnbindStreaming = len(cfg.Global.CPUMaps) == 0 // cpu-map binds as it says, as in haproxy
	srv := server.NewWithOptions(cfg, log, opts)
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "[ALERT]    (%d) : %v\n", os.Getpid(), err)
		return 1
	}
	pidfile := o.pidfile
	if pidfile == "" {
		pidfile = cfg.Global.Pidfile
	}
	if pidfile != "" && os.Getenv("DUET_PROXY_CHILD") == "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Warn("write pidfile", "err", err)
		}
	}
	for _, pid := range o.softStop {
		_ = syscall.Kill(pid, syscall.SIGUSR1)
	}
	for _, pid := range o.hardStop {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	grace := cfg.Global.HardStop
	for {
		select {
		case <-ctx.Done():
			return stop(srv, 5*time.Second, stderr)
		case s := <-sig:
			switch s {
			case syscall.SIGHUP, syscall.SIGUSR2:
				ncfg, diags, err := config.Load(o.files...)
				for _, d := range diags {
					fmt.Fprintln(stderr, d.String())
				}
				if err != nil {
					log.Error("reload refused: the running configuration keeps serving", "err", err)
					continue
				}
				if err := srv.Reload(ncfg); err != nil {
					log.Error("reload failed: the running configuration keeps serving", "err", err)
					continue
				}
				grace = ncfg.Global.HardStop
				if n := ncfg.Global.Nbthread; n > 0 && n != threads {
					// the loops are made at start: a new thread count needs a restart, as in haproxy
					log.Warn("nbthread changed: applies at the next start", "running", threads, "configured", n)
				}
				if !sameCPUMaps(cfg.Global.CPUMaps, ncfg.Global.CPUMaps) { // cfg: the one the process started with
					log.Warn("cpu-map changed: applies at the next start")
				}
			case syscall.SIGUSR1:
				d := grace
				if d <= 0 {
					d = 24 * time.Hour
				}
				return stop(srv, d, stderr)
			default:
				return stop(srv, 2*time.Second, stderr)
			}
		}
	}
}

func stop(srv *server.Server, grace time.Duration, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		return 1
	}
	return 0
}

// bindCPUs plans where the loop threads run (cpu-map, else one CPU each: package affinity says why), binds the
// whole process when a cpu-map line says so, and returns the loops' sets and the process's own.
func bindCPUs(cfg *config.Config, loops int, log *slog.Logger) (loopCPUs [][]int, unbound []int) {
	allowed, err := affinity.Thread(0)
	if err != nil {
		log.Warn("event loop threads are not bound to CPUs", "err", err)
		return nil, nil
	}
	plan := affinity.Make(cfg.Global.CPUMaps, loops, allowed)
	for _, n := range plan.Notes {
		log.Warn(n)
	}
	if plan.Process != nil {
		if err := affinity.SetProcess(plan.Process); err != nil {
			log.Warn("cpu-map: the process keeps its CPUs", "err", err)
		} else {
			allowed = plan.Process
		}
	}
	for i, cpus := range plan.Loops {
		if cpus != nil {
			log.Debug("event loop thread bound", "thread", i+1, "cpus", affinity.List(cpus))
		}
	}
	return plan.Loops, allowed
}

// sameCPUMaps reports whether two configurations bind the same way.
func sameCPUMaps(a, b []config.CPUMap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Auto != b[i].Auto || a[i].Threads != b[i].Threads || !slices.Equal(a[i].CPUs, b[i].CPUs) {
			return false
		}
	}
	return true
}
