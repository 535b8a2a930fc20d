// Package agent is the fence_xvm command: the real fence_xvm's options, stdin key=value interface (as
// pacemaker drives fence agents), output and exit codes, on top of fencing/xvm/client. As an extension it
// also speaks to a TCP listener (-T address / ipaddr=, like fence_virt).
package agent

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
)

//go:embed metadata.xml
var metadataXML string

//go:embed usage.txt
var usageText string

// DefaultKeyFile is where fence_xvm looks for the key when none is given.
const DefaultKeyFile = "/etc/cluster/fence_xvm.key"

// args is the parsed command line or stdin.
type args struct {
	debug      int
	family     client.Family
	group      string
	tcpAddr    string
	port       int
	retrans    int // tenths of a second
	hash, auth xvm.HashType
	keyFile    string
	keyGiven   bool
	domain     string
	domainSet  bool
	useUUID    bool
	op         xvm.Op
	timeout    int // seconds
	delay      int // seconds
	help, vers bool
	err        bool
}

func defaults() *args {
	return &args{port: xvm.DefaultPort, retrans: 20, hash: xvm.HashSHA256, auth: xvm.HashSHA256,
		keyFile: DefaultKeyFile, op: xvm.OpReboot, timeout: 30}
}

// set applies one option (by its stdin name) the way the real assign_* functions do, printing their
// messages to out.
func (a *args) set(name, value string, out io.Writer) {
	bad := func(format string, v ...any) {
		fmt.Fprintf(out, format+"\n", v...)
		a.err = true
	}
	num := func(s string) (int, bool) {
		n, err := strconv.ParseInt(s, 0, 64)
		return int(n), err == nil && n > -1<<31 && n < 1<<31
	}
	switch name {
	case "debug":
		if value == "" {
			a.debug++
		} else if n, _ := strconv.Atoi(value); n >= 0 {
			a.debug = n
		} else {
			a.debug = 1
		}
	case "ip_family":
		switch strings.ToLower(value) {
		case "ipv4":
			a.family = client.IPv4
		case "ipv6":
			a.family = client.IPv6
		case "auto":
			a.family = client.Auto
		default:
			bad("Unsupported family: '%s'", value)
		}
	case "multicast_address":
		a.group = value
	case "ipaddr":
		a.tcpAddr = value
	case "ipport":
		if n, ok := num(value); ok && n > 0 && n < 65536 {
			a.port = n
		} else {
			bad("Invalid port: '%s'", value)
		}
	case "retrans":
		if n, ok := num(value); ok && n > 0 {
			a.retrans = n
		} else {
			bad("Invalid retransmit time: '%s'", value)
		}
	case "hash", "auth":
		h, err := xvm.ParseHash(value)
		if err != nil {
			if name == "hash" {
				bad("Unsupported hash: %s", value)
			} else {
				bad("Unsupported auth type: %s", value)
			}
			return
		}
		if name == "hash" {
			a.hash = h
		} else {
			a.auth = h
		}
	case "key_file":
		a.keyFile, a.keyGiven = value, true
		if _, err := os.Stat(value); err != nil {
			var pe *os.PathError
			msg := err.Error()
			if errors.As(err, &pe) {
				msg = pe.Err.Error()
				msg = strings.ToUpper(msg[:1]) + msg[1:]
			}
			bad("Invalid key file: '%s' (%s)", value, msg)
		}
	case "action", "option":
		op, err := xvm.ParseOp(value)
		if err != nil {
			bad("Unsupported operation: %s", value)
			return
		}
		a.op = op
	case "plug", "port", "domain":
		if a.domainSet && value != a.domain {
			bad("Domain/UUID may not be specified more than once")
			return
		}
		a.domain, a.domainSet = value, true
		if value == "" {
			bad("Invalid domain name")
		} else if len(value) > xvm.MaxDomainLen {
			bad("Invalid domain name: '%s' (File name too long)", value)
		}
	case "use_uuid":
		if value == "" {
			a.useUUID = true
		} else if n, _ := strconv.Atoi(value); n != 0 {
			a.useUUID = true
		}
	case "timeout":
		if n, ok := num(value); ok && n > 0 {
			a.timeout = n
		} else {
			bad("Invalid timeout: '%s'", value)
		}
	case "delay":
		if n, ok := num(value); ok && n >= 0 {
			a.delay = n
		} else {
			bad("Invalid delay: '%s'", value)
		}
	case "help":
		a.help = true
	case "version":
		a.vers = true
	}
}

