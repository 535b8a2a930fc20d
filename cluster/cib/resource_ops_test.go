package cib

import (
	"strings"
	"testing"
	"time"
)

func TestMoveBanClearSetMeta(t *testing.T) {
	c := &CIB{Primitives: []Primitive{{ID: "vip"}}, Locations: []Location{{ID: "keep", Rsc: "vip", Score: 5, Node: "n1"}}}
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := c.Move("vip", "n2", exp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move("vip", "n1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ban("vip", "n2", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ban("nope", "n2", time.Time{}); err == nil {
		t.Error("Ban of an unknown resource accepted")
	}
	if len(c.Locations) != 3 || c.Locations[1].Node != "n1" || !c.Locations[1].Expires.IsZero() || c.Locations[2].ID != "cli-ban-vip-on-n2" {
		t.Errorf("locations = %+v", c.Locations)
	}
	if got := strings.Join(c.Clear("vip"), ","); got != "cli-prefer-vip,cli-ban-vip-on-n2" || len(c.Locations) != 1 {
		t.Errorf("Clear removed %q, left %+v", got, c.Locations)
	}
	if err := c.SetMeta("vip", "target-role", "Stopped"); err != nil || c.Primitives[0].Meta["target-role"] != "Stopped" {
		t.Errorf("SetMeta: %v %+v", err, c.Primitives[0])
	}
	if err := c.SetMeta("vip", "target-role", ""); err != nil || len(c.Primitives[0].Meta) != 0 {
		t.Errorf("SetMeta delete: %v %+v", err, c.Primitives[0])
	}
	if err := c.SetMeta("x", "a", "b"); err == nil {
		t.Error("SetMeta on unknown resource accepted")
	}
}
