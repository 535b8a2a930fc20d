package virtd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/fencing"
)

// Libvirt is the libvirt backend. It drives libvirt through Debian's virsh (libvirt-clients), so it needs
// neither cgo nor a libvirt daemon for the in-process test driver: it keeps one interactive virsh session
// per URI open, which also keeps test:///default's state (a destroyed VM stays off) for the daemon's
// lifetime, as the real daemon's in-process connection does. Domains are looked up by UUID when the target
// is a UUID, else by exact name; with several URIs (uri, uri1, uri2, ...) they are tried in order.
type Libvirt struct {
	URIs  []string
	Virsh string // default "virsh"
	Log   *slog.Logger
	// OpTimeout bounds one virsh command (default 30 s); a session that times out is restarted.
	OpTimeout time.Duration

	mu       sync.Mutex
	sessions map[string]*virshSession
	seq      int
}

var _ fencing.Device = (*Libvirt)(nil)

// NewLibvirt returns a libvirt backend from the backends/libvirt block (uri, uri1, ...; default
// qemu:///system, as the real daemon).
func NewLibvirt(b *Node, log *slog.Logger) (*Libvirt, error) {
	l := &Libvirt{Virsh: "virsh", Log: log, OpTimeout: 30 * time.Second, sessions: map[string]*virshSession{}}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if b != nil {
		if v, ok := b.Get("uri"); ok {
			l.URIs = append(l.URIs, v)
		}
		for i := 1; ; i++ {
			v, ok := b.Get(fmt.Sprintf("uri%d", i))
			if !ok {
				break
			}
			l.URIs = append(l.URIs, v)
		}
		if v, ok := b.Get("virsh"); ok {
			l.Virsh = v
		}
	}
	if len(l.URIs) == 0 {
		l.URIs = []string{"qemu:///system"}
	}
	return l, nil
}

type virshSession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *os.File
	buf   []byte
}

func (s *virshSession) close() {
	s.stdin.Close()
	s.out.Close()
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
	s.cmd.Wait()
}

// Close ends every virsh session. The backend may be used again afterwards (sessions restart).
func (l *Libvirt) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for uri, s := range l.sessions {
		s.close()
		delete(l.sessions, uri)
	}
	return nil
}

func (l *Libvirt) session(uri string) (*virshSession, error) {
	if s := l.sessions[uri]; s != nil {
		return s, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start virsh: %w", err)
	}
	cmd := exec.Command(l.Virsh, "-q", "-c", uri)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start virsh: %w", err)
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start virsh -c %s: %w", uri, err)
	}
	w.Close()
	s := &virshSession{cmd: cmd, stdin: stdin, out: r}
	l.sessions[uri] = s
	l.Log.Debug("virsh session started", "uri", uri, "pid", cmd.Process.Pid)
	return s, nil
}

// virsh runs one command line in uri's session and returns its output lines; lines starting with
// "error:" make it return an error. Callers hold l.mu.
func (l *Libvirt) virsh(ctx context.Context, uri string, args ...string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("virsh -c %s %s: %w", uri, args[0], err)
	}
	s, err := l.session(uri)
	if err != nil {
		return nil, err
	}
	l.seq++
	// The quotes split the marker in the echoed command line, so only echo's output contains it whole.
	marker := fmt.Sprintf("__DUET_MARK%d__", l.seq)
	line := strings.Join(args, " ") + fmt.Sprintf("\necho __DUET_''MARK%d__\n", l.seq)
	fail := func(err error) ([]string, error) {
		s.close()
		delete(l.sessions, uri)
		return nil, fmt.Errorf("virsh -c %s %s: %w", uri, args[0], err)
	}
	if _, err := io.WriteString(s.stdin, line); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(l.OpTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.out.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.out.SetReadDeadline(time.Now()) })
	defer stop()
	chunk := make([]byte, 4096)
	for {
		if i := bytes.Index(s.buf, []byte(marker)); i >= 0 {
			text := string(s.buf[:i])
			s.buf = append(s.buf[:0], s.buf[i+len(marker):]...)
			return parseVirshOutput(text)
		}
		if len(s.buf) > 1<<20 {
			return fail(errors.New("output too long"))
		}
		n, err := s.out.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			return fail(err)
		}
	}
}

