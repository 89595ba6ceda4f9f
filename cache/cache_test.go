package cache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTTLExpires(t *testing.T) {
	c := NewTTL[int](10, time.Minute)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get = %v %v", v, ok)
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Fatal("entry did not expire")
	}
}

// TestTTLExpireActively: Expire drops every entry whose time is up without
// a Get meeting it (nothing else would: expired entries used to stay until
// the LRU bound pushed them out), keeps those keep asks for, and leaves
// the fresh ones.
func TestTTLExpireActively(t *testing.T) {
	c := NewTTL[int](1000, time.Minute)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	for i := 0; i < 500; i++ {
		c.Put(fmt.Sprint("old", i), i)
	}
	now = now.Add(30 * time.Second)
	c.Put("young", -1)
	now = now.Add(31 * time.Second) // the 500 expired, young did not
	gone := c.Expire(func(v int) bool { return v == 7 })
	if len(gone) != 499 || c.Len() != 2 {
		t.Fatalf("Expire forgot %d, %d left; want 499 forgotten, 2 left (young and the kept one)", len(gone), c.Len())
	}
	if _, fresh, ok := c.Peek("old7"); !ok || fresh {
		t.Fatalf("kept entry: ok %v fresh %v; want kept, expired", ok, fresh)
	}
	if v, ok := c.Get("young"); !ok || v != -1 {
		t.Fatal("fresh entry lost")
	}
	c.RemoveIf(func(k string) bool { return strings.HasPrefix(k, "old") })
	if c.Len() != 1 {
		t.Fatalf("RemoveIf left %d entries, want 1", c.Len())
	}
}

func TestTTLSizeAndPrefix(t *testing.T) {
	c := NewTTL[int](2, time.Minute)
	c.Put("d/a", 1)
	c.Put("d/b", 2)
	c.Put("e", 3)
	if _, ok := c.Get("d/a"); ok {
		t.Fatal("oldest entry not evicted")
	}
	c.RemovePrefix("d/")
	if _, ok := c.Get("d/b"); ok {
		t.Fatal("RemovePrefix kept d/b")
	}
	if _, ok := c.Get("e"); !ok {
		t.Fatal("RemovePrefix removed e")
	}
	if NewTTL[int](10, 0).Put("x", 1); NewTTL[int](10, 0).Len() != 0 {
		t.Fatal("disabled cache stored")
	}
}

func TestBudgetBackPressure(t *testing.T) {
	b := NewBudget(100)
	if err := b.Acquire(context.Background(), 80); err != nil {
		t.Fatal(err)
	}
	if b.TryAcquire(30) {
		t.Fatal("over budget granted")
	}
	done := make(chan error)
	go func() { done <- b.Acquire(context.Background(), 30) }()
	select {
	case <-done:
		t.Fatal("Acquire did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(80)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, 90); err == nil {
		t.Fatal("Acquire beyond budget did not time out")
	}
	if b.Peak() != 80 {
		t.Fatalf("peak = %d", b.Peak())
	}
}

func TestBlockCacheEvictsForBudget(t *testing.T) {
	b := NewBudget(100)
	c := NewBlockCache(b, 100)
	c.Put(BlockKey{"k", "e1", 0}, make([]byte, 60))
	c.Put(BlockKey{"k", "e1", 1}, make([]byte, 30))
	if b.Used() != 90 {
		t.Fatalf("used = %d", b.Used())
	}
	// A reader needs 50 bytes: the cache must give back the oldest block.
	if !b.TryAcquire(50) {
		t.Fatal("budget did not reclaim from the cache")
	}
	if _, ok := c.Get(BlockKey{"k", "e1", 0}); ok {
		t.Fatal("oldest block still cached")
	}
	if _, ok := c.Get(BlockKey{"k", "e2", 1}); ok {
		t.Fatal("other ETag served")
	}
	if _, ok := c.Get(BlockKey{"k", "e1", 1}); !ok {
		t.Fatal("newer block dropped")
	}
	c.DropObject("k")
	if c.Bytes() != 0 || b.Used() != 50 {
		t.Fatalf("after drop: cache %d used %d", c.Bytes(), b.Used())
	}
}

func TestCacheStatsCount(t *testing.T) {
	c := NewTTL[int](2, time.Minute)
	c.Put("a", 1)
	c.Get("a")
	c.Get("b")
	c.Put("b", 2)
	c.Put("c", 3) // evicts a
	c.Remove("b") // a removal, not an eviction
	if st := c.Stats(); st != (Stats{Hits: 1, Misses: 1, Evictions: 1, Entries: 1}) {
		t.Errorf("TTL stats %+v", st)
	}
	b := NewBudget(100)
	bc := NewBlockCache(b, 100)
	bc.Put(BlockKey{"k", "e", 0}, make([]byte, 60))
	bc.Get(BlockKey{"k", "e", 0})
	bc.Get(BlockKey{"k", "e", 1})
	if !b.TryAcquire(50) { // reclaims the block: one eviction
		t.Fatal("budget did not reclaim")
	}
	if b.TryAcquire(60) {
		t.Fatal("over budget granted")
	}
	if st := bc.Stats(); st != (Stats{Hits: 1, Misses: 1, Evictions: 1}) {
		t.Errorf("block cache stats %+v", st)
	}
	done := make(chan error)
	go func() { done <- b.Acquire(context.Background(), 60) }()
	for b.Stats().Waits == 0 {
		time.Sleep(time.Millisecond)
	}
	b.Release(50)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st != (BudgetStats{Limit: 100, Used: 60, Peak: 60, Waits: 1, Denied: 1}) {
		t.Errorf("budget stats %+v", st)
	}
}
