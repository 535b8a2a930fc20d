package acl

import (
	"fmt"
	"strings"
)

// Vars is implemented by a Txn that holds haproxy variables (set-var, unset-var, var()). Names are "scope.name"
// with scope sess (the connection), txn (the request and its response), req or res.
type Vars interface {
	Var(name string) (Value, bool)
	SetVar(name string, v Value)
	UnsetVar(name string)
}

// Value is a typed sample as a variable holds it.
type Value struct{ v value }

// CheckVarName reports whether s is a variable name Duet supports: sess., txn., req. or res. followed by letters,
// digits, '_' and '.' (haproxy's proc. scope is not supported).
func CheckVarName(s string) error {
	scope, name, ok := strings.Cut(s, ".")
	if !ok || name == "" {
		return fmt.Errorf("invalid variable name '%s' (expects 'scope.name' with scope sess, txn, req or res)", s)
	}
	switch scope {
	case "sess", "txn", "req", "res":
	case "proc":
		return fmt.Errorf("variable '%s': the 'proc' scope is not supported by Duet yet", s)
	default:
		return fmt.Errorf("invalid variable name '%s': unknown scope '%s' (expects sess, txn, req or res)", s, scope)
	}
	for _, c := range name {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("invalid variable name '%s': character '%c'", s, c)
		}
	}
	return nil
}

// varOf reads a variable of t as a typed value.
func varOf(t Txn, name string) (value, bool) {
	vs, ok := t.(Vars)
	if !ok {
		return value{}, false
	}
	v, ok := vs.Var(name)
	return v.v, ok
}

// varFetch builds var(name[,default]).
func varFetch(f *fetch, arg string) error {
	name, def, hasDef := strings.Cut(arg, ",")
	if err := CheckVarName(name); err != nil {
		return err
	}
	f.arg = name
	f.get = func(t Txn, f *fetch) ([]string, bool) {
		if v, ok := varOf(t, f.arg); ok {
			return []string{v.text()}, true
		}
		if hasDef {
			return []string{def}, true
		}
		return nil, false
	}
	return nil
}

// FetchValue evaluates the sample as a typed value (what set-var stores).
func (s *Sample) FetchValue(t Txn) (Value, bool) {
	txt, ok := s.Fetch(t)
	if !ok {
		return Value{}, false
	}
	v, ok := fromFetch(txt, s.f.k)
	return Value{v}, ok
}
