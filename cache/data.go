package cache

// The persistent data cache (-o data_cache=DIR): object data kept on local
// disk across reads, mounts and crashes.
//
// Layout of DIR (created private by the caller):
//
//	DIR/lock                 flock(2)ed by the mount using DIR (one at a time)
//	DIR/objects/HH/HASH.data the object's bytes at their offsets (sparse)
//	DIR/objects/HH/HASH.meta what is in HASH.data (see meta below)
//
// HASH names one object (endpoint, bucket and key); the meta file names
// the version (ETag) its data belongs to. An entry is valid only for that
// ETag: opening the object with another ETag drops the old entry first.
//
// The data is cut into chunks of ChunkSize bytes. The meta file records
// which chunks are present and a CRC-32C of each, and ends with a CRC-32C
// of itself. A chunk is served through FUSE only after its bytes, read
// back from HASH.data, matched the recorded CRC; one that does not is
// dropped (logged) and fetched again. So a torn write (a crash while
// filling), a truncated file or a corrupted one is never served.
//
// A complete entry is sealed: its data file is fsynced, then the meta
// records the data file's identity (inode, size, mtime and ctime). An entry
// whose data file still has that identity was verified and has not been
// written since (any write through the file system changes mtime and
// ctime), so it can be handed to the kernel whole (FUSE passthrough)
// without being read again; one that lost it is verified chunk by chunk
// before it is handed over.
//
// At start the meta files are read (each checked against its own CRC);
// entries with a bad or missing meta, a missing data file, and leftover
// temporary files are deleted. Data is not read at start: it is checked
// when served. Meta files are rewritten (atomically, by rename) while an
// entry fills, when the last user releases it and when the cache closes;
// a crash loses at most the record of the last chunks filled.
//
// Space: the cache holds at most Limit bytes of chunks, and never lets the
// file system's free space fall below MinFree; the least recently used
// entries that are not pinned and not open are evicted to make room. An
// object larger than the limit is not cached.

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// DataCacheConfig configures a DataCache.
type DataCacheConfig struct {
	Dir       string // an existing private directory
	Limit     int64  // bytes of cached data (0: half of the free space, see DefaultDataLimit)
	MinFree   int64  // free bytes to leave on the file system (0: DefaultMinFree)
	ChunkSize int64  // unit of presence and checksum (default 16 KiB)
	Logger    *slog.Logger
}

