package fs

// Object metadata as extended attributes, the go-fuse side: the names,
// their checks, an object's metadata as xattrs see it and the changes are
// the engine's (engine/xattr.go); here are the node methods, which
// metadata a read is served from, and the buffers (a size probe, ERANGE).
//
// Reads are served from the attribute cache while it is fresh (a HEAD
// brought the metadata; a LIST brought the etag, last-modified,
// storage-class and object-type). A change is a self-copy with REPLACE made
// from a fresh HEAD, durable when the call returns; for a file with an
// upload still to come it is carried by that upload instead.

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ossmount/ossmount/engine"
)

// fileView returns a file's metadata: the pending upload's while a writer
// is attached, what was known of it once orphaned, else the namespace's
// (engine.Namespace.FileView: the cached attributes while fresh, else a
// HEAD's; with listedFact set, attributes from a LIST are enough when they
// hold that fact).
func (n *fileNode) fileView(ctx context.Context, listedFact string) (*engine.MetaView, syscall.Errno) {
	orphaned := n.orphaned()
	n.mu.Lock()
	if w := n.liveWriterLocked(); w != nil {
		v := w.XattrView()
		n.mu.Unlock()
		return v, 0
	}
	a := n.attr
	n.mu.Unlock()
	if orphaned {
		// Unlinked (or renamed over) while open: its key names nothing
		// of its own any more; show what was known of it.
		if a == nil || a.Facts() == nil {
			return engine.EmptyView(), 0
		}
		return engine.ViewOf(a.Facts()), 0
	}
	v, headed, err := n.fsys.ns.FileView(ctx, n.key(), listedFact)
	if err != nil {
		return nil, n.fsys.toErrno("head", err)
	}
	if headed != nil {
		n.setAttr(headed)
	}
	return v, 0
}

func (n *fileNode) isSymlink() bool { return n.StableAttr().Mode == syscall.S_IFLNK }

// applyXattr makes one change of a file's attributes.
func (n *fileNode) applyXattr(ctx context.Context, c engine.XattrChange) syscall.Errno {
	if errno := n.fsys.xattrAllowed(ctx, n, true); errno != 0 {
		return errno
	}
	if done, errno := n.changePending(ctx, c); done {
		return errno
	}
	if n.orphaned() {
		return syscall.ENOENT // no object left to carry the change
	}
	f := n.fsys
	return f.toErrno("setxattr", f.ns.ChangeFileXattr(ctx, f.eng, n.key(), c))
}

// changePending handles a file with a writer attached
// (engine.Namespace.ChangeWriterFileXattr: the change travels with the
// upload still to come, or is made on the object now). done is false
// when no writer is attached.
func (n *fileNode) changePending(ctx context.Context, c engine.XattrChange) (done bool, errno syscall.Errno) {
	n.mu.Lock()
	w := n.liveWriterLocked()
	if w == nil {
		n.mu.Unlock()
		return false, 0
	}
	// Holding w's lock keeps the writer attached: its last release
	// takes n.mu then w's lock before it uploads and detaches.
	w.Lock()
	n.mu.Unlock()
	defer w.Unlock()
	f := n.fsys
	return true, f.toErrno("setxattr", f.ns.ChangeWriterFileXattr(ctx, f.eng, w, c))
}

// dirView returns a directory's metadata from its marker object
// (engine.Namespace.DirView: cached while fresh when a HEAD brought it);
// empty for an implicit directory (no marker), the bucket root and a
// directory removed or replaced.
func (n *dirNode) dirView(ctx context.Context) (*engine.MetaView, syscall.Errno) {
	if n.orphaned() {
		return engine.EmptyView(), 0
	}
	v, err := n.fsys.ns.DirView(ctx, n.key(), n.IsRoot())
	if err != nil {
		return nil, n.fsys.toErrno("getxattr", err)
	}
	return v, 0
}

// applyXattr makes one change of a directory's attributes: it rewrites
// the marker's metadata, creating the marker of an implicit directory
// with the attributes the directory shows now
// (engine.Namespace.ChangeDirXattr).
func (n *dirNode) applyXattr(ctx context.Context, c engine.XattrChange) syscall.Errno {
	if n.orphaned() {
		return syscall.ENOENT
	}
	if errno := n.fsys.xattrAllowed(ctx, n, true); errno != 0 {
		return errno
	}
	key := n.key()
	if key == "" {
		return syscall.EPERM // the bucket root has no object to carry metadata
	}
	current := func(ctx context.Context) (*engine.Stat, error) {
		a, errno := n.attrs(ctx)
		if errno != 0 {
			return nil, errno
		}
		return a, nil
	}
	f := n.fsys
	return f.toErrno("setxattr", f.ns.ChangeDirXattr(ctx, f.eng, key, current, c))
}

// The xattr calls of files and directories share one code path; what
// differs is in xattrNode's methods.

// xattrNode is a file or a directory as the xattr calls see it.
type xattrNode interface {
	permNode
	// shareXattr answers user.oss.presign and post-policy (share.go).
	shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno)
	// cacheXattr answers a read of user.oss.cache (datacache.go).
	cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno)
	// xattrView is the node's metadata (listedFact: a fact a listing may
	// answer).
	xattrView(ctx context.Context, listedFact string) (*engine.MetaView, syscall.Errno)
	// setCacheXattr answers a set of user.oss.cache (datacache.go).
	setCacheXattr(ctx context.Context, data []byte) syscall.Errno
	// applyXattr makes one checked change (changeXattr).
	applyXattr(ctx context.Context, c engine.XattrChange) syscall.Errno
}

