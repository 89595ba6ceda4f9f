package fs

// Control of the persistent data cache (datacache.go) through the virtual
// attribute user.oss.cache (never listed, never sent to OSS):
//
//	getxattr(FILE, "user.oss.cache")  JSON: what the cache holds of the file
//	getxattr(DIR, "user.oss.cache")   JSON: the cache's numbers (DataCacheStats)
//	setxattr(FILE, "user.oss.cache", "pin")    fetch the whole file into the cache and keep it
//	setxattr(FILE, "user.oss.cache", "unpin")  let it be evicted again
//	setxattr(FILE, "user.oss.cache", "drop")   remove it from the cache
//
// On a file, the caller must be allowed to read it (as for presign);
// on a directory, to read and search it. Without a data cache: ENODATA
// (get) and ENOTSUP (set).

import (
	"context"
	"encoding/json"
	"syscall"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/engine"
)

const xattrCache = "user.oss.cache"

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
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return 0, errno
	}
	type answer struct {
		Key string `json:"key"`
		cache.EntryStatus
		Current bool `json:"current"` // the entry is of the version the mount knows
	}
	key := n.key()
	ans := answer{Key: key}
	if st, ok := dc.Status(n.fsys.eng.DataID(key)); ok {
		ans.EntryStatus = st
		ans.Current = st.ETag == a.ETag
	} else {
		ans.Size = a.Size
		ans.ETag = a.ETag
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
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, engine.PermRead|engine.PermExec); errno != 0 {
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
	if a.IsSymlink() {
		return syscall.EINVAL
	}
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return errno
	}
	uid := callerUID(ctx)
	switch op {
	case "drop":
		dc.Drop(n.fsys.eng.DataID(key))
		n.fsys.log.Info("data cache: dropped", "key", key, "uid", uid)
		return 0
	case "unpin":
		if e := n.fsys.eng.OpenData(key, a.ETag, a.Size); e != nil {
			e.SetPinned(false)
			e.Release()
		}
		return 0
	}
	if a.Size == 0 {
		return 0
	}
	e := n.fsys.eng.OpenData(key, a.ETag, a.Size)
	if e == nil {
		n.fsys.log.Warn("data cache: cannot pin a file larger than the cache", "key", key, "size", a.Size, "limit", dc.Limit())
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
		n.fsys.log.Warn("data cache: no room to pin", "key", key, "size", a.Size)
		return syscall.ENOSPC
	}
	n.fsys.log.Info("data cache: pinned", "key", key, "size", a.Size, "uid", uid)
	return 0
}

// prefetch fetches every range of the object the entry lacks into the
// cache (engine.FillData).
func (n *fileNode) prefetch(ctx context.Context, key string, a *engine.Stat, e *cache.DataEntry) syscall.Errno {
	return n.fsys.toErrno("pin", n.fsys.eng.FillData(ctx, n, key, a.ETag, a.Size, e))
}
