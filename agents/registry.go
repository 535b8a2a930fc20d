package agents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// ErrUnknownAgent is matched (errors.Is) by the error Lookup returns for a name that no agent answers to.
var ErrUnknownAgent = errors.New("unknown agent")

// UnknownAgentError names an agent that does not exist and, when one is close, the agent the user meant.
type UnknownAgentError struct {
	Name       string // as given
	Why        string // e.g. "no script /usr/lib/ocf/resource.d/heartbeat/IPadr2"
	Suggestion string // a full agent name, or ""
}

func (e *UnknownAgentError) Error() string {
	s := "unknown agent " + e.Name
	if e.Why != "" {
		s += ": " + e.Why
	}
	if e.Suggestion != "" {
		s += " (did you mean " + e.Suggestion + "?)"
	}
	return s
}

// Is makes errors.Is(err, ErrUnknownAgent) true.
func (e *UnknownAgentError) Is(target error) bool { return target == ErrUnknownAgent }

// RegistryOptions configure a Registry. The zero value resolves only agents registered with Register;
// agents/builtin.Options fills in the factories of Duet's own agent packages.
type RegistryOptions struct {
	OCFRoot  string   // OCF_ROOT; default /usr/lib/ocf
	InitDir  string   // LSB init scripts; default /etc/init.d
	UnitDirs []string // systemd unit directories; default /etc/systemd/system, /run/systemd/system, /lib/systemd/system, /usr/lib/systemd/system

	// NewOCF returns the agent that runs the OCF script at path (class ocf, any provider but a registered one).
	NewOCF func(n Name, path string) Agent
	// NewLSB returns the agent that runs the init script at path.
	NewLSB func(path string) Agent
	// NewSystemd returns the agent for unit (with its .service suffix).
	NewSystemd func(unit string) Agent

	// Builtin agents, registered under ocf:duet:<type> (keys are types, e.g. "vip").
	Builtin map[string]Agent
	// Aliases map a full name to another full name, used only when nothing else resolves the first: for
	// example ocf:pacemaker:Dummy to ocf:duet:dummy on hosts without pacemaker's agents.
	Aliases map[string]string

	Logger *slog.Logger // nil discards
}

// Registry resolves crmsh agent names to Agents. Lookup is safe for concurrent use; agents for script classes
// are created on first use and cached. Close closes every agent that holds resources (io.Closer).
type Registry struct {
	opts RegistryOptions
	log  *slog.Logger

	mu       sync.Mutex
	explicit map[string]Agent     // by canonical name: Register, RegisterName, Builtin
	cached   map[string]Agent     // script agents created by Lookup
	meta     map[string]*Metadata // meta-data by canonical name
	closed   bool
}

