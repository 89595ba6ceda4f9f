package cache

import "sync/atomic"

// Stats are a cache's counters since it was made, and its size now.
type Stats struct {
	Hits      int64 // lookups answered from the cache
	Misses    int64 // lookups not answered (absent, or expired)
	Evictions int64 // entries dropped to make room (not expiry, not removal)
	Entries   int64 // entries held now
	Bytes     int64 // bytes held now (block and data caches only)
}

// counts are the counters every cache keeps.
type counts struct {
	hits, misses, evictions atomic.Int64
}

// lookup counts a hit or a miss and returns hit.
func (c *counts) lookup(hit bool) bool {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return hit
}

func (c *counts) stats(entries, bytes int64) Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(), Entries: entries, Bytes: bytes}
}
