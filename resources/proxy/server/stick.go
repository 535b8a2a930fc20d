package server

import (
	"container/list"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/duet-ha/duet/resources/proxy/acl"
	"github.com/duet-ha/duet/resources/proxy/config"
)

// stickTable maps keys to server ids with haproxy's size limit (least recently used entries go first) and
// expiry since last access. It survives reloads with its backend.
type stickTable struct {
	cfg config.StickTable
	mu  sync.Mutex
	m   map[string]*list.Element
	lru *list.List // front: most recently used
}

type stickEntry struct {
	key  string
	sid  int
	seen time.Time
}

func newStickTable(c config.StickTable) *stickTable {
	return &stickTable{cfg: c, m: map[string]*list.Element{}, lru: list.New()}
}

// normalize converts a sample to the table's key type; ok is false when it does not fit the type.
func (t *stickTable) normalize(v string) (string, bool) {
	switch t.cfg.Type {
	case "ip":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Unmap().Is4() {
			return "", false
		}
		return a.Unmap().String(), true
	case "ipv6":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", false
		}
		if a.Is4() {
			a = netip.AddrFrom16(a.As16())
		}
		return a.String(), true
	case "integer":
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	}
	if len(v) > t.cfg.Len {
		v = v[:t.cfg.Len]
	}
	return v, true
}

func (t *stickTable) get(key string, now time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.m[key]
	if !ok {
		return 0, false
	}
	e := el.Value.(*stickEntry)
	if t.cfg.Expire > 0 && now.Sub(e.seen) > t.cfg.Expire {
		t.lru.Remove(el)
		delete(t.m, key)
		return 0, false
	}
	e.seen = now
	t.lru.MoveToFront(el)
	return e.sid, true
}

func (t *stickTable) put(key string, sid int, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[key]; ok {
		e := el.Value.(*stickEntry)
		e.sid, e.seen = sid, now
		t.lru.MoveToFront(el)
		return
	}
	for t.lru.Len() >= t.cfg.Size {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.m, old.Value.(*stickEntry).key)
	}
	t.m[key] = t.lru.PushFront(&stickEntry{key: key, sid: sid, seen: now})
}

func (t *stickTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// stickMatch returns the usable server a "stick on|match" rule points to, or nil.
func (b *backend) stickMatch(t acl.Txn) *srv {
	if b.stick == nil {
		return nil
	}
	now := time.Now()
	for i := range b.cfg.StickRules {
		r := &b.cfg.StickRules[i]
		if r.Kind == "store-request" || !r.Cond.Eval(t) {
			continue
		}
		v, ok := r.Sample.Fetch(t)
		if !ok {
			continue
		}
		key, ok := b.stick.normalize(v)
		if !ok {
			continue
		}
		sid, ok := b.stick.get(key, now)
		if !ok {
			continue
		}
		for _, sv := range b.servers {
			if sv.cfg.ID != sid {
				continue
			}
			sv.st.mu.Lock()
			usable := sv.st.admin != "maint" && sv.st.up()
			sv.st.mu.Unlock()
			if usable {
				return sv
			}
		}
		return nil
	}
	return nil
}

// stickStore records the chosen server for "stick on|store-request" rules.
func (b *backend) stickStore(t acl.Txn, sv *srv) {
	if b.stick == nil || sv == nil {
		return
	}
	now := time.Now()
	for i := range b.cfg.StickRules {
		r := &b.cfg.StickRules[i]
		if r.Kind == "match" || !r.Cond.Eval(t) {
			continue
		}
		v, ok := r.Sample.Fetch(t)
		if !ok {
			continue
		}
		if key, ok := b.stick.normalize(v); ok {
			b.stick.put(key, sv.cfg.ID, now)
		}
	}
}
