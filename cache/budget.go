package cache

import (
	"context"
	"sync"
	"sync/atomic"
)

// Budget is a global memory budget in bytes, shared by the read prefetcher,
// the block cache and write buffers. Acquire blocks (back-pressure) until the
// bytes are available; a Reclaimer (the block cache) is asked to give memory
// back before anyone waits.
type Budget struct {
	limit int64

	mu        sync.Mutex
	used      int64             // GUARDED_BY(mu)
	peak      int64             // GUARDED_BY(mu)
	changed   chan struct{}     // GUARDED_BY(mu); closed and replaced on Release
	reclaimer func(int64) int64 // set once before use

	waits  atomic.Int64 // Acquire calls that had to wait
	denied atomic.Int64 // TryAcquire calls refused
}

// BudgetStats describe a budget's use.
type BudgetStats struct {
	Limit, Used, Peak int64 // bytes
	Waits             int64 // Acquire calls that had to wait for bytes to be released
	Denied            int64 // TryAcquire calls refused (the caller went without)
}

// Stats returns the budget's use and counters.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	used, peak := b.used, b.peak
	b.mu.Unlock()
	return BudgetStats{Limit: b.limit, Used: used, Peak: peak, Waits: b.waits.Load(), Denied: b.denied.Load()}
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit, changed: make(chan struct{})}
}

// SetReclaimer installs f, called without the budget lock held, to free at
// least n bytes (it returns what it freed, after releasing them).
func (b *Budget) SetReclaimer(f func(n int64) int64) { b.reclaimer = f }

// Limit is the budget's size.
func (b *Budget) Limit() int64 { return b.limit }

// Used is the number of bytes held.
func (b *Budget) Used() int64 { return b.Stats().Used }

// Peak is the most bytes ever held at once.
func (b *Budget) Peak() int64 { return b.Stats().Peak }

// TryAcquire takes n bytes if they are free now, reclaiming cached data if
// needed; it never waits for other users.
func (b *Budget) TryAcquire(n int64) bool {
	if b.tryAcquire(n) {
		return true
	}
	b.denied.Add(1)
	return false
}

func (b *Budget) tryAcquire(n int64) bool {
	if b.take(n) {
		return true
	}
	if b.reclaimer != nil {
		b.reclaimer(n)
		return b.take(n)
	}
	return false
}

func (b *Budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit && b.used > 0 {
		return false
	}
	b.used += n
	if b.used > b.peak {
		b.peak = b.used
	}
	return true
}

// Acquire takes n bytes, waiting until enough are released or ctx ends. A
// request larger than the whole budget is granted when nothing else is held,
// so it cannot deadlock.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	for waited := false; ; waited = true {
		if b.tryAcquire(n) {
			return nil
		}
		b.mu.Lock()
		ch := b.changed
		b.mu.Unlock()
		if b.take(n) { // released between TryAcquire and here
			return nil
		}
		if !waited {
			b.waits.Add(1)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back n bytes.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		panic("cache: budget released more than acquired")
	}
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