// stdinKeys are the keys the stdin form accepts; agent, self and nodename are accepted and ignored.
var stdinKeys = map[string]bool{"agent": true, "self": true, "nodename": true, "debug": true, "ip_family": true,
	"multicast_address": true, "ipaddr": true, "ipport": true, "retrans": true, "hash": true, "auth": true,
	"key_file": true, "option": true, "action": true, "plug": true, "port": true, "domain": true,
	"use_uuid": true, "timeout": true, "delay": true}

// parseStdin reads key=value lines; '#' starts a comment line. Unknown keys are reported on errOut and
// ignored, as the real agent does.
func parseStdin(r io.Reader, out, errOut io.Writer) *args {
	a := defaults()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !stdinKeys[k] {
			fmt.Fprintf(errOut, "Parse error: Ignoring unknown option '%s'\n", k)
			continue
		}
		a.set(k, v, out)
	}
	return a
}

// optNames maps fence_xvm's option letters (plus -T, an extension) to stdin names; true if it takes a value.
var optNames = map[byte]struct {
	name string
	arg  bool
}{
	'd': {"debug", false}, 'i': {"ip_family", true}, 'a': {"multicast_address", true}, 'p': {"ipport", true},
	'r': {"retrans", true}, 'C': {"auth", true}, 'c': {"hash", true}, 'k': {"key_file", true},
	'n': {"plug", true}, 'H': {"port", true}, 'u': {"use_uuid", false}, 'o': {"action", true},
	't': {"timeout", true}, 'w': {"delay", true}, 'h': {"help", false}, '?': {"help", false},
	'V': {"version", false}, 'T': {"ipaddr", true}, 'M': {"", true},
}

// parseArgs parses getopt-style arguments ("-o status", "-ostatus", "-du").
func parseArgs(argv []string, out, errOut io.Writer) *args {
	a := defaults()
	for i := 0; i < len(argv); i++ {
		s := argv[i]
		if s == "--" {
			break
		}
		if len(s) < 2 || s[0] != '-' {
			continue // getopt would permute; the real agent ignores operands
		}
		for j := 1; j < len(s); j++ {
			o, ok := optNames[s[j]]
			if !ok {
				fmt.Fprintf(errOut, "fence_xvm: invalid option -- '%c'\n", s[j])
				a.err = true
				continue
			}
			if !o.arg {
				a.set(o.name, "", out)
				continue
			}
			val := s[j+1:]
			if val == "" {
				if i+1 >= len(argv) {
					fmt.Fprintf(errOut, "fence_xvm: option requires an argument -- '%c'\n", s[j])
					a.err = true
					break
				}
				i++
				val = argv[i]
			}
			if o.name != "" {
				a.set(o.name, val, out)
			}
			break
		}
	}
	return a
}

// usage prints the getopt (stdinForm false) or the stdin part of the help text.
func usage(w io.Writer, stdinForm bool) {
	const marker = "With no command line argument"
	head, tail, _ := strings.Cut(usageText, marker)
	if !stdinForm {
		io.WriteString(w, head)
		return
	}
	if _, rest, ok := strings.Cut(tail, "    arg2=value2\n\n"); ok {
		io.WriteString(w, rest)
	}
}

// Main is fence_xvm with the process's stdin. See Run.
func Main(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	return Run(ctx, argv, os.Stdin, stdout, stderr)
}