// NewRegistry returns a registry with opts' built-in agents registered.
func NewRegistry(opts RegistryOptions) *Registry {
	if opts.OCFRoot == "" {
		opts.OCFRoot = "/usr/lib/ocf"
	}
	if opts.InitDir == "" {
		opts.InitDir = "/etc/init.d"
	}
	if opts.UnitDirs == nil {
		opts.UnitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{opts: opts, log: log, explicit: map[string]Agent{}, cached: map[string]Agent{}, meta: map[string]*Metadata{}}
	for typ, a := range opts.Builtin {
		r.explicit[Name{Class: "ocf", Provider: "duet", Type: typ}.String()] = a
	}
	return r
}

// OCFRoot returns the OCF_ROOT the registry searches.
func (r *Registry) OCFRoot() string { return r.opts.OCFRoot }

// Register makes a answer to ocf:provider:type, replacing any agent or script of that name. The cluster
// daemon registers the proxy agent this way (provider duet, type proxy).
func (r *Registry) Register(provider, typ string, a Agent) error {
	return r.RegisterName(Name{Class: "ocf", Provider: provider, Type: typ}.String(), a)
}

// RegisterName makes a answer to the full agent name (any class, e.g. stonith:fence_xvm).
func (r *Registry) RegisterName(name string, a Agent) error {
	n, err := ParseName(name)
	if err != nil {
		return fmt.Errorf("register agent: %w", err)
	}
	if a == nil {
		return fmt.Errorf("register agent %s: nil agent", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.explicit[n.String()] = a
	delete(r.meta, n.String())
	return nil
}

// Lookup returns the agent for a crmsh agent name (see ParseName). Registered agents win over scripts;
// aliases apply last. An unknown agent gives an *UnknownAgentError (errors.Is ErrUnknownAgent) that names
// it and suggests the closest known name; a malformed name gives ParseName's error.
func (r *Registry) Lookup(name string) (Agent, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	a, err := r.lookup(n)
	if err == nil {
		return a, nil
	}
	r.mu.Lock()
	alias, ok := r.opts.Aliases[n.String()]
	r.mu.Unlock()
	if ok {
		if an, perr := ParseName(alias); perr == nil {
			if a, aerr := r.lookup(an); aerr == nil {
				return a, nil
			}
		}
	}
	var ue *UnknownAgentError
	if errors.As(err, &ue) {
		ue.Name = name
		ue.Suggestion = r.suggestFor(n)
	}
	return nil, err
}

func (r *Registry) lookup(n Name) (Agent, error) {
	key := n.String()
	r.mu.Lock()
	if a, ok := r.explicit[key]; ok {
		r.mu.Unlock()
		return a, nil
	}
	if a, ok := r.cached[key]; ok {
		r.mu.Unlock()
		return a, nil
	}
	r.mu.Unlock()
	var a Agent
	switch n.Class {
	case "ocf":
		if n.Provider == "duet" {
			return nil, &UnknownAgentError{Why: "not a built-in agent of provider duet"}
		}
		path := filepath.Join(r.opts.OCFRoot, "resource.d", n.Provider, n.Type)
		if !isExecutable(path) {
			return nil, &UnknownAgentError{Why: "no executable script " + path}
		}
		if r.opts.NewOCF == nil {
			return nil, &UnknownAgentError{Why: "no runner for class ocf configured"}
		}
		a = r.opts.NewOCF(n, path)
	case "lsb":
		a = r.lsb(n)
		if a == nil {
			return nil, &UnknownAgentError{Why: "no init script " + filepath.Join(r.opts.InitDir, n.Type)}
		}
	case "systemd":
		a = r.systemd(n)
		if a == nil {
			return nil, &UnknownAgentError{Why: "no unit file " + unitName(n.Type) + " in " + strings.Join(r.opts.UnitDirs, ", ")}
		}
	case "service":
		// pacemaker's resources_find_service_class: an init script wins, then systemd.
		if a = r.lsb(n); a == nil {
			a = r.systemd(n)
		}
		if a == nil {
			return nil, &UnknownAgentError{Why: "neither an init script nor a systemd unit"}
		}
	default:
		return nil, &UnknownAgentError{Why: "no " + n.Class + " agent registered"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.cached[key]; ok {
		return prev, nil
	}
	r.cached[key] = a
	return a, nil
}

func (r *Registry) lsb(n Name) Agent {
	path := filepath.Join(r.opts.InitDir, n.Type)
	if r.opts.NewLSB == nil || !isExecutable(path) {
		return nil
	}
	return r.opts.NewLSB(path)
}

func (r *Registry) systemd(n Name) Agent {
	if r.opts.NewSystemd == nil {
		return nil
	}
	unit := unitName(n.Type)
	for _, d := range r.opts.UnitDirs {
		if _, err := os.Stat(filepath.Join(d, unit)); err == nil {
			return r.opts.NewSystemd(unit)
		}
	}
	return nil
}

// unitName adds .service to a unit name without a unit suffix, as pacemaker does.
func unitName(t string) string {
	for _, suf := range []string{".service", ".socket", ".mount", ".timer", ".target", ".path", ".slice", ".scope"} {
		if strings.HasSuffix(t, suf) {
			return t
		}
	}
	return t + ".service"
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Names lists the full names of the agents the registry knows of: registered ones, OCF scripts under
// OCF_ROOT and init scripts, sorted. It is for crm ra list and did-you-mean; it reads directories.
func (r *Registry) Names() []string {
	set := map[string]bool{}
	r.mu.Lock()
	for k := range r.explicit {
		set[k] = true
	}
	r.mu.Unlock()
	provs, _ := os.ReadDir(filepath.Join(r.opts.OCFRoot, "resource.d"))
	for _, p := range provs {
		ents, _ := os.ReadDir(filepath.Join(r.opts.OCFRoot, "resource.d", p.Name()))
		for _, e := range ents {
			if e.Type()&fs.ModeDir == 0 && !strings.HasPrefix(e.Name(), ".") {
				set["ocf:"+p.Name()+":"+e.Name()] = true
			}
		}
	}
	if r.opts.NewLSB != nil {
		ents, _ := os.ReadDir(r.opts.InitDir)
		for _, e := range ents {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				set["lsb:"+e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggestFor finds the known name closest to n, comparing within n's class (service compares with lsb).
func (r *Registry) suggestFor(n Name) string {
	want := n.String()
	if n.Class == "service" {
		want = "lsb:" + n.Type
	}
	var cands []string
	for _, k := range r.Names() {
		if strings.HasPrefix(k, strings.SplitN(want, ":", 2)[0]+":") {
			cands = append(cands, k)
		}
	}
	return suggest(want, cands)
}

// Metadata returns the agent's meta-data, cached per name after the first successful call.
func (r *Registry) Metadata(ctx context.Context, name string) (*Metadata, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	md, ok := r.meta[n.String()]
	r.mu.Unlock()
	if ok {
		return md, nil
	}
	a, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	md, err = a.MetaData(ctx)
	if err != nil {
		return nil, fmt.Errorf("get meta-data of %s: %w", n, err)
	}
	r.mu.Lock()
	r.meta[n.String()] = md
	r.mu.Unlock()
	return md, nil
}

// CheckParams checks a request's instance attributes against its agent's meta-data (see the package
// function CheckParams): unknown agent, missing required parameter, unknown parameter or a value of the
// wrong type give an error naming the agent or field (*UnknownAgentError or *ParamError). It may run the
// agent's meta-data action, so it blocks up to ctx.
func (r *Registry) CheckParams(ctx context.Context, req Request) error {
	md, err := r.Metadata(ctx, req.Agent)
	if err != nil {
		return err
	}
	return CheckParams(req.Agent, md, req.Params)
}

// Close closes every agent the registry holds that implements io.Closer (the VIP agent stops its
// re-announce goroutines), once each, and returns their errors joined. It blocks until they return.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	seen := map[any]bool{}
	var closers []io.Closer
	for _, m := range []map[string]Agent{r.explicit, r.cached} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c, ok := m[k].(io.Closer)
			if !ok {
				continue
			}
			if reflect.TypeOf(c).Comparable() {
				if seen[c] {
					continue
				}
				seen[c] = true
			}
			closers = append(closers, c)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, c := range closers {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