func parseVirshOutput(text string) ([]string, error) {
	var out, errs []string
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimRight(ln, " \r")
		switch {
		case strings.HasPrefix(ln, "virsh #"), strings.TrimSpace(ln) == "":
		case strings.HasPrefix(ln, "error:"):
			errs = append(errs, strings.TrimSpace(strings.TrimPrefix(ln, "error:")))
		default:
			out = append(out, ln)
		}
	}
	if len(errs) > 0 {
		return out, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// domain is a resolved domain; handle is what virsh commands name it by (its UUID, or a safe name).
type domain struct{ uri, uuid, name, handle string }

// domains lists (uuid, name) of every domain of uri.
func (l *Libvirt) domains(ctx context.Context, uri string) ([]domain, error) {
	lines, err := l.virsh(ctx, uri, "list", "--all", "--uuid", "--name")
	if err != nil {
		return nil, err
	}
	var out []domain
	for _, ln := range lines {
		f := strings.SplitN(strings.TrimSpace(ln), " ", 2)
		if len(f) != 2 || !uuidRE.MatchString(f[0]) {
			continue
		}
		u := strings.ToLower(f[0])
		out = append(out, domain{uri: uri, uuid: u, name: strings.TrimSpace(f[1]), handle: u})
	}
	return out, nil
}

// safeNameRE matches names virsh resolves by name only (not numeric, so not an ID; not a UUID) and that
// need no quoting on its command line.
var safeNameRE = regexp.MustCompile(`^[A-Za-z_.+:@-][A-Za-z0-9_.+:@-]*$`)

// find resolves target and returns it with its virDomainState: by UUID when it is one, else by exact
// name, trying the URIs in order. A plain name costs one virsh command (domstate by name); other targets
// are matched against the domain list.
func (l *Libvirt) find(ctx context.Context, target string) (domain, uint8, error) {
	var errs []error
	if safeNameRE.MatchString(target) && !uuidRE.MatchString(target) {
		for _, uri := range l.URIs {
			d := domain{uri: uri, handle: target, name: target}
			st, err := l.state(ctx, d)
			if err == nil {
				return d, st, nil
			}
			if !strings.Contains(err.Error(), "failed to get domain") {
				errs = append(errs, err)
			}
		}
		if len(errs) == len(l.URIs) {
			return domain{}, 0, fmt.Errorf("look up %q: %w", target, errors.Join(errs...))
		}
		return domain{}, 0, fmt.Errorf("look up %q: %w", target, fencing.ErrNotFound)
	}
	byUUID := uuidRE.MatchString(target)
	for _, uri := range l.URIs {
		doms, err := l.domains(ctx, uri)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range doms {
			if byUUID && strings.EqualFold(d.uuid, target) || !byUUID && d.name == target {
				st, err := l.state(ctx, d)
				return d, st, err
			}
		}
	}
	if len(errs) == len(l.URIs) {
		return domain{}, 0, fmt.Errorf("look up %q: %w", target, errors.Join(errs...))
	}
	return domain{}, 0, fmt.Errorf("look up %q: %w", target, fencing.ErrNotFound)
}

// libvirtStates maps virsh domstate words to virDomainState numbers.
var libvirtStates = map[string]uint8{"no state": 0, "running": 1, "idle": 2, "blocked": 2, "paused": 3,
	"in shutdown": 4, "shut off": 5, "crashed": 6, "pmsuspended": 7}

func (l *Libvirt) state(ctx context.Context, d domain) (uint8, error) {
	lines, err := l.virsh(ctx, d.uri, "domstate", d.handle)
	if err != nil {
		return 0, err
	}
	if len(lines) == 0 {
		return 0, fmt.Errorf("domstate %s: no output", d.name)
	}
	st, ok := libvirtStates[strings.TrimSpace(lines[0])]
	if !ok {
		return 0, fmt.Errorf("domstate %s: unknown state %q", d.name, lines[0])
	}
	return st, nil
}

// Fence destroys (off), starts (on) or destroys and restarts (reboot) the domain. Off of a VM that is
// already off succeeds; reboot of a VM that is off succeeds and leaves it off, as in the real daemon.
func (l *Libvirt) Fence(ctx context.Context, target string, action fencing.Action) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, st, err := l.find(ctx, target)
	if err != nil {
		return fmt.Errorf("fence %s: %w", target, err)
	}
	off := st == 5
	switch action {
	case fencing.Off, fencing.Reboot:
		if off {
			return nil
		}
		if _, err := l.virsh(ctx, d.uri, "destroy", d.handle); err != nil {
			return fmt.Errorf("fence %s off: %w", target, err)
		}
		if action == fencing.Off {
			return nil
		}
		for i := 0; i < 150; i++ {
			if st, err := l.state(ctx, d); err == nil && st == 5 {
				break
			}
			if !sleepCtx(ctx, 100*time.Millisecond) {
				break
			}
		}
		if _, err := l.virsh(ctx, d.uri, "start", d.handle); err != nil {
			// The real daemon does not report a failed restart either: the node is fenced.
			l.Log.Warn("restart after reboot failed", "domain", d.name, "err", err)
		}
		return nil
	case fencing.On:
		if !off {
			return nil
		}
		if _, err := l.virsh(ctx, d.uri, "start", d.handle); err != nil {
			return fmt.Errorf("fence %s on: %w", target, err)
		}
		return nil
	}
	return fmt.Errorf("fence %s: unknown action %v", target, action)
}

// Status is off for a shut-off domain, on for any other state.
func (l *Libvirt) Status(ctx context.Context, target string) (fencing.PowerState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, st, err := l.find(ctx, target)
	if err != nil {
		return fencing.Unknown, fmt.Errorf("get status of %s: %w", target, err)
	}
	if st == 5 {
		return fencing.PoweredOff, nil
	}
	return fencing.PoweredOn, nil
}

// List returns every domain of every URI.
func (l *Libvirt) List(ctx context.Context) ([]fencing.Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var hosts []fencing.Host
	for _, uri := range l.URIs {
		doms, err := l.domains(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		for _, d := range doms {
			st, err := l.state(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("list domains: %w", err)
			}
			ps := fencing.PoweredOn
			if st == 5 {
				ps = fencing.PoweredOff
			}
			hosts = append(hosts, fencing.Host{Name: d.name, UUID: d.uuid, State: ps})
		}
	}
	return hosts, nil
}

// Monitor checks that every URI answers.
func (l *Libvirt) Monitor(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, uri := range l.URIs {
		if _, err := l.domains(ctx, uri); err != nil {
			return fmt.Errorf("monitor libvirt: %w", err)
		}
	}
	return nil
}