// DataCacheStats are the data cache's counters since it was opened and
// its size now: those of every cache (Stats: hits and misses are FUSE
// reads served from the cache or not, Bytes the bytes of the entries'
// chunks), and its own.
type DataCacheStats struct {
	Stats
	HitBytes          int64 // bytes served from the cache through FUSE
	FilledBytes       int64 // bytes written into the cache
	CorruptChunks     int64 // chunks that failed their checksum (dropped)
	PassthroughOpens  int64 // opens served by the kernel from the cache file
	PassthroughFailed int64 // passthrough opens the kernel or privileges refused
	Limit             int64 // the size limit in force
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DataCache is the persistent data cache of one mount.
type DataCache struct {
	dir     string
	chunk   int64
	minFree int64
	log     *slog.Logger
	lock    *os.File

	mu      sync.Mutex
	limit   int64                 // GUARDED_BY(mu)
	entries map[string]*DataEntry // GUARDED_BY(mu); by object id
	lru     *list.List            // GUARDED_BY(mu); of *DataEntry, front = most recent
	bytes   int64                 // GUARDED_BY(mu); sum of the entries' bytes
	avail   int64                 // GUARDED_BY(mu); free bytes at the last statfs
	statAt  time.Time             // GUARDED_BY(mu)
	closed  bool                  // GUARDED_BY(mu)
	seals   sync.WaitGroup        // seals under way (Close waits for them)

	counts counts // hits, misses and evictions, as every cache keeps them

	hitBytes, filled, corrupt, ptOpens, ptFailed atomic.Int64
}

// ErrDataCacheBusy is returned by OpenDataCache when another process holds
// the directory.
var ErrDataCacheBusy = errors.New("in use by another mount")

// DefaultMinFree is the free space a cache leaves on its file system when
// not told: 10% of the file system, at most 10 GiB.
func DefaultMinFree(total int64) int64 { return min(total/10, 10<<30) }

// DefaultDataLimit is the cache size when not told: half of what is free
// (beyond minFree) when the mount starts, counting what the cache already
// holds as free.
func DefaultDataLimit(avail, held, minFree int64) int64 {
	return max((avail+held-minFree)/2, 0)
}

// OpenDataCache locks cfg.Dir and loads its index. It fails with
// ErrDataCacheBusy (wrapped) when another mount uses the directory.
func OpenDataCache(cfg DataCacheConfig) (*DataCache, error) {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 16 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, "lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := io.ReadAll(io.LimitReader(lock, 64))
		lock.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, fmt.Errorf("data cache %s: %w (pid %s); give each mount its own data_cache directory", cfg.Dir, ErrDataCacheBusy, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("data cache %s: lock: %v", cfg.Dir, err)
	}
	lock.Truncate(0)
	lock.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	c := &DataCache{dir: cfg.Dir, chunk: cfg.ChunkSize, minFree: cfg.MinFree, log: cfg.Logger, lock: lock,
		entries: map[string]*DataEntry{}, lru: list.New()}
	if err := os.Mkdir(filepath.Join(cfg.Dir, "objects"), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		lock.Close()
		return nil, err
	}
	c.load()
	var st syscall.Statfs_t
	if err := syscall.Statfs(cfg.Dir, &st); err != nil {
		lock.Close()
		return nil, err
	}
	total, avail := int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
	if c.minFree <= 0 {
		c.minFree = DefaultMinFree(total)
	}
	c.limit = cfg.Limit
	if c.limit <= 0 {
		c.limit = DefaultDataLimit(avail, c.bytes, c.minFree)
	}
	c.avail, c.statAt = avail, time.Now()
	c.mu.Lock()
	c.evictLocked(0, nil)
	c.mu.Unlock()
	c.log.Info("data cache ready", "dir", cfg.Dir, "entries", len(c.entries), "bytes", c.bytes, "limit", c.limit, "min_free", c.minFree)
	return c, nil
}

// Close writes the index of every entry and releases the directory.
func (c *DataCache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.seals.Wait()
	c.mu.Lock()
	var all []*DataEntry
	for _, e := range c.entries {
		all = append(all, e)
	}
	c.mu.Unlock()
	for _, e := range all {
		e.mu.Lock()
		e.saveLocked()
		e.closeFilesLocked()
		e.mu.Unlock()
	}
	c.lock.Close()
}

// Limit is the size limit in force.
func (c *DataCache) Limit() int64 { return c.Stats().Limit }

// Stats returns the counters and the size now.
func (c *DataCache) Stats() DataCacheStats {
	c.mu.Lock()
	n, b, l := int64(len(c.entries)), c.bytes, c.limit
	c.mu.Unlock()
	return DataCacheStats{Stats: c.counts.stats(n, b), HitBytes: c.hitBytes.Load(), FilledBytes: c.filled.Load(),
		CorruptChunks: c.corrupt.Load(), PassthroughOpens: c.ptOpens.Load(), PassthroughFailed: c.ptFailed.Load(), Limit: l}
}

// CountPassthrough counts an open served by passthrough (ok) or one the
// kernel refused.
func (c *DataCache) CountPassthrough(ok bool) {
	if ok {
		c.ptOpens.Add(1)
	} else {
		c.ptFailed.Add(1)
	}
}

// CountMiss counts a FUSE read the cache could not serve.
func (c *DataCache) CountMiss() { c.counts.misses.Add(1) }

func hashID(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:16])
}

func (c *DataCache) paths(hash string) (data, meta string) {
	d := filepath.Join(c.dir, "objects", hash[:2], hash)
	return d + ".data", d + ".meta"
}

