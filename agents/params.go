package agents

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParamError reports one instance attribute that does not fit an agent's meta-data. The executor shows
// it as the failed action's reason; Result turns it into an OCF result.
type ParamError struct {
	Agent   string // agent name as given
	Field   string // the parameter's name
	Problem string // "is required", "is not a parameter of ...", "must be an integer", ...
	Missing bool   // the parameter is required and absent; otherwise it is unknown or its value is invalid
}

func (e *ParamError) Error() string {
	if e.Agent == "" {
		return fmt.Sprintf("parameter %s %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("%s: parameter %s %s", e.Agent, e.Field, e.Problem)
}

// Result converts the error to the result of a validate-all: ErrConfigured with the field named.
func (e *ParamError) Result() Result { return Result{RC: ErrConfigured, Reason: e.Error()} }

// CheckParams checks params against md: every required parameter is present and non-empty, every given
// parameter is declared, and values of integer and boolean parameters parse. It returns the first problem in
// parameter-name order as a *ParamError, so repeated runs give the same message. agent names the agent in
// the error and may be empty.
func CheckParams(agent string, md *Metadata, params map[string]string) error {
	if md == nil {
		return fmt.Errorf("check parameters of %s: no meta-data", agent)
	}
	for _, p := range md.Parameters {
		if v, ok := params[p.Name]; p.Required && (!ok || strings.TrimSpace(v) == "") {
			return &ParamError{Agent: agent, Field: p.Name, Problem: "is required but missing", Missing: true}
		}
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p, ok := md.Param(k)
		if !ok {
			prob := "is not a parameter of " + md.Name
			if s := suggest(k, paramNames(md)); s != "" {
				prob += " (did you mean " + s + "?)"
			}
			return &ParamError{Agent: agent, Field: k, Problem: prob}
		}
		v := params[k]
		switch strings.ToLower(p.Type) {
		case "integer", "int":
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil && v != "" {
				return &ParamError{Agent: agent, Field: k, Problem: fmt.Sprintf("must be an integer, not %q", v)}
			}
		case "boolean", "bool":
			if _, err := ParseBool(v); err != nil && v != "" {
				return &ParamError{Agent: agent, Field: k, Problem: fmt.Sprintf("must be true or false, not %q", v)}
			}
		}
	}
	return nil
}

func paramNames(md *Metadata) []string {
	out := make([]string, len(md.Parameters))
	for i, p := range md.Parameters {
		out[i] = p.Name
	}
	return out
}

// ErrorResult turns err into a Result: an *RCError (anywhere in the chain) gives its code, else a
// *ParamError gives ErrConfigured, anything else rc. Reason is the error's text.
func ErrorResult(err error, rc RC) Result {
	if err == nil {
		return Result{RC: Success}
	}
	var re *RCError
	if errors.As(err, &re) {
		return Result{RC: re.RC, Reason: err.Error()}
	}
	var pe *ParamError
	if errors.As(err, &pe) {
		return Result{RC: ErrConfigured, Reason: err.Error()}
	}
	return Result{RC: rc, Reason: err.Error()}
}

// RCError is an error that carries the OCF code it should produce, for agents whose helpers return errors.
type RCError struct {
	RC  RC
	Err error
}

func (e *RCError) Error() string { return e.Err.Error() }
func (e *RCError) Unwrap() error { return e.Err }

// suggest returns the candidate closest to s (case-insensitive edit distance at most a third of its length,
// at least 2), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
