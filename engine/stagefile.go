package engine

import (
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/ossmount/ossmount/cache"
)

// StageFile holds the bytes a writer stages: in memory while the file's
// live bytes are few (small files, the parts of a stream waiting to be
// uploaded), on disk in the cache directory otherwise. Memory comes from
// the mount's budget, at most stageMemMax per file; when either runs out
// the contents move to a temporary file and stay there. It behaves like a
// sparse *os.File (ReadAt, WriteAt, Truncate, hole punching) and is safe for
// concurrent use (part uploads read while the application writes).
type StageFile struct {
	dir    string
	prefix string
	budget *cache.Budget
	pool   *BufPool // optional: whole chunks come from it and go back to it

	mu     sync.Mutex
	chunks map[int64][]byte // GUARDED_BY(mu); memory mode: chunk index -> bytes (shorter: zeros follow)
	held   int64            // GUARDED_BY(mu); budget taken for chunks
	size   int64            // GUARDED_BY(mu); logical size in memory mode
	file   *os.File         // GUARDED_BY(mu); disk mode
}

// ChunkSize is the unit a StageFile holds its memory in, and the unit a
// writer tracks its bytes in (absent, fetched, written, sent).
const ChunkSize = 1 << 20

// stageMemMax bounds the memory one file stages before it moves to disk.
const stageMemMax = 64 << 20

func newStageFile(dir, prefix string, budget *cache.Budget) *StageFile {
	return &StageFile{dir: dir, prefix: prefix, budget: budget, chunks: map[int64][]byte{}}
}

// spillLocked moves the contents to a temporary file.
func (s *StageFile) spillLocked() error {
	if s.file != nil {
		return nil
	}
	f, err := os.CreateTemp(s.dir, s.prefix+"*")
	if err != nil {
		return err
	}
	for i, b := range s.chunks {
		if _, err := f.WriteAt(b, i*ChunkSize); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
	}
	if err := f.Truncate(s.size); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.file = f
	for _, b := range s.chunks {
		s.freeBuf(b)
	}
	s.chunks = nil
	s.held = 0
	return nil
}

// freeBuf gives back a chunk's memory.
func (s *StageFile) freeBuf(b []byte) {
	if s.pool != nil && cap(b) == ChunkSize {
		s.pool.Put(b)
	} else if cap(b) > 0 {
		s.budget.Release(int64(cap(b)))
	}
}

// grow makes chunk i hold at least n bytes, taking memory from the budget;
// false when the memory is not there.
func (s *StageFile) growLocked(i int64, n int) bool {
	b := s.chunks[i]
	if n <= len(b) {
		return true
	}
	if n <= cap(b) {
		nb := b[:n]
		clear(nb[len(b):]) // bytes cut off by a truncate read as zeros
		s.chunks[i] = nb
		return true
	}
	c := max(n, min(2*cap(b), ChunkSize), 4096)
	if s.pool != nil && c > ChunkSize/2 {
		c = ChunkSize // a whole chunk, reused from the pool
	}
	if s.held+int64(c-cap(b)) > stageMemMax {
		return false
	}
	var nb []byte
	if c == ChunkSize && s.pool != nil {
		if nb = s.pool.Get(ChunkSize); nb == nil {
			return false
		}
		nb = nb[:n]
		copy(nb, b)
		clear(nb[len(b):])
		s.freeBuf(b)
	} else {
		if !s.budget.TryAcquire(int64(c - cap(b))) {
			return false
		}
		nb = make([]byte, n, c)
		copy(nb, b)
	}
	s.held += int64(c - cap(b))
	s.chunks[i] = nb
	return true
}

// WriteAt writes p at off, growing the file as needed.
func (s *StageFile) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		if s.writeMemLocked(p, off) {
			return len(p), nil
		}
		if err := s.spillLocked(); err != nil {
			return 0, err
		}
	}
	return s.file.WriteAt(p, off)
}