// DataEntry is one object version in the cache. Users get it from Open
// and give it back with Release.
type DataEntry struct {
	c      *DataCache
	id     string
	hash   string
	etag   string
	size   int64
	chunks int64

	mu      sync.Mutex
	present []uint64      // GUARDED_BY(mu); bitmap of chunks held
	crcs    []uint32      // GUARDED_BY(mu)
	n       int64         // GUARDED_BY(mu); chunks present
	bytes   int64         // GUARDED_BY(mu); their bytes
	pinned  bool          // GUARDED_BY(mu)
	seal    *sealStamp    // GUARDED_BY(mu); identity of the data file when sealed
	f       *os.File      // GUARDED_BY(mu); data file, open while refs > 0
	fd      *os.File      // GUARDED_BY(mu); the same opened O_DIRECT for fills (nil if refused)
	dirty   int64         // GUARDED_BY(mu); bytes filled since the meta was written
	dropped bool          // GUARDED_BY(mu); evicted or dropped: serves and fills nothing
	sealing bool          // GUARDED_BY(mu)
	refs    atomic.Int32  // users (Open without Release); incremented under c.mu
	elem    *list.Element // GUARDED_BY(c.mu)
}

type sealStamp struct {
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

func stampOf(st *syscall.Stat_t) *sealStamp {
	return &sealStamp{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

func (e *DataEntry) chunkLen(i int64) int64 {
	return min(e.c.chunk, e.size-i*e.c.chunk)
}

func (e *DataEntry) has(i int64) bool { return e.present[i/64]&(1<<(i%64)) != 0 }

func (e *DataEntry) setLocked(i int64, crc uint32) {
	if !e.has(i) {
		e.present[i/64] |= 1 << (i % 64)
		e.n++
		e.bytes += e.chunkLen(i)
	}
	e.crcs[i] = crc
}

func (e *DataEntry) clearLocked(i int64) {
	if e.has(i) {
		e.present[i/64] &^= 1 << (i % 64)
		e.n--
		e.bytes -= e.chunkLen(i)
		e.seal = nil
	}
}

func newEntry(c *DataCache, id, hash, etag string, size int64) *DataEntry {
	n := (size + c.chunk - 1) / c.chunk
	return &DataEntry{c: c, id: id, hash: hash, etag: etag, size: size, chunks: n,
		present: make([]uint64, (n+63)/64), crcs: make([]uint32, n)}
}

// Open returns the entry for version etag of object id (size bytes), with
// a reference the caller must Release; an entry of another version is
// dropped. It returns nil when the object cannot be cached (empty, or
// larger than the cache).
func (c *DataCache) Open(id, etag string, size int64) *DataEntry {
	if size <= 0 || etag == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || size > c.limit {
		return nil
	}
	e := c.entries[id]
	if e != nil && (e.etag != etag || e.size != size) {
		c.removeLocked(e, "the object changed")
		e = nil
	}
	if e == nil {
		e = newEntry(c, id, hashID(id), etag, size)
		c.entries[id] = e
		e.elem = c.lru.PushFront(e)
	} else {
		c.lru.MoveToFront(e.elem)
	}
	e.refs.Add(1)
	return e
}

// Hold takes one more reference to e, given back with Release. Only a
// holder of a reference may call it: it lets a fill that outlives the
// holder's use of the entry (a read-ahead fetch still in flight when its
// file is closed) still store what it fetched.
func (e *DataEntry) Hold() { e.refs.Add(1) }

// ChunkSize is the unit of presence and checksum: a fill stores the whole
// chunks it covers, so fills whose edges fall on chunk boundaries leave no
// gap between them.
func (c *DataCache) ChunkSize() int64 { return c.chunk }

// Release gives back a reference from Open (or Hold). The last one closes the data
// file and records what was filled.
func (e *DataEntry) Release() {
	if e.refs.Add(-1) != 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refs.Load() != 0 {
		return
	}
	if !e.dropped && e.dirty > 0 {
		e.saveLocked()
	}
	if !e.sealing {
		e.closeFilesLocked()
	}
}

// ETag is the version the entry holds.
func (e *DataEntry) ETag() string { return e.etag }

// Complete reports whether every chunk is present.
func (e *DataEntry) Complete() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.dropped && e.n == e.chunks
}

// fileLocked opens the data file (creating it) if needed.
func (e *DataEntry) fileLocked() (*os.File, error) {
	if e.f != nil {
		return e.f, nil
	}
	data, _ := e.c.paths(e.hash)
	if err := os.Mkdir(filepath.Dir(data), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	f, err := os.OpenFile(data, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err == nil && st.Size != e.size {
		if err := f.Truncate(e.size); err != nil {
			f.Close()
			return nil, err
		}
	}
	e.f = f
	// Fills write whole aligned runs with O_DIRECT where the file system
	// allows it: the bytes go to disk by DMA instead of being copied into
	// the page cache, which would cost a first read as much CPU as the
	// GETs themselves. (An *os.File defers its close until writes under
	// way are done, so a concurrent Release cannot redirect a write.)
	if fd, err := os.OpenFile(data, os.O_WRONLY|syscall.O_DIRECT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0); err == nil {
		e.fd = fd
	}
	return f, nil
}

func (e *DataEntry) closeFilesLocked() {
	if e.f != nil {
		e.f.Close()
		e.f = nil
	}
	if e.fd != nil {
		e.fd.Close()
		e.fd = nil
	}
}

// directOK reports whether b at off can be written with O_DIRECT.
func directOK(b []byte, off int64) bool {
	const align = 4096
	return off%align == 0 && len(b)%align == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%align == 0
}

// ReadAt fills p from offset off if every chunk it touches is present and
// matches its checksum; ok is false otherwise (a chunk that failed its
// checksum is dropped and logged).
func (e *DataEntry) ReadAt(p []byte, off int64) (n int, ok bool) {
	if off >= e.size || len(p) == 0 {
		return 0, false
	}
	end := min(off+int64(len(p)), e.size)
	cs := e.c.chunk
	first, last := off/cs, (end-1)/cs
	e.mu.Lock()
	if e.dropped {
		e.mu.Unlock()
		return 0, false
	}
	for i := first; i <= last; i++ {
		if !e.has(i) {
			e.mu.Unlock()
			return 0, false
		}
	}
	f, err := e.fileLocked()
	if err != nil {
		e.mu.Unlock()
		return 0, false
	}
	want := append([]uint32(nil), e.crcs[first:last+1]...)
	e.mu.Unlock()

	// Read whole chunks: straight into p when aligned, else into a
	// scratch buffer.
	start, stop := first*cs, min((last+1)*cs, e.size)
	buf := p[:end-off]
	if start != off || stop != end {
		buf = make([]byte, stop-start)
	}
	if _, err := f.ReadAt(buf, start); err != nil {
		e.c.log.Warn("data cache: read failed; fetching instead", "id", e.id, "err", err)
		return 0, false
	}
	for i := first; i <= last; i++ {
		b := buf[(i-first)*cs : min((i-first+1)*cs, int64(len(buf)))]
		if crc32.Checksum(b, castagnoli) != want[i-first] {
			e.badChunk(i, want[i-first])
			return 0, false
		}
	}
	if start != off || stop != end {
		copy(p, buf[off-start:end-start])
	}
	e.c.counts.hits.Add(1)
	e.c.hitBytes.Add(end - off)
	return int(end - off), true
}

// badChunk drops chunk i after it failed its checksum.
func (e *DataEntry) badChunk(i int64, want uint32) {
	e.c.corrupt.Add(1)
	e.c.log.Warn("data cache: a chunk failed its checksum; dropped, it will be fetched again", "id", e.id, "chunk", i, "offset", i*e.c.chunk)
	var freed int64
	e.mu.Lock()
	if e.has(i) && e.crcs[i] == want {
		freed = e.chunkLen(i)
		e.clearLocked(i)
		e.saveLocked()
	}
	e.mu.Unlock()
	e.c.unreserve(freed)
}

// Fill stores data, the object's bytes at off, for every whole chunk it
// covers (and the last, shorter chunk of the object) that is not present
// yet. It evicts other entries to make room, and stores nothing when
// there is none. The disk writes run outside the entry's lock, so
// concurrent fills of one object proceed in parallel.
func (e *DataEntry) Fill(off int64, data []byte) {
	if e.refs.Load() <= 0 {
		return // released: the caller should have held a reference
	}
	cs := e.c.chunk
	end := off + int64(len(data))
	i := (off + cs - 1) / cs
	for i < e.chunks && i*cs+e.chunkLen(i) <= end {
		var j int64
		var ok bool
		if i, j, ok = e.missingRun(i, end); !ok {
			return
		}
		start, stop := i*cs, (j-1)*cs+e.chunkLen(j-1)
		if !e.c.reserve(stop-start, e) {
			return
		}
		b := data[start-off : stop-off]
		err := e.writeAt(b, start)
		crcs := make([]uint32, j-i)
		for k := i; k < j; k++ {
			crcs[k-i] = crc32.Checksum(b[(k-i)*cs:(k-i)*cs+e.chunkLen(k)], castagnoli)
		}
		if !e.commit(i, j, crcs, err) {
			return
		}
		i = j
	}
}

// missingRun finds the next run [i, j) of chunks missing from the entry
// from chunk i on, ending before end (a byte offset); ok is false when
// there is none or the entry was dropped.
func (e *DataEntry) missingRun(i, end int64) (int64, int64, bool) {
	cs := e.c.chunk
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dropped {
		return i, i, false
	}
	for i < e.chunks && e.has(i) {
		i++
	}
	j := i
	for j < e.chunks && j*cs+e.chunkLen(j) <= end && !e.has(j) {
		j++
	}
	return i, j, j > i
}

// writeAt writes b at off in the entry's file, with O_DIRECT when b and
// off allow it.
func (e *DataEntry) writeAt(b []byte, off int64) error {
	e.mu.Lock()
	f, err := e.fileLocked()
	fd := e.fd
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if fd != nil && directOK(b, off) {
		_, err = fd.WriteAt(b, off)
		if !errors.Is(err, syscall.EINVAL) { // EINVAL: O_DIRECT not for this write after all
			return err
		}
	}
	_, err = f.WriteAt(b, off)
	return err
}

// commit records the chunks [i, j), written with the checksums crcs (or
// failed with err), as present, and seals the entry once it is complete.
// The space reserved for them is kept for the chunks it did not have;
// false when they were not recorded (a failed write, a dropped entry).
func (e *DataEntry) commit(i, j int64, crcs []uint32, err error) bool {
	cs := e.c.chunk
	size := (j-1)*cs + e.chunkLen(j-1) - i*cs
	e.mu.Lock()
	if err != nil || e.dropped {
		e.mu.Unlock()
		e.c.unreserve(size)
		if err != nil {
			e.c.log.Warn("data cache: write failed", "id", e.id, "err", err)
		}
		return false
	}
	var added int64
	for k := i; k < j; k++ {
		if !e.has(k) {
			added += e.chunkLen(k)
		}
		e.setLocked(k, crcs[k-i])
	}
	e.dirty += size
	if e.dirty >= 32<<20 {
		e.saveLocked()
	}
	complete := e.n == e.chunks && !e.sealing
	if complete {
		e.sealing = true
	}
	e.mu.Unlock()
	e.c.unreserve(size - added)
	e.c.filled.Add(added)
	if complete {
		e.c.seals.Add(1)
		go e.sealAsync()
	}
	return true
}

// sealAsync makes a complete entry durable and records its identity.
func (e *DataEntry) sealAsync() {
	defer e.c.seals.Done()
	e.mu.Lock()
	f := e.f
	if f == nil {
		var err error
		if f, err = e.fileLocked(); err != nil {
			e.sealing = false
			e.mu.Unlock()
			return
		}
	}
	e.mu.Unlock()
	err := f.Sync()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sealing = false
	if err == nil && !e.dropped && e.n == e.chunks {
		var st syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &st) == nil {
			e.seal = stampOf(&st)
			e.saveLocked()
		}
	}
	if e.refs.Load() == 0 {
		e.closeFilesLocked()
	}
}

// PassthroughFile returns the data file opened read-only for the kernel to
// read from, when the entry is complete and verified: sealed, with the data
// file unchanged since, or every chunk checked now (and then sealed).
// The caller closes it.
func (e *DataEntry) PassthroughFile() (*os.File, bool) {
	e.mu.Lock()
	if e.dropped || e.n != e.chunks || e.sealing {
		e.mu.Unlock()
		return nil, false
	}
	data, _ := e.c.paths(e.hash)
	seal := e.seal
	e.mu.Unlock()
	f, err := os.OpenFile(data, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	var st syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &st) != nil || st.Size != e.size {
		f.Close()
		return nil, false
	}
	if seal != nil && *seal == *stampOf(&st) {
		return f, true
	}
	// Changed since it was sealed (or never sealed): check every chunk.
	if !e.verifyAll(f) {
		f.Close()
		return nil, false
	}
	if err := f.Sync(); err == nil && syscall.Fstat(int(f.Fd()), &st) == nil {
		e.mu.Lock()
		if e.n == e.chunks && !e.dropped {
			e.seal = stampOf(&st)
			e.saveLocked()
		}
		e.mu.Unlock()
	}
	return f, true
}

// verifyAll checks every chunk of f against the index, dropping those
// that fail; it reports whether all passed.
func (e *DataEntry) verifyAll(f *os.File) bool {
	cs := e.c.chunk
	buf := make([]byte, 1<<20/cs*cs)
	ok := true
	for off := int64(0); off < e.size; off += int64(len(buf)) {
		n := min(int64(len(buf)), e.size-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return false
		}
		for i := off / cs; i*cs < off+n; i++ {
			e.mu.Lock()
			has, want := e.has(i), e.crcs[i]
			e.mu.Unlock()
			b := buf[i*cs-off : i*cs-off+e.chunkLen(i)]
			if !has || crc32.Checksum(b, castagnoli) != want {
				if has {
					e.badChunk(i, want)
				}
				ok = false
			}
		}
	}
	return ok
}

// SetPinned pins the entry (never evicted) or unpins it.
func (e *DataEntry) SetPinned(p bool) {
	e.mu.Lock()
	if e.pinned != p {
		e.pinned = p
		e.saveLocked()
	}
	e.mu.Unlock()
}

// MissingRanges returns the byte ranges not yet cached, merged, as
// [start, end) pairs.
func (e *DataEntry) MissingRanges() [][2]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.missingLocked(-1)
}

// missingLocked returns up to most (all if negative) of the merged
// ranges not cached.
func (e *DataEntry) missingLocked(most int) [][2]int64 {
	var out [][2]int64
	for i := int64(0); i < e.chunks; i++ {
		if e.has(i) {
			continue
		}
		s, t := i*e.c.chunk, i*e.c.chunk+e.chunkLen(i)
		if len(out) > 0 && out[len(out)-1][1] == s {
			out[len(out)-1][1] = t
		} else if len(out) == most {
			break
		} else {
			out = append(out, [2]int64{s, t})
		}
	}
	return out
}

// EntryStatus describes one cached object.
type EntryStatus struct {
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
	Cached int64  `json:"cached_bytes"`
	Pinned bool   `json:"pinned"`
	Sealed bool   `json:"verified_whole"`
	Path   string `json:"cache_file"`
	// Missing is the first byte ranges ([start, end)) not cached, at
	// most statusRanges of them.
	Missing [][2]int64 `json:"missing,omitempty"`
}

// statusRanges is how many missing ranges Status names.
const statusRanges = 8

// Status describes the entry of object id, if there is one.
func (c *DataCache) Status(id string) (EntryStatus, bool) {
	c.mu.Lock()
	e := c.entries[id]
	c.mu.Unlock()
	if e == nil {
		return EntryStatus{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	data, _ := c.paths(e.hash)
	return EntryStatus{ETag: e.etag, Size: e.size, Cached: e.bytes, Pinned: e.pinned, Sealed: e.seal != nil, Path: data,
		Missing: e.missingLocked(statusRanges)}, true
}

// Drop removes the entry of object id, if any (open users stop using it).
func (c *DataCache) Drop(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[id]
	if e == nil {
		return false
	}
	c.removeLocked(e, "dropped")
	return true
}

// DropPrefix removes the entries whose object id starts with prefix and
// returns how many.
func (c *DataCache) DropPrefix(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, e := range c.entries {
		if strings.HasPrefix(id, prefix) {
			c.removeLocked(e, "dropped")
			n++
		}
	}
	return n
}

// removeLocked forgets e and deletes its files.
func (c *DataCache) removeLocked(e *DataEntry, why string) {
	if c.entries[e.id] == e {
		delete(c.entries, e.id)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
	e.mu.Lock()
	e.dropped = true
	c.bytes -= e.bytes
	e.bytes, e.n = 0, 0
	for i := range e.present {
		e.present[i] = 0
	}
	if !e.sealing {
		e.closeFilesLocked()
	}
	e.mu.Unlock()
	data, meta := c.paths(e.hash)
	os.Remove(meta)
	os.Remove(data)
	c.log.Debug("data cache: entry removed", "id", e.id, "why", why)
}

// reserve makes room for n more bytes for e, evicting other entries; it
// reports false when there is no room.
func (c *DataCache) reserve(n int64, e *DataEntry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if time.Since(c.statAt) > time.Second {
		var st syscall.Statfs_t
		if syscall.Statfs(c.dir, &st) == nil {
			c.avail = int64(st.Bavail) * st.Bsize
		}
		c.statAt = time.Now()
	}
	if !c.evictLocked(n, e) {
		return false
	}
	c.bytes += n
	c.avail -= n
	return true
}

func (c *DataCache) unreserve(n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.bytes -= n
	c.avail += n
	c.mu.Unlock()
}

// evictLocked drops least recently used entries (not pinned, not open,
// not keep) until n more bytes fit under the limit and the free-space
// floor; it reports whether they do.
func (c *DataCache) evictLocked(n int64, keep *DataEntry) bool {
	fits := func() bool { return c.bytes+n <= c.limit && c.avail-n >= c.minFree }
	for el := c.lru.Back(); el != nil && !fits(); {
		prev := el.Prev()
		e := el.Value.(*DataEntry)
		e.mu.Lock()
		pinned := e.pinned
		e.mu.Unlock()
		if e != keep && !pinned && e.refs.Load() == 0 {
			b := e.bytes
			c.removeLocked(e, "evicted")
			c.avail += b
			c.counts.evictions.Add(1)
		}
		el = prev
	}
	return fits()
}

// meta is the header of a meta file.
type metaHeader struct {
	ID     string     `json:"id"`
	ETag   string     `json:"etag"`
	Size   int64      `json:"size"`
	Chunk  int64      `json:"chunk"`
	Pinned bool       `json:"pinned,omitempty"`
	Seal   *sealStamp `json:"seal,omitempty"`
}

const metaMagic = "ossmount-data-cache 1\n"

// saveLocked writes the meta file (atomically).
func (e *DataEntry) saveLocked() {
	if e.dropped {
		return
	}
	var b bytes.Buffer
	b.WriteString(metaMagic)
	h, _ := json.Marshal(metaHeader{ID: e.id, ETag: e.etag, Size: e.size, Chunk: e.c.chunk, Pinned: e.pinned, Seal: e.seal})
	b.Write(h)
	b.WriteByte('\n')
	binary.Write(&b, binary.LittleEndian, e.present)
	binary.Write(&b, binary.LittleEndian, e.crcs)
	binary.Write(&b, binary.LittleEndian, crc32.Checksum(b.Bytes(), castagnoli))
	_, meta := e.c.paths(e.hash)
	if err := os.Mkdir(filepath.Dir(meta), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return
	}
	tmp := meta + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		e.c.log.Warn("data cache: cannot write index", "path", tmp, "err", err)
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, meta); err != nil {
		os.Remove(tmp)
		return
	}
	e.dirty = 0
}

// load reads every meta file, deleting what is not a valid entry.
func (c *DataCache) load() {
	root := filepath.Join(c.dir, "objects")
	type found struct {
		e    *DataEntry
		used time.Time
	}
	var all []found
	subs, _ := os.ReadDir(root)
	for _, sd := range subs {
		dir := filepath.Join(root, sd.Name())
		if !sd.IsDir() || sd.Type()&os.ModeSymlink != 0 {
			os.Remove(dir)
			continue
		}
		files, _ := os.ReadDir(dir)
		metas := map[string]bool{}
		for _, f := range files {
			if h, ok := strings.CutSuffix(f.Name(), ".meta"); ok && f.Type().IsRegular() {
				metas[h] = true
			}
		}
		for _, f := range files {
			name := f.Name()
			p := filepath.Join(dir, name)
			switch {
			case strings.HasSuffix(name, ".meta") && f.Type().IsRegular():
				h := strings.TrimSuffix(name, ".meta")
				e, err := c.loadMeta(h, p)
				if err != nil {
					c.log.Warn("data cache: dropping an entry with a bad index", "path", p, "err", err)
					os.Remove(p)
					os.Remove(filepath.Join(dir, h+".data"))
					continue
				}
				info, _ := f.Info()
				all = append(all, found{e, info.ModTime()})
			case strings.HasSuffix(name, ".data") && f.Type().IsRegular() && metas[strings.TrimSuffix(name, ".data")]:
			default:
				os.Remove(p) // a temporary file, or data without an index
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.After(all[j].used) })
	for _, f := range all {
		if old := c.entries[f.e.id]; old != nil {
			continue
		}
		c.entries[f.e.id] = f.e
		f.e.elem = c.lru.PushBack(f.e)
		c.bytes += f.e.bytes
	}
}

func (c *DataCache) loadMeta(hash, p string) (*DataEntry, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if len(b) < len(metaMagic)+4 || !bytes.HasPrefix(b, []byte(metaMagic)) {
		return nil, errors.New("not an index file")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("index checksum mismatch (torn or corrupted)")
	}
	rest := body[len(metaMagic):]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return nil, errors.New("no header")
	}
	var h metaHeader
	if err := json.Unmarshal(rest[:nl], &h); err != nil {
		return nil, err
	}
	if h.Chunk != c.chunk || h.Size <= 0 || hashID(h.ID) != hash || h.ETag == "" {
		return nil, fmt.Errorf("header does not fit (chunk %d, size %d)", h.Chunk, h.Size)
	}
	e := newEntry(c, h.ID, hash, h.ETag, h.Size)
	rest = rest[nl+1:]
	if int64(len(rest)) != int64(len(e.present))*8+e.chunks*4 {
		return nil, errors.New("index length does not fit the size")
	}
	r := bytes.NewReader(rest)
	binary.Read(r, binary.LittleEndian, e.present)
	binary.Read(r, binary.LittleEndian, e.crcs)
	for i := int64(0); i < e.chunks; i++ {
		if e.has(i) {
			e.n++
			e.bytes += e.chunkLen(i)
		}
	}
	// Bits past the last chunk must be clear.
	if e.chunks%64 != 0 && e.present[len(e.present)-1]>>(e.chunks%64) != 0 {
		return nil, errors.New("index bitmap out of range")
	}
	data, _ := c.paths(hash)
	st, err := os.Lstat(data)
	if err != nil || !st.Mode().IsRegular() || st.Size() != h.Size {
		return nil, errors.New("data file missing or of the wrong size")
	}
	e.pinned, e.seal = h.Pinned, h.Seal
	return e, nil
}