func (n *fileNode) xattrView(ctx context.Context, listedFact string) (*engine.MetaView, syscall.Errno) {
	return n.fileView(ctx, listedFact)
}

func (n *dirNode) xattrView(ctx context.Context, _ string) (*engine.MetaView, syscall.Errno) {
	return n.dirView(ctx)
}

func (n *fileNode) setCacheXattr(ctx context.Context, data []byte) syscall.Errno {
	return n.cacheControl(ctx, data) // pin, unpin, drop
}

func (n *fileNode) cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.cacheStatus(ctx, dest)
}

func (n *dirNode) cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.cacheSummary(ctx, dest)
}

func (n *dirNode) setCacheXattr(context.Context, []byte) syscall.Errno { return syscall.EISDIR }

var _ = (gofs.NodeGetxattrer)((*fileNode)(nil))
var _ = (gofs.NodeGetxattrer)((*dirNode)(nil))

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.getxattr(ctx, n, attr, dest)
}

func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.getxattr(ctx, n, attr, dest)
}

func (f *FS) getxattr(ctx context.Context, n xattrNode, attr string, dest []byte) (uint32, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	switch {
	case attr == xattrStats:
		return f.statsXattr(ctx, n.EmbeddedInode().StableAttr().Ino, dest)
	case attr == xattrCache:
		return n.cacheXattr(ctx, dest)
	case isShareXattr(attr): // share.go: user.oss.presign?..., user.oss.post-policy?...
		return n.shareXattr(ctx, attr, dest)
	}
	kind, k := engine.ParseXattr(attr)
	if err := engine.ReadErr(kind); err != nil {
		return 0, f.toErrno("getxattr", err)
	}
	if errno := f.xattrAllowed(ctx, n, false); errno != 0 {
		return 0, errno
	}
	listed := ""
	if engine.ListedFact(kind, k) {
		listed = k
	}
	v, errno := n.xattrView(ctx, listed)
	if errno != 0 {
		return 0, errno
	}
	val, err := v.Get(kind, k)
	if err != nil {
		return 0, f.toErrno("getxattr", err)
	}
	return copyXattr(dest, val)
}

var _ = (gofs.NodeListxattrer)((*fileNode)(nil))
var _ = (gofs.NodeListxattrer)((*dirNode)(nil))

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.isSymlink() {
		return 0, 0 // the kernel refuses user.* on symlinks
	}
	return n.fsys.listxattr(ctx, n, dest)
}

func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.listxattr(ctx, n, dest)
}

func (f *FS) listxattr(ctx context.Context, n xattrNode, dest []byte) (uint32, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	if errno := f.pathErrno(ctx, n.EmbeddedInode()); errno != 0 {
		return 0, errno
	}
	v, errno := n.xattrView(ctx, "")
	if errno != 0 {
		return 0, errno
	}
	return copyXattrList(dest, v.List())
}

var _ = (gofs.NodeSetxattrer)((*fileNode)(nil))
var _ = (gofs.NodeSetxattrer)((*dirNode)(nil))

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.fsys.setxattr(ctx, n, attr, data, flags)
}

func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.fsys.setxattr(ctx, n, attr, data, flags)
}

func (f *FS) setxattr(ctx context.Context, n xattrNode, attr string, data []byte, flags uint32) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if attr == xattrCache {
		return n.setCacheXattr(ctx, data)
	}
	if data == nil {
		data = []byte{}
	}
	return f.changeXattr(ctx, n, attr, data, flags)
}

var _ = (gofs.NodeRemovexattrer)((*fileNode)(nil))
var _ = (gofs.NodeRemovexattrer)((*dirNode)(nil))

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.fsys.removexattr(ctx, n, attr)
}

func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.fsys.removexattr(ctx, n, attr)
}

func (f *FS) removexattr(ctx context.Context, n xattrNode, attr string) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if attr == xattrCache {
		return syscall.EINVAL
	}
	return f.changeXattr(ctx, n, attr, nil, 0)
}

// changeXattr sets (value != nil) or removes one attribute of n.
func (f *FS) changeXattr(ctx context.Context, n xattrNode, attr string, value []byte, flags uint32) syscall.Errno {
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	c, err := engine.ParseXattrChange(attr, value, flags)
	if err != nil {
		return f.toErrno("setxattr", err)
	}
	return n.applyXattr(ctx, c)
}

// xattrAllowed checks, when the mount enforces permissions, that the
// caller may read or change the node's user.* attributes.
func (f *FS) xattrAllowed(ctx context.Context, n permNode, write bool) syscall.Errno {
	if !f.enforcing() || callerOf(ctx).Root() {
		return 0
	}
	a, errno := n.permAttr(ctx)
	if errno != 0 {
		return errno
	}
	return f.xattrErrno(ctx, n.EmbeddedInode(), a, write)
}

// copyXattr answers a getxattr with val: its size to a size probe (an
// empty dest), ERANGE when dest is too small.
func copyXattr(dest []byte, val string) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(val)), 0
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

// copyXattrList answers a listxattr with names, each ending in a NUL, as
// copyXattr answers a getxattr.
func copyXattrList(dest []byte, names []string) (uint32, syscall.Errno) {
	n := 0
	for _, s := range names {
		n += len(s) + 1
	}
	if len(dest) == 0 {
		return uint32(n), 0
	}
	if len(dest) < n {
		return uint32(n), syscall.ERANGE
	}
	i := 0
	for _, s := range names {
		i += copy(dest[i:], s)
		dest[i] = 0
		i++
	}
	return uint32(n), 0
}