func (s *StageFile) writeMemLocked(p []byte, off int64) bool {
	// Check the memory first so a refused write changes nothing.
	for pos, end := off, off+int64(len(p)); pos < end; {
		i := pos / ChunkSize
		ce := min(end, (i+1)*ChunkSize)
		if !s.growLocked(i, int(ce-i*ChunkSize)) {
			return false
		}
		pos = ce
	}
	for pos, end := off, off+int64(len(p)); pos < end; {
		i := pos / ChunkSize
		ce := min(end, (i+1)*ChunkSize)
		copy(s.chunks[i][pos-i*ChunkSize:], p[pos-off:ce-off])
		pos = ce
	}
	s.size = max(s.size, off+int64(len(p)))
	return true
}

// ReadAt reads like os.File.ReadAt: io.EOF when p reaches past the end.
func (s *StageFile) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		return s.file.ReadAt(p, off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	for pos, end := off, off+int64(n); pos < end; {
		i := pos / ChunkSize
		ce := min(end, (i+1)*ChunkSize)
		dst := p[pos-off : ce-off]
		b := s.chunks[i]
		from := pos - i*ChunkSize
		m := 0
		if from < int64(len(b)) {
			m = copy(dst, b[from:])
		}
		clear(dst[m:])
		pos = ce
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Truncate sets the size; bytes past it are dropped, new ones read as zeros.
func (s *StageFile) Truncate(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		return s.file.Truncate(size)
	}
	for i, b := range s.chunks {
		switch start := i * ChunkSize; {
		case start >= size:
			s.dropLocked(i)
		case start+int64(len(b)) > size:
			s.chunks[i] = b[:size-start]
		}
	}
	s.size = size
	return nil
}

func (s *StageFile) dropLocked(i int64) {
	s.held -= int64(cap(s.chunks[i]))
	s.freeBuf(s.chunks[i])
	delete(s.chunks, i)
}

// Punch frees the whole chunks inside [off, off+n) (they read as zeros).
func (s *StageFile) Punch(off, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		punchHole(s.file, off, n)
		return
	}
	for i := (off + ChunkSize - 1) / ChunkSize; (i+1)*ChunkSize <= off+n; i++ {
		if _, ok := s.chunks[i]; ok {
			s.dropLocked(i)
		}
	}
}

// memHeld is the memory the file holds (0 once on disk, or while busy).
func (s *StageFile) memHeld() int64 {
	if !s.mu.TryLock() {
		return 0
	}
	defer s.mu.Unlock()
	return s.held
}

// trySpill moves the contents to disk unless the file is busy (its lock
// held: the caller may be the one growing it) and returns the memory
// freed; ok is false when nothing could be done.
func (s *StageFile) trySpill() (freed int64, ok bool) {
	if !s.mu.TryLock() {
		return 0, false
	}
	defer s.mu.Unlock()
	if s.file != nil || s.held == 0 {
		return 0, false
	}
	held := s.held
	if err := s.spillLocked(); err != nil {
		return 0, false
	}
	return held, true
}

// Keep moves the contents to a file named by name(dir, generated) and
// returns its path: what a failed upload leaves for the user.
func (s *StageFile) Keep(name func(tmp string) string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.spillLocked(); err != nil {
		return "", err
	}
	kept := name(s.file.Name())
	if err := os.Rename(s.file.Name(), kept); err != nil {
		return s.file.Name(), nil
	}
	// The open descriptor follows the rename; remember the new name.
	f, err := os.OpenFile(kept, os.O_RDWR, 0)
	if err != nil {
		return kept, nil
	}
	s.file.Close()
	s.file = f
	return kept, nil
}

// Name is the file's path on disk, or "" while it is in memory.
func (s *StageFile) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return ""
	}
	return s.file.Name()
}

// Close releases the memory and closes the disk file (which stays on disk).
func (s *StageFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.chunks {
		s.dropLocked(i)
	}
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

// Remove closes the file and deletes it from disk.
func (s *StageFile) Remove() {
	name := s.Name()
	s.Close()
	if name != "" {
		os.Remove(name)
	}
}

// punchHole frees the disk blocks of [off, off+n) in f (best effort).
func punchHole(f *os.File, off, n int64) {
	const fallocPunchHole, fallocKeepSize = 0x02, 0x01
	_ = syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n)
}
