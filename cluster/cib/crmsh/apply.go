package crmsh

import (
	"fmt"

	"github.com/duet-ha/duet/cluster/cib"
)

// Update merges the statements into c, as `crm configure load update` does: an object whose id exists is
// replaced (in place), a new one is appended, a node is matched by name and its attributes replaced, and
// property / rsc_defaults / op_defaults values are merged name by name. The result must hold together (no
// dangling references, no duplicate ids, no resource in two containers); otherwise c is left unchanged
// and the error, a *DiagnosticsError, names the statement's line. Update does not bump the epoch: the
// store does that on commit.
func Update(c *cib.CIB, st *Statements) error {
	if st == nil {
		return nil
	}
	next := c.Clone()
	merge(next, &st.Config)
	return commit(c, next, st)
}

// Replace makes the statements the whole configuration, as `crm configure load replace` does: every
// resource, constraint and attribute set not in st is dropped. Nodes are membership, not configuration:
// those in st are merged as in Update and the others are kept. Epochs and LastChange are kept.
func Replace(c *cib.CIB, st *Statements) error {
	if st == nil {
		st = &Statements{}
	}
	next := &cib.CIB{AdminEpoch: c.AdminEpoch, Epoch: c.Epoch, LastChange: c.LastChange}
	next.Nodes = (&cib.CIB{Nodes: c.Nodes}).Clone().Nodes
	merge(next, &st.Config)
	return commit(c, next, st)
}

// Command applies one `crm configure <statement>` typed on a command line (see ParseArgs) with Update's
// rules, except that, as in crmsh, a resource or constraint may not take an id that is already in use (change
// an object with `load update`, `resource param|meta`, or delete it first). It returns the warnings; on any
// error c is unchanged and the error is a *DiagnosticsError.
func Command(c *cib.CIB, args []string) ([]Diagnostic, error) {
	st, diags := ParseArgs(args)
	if err := AsError(diags); err != nil {
		return diags, err
	}
	existing := map[string]bool{}
	eachObject(c, func(_, id string) { existing[id] = true })
	var used []Diagnostic
	eachObject(&st.Config, func(kind, id string) {
		if existing[id] {
			used = append(used, Diagnostic{File: st.File, Line: 1, Object: kind + " " + id, Word: id, Msg: id + ": id is already in use"})
		}
	})
	if len(used) > 0 {
		return diags, &DiagnosticsError{Diags: used}
	}
	if err := Update(c, st); err != nil {
		return diags, err
	}
	return diags, nil
}

// commit checks next's integrity and, when it holds, copies it over c.
func commit(c, next *cib.CIB, st *Statements) error {
	var errs []Diagnostic
	for _, d := range integrity(next) {
		if d.Severity != Error {
			continue
		}
		d.File = st.File
		if l, ok := st.Lines[d.Word]; ok {
			d.Line = l
		} else if l, ok := st.Lines[objectID(d.Object)]; ok {
			d.Line = l
		}
		errs = append(errs, d)
	}
	if len(errs) > 0 {
		return &DiagnosticsError{Diags: errs}
	}
	*c = *next
	return nil
}

func objectID(object string) string {
	for i := len(object) - 1; i >= 0; i-- {
		if object[i] == ' ' {
			return object[i+1:]
		}
	}
	return object
}

// merge applies src's objects onto dst (src is the parsed text; its maps are copied, not shared).
func merge(dst, src *cib.CIB) {
	src = src.Clone()
	for _, n := range src.Nodes {
		i := nodeIndex(dst, n)
		if i < 0 {
			dst.Nodes = append(dst.Nodes, n)
			continue
		}
		if n.ID == 0 {
			n.ID = dst.Nodes[i].ID
		}
		dst.Nodes[i] = n
	}
	for _, p := range src.Primitives {
		dropOtherKinds(dst, p.ID, "primitive")
		if q := dst.FindPrimitive(p.ID); q != nil {
			*q = p
		} else {
			dst.Primitives = append(dst.Primitives, p)
		}
	}
	for _, g := range src.Groups {
		dropOtherKinds(dst, g.ID, "group")
		if q := dst.FindGroup(g.ID); q != nil {
			*q = g
		} else {
			dst.Groups = append(dst.Groups, g)
		}
	}
	for _, cl := range src.Clones {
		dropOtherKinds(dst, cl.ID, "clone")
		if q := dst.FindClone(cl.ID); q != nil {
			*q = cl
		} else {
			dst.Clones = append(dst.Clones, cl)
		}
	}
	for _, l := range src.Locations {
		dropOtherKinds(dst, l.ID, "location")
		dst.Locations = upsert(dst.Locations, l, func(x cib.Location) string { return x.ID })
	}
	for _, col := range src.Colocations {
		dropOtherKinds(dst, col.ID, "colocation")
		dst.Colocations = upsert(dst.Colocations, col, func(x cib.Colocation) string { return x.ID })
	}
	for _, o := range src.Orders {
		dropOtherKinds(dst, o.ID, "order")
		dst.Orders = upsert(dst.Orders, o, func(x cib.Order) string { return x.ID })
	}
	mergeSet(&dst.Properties, &dst.Display.PropertyOrder, src.Properties, src.Display.PropertyOrder)
	mergeSet(&dst.RscDefaults, &dst.Display.RscDefaultsOrder, src.RscDefaults, src.Display.RscDefaultsOrder)
	mergeSet(&dst.OpDefaults, &dst.Display.OpDefaultsOrder, src.OpDefaults, src.Display.OpDefaultsOrder)
	if src.Display.PropertySetID != "" {
		dst.Display.PropertySetID = src.Display.PropertySetID
	}
	if src.Display.RscDefaultsSetID != "" {
		dst.Display.RscDefaultsSetID = src.Display.RscDefaultsSetID
	}
	if src.Display.OpDefaultsSetID != "" {
		dst.Display.OpDefaultsSetID = src.Display.OpDefaultsSetID
	}
}

