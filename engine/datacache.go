package engine

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
//   - Control: the virtual attribute user.oss.cache (cachectl.go; its
//     go-fuse side fs/cachexattr.go).
//
// Passthrough is in fs/passthrough.go.

import (
	"context"
	"sync"
	"syscall"

	"github.com/ossmount/ossmount/cache"
)

// DataID names key's object in the data cache (which several buckets and
// endpoints may share over time).
func (e *Engine) DataID(key string) string {
	return e.cfg.StoreID.Endpoint + "\n" + e.cfg.StoreID.Bucket + "\n" + key
}

// DropData forgets the cached data of key (its object changed here).
func (e *Engine) DropData(key string) {
	if e.cfg.DataCache != nil {
		e.cfg.DataCache.Drop(e.DataID(key))
	}
}

// OpenData returns the data cache entry for one version of key, or nil.
func (e *Engine) OpenData(key, etag string, size int64) *cache.DataEntry {
	if e.cfg.DataCache == nil {
		return nil
	}
	return e.cfg.DataCache.Open(e.DataID(key), etag, size)
}

// cacheRead serves a read from the data cache if it holds every byte.
func (r *Reader) cacheRead(dest []byte, off int64) (int, bool) {
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
func (r *Reader) cacheMiss() {
	if r.dc != nil {
		r.e.cfg.DataCache.CountMiss()
	}
}

// fill writes fetched bytes of the object at off into the data cache.
func (r *Reader) fill(off int64, b []byte) {
	if r.dc != nil && len(b) > 0 {
		r.dc.Fill(off, b)
	}
}

// FillData fetches every range of the version etag (of size bytes) of
// the object at key (read at n's key as it is renamed) that the data
// cache's entry lacks, a few parts at a time, into the entry (pinning a
// file). It returns the last failure (syscall.EINTR when the caller gave
// up waiting for memory).
func (e *Engine) FillData(ctx context.Context, n Named, key, etag string, size int64, entry *cache.DataEntry) error {
	r := &Reader{e: e, node: n, key: key, etag: etag, size: size, lastEnd: -1, dc: entry}
	part := e.cfg.PartSize
	type job struct{ off, n int64 }
	jobs := make(chan job)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure error
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := e.budget.Acquire(ctx, j.n); err != nil {
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
				e.budget.Release(j.n)
				if err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, rg := range entry.MissingRanges() {
		for off := rg[0]; off < rg[1]; off += part {
			mu.Lock()
			failed := failure != nil
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
