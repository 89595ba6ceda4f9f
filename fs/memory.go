package fs

// The mount's memory: one Budget (memory_budget less what the FUSE layer
// may hold) shared by read-ahead parts, cached blocks, staging files kept in
// memory and the pool of part buffers. When it runs short the reclaimer
// gives memory back, cheapest first: pooled buffers, cached blocks, then
// staging files move to cache_dir (spill). Read-ahead that cannot get
// memory stops growing, and reads go straight to OSS.

import (
	"sync"
)

// partPool keeps released read-ahead part buffers of the common size for
// reuse. A pooled buffer stays charged to the budget (it is memory the
// process holds); the reclaimer drops them first.
type partPool struct {
	f    *FS
	size int64

	mu   sync.Mutex
	free [][]byte // GUARDED_BY(mu); each of cap size, charged to the budget
}

// maxPooled bounds the buffers kept for reuse.
const maxPooled = 8

// get returns a buffer of n bytes charged to the budget, or nil when the
// budget has no room.
func (p *partPool) get(n int64) []byte {
	if n == p.size {
		p.mu.Lock()
		if k := len(p.free); k > 0 {
			b := p.free[k-1]
			p.free = p.free[:k-1]
			p.mu.Unlock()
			return b[:n]
		}
		p.mu.Unlock()
	}
	if !p.f.budget.TryAcquire(n) {
		return nil
	}
	return make([]byte, n, n)
}

// put takes a buffer back (from get).
func (p *partPool) put(b []byte) {
	if int64(cap(b)) == p.size {
		p.mu.Lock()
		if len(p.free) < maxPooled {
			p.free = append(p.free, b[:cap(b)])
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	p.f.budget.Release(int64(cap(b)))
}

// reclaim drops pooled buffers until n bytes are freed (or none are left)
// and returns the bytes freed.
func (p *partPool) reclaim(n int64) int64 {
	var freed int64
	for freed < n {
		p.mu.Lock()
		k := len(p.free)
		if k == 0 {
			p.mu.Unlock()
			break
		}
		b := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		p.f.budget.Release(int64(cap(b)))
		freed += int64(cap(b))
	}
	return freed
}

// memStages is the set of staging files, for the reclaimer.
type memStages struct {
	mu  sync.Mutex
	set map[*stageFile]struct{} // GUARDED_BY(mu)
}

func (m *memStages) add(s *stageFile) {
	m.mu.Lock()
	if m.set == nil {
		m.set = map[*stageFile]struct{}{}
	}
	m.set[s] = struct{}{}
	m.mu.Unlock()
}

func (m *memStages) remove(s *stageFile) {
	m.mu.Lock()
	delete(m.set, s)
	m.mu.Unlock()
}

// spill moves staging files from memory to cache_dir, largest first, until
// n bytes of budget are freed; files busy right now are skipped.
func (m *memStages) spill(n int64) int64 {
	m.mu.Lock()
	files := make([]*stageFile, 0, len(m.set))
	for s := range m.set {
		files = append(files, s)
	}
	m.mu.Unlock()
	var freed int64
	for freed < n {
		var best *stageFile
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

func removeFile(files []*stageFile, s *stageFile) []*stageFile {
	for i := range files {
		if files[i] == s {
			return append(files[:i], files[i+1:]...)
		}
	}
	return files
}

// reclaim frees at least n bytes of the budget if it can, cheapest first;
// it is the budget's reclaimer and returns the bytes freed.
func (f *FS) reclaim(n int64) int64 {
	freed := f.parts.reclaim(n)
	if freed < n {
		freed += f.blocks.Reclaim(n - freed)
	}
	if freed < n {
		freed += f.stages.spill(n - freed)
	}
	return freed
}
