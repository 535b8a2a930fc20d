package virtd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Helper, when set, is the command of the libvirt helper (RunLibvirtHelper), used instead of virsh;
	// the URI is appended to it.
	Helper []string
	Log    *slog.Logger
	// OpTimeout bounds one virsh command (default 30 s); a session that times out is restarted.
	OpTimeout time.Duration

	mu       sync.Mutex // serialises operations (and so the commands of each session)
	sessions map[string]*virshSession
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

// Close stops every virsh session (no process or goroutine is left). The backend may be used again
// afterwards: sessions restart on demand.
func (l *Libvirt) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for uri, s := range l.sessions {
		s.Stop()
		delete(l.sessions, uri)
	}
	return nil
}

// session returns uri's virsh session, starting it (again) if there is none or its virsh has exited.
// Callers hold l.mu.
func (l *Libvirt) session(uri string) (*virshSession, error) {
	if s := l.sessions[uri]; s != nil {
		if s.alive() {
			return s, nil
		}
		l.Log.Warn("virsh session ended, restarting it", "uri", uri, "err", s.err)
		s.Stop()
		delete(l.sessions, uri)
	}
	argv := []string{l.Virsh, "-q", "-c", uri}
	if len(l.Helper) > 0 {
		argv = append(append([]string(nil), l.Helper...), uri)
	}
	s, err := startVirsh(argv, uri, l.Log)
	if err != nil {
		return nil, err
	}
	l.sessions[uri] = s
	return s, nil
}

// run runs one virsh command line (commands separated by ";", each argument already safe to put on it)
// in uri's session and returns its output lines. A session that fails or times out is stopped, and the
// next command starts a new one. Callers hold l.mu.
func (l *Libvirt) run(ctx context.Context, uri, line string) ([]virshLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("virsh -c %s %s: %w", uri, line, err)
	}
	s, err := l.session(uri)
	if err != nil {
		return nil, err
	}
	text, err := s.run(ctx, line, l.OpTimeout)
	if err != nil {
		s.Stop()
		delete(l.sessions, uri)
		return nil, fmt.Errorf("virsh -c %s %s: %w", uri, line, err)
	}
	return parseVirshLines(text), nil
}

// virsh runs one command and returns its output lines; "error:" lines make it return an error.
// Callers hold l.mu.
func (l *Libvirt) virsh(ctx context.Context, uri string, args ...string) ([]string, error) {
	lines, err := l.run(ctx, uri, strings.Join(args, " "))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ln := range lines {
		if !ln.Err {
			out = append(out, ln.Text)
		}
	}
	if err := virshErrors(lines); err != nil {
		return out, fmt.Errorf("virsh -c %s %s: %w", uri, args[0], err)
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

// notFound reports whether err says that virsh did not find the domain.
func notFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "failed to get domain")
}

// find resolves target and returns it with its virDomainState: by UUID when it is one, else by exact
// name, trying the URIs in order. With then != "", `then HANDLE` runs right after the state is read, on
// the same virsh command line, and its error is returned as thenErr: a plain name costs one virsh round
// trip for the whole operation. Other targets are matched against the domain list first.
func (l *Libvirt) find(ctx context.Context, target, then string) (d domain, st uint8, thenErr, err error) {
	var errs []error
	if safeNameRE.MatchString(target) && !uuidRE.MatchString(target) {
		for _, uri := range l.URIs {
			d := domain{uri: uri, handle: target, name: target}
			st, thenErr, err := l.stateThen(ctx, d, then)
			if err == nil {
				return d, st, thenErr, nil
			}
			if !notFound(err) {
				errs = append(errs, err)
			}
		}
		if len(errs) == len(l.URIs) {
			return domain{}, 0, nil, fmt.Errorf("look up %q: %w", target, errors.Join(errs...))
		}
		return domain{}, 0, nil, fmt.Errorf("look up %q: %w", target, fencing.ErrNotFound)
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
				st, thenErr, err := l.stateThen(ctx, d, then)
				return d, st, thenErr, err
			}
		}
	}
	if len(errs) == len(l.URIs) {
		return domain{}, 0, nil, fmt.Errorf("look up %q: %w", target, errors.Join(errs...))
	}
	return domain{}, 0, nil, fmt.Errorf("look up %q: %w", target, fencing.ErrNotFound)
}

// libvirtStates maps virsh domstate words to virDomainState numbers.
var libvirtStates = map[string]uint8{"no state": 0, "running": 1, "idle": 2, "blocked": 2, "paused": 3,
	"in shutdown": 4, "shut off": 5, "crashed": 6, "pmsuspended": 7}

func (l *Libvirt) state(ctx context.Context, d domain) (uint8, error) {
	st, _, err := l.stateThen(ctx, d, "")
	return st, err
}

// stateThen runs `domstate HANDLE` and, when then is not empty, `then HANDLE` on the same command line.
// err is about domstate (the domain's state could not be read: then's outcome is not known); thenErr
// holds then's "error:" lines. domstate prints exactly one line, so the lines after it are then's.
func (l *Libvirt) stateThen(ctx context.Context, d domain, then string) (st uint8, thenErr, err error) {
	line := "domstate " + d.handle
	if then != "" {
		line += ";" + then + " " + d.handle
	}
	lines, err := l.run(ctx, d.uri, line)
	if err != nil {
		return 0, nil, err
	}
	if len(lines) == 0 {
		return 0, nil, fmt.Errorf("domstate %s: no output", d.name)
	}
	if lines[0].Err {
		return 0, nil, fmt.Errorf("virsh -c %s domstate %s: %w", d.uri, d.name, virshErrors(lines))
	}
	st, ok := libvirtStates[strings.TrimSpace(lines[0].Text)]
	if !ok {
		return 0, nil, fmt.Errorf("domstate %s: unknown state %q", d.name, lines[0].Text)
	}
	if err := virshErrors(lines[1:]); err != nil {
		thenErr = fmt.Errorf("virsh -c %s %s %s: %w", d.uri, then, d.name, err)
	}
	return st, thenErr, nil
}

// Fence destroys (off), starts (on) or destroys and restarts (reboot) the domain. Off of a VM that is
// already off succeeds; reboot of a VM that is off succeeds and leaves it off, as in the real daemon.
// Off and on of a plain name take one virsh command line: domstate, then destroy or start, whose error is
// ignored when the state read first shows there was nothing to do.
func (l *Libvirt) Fence(ctx context.Context, target string, action fencing.Action) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch action {
	case fencing.Off, fencing.On:
		then, word := "destroy", "off"
		if action == fencing.On {
			then, word = "start", "on"
		}
		_, st, thenErr, err := l.find(ctx, target, then)
		if err != nil {
			return fmt.Errorf("fence %s: %w", target, err)
		}
		if (st == 5) == (action == fencing.Off) {
			return nil // already in the wanted state
		}
		if thenErr != nil {
			return fmt.Errorf("fence %s %s: %w", target, word, thenErr)
		}
		return nil
	case fencing.Reboot:
	default:
		return fmt.Errorf("fence %s: unknown action %v", target, action)
	}
	d, st, _, err := l.find(ctx, target, "")
	if err != nil {
		return fmt.Errorf("fence %s: %w", target, err)
	}
	if st == 5 {
		return nil
	}
	if _, err := l.virsh(ctx, d.uri, "destroy", d.handle); err != nil {
		return fmt.Errorf("fence %s off: %w", target, err)
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
}

// Status is off for a shut-off domain, on for any other state.
func (l *Libvirt) Status(ctx context.Context, target string) (fencing.PowerState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, st, _, err := l.find(ctx, target, "")
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
