package balance

import "sort"

// tree is an ordered multiset of servers by key; equal keys keep insertion order (FIFO), like haproxy's ebtrees.
type tree struct {
	items []treeItem
	seq   uint64
}

type treeItem struct {
	key uint64
	seq uint64
	s   *Server
}

func (t *tree) insert(key uint64, s *Server) {
	t.seq++
	it := treeItem{key: key, seq: t.seq, s: s}
	i := sort.Search(len(t.items), func(i int) bool {
		x := t.items[i]
		return x.key > key || (x.key == key && x.seq > it.seq)
	})
	t.items = append(t.items, treeItem{})
	copy(t.items[i+1:], t.items[i:])
	t.items[i] = it
	s.tree = t
}

func (t *tree) first() *Server {
	if len(t.items) == 0 {
		return nil
	}
	return t.items[0].s
}

func (t *tree) remove(s *Server) {
	for i, it := range t.items {
		if it.s == s {
			t.items = append(t.items[:i], t.items[i+1:]...)
			break
		}
	}
	if s.tree == t {
		s.tree = nil
	}
}

func (t *tree) reset() { t.items = t.items[:0] }
