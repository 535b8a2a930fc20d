package builtin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duet-ha/duet/agents"
	"github.com/duet-ha/duet/agents/dummy"
	"github.com/duet-ha/duet/agents/lsb"
	"github.com/duet-ha/duet/agents/ocf"
	"github.com/duet-ha/duet/agents/systemd"
	"github.com/duet-ha/duet/agents/vip"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	initd := filepath.Join(dir, "init.d")
	units := filepath.Join(dir, "units")
	for _, d := range []string{initd, units} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(initd, "haproxy"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(units, "nginx.service"), []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := Options(Config{InitDir: initd, UnitDirs: []string{units}})
	if err != nil {
		t.Fatal(err)
	}
	reg := agents.NewRegistry(opts)
	defer reg.Close()
	ctx := context.Background()

	check := func(name string, ok func(agents.Agent) bool) {
		t.Helper()
		a, err := reg.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", name, err)
		}
		if !ok(a) {
			t.Fatalf("Lookup(%s) = %T", name, a)
		}
	}
	check("ocf:duet:vip", func(a agents.Agent) bool { _, ok := a.(*vip.Agent); return ok })
	check("ocf:duet:dummy", func(a agents.Agent) bool { _, ok := a.(*dummy.Agent); return ok })
	check("lsb:haproxy", func(a agents.Agent) bool { _, ok := a.(*lsb.Agent); return ok })
	check("systemd:nginx", func(a agents.Agent) bool { _, ok := a.(*systemd.Agent); return ok })
	if _, err := os.Stat("/usr/lib/ocf/resource.d/pacemaker/Dummy"); err != nil {
		check("ocf:pacemaker:Dummy", func(a agents.Agent) bool { _, ok := a.(*dummy.Agent); return ok })
	}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/IPaddr2"); err == nil {
		check("IPaddr2", func(a agents.Agent) bool { _, ok := a.(*ocf.Agent); return ok })
		err := reg.CheckParams(ctx, agents.Request{Agent: "ocf:heartbeat:IPaddr2", Params: map[string]string{"cidr_netmask": "24"}})
		var pe *agents.ParamError
		if !errors.As(err, &pe) || pe.Field != "ip" {
			t.Fatalf("IPaddr2 without ip: %v", err)
		}
	}
	if _, err := reg.Lookup("ocf:duet:vpi"); !errors.Is(err, agents.ErrUnknownAgent) || !strings.Contains(err.Error(), "did you mean ocf:duet:vip?") {
		t.Fatalf("Lookup(ocf:duet:vpi) = %v", err)
	}
	err = reg.CheckParams(ctx, agents.Request{Agent: "ocf:duet:vip", Params: map[string]string{"ip": "10.250.0.100", "netmask": "24"}})
	if err == nil || !strings.Contains(err.Error(), "parameter netmask is not a parameter of vip") {
		t.Fatalf("vip with netmask: %v", err)
	}
	// The daemon registers the proxy agent later.
	if err := reg.Register("duet", "proxy", dummy.New()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup("ocf:duet:proxy"); err != nil {
		t.Fatal(err)
	}
}
