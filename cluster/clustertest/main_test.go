package clustertest

import (
	"os"
	"testing"
)

// TestMain removes the binaries the tests built (tens of megabytes per run) once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}
