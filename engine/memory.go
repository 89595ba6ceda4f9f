package engine

// The mount's memory: one Budget (memory_budget less what the FUSE layer
// may hold) shared by read-ahead parts, cached blocks, staging files kept in
// memory and the pool of part buffers. When it runs short the reclaimer
// gives memory back, cheapest first: pooled buffers, cached blocks, then
// staging files move to cache_dir (spill). Read-ahead that cannot get
// memory stops growing, and reads go straight to OSS.

import (
	"sync"

	"github.com/ossmount/ossmount/cache"
)

// BufPool keeps released buffers (read-ahead parts, staging chunks) for
// reuse, by exact size. A pooled buffer stays charged to the budget (it
// is memory the process holds); the reclaimer drops them first. Reuse
// keeps the garbage collector's work, and so the memory the process holds
// beyond the budget, small.
type BufPool struct {
	budget   *cache.Budget
	maxBytes int64 // most bytes kept for reuse

	mu     sync.Mutex
	free   map[int64][][]byte // GUARDED_BY(mu); by cap, each charged to the budget
	pooled int64              // GUARDED_BY(mu)
}

func newBufPool(b *cache.Budget, maxBytes int64) *BufPool {
	return &BufPool{budget: b, maxBytes: maxBytes, free: map[int64][][]byte{}}
}

// Get returns a buffer of n bytes charged to the budget, or nil when the
// budget has no room.
func (p *BufPool) Get(n int64) []byte {
	p.mu.Lock()
	if l := p.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[n] = l[:len(l)-1]
		p.pooled -= n
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	if !p.budget.TryAcquire(n) {
		return nil
	}
	return make([]byte, n)
}

// Put takes back a buffer from Get; its contents are dropped.
func (p *BufPool) Put(b []byte) {
	n := int64(cap(b))
	if n == 0 {
		return
	}
	p.mu.Lock()
	if p.pooled+n <= p.maxBytes {
		p.free[n] = append(p.free[n], b[:n])
		p.pooled += n
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.budget.Release(n)
}

// Pooled is how many bytes the pool keeps for reuse (charged to the
// budget).
func (p *BufPool) Pooled() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pooled
}

// reclaim drops pooled buffers until n bytes are freed (or none are left)
// and returns the bytes freed.
func (p *BufPool) reclaim(n int64) int64 {
	var freed int64
	p.mu.Lock()
	for size, l := range p.free {
		for len(l) > 0 && freed < n {
			l = l[:len(l)-1]
			freed += size
		}
		p.free[size] = l
		if freed >= n {
			break
		}
	}
	p.pooled -= freed
	p.mu.Unlock()
	if freed > 0 {
		p.budget.Release(freed)
	}
	return freed
}

// memStages is the set of staging files, for the reclaimer.
type memStages struct {
	mu  sync.Mutex
	set map[*StageFile]struct{} // GUARDED_BY(mu)
}

func (m *memStages) add(s *StageFile) {
	m.mu.Lock()
	if m.set == nil {
		m.set = map[*StageFile]struct{}{}
	}
	m.set[s] = struct{}{}
	m.mu.Unlock()
}

func (m *memStages) remove(s *StageFile) {
	m.mu.Lock()
	delete(m.set, s)
	m.mu.Unlock()
}

// spill moves staging files from memory to cache_dir, largest first, until
// n bytes of budget are freed; files busy right now are skipped.
func (m *memStages) spill(n int64) int64 {
	m.mu.Lock()
	files := make([]*StageFile, 0, len(m.set))
	for s := range m.set {
		files = append(files, s)
	}
	m.mu.Unlock()
	var freed int64
	for freed < n {
		var best *StageFile
		var bestHeld int64
		for _, s := range files {
			if h := s.memHeld(); h > bestHeld {
				best, bestHeld = s, h
			}
		}
		if best == nil {
			break
		}
		got, ok := best.trySpill()
		if !ok {
			files = removeFile(files, best)
			continue
		}
		freed += got
	}
	return freed
}

func removeFile(files []*StageFile, s *StageFile) []*StageFile {
	for i := range files {
		if files[i] == s {
			return append(files[:i], files[i+1:]...)
		}
	}
	return files
}

// reclaim frees at least n bytes of the budget if it can, cheapest first;
// it is the budget's reclaimer and returns the bytes freed.
func (e *Engine) reclaim(n int64) int64 {
	freed := e.bufs.reclaim(n)
	if freed < n {
		freed += e.blocks.Reclaim(n - freed)
	}
	if freed < n {
		freed += e.stages.spill(n - freed)
	}
	return freed
}
