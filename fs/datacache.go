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
//   - Control: the virtual attribute user.oss.cache (cachexattr.go).
//
// Passthrough is in passthrough.go.

import "github.com/ossmount/ossmount/cache"

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
