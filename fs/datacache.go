package fs

// The persistent data cache (-o data_cache=DIR, package cache's DataCache)
// as the file system uses it:
//
//   - Reads: a read of an open handle is served from the cache file when
//     every chunk it touches is there and passes its checksum; otherwise it
//     is fetched as usual, and what the GETs bring back (sequential parts,
//     random blocks) is written into the cache as it arrives.
//   - Validity: an entry belongs to one ETag. Every open takes the current
//     ETag from OSS (close-to-open: a HEAD, or what OSS said less than
//     open_fresh_ttl ago), and an entry of another version is dropped
//     there, so a changed object is never served from the cache once the
//     mount knows it changed.
//     An upload, unlink or rename by this mount drops the key's entry.
//   - Control: the virtual attribute user.oss.cache (never listed, never
//     sent to OSS):
//
//	getxattr(FILE, "user.oss.cache")  JSON: what the cache holds of the file
//	getxattr(DIR, "user.oss.cache")   JSON: the cache's numbers (DataCacheStats)
//	setxattr(FILE, "user.oss.cache", "pin")    fetch the whole file into the cache and keep it
//	setxattr(FILE, "user.oss.cache", "unpin")  let it be evicted again
//	setxattr(FILE, "user.oss.cache", "drop")   remove it from the cache
//
//     on a file, the caller must be allowed to read it (as for presign);
//     on a directory, to read and search it. Without a data cache: ENODATA
//     (get) and ENOTSUP (set).
//
// Passthrough is in passthrough.go.

import (
	"context"
	"encoding/json"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/cache"
)

const xattrCache = "user.oss.cache"

// dataID names key's object in the data cache (which several buckets and
// endpoints may share over time).
func (f *FS) dataID(key string) string {
	return f.cfg.Endpoint + "\n" + f.store.Bucket() + "\n" + key
}

// dropData forgets the cached data of key (its object changed here).
func (f *FS) dropData(key string) {
	if f.cfg.DataCache != nil {
		f.cfg.DataCache.Drop(f.dataID(key))
	}
}

// openData returns the data cache entry for one version of key, or nil.
func (f *FS) openData(key, etag string, size int64) *cache.DataEntry {
	if f.cfg.DataCache == nil {
		return nil
	}
	return f.cfg.DataCache.Open(f.dataID(key), etag, size)
}

// cacheRead serves a read from the data cache if it holds every byte.
func (r *reader) cacheRead(dest []byte, off int64) (int, bool) {
	if r.dc == nil || off >= r.size || len(dest) == 0 {
		return 0, false
	}
	n, ok := r.dc.ReadAt(dest, off)
	if !ok {
		r.cacheMiss()
		return 0, false
	}
	r.mu.Lock()
	r.lastEnd = off + int64(n)
	r.mu.Unlock()
	return n, true
}

// cacheMiss counts a read the data cache did not serve.
func (r *reader) cacheMiss() {
	if r.dc != nil {
		r.fsys.cfg.DataCache.CountMiss()
	}
}

// fill writes fetched bytes of the object at off into the data cache.
func (r *reader) fill(off int64, b []byte) {
	if r.dc != nil && len(b) > 0 {
		r.dc.Fill(off, b)
	}
}

// cacheStatus answers getxattr(FILE, user.oss.cache).
func (n *fileNode) cacheStatus(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	dc := n.fsys.cfg.DataCache
	if dc == nil {
		return 0, syscall.ENODATA
	}
	if n.orphaned() {
		return 0, syscall.ENOENT
	}
	a, errno := n.exactAttr(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, permRead); errno != 0 {
		return 0, errno
	}
	type answer struct {
		Key string `json:"key"`
		cache.EntryStatus
		Current bool `json:"current"` // the entry is of the version the mount knows
	}
	key := n.key()
	ans := answer{Key: key}
	if st, ok := dc.Status(n.fsys.dataID(key)); ok {
		ans.EntryStatus = st
		ans.Current = st.ETag == a.etag
	} else {
		ans.Size = a.size
		ans.ETag = a.etag
	}
	return answerShare(ctx, n.fsys, n.StableAttr().Ino, xattrCache, dest, func() (string, syscall.Errno) {
		b, _ := json.Marshal(ans)
		return string(b) + "\n", 0
	})
}