// Run is fence_xvm: with no arguments it reads key=value lines from stdin, else it parses options. It
// returns the exit status the real fence_xvm would: the result byte (0 success/on, 1 failure or timeout,
// 2 off, 3 permission denied), 255 when the result never came.
func Run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var a *args
	stdinForm := len(argv) == 0
	if stdinForm {
		a = parseStdin(stdin, stdout, stderr)
	} else {
		a = parseArgs(argv, stdout, stderr)
	}
	if a.help {
		usage(stdout, false)
		io.WriteString(stdout, "With no command line argument, arguments are read from standard input.\n"+
			"Arguments read from standard input take the form of:\n\n    arg1=value1\n    arg2=value2\n\n")
		usage(stdout, true)
		return 0
	}
	if a.vers {
		fmt.Fprintln(stdout, "fence_xvm 1.9.0 (Duet)")
		fmt.Fprintln(stdout, "fence release 4.12.1")
		return 0
	}
	if !a.domainSet && a.op.NeedsDomain() {
		fmt.Fprintln(stderr, "No domain specified!")
		a.err = true
	}
	if a.err {
		if a.op != xvm.OpValidateAll {
			usage(stdout, stdinForm)
		}
		return 1
	}
	switch a.op {
	case xvm.OpValidateAll:
		return 0
	case xvm.OpMetadata:
		io.WriteString(stdout, metadataXML)
		return 0
	}
	level := slog.LevelWarn
	if a.debug > 0 {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var key []byte
	if a.hash != xvm.HashNone || a.auth != xvm.HashNone {
		k, err := readKey(a.keyFile)
		switch {
		case err != nil && a.keyGiven:
			fmt.Fprintf(stdout, "Could not read %s: %v\n", a.keyFile, err)
			return 1
		case err != nil:
			fmt.Fprintf(stdout, "Could not read %s; trying without authentication\n", a.keyFile)
			a.hash, a.auth = xvm.HashNone, xvm.HashNone
		default:
			key = k
		}
	}
	cfg := client.Config{Key: key, Hash: a.hash, Auth: a.auth, Family: a.family, Group: a.group, Port: a.port,
		Retrans: time.Duration(a.retrans) * 100 * time.Millisecond, Timeout: time.Duration(a.timeout) * time.Second,
		UseUUID: a.useUUID, Logger: log}
	if a.tcpAddr != "" {
		cfg.Mode, cfg.Addr = client.TCP, a.tcpAddr
	}
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	if a.delay > 0 && a.op != xvm.OpStatus && a.op != xvm.OpDevStatus && a.op != xvm.OpHostList {
		t := time.NewTimer(time.Duration(a.delay) * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return 1
		case <-t.C:
		}
	}
	resp, err := c.Do(ctx, a.op, a.domain)
	if err != nil {
		log.Debug("request failed", "err", err)
		switch {
		case errors.Is(err, fencing.ErrTimeout):
			fmt.Fprintln(stdout, "Timed out waiting for response")
			fmt.Fprintln(stdout, "Operation failed")
			return 1
		case errors.Is(err, xvm.ErrAuth):
			fmt.Fprintln(stdout, "Invalid response to challenge")
			fmt.Fprintln(stdout, "Operation failed")
			return 1
		case errors.Is(err, xvm.ErrHostList):
			// The real client prints what it got and exits 0 on a cut hostlist.
			printHosts(stdout, resp.Hosts)
			fmt.Fprintln(stdout, "Bad read!")
			return 0
		case errors.Is(err, client.ErrNoResult), errors.Is(err, client.ErrListen):
			fmt.Fprintln(stdout, "Unknown response (-1)")
			return 255
		}
		fmt.Fprintln(stdout, err)
		fmt.Fprintln(stdout, "Operation failed")
		return 1
	}
	if resp.Result == xvm.ResultHostList {
		printHosts(stdout, resp.Hosts)
		return 0
	}
	switch resp.Result {
	case xvm.ResultSuccess:
		if a.op == xvm.OpStatus {
			fmt.Fprintln(stdout, "Status: ON")
		}
	case xvm.ResultOff:
		if a.op == xvm.OpStatus {
			fmt.Fprintln(stdout, "Status: OFF")
		}
	case xvm.ResultFail:
		fmt.Fprintln(stdout, "Operation failed")
	case xvm.ResultPerm:
		fmt.Fprintln(stdout, "Permission denied")
	default:
		fmt.Fprintf(stdout, "Unknown response (%d)\n", int8(resp.Result))
	}
	return int(resp.Result)
}

func printHosts(w io.Writer, hosts []xvm.HostRecord) {
	for _, h := range hosts {
		st := "off"
		if h.State == xvm.StateRunning {
			st = "on"
		}
		fmt.Fprintf(w, "%-32s %s %s\n", h.Domain, h.UUID, st)
	}
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, xvm.MaxKeyLen))
}
