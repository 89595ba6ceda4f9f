package cache

import (
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// TTL is a size-bounded LRU whose entries expire after a fixed time-to-live.
// A TTL of zero disables the cache (every Get misses). It is safe for
// concurrent use.
type TTL[V any] struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	c  *lru.Cache[string, ttlEntry[V]] // GUARDED_BY(mu); nil when disabled

	counts counts
}

type ttlEntry[V any] struct {
	v        V
	deadline time.Time
}

// NewTTL makes a cache of at most size entries living ttl each.
func NewTTL[V any](size int, ttl time.Duration) *TTL[V] {
	t := &TTL[V]{ttl: ttl, now: time.Now}
	if size > 0 && ttl > 0 {
		t.c, _ = lru.New[string, ttlEntry[V]](size)
	}
	return t
}

// Get returns the live value for k (counted as a hit or a miss).
func (t *TTL[V]) Get(k string) (V, bool) {
	v, ok := t.get(k)
	return v, t.counts.lookup(ok)
}

func (t *TTL[V]) get(k string) (V, bool) {
	var zero V
	if t.c == nil {
		return zero, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.c.Get(k)
	if !ok {
		return zero, false
	}
	if t.now().After(e.deadline) {
		t.c.Remove(k)
		return zero, false
	}
	return e.v, true
}

// Peek returns the value for k even if it has expired, and whether it is
// still fresh.
func (t *TTL[V]) Peek(k string) (v V, fresh, ok bool) {
	if t.c == nil {
		return v, false, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.c.Peek(k)
	if !ok {
		return v, false, false
	}
	return e.v, !t.now().After(e.deadline), true
}

// Put stores v for k for one TTL.
func (t *TTL[V]) Put(k string, v V) {
	if t.c == nil {
		return
	}
	t.mu.Lock()
	if t.c.Add(k, ttlEntry[V]{v: v, deadline: t.now().Add(t.ttl)}) {
		t.counts.evictions.Add(1)
	}
	t.mu.Unlock()
}

// Remove forgets k.
func (t *TTL[V]) Remove(k string) {
	if t.c == nil {
		return
	}
	t.mu.Lock()
	t.c.Remove(k)
	t.mu.Unlock()
}

// RemoveIf forgets every key for which drop is true (linear in the size).
func (t *TTL[V]) RemoveIf(drop func(k string) bool) {
	if t.c == nil {
		return
	}
	t.mu.Lock()
	for _, k := range t.c.Keys() {
		if drop(k) {
			t.c.Remove(k)
		}
	}
	t.mu.Unlock()
}

// Expire forgets the entries whose time is up, except those keep (nil:
// none) says to hold on to (they stay, expired, for Peek, until the LRU
// bound pushes them out). It returns the values forgotten. Entries never
// outlive their TTL by more than the interval between two calls: callers
// run it periodically rather than letting expired entries pile up until
// a Get happens to meet them.
func (t *TTL[V]) Expire(keep func(V) bool) []V {
	if t.c == nil {
		return nil
	}
	var gone []V
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range t.c.Keys() {
		e, ok := t.c.Peek(k)
		if !ok || !now.After(e.deadline) || keep != nil && keep(e.v) {
			continue
		}
		t.c.Remove(k)
		gone = append(gone, e.v)
	}
	return gone
}

// RemovePrefix forgets every key starting with p (linear in the size).
func (t *TTL[V]) RemovePrefix(p string) {
	if t.c == nil {
		return
	}
	t.mu.Lock()
	for _, k := range t.c.Keys() {
		if strings.HasPrefix(k, p) {
			t.c.Remove(k)
		}
	}
	t.mu.Unlock()
}

// Values returns every value held, fresh or not, without counting a
// lookup or touching the LRU order.
func (t *TTL[V]) Values() []V {
	if t.c == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]V, 0, t.c.Len())
	for _, k := range t.c.Keys() {
		if e, ok := t.c.Peek(k); ok {
			out = append(out, e.v)
		}
	}
	return out
}

// Stats returns the cache's counters and size.
func (t *TTL[V]) Stats() Stats { return t.counts.stats(int64(t.Len()), 0) }

// Len is the number of entries, fresh or not.
func (t *TTL[V]) Len() int {
	if t.c == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.Len()
}
