package cib

import (
	"fmt"
	"strings"
	"time"
)

// Move makes rsc prefer node, as `crm resource move RSC NODE [LIFETIME]` does: it sets the location
// constraint cli-prefer-RSC (role Started, score INFINITY), replacing an earlier one. A zero expires means
// until cleared. It returns the constraint.
func (c *CIB) Move(rsc, node string, expires time.Time) (Location, error) {
	if c.ResourceKind(rsc) == "" {
		return Location{}, fmt.Errorf("move %s: no such resource", rsc)
	}
	if node == "" {
		return Location{}, fmt.Errorf("move %s: no node given", rsc)
	}
	l := Location{ID: "cli-prefer-" + rsc, Rsc: rsc, Role: "Started", Score: Infinity, Node: node, Expires: expires}
	c.setLocation(l)
	return l, nil
}

// Ban keeps rsc off node, as `crm resource ban RSC NODE [LIFETIME]` does: the location constraint
// cli-ban-RSC-on-NODE with -INFINITY. It returns the constraint.
func (c *CIB) Ban(rsc, node string, expires time.Time) (Location, error) {
	if c.ResourceKind(rsc) == "" {
		return Location{}, fmt.Errorf("ban %s: no such resource", rsc)
	}
	if node == "" {
		return Location{}, fmt.Errorf("ban %s: no node given", rsc)
	}
	l := Location{ID: "cli-ban-" + rsc + "-on-" + node, Rsc: rsc, Role: "Started", Score: -Infinity, Node: node, Expires: expires}
	c.setLocation(l)
	return l, nil
}

// Clear removes what Move and Ban left for rsc (`crm resource clear`) and returns the removed ids.
func (c *CIB) Clear(rsc string) []string {
	var removed []string
	kept := c.Locations[:0:0]
	for _, l := range c.Locations {
		if l.Rsc == rsc && (l.ID == "cli-prefer-"+rsc || strings.HasPrefix(l.ID, "cli-ban-"+rsc+"-on-")) {
			removed = append(removed, l.ID)
			continue
		}
		kept = append(kept, l)
	}
	c.Locations = kept
	return removed
}

func (c *CIB) setLocation(l Location) {
	for i := range c.Locations {
		if c.Locations[i].ID == l.ID {
			c.Locations[i] = l
			return
		}
	}
	c.Locations = append(c.Locations, l)
}

// SetMeta sets a meta attribute of a primitive, group or clone (`crm resource meta RSC set NAME VALUE`,
// and start/stop through target-role); an empty value deletes it.
func (c *CIB) SetMeta(rsc, name, value string) error {
	var m *map[string]string
	var order *[]string
	if p := c.FindPrimitive(rsc); p != nil {
		m, order = &p.Meta, &p.MetaOrder
	} else if g := c.FindGroup(rsc); g != nil {
		m, order = &g.Meta, &g.MetaOrder
	} else if cl := c.FindClone(rsc); cl != nil {
		m, order = &cl.Meta, &cl.MetaOrder
	} else {
		return fmt.Errorf("set meta %s of %s: no such resource", name, rsc)
	}
	if value == "" {
		delete(*m, name)
		return nil
	}
	if *m == nil {
		*m = map[string]string{}
	}
	if _, ok := (*m)[name]; !ok {
		*order = append(*order, name)
	}
	(*m)[name] = value
	return nil
}
