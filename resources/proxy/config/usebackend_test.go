package config

import (
	"strings"
	"testing"
)

// TestDynamicUseBackend: "use_backend %[expr]" is a log-format name (haproxy 2.6 accepts it; the e2e scenario
// virtual-hosts-dynamic runs it against haproxy), so it is not a reference to check at load time; a bad format is an
// error with file:line.
func TestDynamicUseBackend(t *testing.T) {
	cfg, diags := parse(t, std+"frontend f\n    bind 127.0.0.1:9001\n    use_backend %[req.hdr(host)] if { hdr(host) -m found }\n"+
		"    use_backend b\n    default_backend b\nbackend b\n    server s1 10.0.0.1:80\n")
	if cfg == nil {
		t.Fatalf("parse failed: %v", diags)
	}
	ub := cfg.Proxy("f", CapFE).UseBackends
	if len(ub) != 2 || ub[0].Dynamic == nil || ub[0].Cond == nil || ub[1].Dynamic != nil || ub[1].Backend != "b" {
		t.Errorf("use_backends = %+v", ub)
	}
	_, diags = parse(t, std+"frontend f\n    bind 127.0.0.1:9001\n    use_backend %[nosuch(x)]\n    default_backend b\nbackend b\n    server s1 10.0.0.1:80\n")
	found := false
	for _, d := range diags {
		if d.Severity == Error && d.Line == 8 && strings.Contains(d.String(), "use_backend") {
			found = true
		}
	}
	if !found {
		t.Errorf("bad dynamic name: %v", diags)
	}
}