// cacheSummary answers getxattr(DIR, user.oss.cache).
func (n *dirNode) cacheSummary(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	dc := n.fsys.cfg.DataCache
	if dc == nil {
		return 0, syscall.ENODATA
	}
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, permRead|permExec); errno != 0 {
		return 0, errno
	}
	return answerShare(ctx, n.fsys, n.StableAttr().Ino, xattrCache, dest, func() (string, syscall.Errno) {
		b, _ := json.Marshal(dc.Stats())
		return string(b) + "\n", 0
	})
}

// cacheControl answers setxattr(FILE, user.oss.cache, pin|unpin|drop).
func (n *fileNode) cacheControl(ctx context.Context, value []byte) syscall.Errno {
	dc := n.fsys.cfg.DataCache
	if dc == nil {
		return syscall.ENOTSUP
	}
	op := string(value)
	if op != "pin" && op != "unpin" && op != "drop" {
		return syscall.EINVAL
	}
	if n.orphaned() {
		return syscall.ENOENT
	}
	if n.isPending() {
		return syscall.EBUSY
	}
	key := n.key()
	// The current version, from OSS (close-to-open, as for an open).
	a, errno := n.fsys.headFile(ctx, key)
	if errno != 0 {
		return errno
	}
	if a.isSymlink() {
		return syscall.EINVAL
	}
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, permRead); errno != 0 {
		return errno
	}
	uid := uint32(0)
	if c, ok := fuse.FromContext(ctx); ok {
		uid = c.Uid
	}
	switch op {
	case "drop":
		dc.Drop(n.fsys.dataID(key))
		n.fsys.log.Info("data cache: dropped", "key", key, "uid", uid)
		return 0
	case "unpin":
		if e := n.fsys.openData(key, a.etag, a.size); e != nil {
			e.SetPinned(false)
			e.Release()
		}
		return 0
	}
	if a.size == 0 {
		return 0
	}
	e := n.fsys.openData(key, a.etag, a.size)
	if e == nil {
		n.fsys.log.Warn("data cache: cannot pin a file larger than the cache", "key", key, "size", a.size, "limit", dc.Limit())
		return syscall.EFBIG
	}
	defer e.Release()
	e.SetPinned(true) // before filling: what is filled is not evicted
	if errno := n.prefetch(ctx, key, a, e); errno != 0 {
		e.SetPinned(false)
		return errno
	}
	if !e.Complete() {
		e.SetPinned(false)
		n.fsys.log.Warn("data cache: no room to pin", "key", key, "size", a.size)
		return syscall.ENOSPC
	}
	n.fsys.log.Info("data cache: pinned", "key", key, "size", a.size, "uid", uid)
	return 0
}

// prefetch fetches every range of the object the entry lacks, a few parts
// at a time, into the cache.
func (n *fileNode) prefetch(ctx context.Context, key string, a *attr, e *cache.DataEntry) syscall.Errno {
	r := &reader{fsys: n.fsys, node: n, key: key, etag: a.etag, size: a.size, lastEnd: -1, dc: e}
	part := n.fsys.cfg.PartSize
	type job struct{ off, n int64 }
	jobs := make(chan job)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure syscall.Errno
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := n.fsys.budget.Acquire(ctx, j.n); err != nil {
					mu.Lock()
					failure = syscall.EINTR
					mu.Unlock()
					continue
				}
				buf := make([]byte, j.n)
				_, err := r.fetch(ctx, buf, j.off)
				if err == nil {
					r.fill(j.off, buf)
				}
				n.fsys.budget.Release(j.n)
				if err != nil {
					mu.Lock()
					failure = n.fsys.toErrno("pin", err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, rg := range e.MissingRanges() {
		for off := rg[0]; off < rg[1]; off += part {
			mu.Lock()
			failed := failure != 0
			mu.Unlock()
			if failed {
				break
			}
			jobs <- job{off, min(part, rg[1]-off)}
		}
	}
	close(jobs)
	wg.Wait()
	return failure
}
