package cache

import (
	"container/list"
	"sync"
)

// BlockKey names one aligned block of one version of an object.
type BlockKey struct {
	Key   string
	ETag  string
	Index int64
}

// BlockCache keeps recently read blocks of object data in memory. Every
// block's bytes are held against the shared Budget; when the budget is short
// the least recently used blocks are dropped. Keys include the ETag, so a
// changed object never gets old bytes.
type BlockCache struct {
	budget *Budget
	max    int64 // at most this many bytes cached, even if the budget has room

	mu    sync.Mutex
	ll    *list.List                 // GUARDED_BY(mu); front = most recent
	items map[BlockKey]*list.Element // GUARDED_BY(mu)
	bytes int64                      // GUARDED_BY(mu)

	counts counts
}

type blockEntry struct {
	k    BlockKey
	data []byte
}

// NewBlockCache makes a cache drawing on budget and holding at most max bytes.
// It registers itself as the budget's reclaimer.
func NewBlockCache(budget *Budget, max int64) *BlockCache {
	c := &BlockCache{budget: budget, max: max, ll: list.New(), items: map[BlockKey]*list.Element{}}
	budget.SetReclaimer(c.Reclaim)
	return c
}

// Get returns the block's data (not to be modified), counting a hit or a
// miss.
func (c *BlockCache) Get(k BlockKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		c.counts.lookup(true)
		return e.Value.(*blockEntry).data, true
	}
	c.counts.lookup(false)
	return nil, false
}

// Put stores data (which the cache now owns) if the budget allows.
func (c *BlockCache) Put(k BlockKey, data []byte) {
	n := int64(len(data))
	if n == 0 || n > c.max {
		return
	}
	c.mu.Lock()
	if _, ok := c.items[k]; ok {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// Make room under our own cap first.
	c.evict(func(int64) bool { return c.bytes+n <= c.max })
	if !c.budget.take(n) {
		if c.Reclaim(n) < n || !c.budget.take(n) {
			return
		}
	}
	c.mu.Lock()
	if _, ok := c.items[k]; ok {
		c.mu.Unlock()
		c.budget.Release(n)
		return
	}
	c.items[k] = c.ll.PushFront(&blockEntry{k: k, data: data})
	c.bytes += n
	c.mu.Unlock()
}

// Reclaim drops least recently used blocks until n bytes are freed or the
// cache is empty, and returns the bytes freed.
func (c *BlockCache) Reclaim(n int64) int64 {
	return c.evict(func(freed int64) bool { return freed >= n })
}

// evict removes the oldest entries until done(freed) holds or the cache is
// empty, releasing the budget of every dropped block; it returns the bytes
// freed.
func (c *BlockCache) evict(done func(freed int64) bool) int64 {
	var freed int64
	for {
		c.mu.Lock()
		e := c.ll.Back()
		if done(freed) || e == nil {
			c.mu.Unlock()
			return freed
		}
		be := e.Value.(*blockEntry)
		c.ll.Remove(e)
		delete(c.items, be.k)
		n := int64(len(be.data))
		c.bytes -= n
		c.mu.Unlock()
		c.counts.evictions.Add(1)
		c.budget.Release(n)
		freed += n
	}
}

// DropObject forgets every block of key (all versions).
func (c *BlockCache) DropObject(key string) {
	c.mu.Lock()
	var n int64
	for k, e := range c.items {
		if k.Key == key {
			n += int64(len(e.Value.(*blockEntry).data))
			c.ll.Remove(e)
			delete(c.items, k)
		}
	}
	c.bytes -= n
	c.mu.Unlock()
	c.budget.Release(n)
}

// Stats returns the cache's counters, blocks and bytes held.
func (c *BlockCache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts.stats(int64(len(c.items)), c.bytes)
}

// Bytes is the amount of data cached.
func (c *BlockCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
