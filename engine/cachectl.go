package engine

// Control of the persistent data cache through the virtual attribute
// user.oss.cache (fs/cachexattr.go documents it; package fs checks the
// caller and the node): what the cache holds of a file, its numbers, and
// pin, unpin, drop.

import (
	"context"
	"encoding/json"
	"syscall"

	"github.com/ossmount/ossmount/cache"
)

// CacheStatus is the answer to a read of user.oss.cache on the file at
// key whose current attributes are a: what the cache holds of it, in JSON
// (ENODATA without a data cache).
func (e *Engine) CacheStatus(key string, a *Stat) (string, error) {
	dc := e.cfg.DataCache
	if dc == nil {
		return "", syscall.ENODATA
	}
	type answer struct {
		Key string `json:"key"`
		cache.EntryStatus
		Current bool `json:"current"` // the entry is of the version the mount knows
	}
	ans := answer{Key: key}
	if st, ok := dc.Status(e.DataID(key)); ok {
		ans.EntryStatus = st
		ans.Current = st.ETag == a.ETag
	} else {
		ans.Size = a.Size
		ans.ETag = a.ETag
	}
	b, _ := json.Marshal(ans)
	return string(b) + "\n", nil
}

// CacheSummary is the answer to a read of user.oss.cache on a directory:
// the cache's numbers (cache.DataCacheStats) in JSON (ENODATA without a
// data cache).
func (e *Engine) CacheSummary() (string, error) {
	dc := e.cfg.DataCache
	if dc == nil {
		return "", syscall.ENODATA
	}
	b, _ := json.Marshal(dc.Stats())
	return string(b) + "\n", nil
}

// CacheOp is what a set of user.oss.cache asks: "pin", "unpin" or
// "drop", checked before anything else: ENOTSUP without a data cache,
// EINVAL for another value.
func (e *Engine) CacheOp(value []byte) (string, error) {
	if e.cfg.DataCache == nil {
		return "", syscall.ENOTSUP
	}
	op := string(value)
	if op != "pin" && op != "unpin" && op != "drop" {
		return "", syscall.EINVAL
	}
	return op, nil
}

// CacheControl does op (CacheOp's) for the caller uid on the file n at
// key, whose current version (a fresh HEAD's) a describes: drop removes
// its entry; unpin lets it be evicted again; pin fetches every byte the
// cache lacks and keeps the entry (EFBIG when the file is larger than the
// cache, ENOSPC when the cache has no room for it).
func (e *Engine) CacheControl(ctx context.Context, op string, n Named, key string, a *Stat, uid uint32) error {
	dc := e.cfg.DataCache
	switch op {
	case "drop":
		dc.Drop(e.DataID(key))
		e.log.Info("data cache: dropped", "key", key, "uid", uid)
		return nil
	case "unpin":
		if entry := e.OpenData(key, a.ETag, a.Size); entry != nil {
			entry.SetPinned(false)
			entry.Release()
		}
		return nil
	}
	if a.Size == 0 {
		return nil
	}
	entry := e.OpenData(key, a.ETag, a.Size)
	if entry == nil {
		e.log.Warn("data cache: cannot pin a file larger than the cache", "key", key, "size", a.Size, "limit", dc.Limit())
		return syscall.EFBIG
	}
	defer entry.Release()
	entry.SetPinned(true) // before filling: what is filled is not evicted
	if err := e.FillData(ctx, n, key, a.ETag, a.Size, entry); err != nil {
		entry.SetPinned(false)
		return err
	}
	if !entry.Complete() {
		entry.SetPinned(false)
		e.log.Warn("data cache: no room to pin", "key", key, "size", a.Size)
		return syscall.ENOSPC
	}
	e.log.Info("data cache: pinned", "key", key, "size", a.Size, "uid", uid)
	return nil
}
