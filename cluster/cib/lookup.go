package cib

// FindPrimitive returns a pointer to the primitive with the id, or nil. The pointer aliases c.
func (c *CIB) FindPrimitive(id string) *Primitive {
	for i := range c.Primitives {
		if c.Primitives[i].ID == id {
			return &c.Primitives[i]
		}
	}
	return nil
}

// FindGroup returns a pointer to the group with the id, or nil. The pointer aliases c.
func (c *CIB) FindGroup(id string) *Group {
	for i := range c.Groups {
		if c.Groups[i].ID == id {
			return &c.Groups[i]
		}
	}
	return nil
}

// FindClone returns a pointer to the clone with the id, or nil. The pointer aliases c.
func (c *CIB) FindClone(id string) *Clone {
	for i := range c.Clones {
		if c.Clones[i].ID == id {
			return &c.Clones[i]
		}
	}
	return nil
}

// ResourceKind returns "primitive", "group", "clone" or "" for an unknown id.
func (c *CIB) ResourceKind(id string) string {
	switch {
	case c.FindPrimitive(id) != nil:
		return "primitive"
	case c.FindGroup(id) != nil:
		return "group"
	case c.FindClone(id) != nil:
		return "clone"
	}
	return ""
}

// Parent returns the id of the group or clone that contains the resource, or "".
func (c *CIB) Parent(id string) string {
	for _, g := range c.Groups {
		for _, m := range g.Members {
			if m == id {
				return g.ID
			}
		}
	}
	for _, cl := range c.Clones {
		if cl.Child == id {
			return cl.ID
		}
	}
	return ""
}

// IsStonith reports whether the primitive is a fence device (class stonith).
func (p Primitive) IsStonith() bool { return p.Class == "stonith" }

// HasStonith reports whether any fence device is configured.
func (c *CIB) HasStonith() bool {
	for _, p := range c.Primitives {
		if p.IsStonith() {
			return true
		}
	}
	return false
}
