// Package apitest serves a clusterd API backend on a unix socket for the tests of the command-line tools,
// which then talk to it through their --socket flag as they talk to clusterd.
package apitest

import (
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/duet-ha/duet/cluster/api"
)

// Serve serves b's local API (api.NewHandler) on a new unix socket until the test ends and returns the
// socket's path. It does not block.
func Serve(t testing.TB, b api.Backend) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.NewHandler(b, false)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sock
}
