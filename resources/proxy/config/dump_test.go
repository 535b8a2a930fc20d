package config

import (
	"os"
	"testing"
)

// TestDumpFile prints the diagnostics of DUET_CFG (a debugging aid; skipped without it).
func TestDumpFile(t *testing.T) {
	f := os.Getenv("DUET_CFG")
	if f == "" {
		t.Skip("set DUET_CFG to a configuration file")
	}
	_, diags, err := Load(f)
	for _, d := range diags {
		t.Log(d.String())
	}
	t.Log("err:", err)
}
