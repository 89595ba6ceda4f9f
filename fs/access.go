package fs

// Permission checks as the go-fuse side makes them: the caller of a FUSE
// request (engine.Caller: uid, gid, and supplementary groups from
// /proc/PID/status), the search permission of every directory on a path
// (a walk up go-fuse's inode tree), and errnos. The rules themselves are
// the engine's (engine/access.go: generic_permission, chmod, chown,
// utimes, truncate, sticky and set-group-ID directories). They run for
// every caller when the mount is not given default_permissions (Config.
// CheckPermissions), and always for the sharing requests (a presigned URL
// or a POST policy is access the kernel knows nothing about).
//
// Every decision uses attributes known to be the object's own (see
// engine.Stat.Known): a directory's from its marker or its absence, a
// file's from a HEAD or a cached HEAD of the same version.

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// callerOf returns the request's caller, nil when there is none.
func callerOf(ctx context.Context) *engine.Caller {
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return nil
	}
	return engine.NewCaller(c.Uid, c.Gid, c.Pid)
}

// enforcing reports whether the file system checks permissions itself
// (the mount was not given default_permissions).
func (f *FS) enforcing() bool { return f.cfg.CheckPermissions }

// parentDir returns the directory holding in (nil for the root or a node
// with no name any more).
func parentDir(in *gofs.Inode) *dirNode {
	if in.IsRoot() {
		return nil
	}
	_, p := in.Parent()
	if p == nil {
		return nil
	}
	d, _ := p.Operations().(*dirNode)
	return d
}

// searchErrno checks that w may search d and every directory above it.
func (f *FS) searchErrno(ctx context.Context, w *engine.Caller, d *dirNode) syscall.Errno {
	if w.Root() {
		return 0
	}
	for ; d != nil; d = parentDir(&d.Inode) {
		a, errno := d.attrs(ctx)
		if errno != 0 {
			return errno
		}
		if !w.May(a, engine.PermExec) {
			return syscall.EACCES
		}
	}
	return 0
}

// pathErrno checks, when the mount enforces permissions, that the caller
// may search every directory above in (the way a path walk would).
func (f *FS) pathErrno(ctx context.Context, in *gofs.Inode) syscall.Errno {
	if !f.enforcing() {
		return 0
	}
	return f.searchErrno(ctx, callerOf(ctx), parentDir(in))
}

// dirWriteErrno checks, when the mount enforces permissions, that the
// caller may add or remove names in d: search on the path, write and
// search on d. It returns the caller and d's attributes for further rules.
func (f *FS) dirWriteErrno(ctx context.Context, d *dirNode) (*engine.Caller, *engine.Stat, syscall.Errno) {
	w := callerOf(ctx)
	a, errno := d.attrs(ctx)
	if errno != 0 {
		return w, nil, errno
	}
	if !f.enforcing() {
		return w, a, 0
	}
	if errno := f.searchErrno(ctx, w, parentDir(&d.Inode)); errno != 0 {
		return w, a, errno
	}
	if !w.May(a, engine.PermWrite|engine.PermExec) {
		return w, a, syscall.EACCES
	}
	return w, a, 0
}

// setattrAsk is what a SETATTR asks, as the permission rules see it
// (mode: the mode it sets, from which the rules may clear S_ISGID).
func setattrAsk(in *fuse.SetAttrIn, mode *uint32, withHandle bool) engine.SetattrAsk {
	r := engine.SetattrAsk{Mode: mode, WithHandle: withHandle}
	if u, ok := in.GetUID(); ok {
		r.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		r.GID = &g
	}
	r.Atime = timeSet(in, fuse.FATTR_ATIME, fuse.FATTR_ATIME_NOW)
	r.Mtime = timeSet(in, fuse.FATTR_MTIME, fuse.FATTR_MTIME_NOW)
	_, r.Size = in.GetSize()
	return r
}

// timeSet is how a SETATTR sets one time (set: its FATTR_ bit, now: its
// FATTR_..._NOW bit).
func timeSet(in *fuse.SetAttrIn, set, now uint32) engine.TimeSet {
	switch {
	case in.Valid&set == 0:
		return engine.TimeKept
	case in.Valid&now != 0:
		return engine.TimeNow
	}
	return engine.TimeGiven
}

// newOwner is the owner, group and mode of a new object made by w in a
// directory with attributes parent (engine.Caller.NewOwner; the mount's
// owner when there is no caller).
func (f *FS) newOwner(w *engine.Caller, parent *engine.Stat, mode uint32, dir bool) (uid, gid, outMode uint32) {
	return w.NewOwner(engine.Owner{UID: f.cfg.UID, GID: f.cfg.GID}, parent, mode, dir)
}

// xattrErrno checks, when the mount enforces permissions, that the caller
// may read (getxattr) or change (setxattr, removexattr) the user.*
// attributes of a node with exact attributes a: search on the path, then
// read or write permission, and on a sticky directory only its owner (or
// root) changes them.
func (f *FS) xattrErrno(ctx context.Context, in *gofs.Inode, a *engine.Stat, write bool) syscall.Errno {
	if !f.enforcing() {
		return 0
	}
	w := callerOf(ctx)
	if errno := f.searchErrno(ctx, w, parentDir(in)); errno != 0 {
		return errno
	}
	return f.toErrno("xattr", w.XattrErr(a, write))
}

// nodeErrno checks, when the mount enforces permissions, that the caller
// may search the path to in and access it (attributes a) for want.
func (f *FS) nodeErrno(ctx context.Context, in *gofs.Inode, a *engine.Stat, want uint32) syscall.Errno {
	if !f.enforcing() {
		return 0
	}
	return f.mayErrno(ctx, in, a, want)
}

// mayErrno checks that the caller may search the path to in and access it
// (attributes a) for want, whether or not the mount enforces permissions.
// It answers access(2), which the kernel sends only without
// default_permissions, and the sharing requests, of which the kernel knows
// nothing: a presigned URL wants read, a POST policy write and search, on
// exact attributes.
func (f *FS) mayErrno(ctx context.Context, in *gofs.Inode, a *engine.Stat, want uint32) syscall.Errno {
	w := callerOf(ctx)
	if errno := f.searchErrno(ctx, w, parentDir(in)); errno != 0 {
		return errno
	}
	if !w.May(a, want) {
		return syscall.EACCES
	}
	return 0
}

// permNode is a file or a directory as permission checks see it.
type permNode interface {
	gofs.InodeEmbedder
	// permAttr is the attributes a permission decision takes (exact
	// ones for a file).
	permAttr(ctx context.Context) (*engine.Stat, syscall.Errno)
}

func (n *fileNode) permAttr(ctx context.Context) (*engine.Stat, syscall.Errno) {
	return n.exactAttr(ctx)
}

func (n *dirNode) permAttr(ctx context.Context) (*engine.Stat, syscall.Errno) { return n.attrs(ctx) }

// access answers access(2) on n (sent only without default_permissions).
func (f *FS) access(ctx context.Context, n permNode, mask uint32) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	a, errno := n.permAttr(ctx)
	if errno != 0 {
		return errno
	}
	return f.mayErrno(ctx, n.EmbeddedInode(), a, mask&7) // R_OK, W_OK, X_OK; F_OK is 0
}
