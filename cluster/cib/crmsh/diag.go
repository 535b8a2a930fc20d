package crmsh

import (
	"fmt"
	"strings"
)

// Severity tells an error (the configuration is refused) from a warning (accepted, worth a look).
type Severity int

const (
	Error Severity = iota
	Warning
)

// Diagnostic is one error or warning with its place: the file, the line of the word (1-based; 0 when the
// problem has no line, e.g. a check of a stored CIB), the object ("primitive vip") and the word.
type Diagnostic struct {
	File     string
	Line     int
	Severity Severity
	Object   string // e.g. `primitive vip`; empty for file-level problems
	Word     string // the offending word, when there is one
	Msg      string
}

// String formats the diagnostic as `crm.txt:3: primitive vip: unknown keyword "parms" (did you mean
// "params"?)`; warnings carry "WARNING: " before the object.
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File)
		b.WriteString(":")
	}
	if d.Line > 0 {
		fmt.Fprintf(&b, "%d:", d.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if d.Severity == Warning {
		b.WriteString("WARNING: ")
	}
	if d.Object != "" {
		b.WriteString(d.Object)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// DiagnosticsError carries every error diagnostic of a refused change; Error prints one per line.
type DiagnosticsError struct {
	Diags []Diagnostic
}

func (e *DiagnosticsError) Error() string {
	lines := make([]string, 0, len(e.Diags))
	for _, d := range e.Diags {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// AsError returns a *DiagnosticsError holding the errors among diags, or nil when there are none.
func AsError(diags []Diagnostic) error {
	var errs []Diagnostic
	for _, d := range diags {
		if d.Severity == Error {
			errs = append(errs, d)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &DiagnosticsError{Diags: errs}
}
