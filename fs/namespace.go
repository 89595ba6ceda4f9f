package fs

// The adapter's side of the namespace (engine.Namespace: lookups,
// attributes, their caches, listings): its errors mapped to errnos, under
// the names the node methods use.

import (
	"context"
	"syscall"

	"github.com/ossmount/ossmount/engine"
)

// lookupKey is engine.Namespace.Lookup with its error as an errno.
func (f *FS) lookupKey(ctx context.Context, parentKey, name string) (*engine.Stat, syscall.Errno) {
	a, err := f.ns.Lookup(ctx, parentKey, name)
	return a, f.toErrno("lookup", err)
}

// headFile refreshes a file's attributes with a HEAD
// (engine.Namespace.HeadFile).
func (f *FS) headFile(ctx context.Context, key string) (*engine.Stat, syscall.Errno) {
	a, err := f.ns.HeadFile(ctx, key)
	return a, f.toErrno("head", err)
}

// headDir learns a directory's attributes from its marker (name + "/";
// engine.Namespace.HeadDir).
func (f *FS) headDir(ctx context.Context, name string) (*engine.Stat, syscall.Errno) {
	a, err := f.ns.HeadDir(ctx, name)
	return a, f.toErrno("getattr", err)
}

// listDir lists dirKey for the directory inode owner (nil: none; the
// listing is dropped with the inode, see dirNode.OnForget).
func (f *FS) listDir(ctx context.Context, dirKey string, owner *dirNode) (*engine.Listing, syscall.Errno) {
	var o any
	if owner != nil {
		o = owner
	}
	l, err := f.ns.ListDir(ctx, dirKey, o)
	return l, f.toErrno("readdir", err)
}

// cachedAttr returns what the caches know of key while fresh
// (engine.Namespace.Cached).
func (f *FS) cachedAttr(key string) (*engine.Stat, bool) { return f.ns.Cached(key) }

// invalidate forgets cached knowledge of key; its parent's listing stops
// speaking for it (engine.Namespace.Invalidate).
func (f *FS) invalidate(key string) { f.ns.Invalidate(key) }

// noteListed counts the entries of the listings being read for the memory
// limit (engine.NamespaceConfig.Listed).
func (f *FS) noteListed(delta int64) {
	f.mem.listing.Add(delta)
	if delta >= 0 {
		f.setMemoryLimit()
	}
}
