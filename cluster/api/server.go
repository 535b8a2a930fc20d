package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/resources/executor"
)

// Backend is what the handlers need from clusterd.
type Backend interface {
	// Status returns the current view; it does not block.
	Status() Status
	// Changed returns a channel closed at the next change of anything Status shows.
	Changed() <-chan struct{}
	// Submit commits a command through the DC (forwarding when this node is not the DC, unless forwarded
	// is set) and blocks until it is applied or ctx ends.
	Submit(ctx context.Context, cmd store.Command, forwarded bool) (CommandResult, error)
	// Exec runs an operation on this node's executor and blocks until it is done.
	Exec(ctx context.Context, req executor.Request) executor.Result
}

// StatusError carries an HTTP status for Submit's errors.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// maxBody bounds a request body.
const maxBody = 8 << 20

// NewHandler serves the API. rpcOnly limits it to the command endpoint (the node-to-node channel).
func NewHandler(b Backend, rpcOnly bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathCommand, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("read request: %w", err))
			return
		}
		if len(body) > maxBody {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", maxBody))
			return
		}
		cmd, err := store.Decode(body)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		res, err := b.Submit(r.Context(), cmd, r.Header.Get(HeaderForwarded) != "")
		if err != nil {
			code := http.StatusInternalServerError
			var se *StatusError
			if errors.As(err, &se) {
				code = se.Code
			}
			writeErr(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	if rpcOnly {
		mux.HandleFunc("POST "+PathExec, func(w http.ResponseWriter, r *http.Request) {
			var req executor.Request
			dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
			if err := dec.Decode(&req); err != nil {
				writeErr(w, http.StatusBadRequest, fmt.Errorf("decode exec request: %w", err))
				return
			}
			if req.Resource == "" || req.Agent == "" || req.Op == "" {
				writeErr(w, http.StatusBadRequest, errors.New("exec request: rsc, agent and op are required"))
				return
			}
			writeJSON(w, http.StatusOK, b.Exec(r.Context(), req))
		})
	}
	if !rpcOnly {
		mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, b.Status())
		})
		mux.HandleFunc("GET "+PathWatch, func(w http.ResponseWriter, r *http.Request) { watch(w, r, b) })
	}
	return mux
}

// watch streams one Status per line: the current one at once, then one after each change, and at least
// every 5 seconds so that a client can tell a dead daemon from a quiet cluster.
func watch(w http.ResponseWriter, r *http.Request, b Backend) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, http.StatusInternalServerError, errors.New("streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		changed := b.Changed()
		if err := enc.Encode(b.Status()); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-changed:
			// Coalesce bursts of changes (a failover makes several) into one line.
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case <-t.C:
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, Error{Error: err.Error()})
}
