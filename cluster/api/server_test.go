package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duet-ha/duet/cluster/store"
	"github.com/duet-ha/duet/resources/executor"
)

type fakeBackend struct{ submitted []store.Command }

func (f *fakeBackend) Status() Status           { return Status{Node: "n1"} }
func (f *fakeBackend) Changed() <-chan struct{} { return make(chan struct{}) }
func (f *fakeBackend) Exec(context.Context, executor.Request) executor.Result {
	return executor.Result{}
}
func (f *fakeBackend) Submit(_ context.Context, c store.Command, _ bool) (CommandResult, error) {
	f.submitted = append(f.submitted, c)
	return CommandResult{Epoch: 1}, nil
}

func TestHandlerRejectsBadBodies(t *testing.T) {
	tests := []struct {
		path, body string
		rpc        bool
		code       int
		errSub     string
	}{
		{PathCommand, `{"kind":"set-property","name":"x","value":"1"}`, false, 200, ""},
		{PathCommand, `{"kind":"nope"}`, false, 400, "unknown kind"},
		{PathCommand, `not json`, false, 400, "decode command"},
		{PathExec, `{"op":"start"}`, true, 400, "rsc, agent and op are required"},
		{PathExec, `{"op":"start","rsc":"a","agent":"ocf:duet:dummy"}`, true, 200, ""},
		{PathExec, `{"op":"start","rsc":"a","agent":"ocf:duet:dummy"}`, false, 404, ""},
		{PathStatus, ``, true, 404, ""},
	}
	for _, tt := range tests {
		fb := &fakeBackend{}
		h := NewHandler(fb, tt.rpc)
		method := http.MethodPost
		if tt.path == PathStatus {
			method = http.MethodGet
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, tt.path, strings.NewReader(tt.body)))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.errSub) {
			t.Errorf("%s %s (rpc=%v): %d %s, want %d ~%q", tt.path, tt.body, tt.rpc, rec.Code, rec.Body.String(), tt.code, tt.errSub)
		}
	}
}

func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"kind":"set-node-attr","node":"n1","name":"standby","value":"on"}`), true)
	f.Add([]byte(`{"op":"probe","rsc":"a","agent":"x","interval":1}`), false)
	f.Fuzz(func(t *testing.T, body []byte, command bool) {
		path := PathExec
		if command {
			path = PathCommand
		}
		h := NewHandler(&fakeBackend{}, true)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
