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
// (get) and ENOTSUP (set). The answers and the operations are the
// engine's (engine/cachectl.go); here are the checks of the caller and
// the node.

import (
	"context"
	"syscall"

	"github.com/ossmount/ossmount/engine"
)

const xattrCache = "user.oss.cache"

// cacheStatus answers getxattr(FILE, user.oss.cache).
func (n *fileNode) cacheStatus(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	f := n.fsys
	if f.cfg.DataCache == nil {
		return 0, syscall.ENODATA
	}
	if n.orphaned() {
		return 0, syscall.ENOENT
	}
	a, errno := n.exactAttr(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := f.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return 0, errno
	}
	val, err := f.eng.CacheStatus(n.key(), a)
	return answerShare(ctx, f, n.StableAttr().Ino, xattrCache, dest, func() (string, syscall.Errno) {
		return val, f.toErrno("cache", err)
	})
}

// cacheSummary answers getxattr(DIR, user.oss.cache).
func (n *dirNode) cacheSummary(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	f := n.fsys
	if f.cfg.DataCache == nil {
		return 0, syscall.ENODATA
	}
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := f.mayErrno(ctx, &n.Inode, a, engine.PermRead|engine.PermExec); errno != 0 {
		return 0, errno
	}
	return answerShare(ctx, f, n.StableAttr().Ino, xattrCache, dest, func() (string, syscall.Errno) {
		val, err := f.eng.CacheSummary()
		return val, f.toErrno("cache", err)
	})
}

// cacheControl answers setxattr(FILE, user.oss.cache, pin|unpin|drop).
func (n *fileNode) cacheControl(ctx context.Context, value []byte) syscall.Errno {
	f := n.fsys
	op, err := f.eng.CacheOp(value)
	if err != nil {
		return f.toErrno("cache", err)
	}
	if n.orphaned() {
		return syscall.ENOENT
	}
	if n.isPending() {
		return syscall.EBUSY
	}
	key := n.key()
	// The current version, from OSS (close-to-open, as for an open).
	a, errno := f.headFile(ctx, key)
	if errno != 0 {
		return errno
	}
	if a.IsSymlink() {
		return syscall.EINVAL
	}
	if errno := f.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return errno
	}
	return f.toErrno("pin", f.eng.CacheControl(ctx, op, n, key, a, callerUID(ctx)))
}
