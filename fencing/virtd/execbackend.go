package virtd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/duet-ha/duet/fencing"
)

// Exec is a backend for any power switch: one command per action, from the backends/exec block:
//
//	backends { exec { off = "/usr/local/sbin/pdu off"; on = "..."; reboot = "..."; status = "...";
//	                  list = "..."; monitor = "..."; timeout = "60"; } }
//
// A command is split on blanks (no shell) and run with the target appended as its last argument and in
// the environment as FENCE_TARGET (FENCE_ACTION holds the action). Exit 0 is success; for status, exit 0
// means on and exit 2 off. list prints one host per line: "name [uuid] [on|off]". Without a reboot
// command, reboot runs off then on; without monitor, Monitor succeeds; off and status are required.
type Exec struct {
	Cmds    map[string][]string
	Timeout time.Duration
}

var _ fencing.Device = (*Exec)(nil)

// NewExec returns an exec backend from the backends/exec block.
func NewExec(b *Node) (*Exec, error) {
	e := &Exec{Cmds: map[string][]string{}, Timeout: 60 * time.Second}
	if b == nil {
		return nil, errors.New("configure exec backend: no backends/exec block")
	}
	for _, k := range []string{"off", "on", "reboot", "status", "list", "monitor"} {
		if v, ok := b.Get(k); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return nil, fmt.Errorf("configure exec backend: %s: empty command", k)
			}
			e.Cmds[k] = f
		}
	}
	if v, ok := b.Get("timeout"); ok {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			return nil, fmt.Errorf("configure exec backend: timeout %q: want seconds > 0", v)
		}
		e.Timeout = time.Duration(s) * time.Second
	}
	for _, k := range []string{"off", "status"} {
		if e.Cmds[k] == nil {
			return nil, fmt.Errorf("configure exec backend: %s command required", k)
		}
	}
	return e, nil
}

// run runs the command for action; it returns stdout and the exit code (-1 with err when it did not run
// or was killed).
func (e *Exec) run(ctx context.Context, action, target string) ([]byte, int, error) {
	argv := append(append([]string(nil), e.Cmds[action]...), target)
	if target == "" {
		argv = argv[:len(argv)-1]
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "FENCE_ACTION="+action, "FENCE_TARGET="+target)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return out.Bytes(), ee.ExitCode(), nil
	}
	if err != nil {
		return out.Bytes(), -1, fmt.Errorf("run %s: %w: %s", argv[0], err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), 0, nil
}

func (e *Exec) simple(ctx context.Context, action, target string) error {
	_, code, err := e.run(ctx, action, target)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s command exited %d: %w", action, code, fencing.ErrFailed)
	}
	return nil
}

// Fence runs the off, on or reboot command.
func (e *Exec) Fence(ctx context.Context, target string, action fencing.Action) error {
	name := action.String()
	if e.Cmds[name] == nil {
		if action != fencing.Reboot {
			return fmt.Errorf("fence %s %s: no %s command configured", target, name, name)
		}
		if err := e.simple(ctx, "off", target); err != nil {
			return fmt.Errorf("fence %s reboot: %w", target, err)
		}
		if e.Cmds["on"] == nil {
			return nil
		}
		name = "on"
	}
	if err := e.simple(ctx, name, target); err != nil {
		return fmt.Errorf("fence %s %s: %w", target, action, err)
	}
	return nil
}

// Status runs the status command: exit 0 on, 2 off.
func (e *Exec) Status(ctx context.Context, target string) (fencing.PowerState, error) {
	_, code, err := e.run(ctx, "status", target)
	switch {
	case err != nil:
		return fencing.Unknown, fmt.Errorf("get status of %s: %w", target, err)
	case code == 0:
		return fencing.PoweredOn, nil
	case code == 2:
		return fencing.PoweredOff, nil
	}
	return fencing.Unknown, fmt.Errorf("get status of %s: status command exited %d: %w", target, code, fencing.ErrFailed)
}

// List runs the list command and parses "name [uuid] [on|off]" lines; without one it lists nothing.
func (e *Exec) List(ctx context.Context) ([]fencing.Host, error) {
	if e.Cmds["list"] == nil {
		return nil, nil
	}
	out, code, err := e.run(ctx, "list", "")
	if err == nil && code != 0 {
		err = fmt.Errorf("list command exited %d: %w", code, fencing.ErrFailed)
	}
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return parseExecList(out), nil
}

func parseExecList(out []byte) []fencing.Host {
	var hosts []fencing.Host
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		h := fencing.Host{Name: f[0], State: fencing.Unknown}
		for _, x := range f[1:] {
			switch strings.ToLower(x) {
			case "on":
				h.State = fencing.PoweredOn
			case "off":
				h.State = fencing.PoweredOff
			default:
				h.UUID = x
			}
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// Monitor runs the monitor command if there is one.
func (e *Exec) Monitor(ctx context.Context) error {
	if e.Cmds["monitor"] == nil {
		return nil
	}
	if err := e.simple(ctx, "monitor", ""); err != nil {
		return fmt.Errorf("monitor exec backend: %w", err)
	}
	return nil
}
