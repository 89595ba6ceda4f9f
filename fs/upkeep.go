package fs

// The mount's upkeep, once a second until Close:
//
//   - the namespace's caches are swept (engine.Namespace.Sweep);
//   - the Go memory limit follows the metadata: memory_budget is for data,
//     and the inodes and listing entries the mount holds get an allowance
//     of their own on top (see metadataBytes), so that a million cached
//     entries do not make the garbage collector run without end;
//   - memory is given back to the system once the metadata has settled
//     after growing or shrinking by a large amount (a listing of a large
//     directory, the kernel forgetting its inodes): the runtime would
//     otherwise keep the freed pages for a long time.

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// inodeBytes is the allowance for one inode the kernel holds: go-fuse's
	// Inode and its tables, our node and its attributes (about 400 bytes,
	// measured by TestEntryMemory).
	inodeBytes = 512
	// listedBytes is the allowance for one entry of a cached listing: its
	// slot, name and attributes (about 180 bytes; shared with the inode
	// when the kernel holds one).
	listedBytes = 192
	// cachedBytes is the allowance for one stat or negative cache entry:
	// its key, LRU element and value.
	cachedBytes = 384

	// returnAfter is the least change of the metadata (and returnShare its
	// least share) after which memory is given back, once the metadata
	// has been still for returnQuiet, at most once per returnEvery.
	returnAfter = 8 << 20
	returnShare = 4
	returnEvery = 10 * time.Second
	returnQuiet = 3 * time.Second
	// returnFollow bounds the follow-ups after a shrink (see dueReturn).
	returnFollow = 40 * time.Second
)

// memoryWatch is the upkeep's view of the metadata's memory.
type memoryWatch struct {
	inodes  atomic.Int64 // inodes the kernel holds (made by NewInode, not yet forgotten)
	listing atomic.Int64 // entries of listings being read (not yet in the listing cache)
	limit   atomic.Int64 // the Go memory limit set (0: none)
	limitMu sync.Mutex   // held while setting the limit

	// Upkeep goroutine only.
	settled  int64         // metadata bytes when memory was last given back
	peak     int64         // the most metadata bytes since then
	last     int64         // metadata bytes at the previous tick
	moved    time.Time     // when the metadata last moved between two ticks
	again    time.Time     // when to give memory back once more after a shrink (zero: not)
	againGap time.Duration // the wait before that follow-up
	returned time.Time     // when memory was last given back
}

// metadataBytes is the allowance for what the mount holds of metadata.
func (f *FS) metadataBytes() int64 {
	n := f.inodeCount()*inodeBytes + (f.ns.ListedEntries()+f.mem.listing.Load())*listedBytes
	return n + int64(f.ns.Attrs.Len()+f.ns.Neg.Len())*cachedBytes
}

// inodeCount is the number of inodes the kernel holds (files and
// directories, the root aside).
func (f *FS) inodeCount() int64 {
	// A node looked up again while being forgotten is forgotten twice:
	// the count may fall short, never below zero.
	return max(f.mem.inodes.Load(), 0)
}

// upkeep runs tidy every second until Close.
func (f *FS) upkeep() { every(time.Second, f.stop, f.tidy) }

// every calls fn with the time every period until stop is closed.
func every(period time.Duration, stop <-chan struct{}, fn func(now time.Time)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

// tidy is one round of upkeep.
func (f *FS) tidy(now time.Time) {
	f.ns.Sweep(now)
	f.setMemoryLimit()
	f.returnMemory(now)
}

// setMemoryLimit keeps the Go memory limit at Config.MemoryLimit plus
// twice the metadata's allowance (the collector's usual room to grow), when
// it changed by a sixteenth or more.
func (f *FS) setMemoryLimit() {
	if f.cfg.MemoryLimit <= 0 {
		return
	}
	f.mem.limitMu.Lock()
	defer f.mem.limitMu.Unlock()
	lim := f.cfg.MemoryLimit + 2*f.metadataBytes()
	if old := f.mem.limit.Load(); old != 0 && abs(lim-old) < old/16 {
		return
	}
	f.mem.limit.Store(lim)
	debug.SetMemoryLimit(lim)
}

// returnMemory gives freed memory back to the system once the metadata
// has settled after a large change.
func (f *FS) returnMemory(now time.Time) {
	if f.mem.dueReturn(f.metadataBytes(), now) {
		debug.FreeOSMemory()
	}
}

// dueReturn notes the metadata's size cur at the tick now and reports
// whether freed memory is to be given back: the size has moved by
// returnAfter or more (and a returnShare of itself) since the last return,
// or fallen that much from its peak since then (a listing forgotten
// before it was ever still: back where it was, but its memory freed),
// and has been still for returnQuiet. The kernel forgets inodes in
// batches, slowly on a busy machine: a return in a pause of that trickle
// leaves the rest to a later one, so the least change is small enough
// for the rest to count.
func (m *memoryWatch) dueReturn(cur int64, now time.Time) bool {
	prev := m.last
	m.last = cur
	m.peak = max(m.peak, cur)
	change := max(abs(cur-m.settled), m.peak-cur)
	if abs(cur-prev) > change/16 {
		m.moved = now
	}
	if !m.again.IsZero() && now.Sub(m.again) >= 0 {
		// A follow-up after a shrink: the next one twice as late.
		m.againGap *= 2
		if m.againGap > returnFollow {
			m.again = time.Time{}
		} else {
			m.again = now.Add(m.againGap)
		}
		m.returned = now
		return true
	}
	if change < returnAfter || change < max(cur, m.settled)/returnShare {
		return false
	}
	if now.Sub(m.moved) < returnQuiet || now.Sub(m.returned) < returnEvery {
		return false // still moving, or too soon
	}
	if cur < m.peak {
		// What the metadata pointed to may be let go of later than the
		// counts fall (requests in flight, go-fuse's own tables), and an
		// idle daemon would not collect it for minutes: a few times
		// more, returnEvery, twice and four times that later.
		m.againGap = returnEvery
		m.again = now.Add(m.againGap)
	}
	m.settled, m.peak, m.returned = cur, cur, now
	return true
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
