package stats

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Source gives read access to the proxy's state for the Runtime API.
type Source interface {
	// Rows returns every stats row in haproxy's order.
	Rows() []Row
	// Info returns the "show info" fields in order.
	Info() []InfoField
	// ServersState returns "show servers state" lines (without the version and header) for a backend ("" = all).
	ServersState(backend string) ([]string, error)
	// Sessions returns one line per live session ("show sess").
	Sessions() []string
}

// Admin applies Runtime API changes. Backends and servers may be named or "#<id>".
type Admin interface {
	// SetState sets a server's admin state: ready, drain or maint.
	SetState(backend, server, state string) error
	// SetHealth forces a server's operational state: up, stopping or down.
	SetHealth(backend, server, state string) error
	// SetWeight sets a server's weight ("N" or "N%" of the initial weight) and returns nothing on success.
	SetWeight(backend, server, weight string) error
	// GetWeight returns "<current> (initial <initial>)".
	GetWeight(backend, server string) (string, error)
}

// Level is a stats socket's access level.
type Level int

const (
	LevelUser Level = iota
	LevelOperator
	LevelAdmin
)

// ParseLevel parses user, operator or admin.
func ParseLevel(s string) Level {
	switch s {
	case "admin":
		return LevelAdmin
	case "user":
		return LevelUser
	}
	return LevelOperator
}

const permDenied = "Permission denied\n"

// Execute runs one Runtime API command line (several may be joined with ';') and writes the answer like haproxy:
// empty on success for actions, one line of text on error. It returns false when the client asked to quit.
func Execute(w io.Writer, line string, src Source, adm Admin, lvl Level) bool {
	for _, cmd := range splitCommands(line) {
		args := strings.Fields(cmd)
		if len(args) == 0 {
			continue
		}
		if args[0] == "quit" {
			return false
		}
		_, _ = io.WriteString(w, exec1(args, src, adm, lvl))
	}
	return true
}

func splitCommands(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) && line[i+1] == ';' {
			cur.WriteByte(';')
			i++
			continue
		}
		if c == ';' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

func splitSrv(arg string) (string, string, bool) {
	i := strings.IndexByte(arg, '/')
	if i <= 0 || i == len(arg)-1 {
		return "", "", false
	}
	return arg[:i], arg[i+1:], true
}

func exec1(args []string, src Source, adm Admin, lvl Level) string {
	join := strings.Join(args, " ")
	switch {
	case join == "help" || join == "?":
		return helpText
	case args[0] == "show" && len(args) >= 2 && args[1] == "info":
		var b strings.Builder
		_ = WriteInfo(&b, src.Info())
		return b.String() + "\n"
	case args[0] == "show" && len(args) >= 2 && args[1] == "stat":
		proxy, mask, sid := "", -1, -1
		if len(args) >= 5 {
			proxy = args[2]
			mask, _ = strconv.Atoi(args[3])
			sid, _ = strconv.Atoi(args[4])
		}
		var b strings.Builder
		_ = WriteCSV(&b, Filter(src.Rows(), proxy, mask, sid))
		return b.String() + "\n"
	case args[0] == "show" && len(args) >= 3 && args[1] == "servers" && args[2] == "state":
		be := ""
		if len(args) > 3 {
			be = args[3]
		}
		lines, err := src.ServersState(be)
		if err != nil {
			return err.Error() + "\n"
		}
		return "1\n" + ServersStateHeader + "\n" + strings.Join(append(lines, ""), "\n") + "\n"
	case args[0] == "show" && len(args) >= 2 && args[1] == "sess":
		if lvl < LevelOperator {
			return permDenied
		}
		return strings.Join(append(src.Sessions(), ""), "\n") + "\n"
	case (args[0] == "disable" || args[0] == "enable") && len(args) == 3 && args[1] == "server":
		if lvl < LevelAdmin {
			return permDenied
		}
		b, s, ok := splitSrv(args[2])
		if !ok {
			return "Require 'backend/server'.\n"
		}
		state := "ready"
		if args[0] == "disable" {
			state = "maint"
		}
		return errLine(adm.SetState(b, s, state))
	case args[0] == "set" && len(args) >= 5 && args[1] == "server":
		if lvl < LevelAdmin {
			return permDenied
		}
		b, s, ok := splitSrv(args[2])
		if !ok {
			return "Require 'backend/server'.\n"
		}
		switch args[3] {
		case "state":
			if args[4] != "ready" && args[4] != "drain" && args[4] != "maint" {
				return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
			}
			return errLine(adm.SetState(b, s, args[4]))
		case "health":
			if args[4] != "up" && args[4] != "stopping" && args[4] != "down" {
				return "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n"
			}
			return errLine(adm.SetHealth(b, s, args[4]))
		case "weight":
			return errLine(adm.SetWeight(b, s, args[4]))
		}
		return "'set server <srv>' only supports 'agent', 'health', 'state', 'weight', 'addr', 'fqdn', 'check-addr', 'check-port' and 'ssl'.\n"
	case args[0] == "set" && len(args) == 4 && args[1] == "weight":
		if lvl < LevelAdmin {
			return permDenied
		}
		b, s, ok := splitSrv(args[2])
		if !ok {
			return "Require 'backend/server'.\n"
		}
		return errLine(adm.SetWeight(b, s, args[3]))
	case args[0] == "get" && len(args) == 3 && args[1] == "weight":
		b, s, ok := splitSrv(args[2])
		if !ok {
			return "Require 'backend/server'.\n"
		}
		v, err := adm.GetWeight(b, s)
		if err != nil {
			return err.Error() + "\n"
		}
		return v + "\n\n"
	}
	return "Unknown command: '" + args[0] + "', but maybe one of the following ones is a better match:\n" + helpText
}

func errLine(err error) string {
	if err != nil {
		return err.Error() + "\n"
	}
	return "\n"
}

var helpText = fmt.Sprint(`  help           : this message
  quit           : disconnect
  show info      : report information about the running process
  show stat      : report counters for each proxy and server [{<iid>|<proxy>} <type> <sid>]
  show servers state [<backend>] : dump volatile server information (all or for a single backend)
  show sess      : report the list of current sessions
  disable server <bk>/<srv> : disable a server for maintenance (use 'set server' instead)
  enable server  <bk>/<srv> : enable a disabled server (use 'set server' instead)
  set server <bk>/<srv> state|health|weight <value> : change a server's state, health or weight
  set weight <bk>/<srv> <w>[%] : change a server's weight (deprecated)
  get weight <bk>/<srv>       : report a server's current weight
`)