func nodeIndex(c *cib.CIB, n cib.Node) int {
	for i, x := range c.Nodes {
		if x.Name == n.Name {
			return i
		}
	}
	return -1
}

func upsert[T any](list []T, v T, id func(T) string) []T {
	for i := range list {
		if id(list[i]) == id(v) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}

// dropOtherKinds removes an object with the id that is of another kind, so a redefinition replaces it.
func dropOtherKinds(c *cib.CIB, id, keep string) {
	if keep != "primitive" {
		c.Primitives = filter(c.Primitives, func(p cib.Primitive) bool { return p.ID != id })
	}
	if keep != "group" {
		c.Groups = filter(c.Groups, func(g cib.Group) bool { return g.ID != id })
	}
	if keep != "clone" {
		c.Clones = filter(c.Clones, func(x cib.Clone) bool { return x.ID != id })
	}
	if keep != "location" {
		c.Locations = filter(c.Locations, func(x cib.Location) bool { return x.ID != id })
	}
	if keep != "colocation" {
		c.Colocations = filter(c.Colocations, func(x cib.Colocation) bool { return x.ID != id })
	}
	if keep != "order" {
		c.Orders = filter(c.Orders, func(x cib.Order) bool { return x.ID != id })
	}
}

func filter[T any](list []T, keep func(T) bool) []T {
	out := list[:0:0]
	for _, x := range list {
		if keep(x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func mergeSet(dst *map[string]string, dstOrder *[]string, src map[string]string, srcOrder []string) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = map[string]string{}
	}
	for _, k := range ordered(src, srcOrder) {
		if _, ok := (*dst)[k]; !ok && !contains(*dstOrder, k) {
			*dstOrder = append(*dstOrder, k)
		}
		(*dst)[k] = src[k]
	}
}

// Delete removes objects by id with crmsh's rules: deleting a group or clone deletes what it contains,
// deleting a group's last member deletes the group, deleting a clone's child deletes the clone, and
// constraints that name a deleted resource are deleted too. An id may also name a node or a constraint.
// An unknown id is an error and nothing is deleted.
func Delete(c *cib.CIB, ids ...string) error {
	next := c.Clone()
	gone := map[string]bool{}
	for _, id := range ids {
		if !exists(next, id) {
			return fmt.Errorf("delete %s: object %q does not exist", id, id)
		}
	}
	var rm func(id string)
	rm = func(id string) {
		if gone[id] {
			return
		}
		gone[id] = true
		if g := next.FindGroup(id); g != nil {
			for _, m := range g.Members {
				rm(m)
			}
		}
		if cl := next.FindClone(id); cl != nil {
			rm(cl.Child)
		}
		if parent := next.Parent(id); parent != "" {
			if g := next.FindGroup(parent); g != nil {
				g.Members = filter(g.Members, func(m string) bool { return m != id })
				if len(g.Members) == 0 {
					rm(parent)
				}
			} else {
				rm(parent)
			}
		}
	}
	for _, id := range ids {
		rm(id)
	}
	next.Nodes = filter(next.Nodes, func(n cib.Node) bool { return !gone[n.Name] })
	next.Primitives = filter(next.Primitives, func(p cib.Primitive) bool { return !gone[p.ID] })
	next.Groups = filter(next.Groups, func(g cib.Group) bool { return !gone[g.ID] })
	next.Clones = filter(next.Clones, func(x cib.Clone) bool { return !gone[x.ID] })
	next.Locations = filter(next.Locations, func(x cib.Location) bool { return !gone[x.ID] && !gone[x.Rsc] })
	next.Colocations = filter(next.Colocations, func(x cib.Colocation) bool {
		return !gone[x.ID] && !gone[x.Rsc] && !gone[x.WithRsc]
	})
	next.Orders = filter(next.Orders, func(x cib.Order) bool { return !gone[x.ID] && !gone[x.First] && !gone[x.Then] })
	*c = *next
	return nil
}

func exists(c *cib.CIB, id string) bool {
	if c.ResourceKind(id) != "" {
		return true
	}
	if _, ok := c.Node(id); ok {
		return true
	}
	for _, l := range c.Locations {
		if l.ID == id {
			return true
		}
	}
	for _, x := range c.Colocations {
		if x.ID == id {
			return true
		}
	}
	for _, x := range c.Orders {
		if x.ID == id {
			return true
		}
	}
	return false
}
