package fs

// SETATTR of files and directories: chmod, chown, utimes and truncate. A
// file with a writer takes the change in its write state (its upload
// carries it); any other change is made on the server before it returns.

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

var _ = (gofs.NodeSetattrer)((*fileNode)(nil))

func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	f := n.fsys
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	c := setattrChange(in)
	size, hasSize := in.GetSize()
	if hasSize {
		if errno := sizeErrno(size); errno != 0 {
			return errno
		}
	}
	if errno := f.setattrAllowed(ctx, &n.Inode, n.exactAttr, fh, in, c.Mode); errno != 0 {
		return errno
	}
	if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 && c.Mode == nil {
		// A truncate or chown by an unprivileged caller: the mount clears
		// set-user-ID/set-group-ID (FUSE_HANDLE_KILLPRIV_V2).
		var cur fuse.AttrOut
		if errno := n.Getattr(ctx, fh, &cur); errno == 0 {
			if m, ok := engine.SUIDKilled(cur.Mode & 0o7777); ok {
				c.Mode = &m
			}
		}
	}
	if !hasSize && c.None() {
		return n.Getattr(ctx, fh, out)
	}
	w, temp, errno := n.writerFor(ctx, hasSize)
	if errno != 0 {
		return errno
	}
	if w != nil {
		return n.setattrWriter(ctx, fh, w, temp, c, size, hasSize, out)
	}
	if n.orphaned() {
		// fchmod/futimens of an unlinked file: nothing on the server
		// to change; the open descriptor shows the change.
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.attr == nil {
			return syscall.ENOENT
		}
		n.attr = c.Changed(n.attr)
		fillAttr(&out.Attr, n.attr)
		out.Nlink = 0
		return 0
	}
	// No writer: change the metadata in place.
	a2, _, errno := n.rewriteAttrs(ctx, c)
	if errno != 0 {
		return errno
	}
	n.setAttr(a2)
	fillAttr(&out.Attr, a2)
	return 0
}

// setattrWriter makes a setattr's changes through the file's writer w
// (temp: one made for a truncate, flushed and released here).
func (n *fileNode) setattrWriter(ctx context.Context, fh gofs.FileHandle, w *engine.Writer, temp bool, c engine.AttrChange, size uint64, hasSize bool, out *fuse.AttrOut) syscall.Errno {
	// A change by path (no handle) while the file's writer has nothing
	// left to upload (its last close already uploaded it; the release is
	// still on its way, or a descriptor is open but idle) is made on the
	// server before returning, like one with no writer at all. Not a
	// truncate to 0: open(O_TRUNC) sends that without a handle too, and
	// the file is then about to be written.
	byPathClean := !temp && fh == nil && !(hasSize && size == 0) && w.IsClean()
	if byPathClean && !hasSize {
		if errno, done := n.setattrCleanWriter(ctx, w, c, out); done {
			return errno
		}
	}
	if hasSize {
		if errno := n.fsys.toErrno("truncate", w.Truncate(ctx, int64(size))); errno != 0 {
			if temp {
				n.releaseWrite(ctx, w)
			}
			return errno
		}
	}
	w.SetMeta(c)
	if !temp && !byPathClean {
		fillAttr(&out.Attr, attrOf(w.Attr()))
		return 0
	}
	errno := n.fsys.toErrno("setattr", w.Flush(ctx))
	if temp {
		n.releaseWrite(ctx, w)
	}
	if errno != 0 {
		return errno
	}
	if byPathClean {
		fillAttr(&out.Attr, attrOf(w.Attr()))
		return 0
	}
	return n.Getattr(ctx, nil, out)
}

// setattrAllowed applies, when the mount enforces permissions, the rules
// of chmod, chown, utimes and truncate to the caller (it may clear S_ISGID
// from *mode); attrs gives the node's attributes, asked only then.
func (f *FS) setattrAllowed(ctx context.Context, in *gofs.Inode, attrs func(context.Context) (*engine.Stat, syscall.Errno), fh gofs.FileHandle, sin *fuse.SetAttrIn, mode *uint32) syscall.Errno {
	if !f.enforcing() || callerOf(ctx).Root() {
		return 0
	}
	if fh == nil {
		if errno := f.pathErrno(ctx, in); errno != 0 {
			return errno
		}
	}
	a, errno := attrs(ctx)
	if errno != 0 {
		return errno
	}
	return f.toErrno("setattr", callerOf(ctx).SetattrErr(a, setattrAsk(sin, mode, fh != nil)))
}

// setattrCleanWriter changes mode, owner or mtime on the server for a file
// whose writer has nothing to upload, and gives the writer the new
// metadata and version. done is false when the writer has changes after
// all (they are then applied with its upload).
func (n *fileNode) setattrCleanWriter(ctx context.Context, w *engine.Writer, c engine.AttrChange, out *fuse.AttrOut) (syscall.Errno, bool) {
	a, done, err := n.fsys.ns.ChangeCleanWriterAttrs(ctx, n.fsys.eng, w, n.key(), c)
	if !done || err != nil {
		return n.fsys.toErrno("setattr", err), done
	}
	fillAttr(&out.Attr, a)
	return 0, true
}

// rewriteAttrs applies mode, owner and mtime changes to the object in place
// (engine.Namespace.ChangeFileAttrs, from a fresh HEAD) and returns its
// new attributes and metadata.
func (n *fileNode) rewriteAttrs(ctx context.Context, c engine.AttrChange) (*engine.Stat, map[string]string, syscall.Errno) {
	f := n.fsys
	a, meta, err := f.ns.ChangeFileAttrs(ctx, f.eng, n.key(), c)
	return a, meta, f.toErrno("setattr", err)
}

// setattrChange is what a SETATTR asks to change (the size apart).
func setattrChange(in *fuse.SetAttrIn) engine.AttrChange {
	var c engine.AttrChange
	if m, ok := in.GetMode(); ok {
		c.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		c.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		c.GID = &g
	}
	if t, ok := in.GetMTime(); ok {
		c.Mtime = &t
	}
	return c
}

// writerFor returns the node's open writer, or when create is set a
// temporary one (temp) that the caller flushes and releases.
func (n *fileNode) writerFor(ctx context.Context, create bool) (w *engine.Writer, temp bool, errno syscall.Errno) {
	if w = n.writer(); w != nil {
		return w, false, 0
	}
	if !create {
		return nil, false, 0
	}
	w, errno = n.acquireWriter(ctx, false)
	return w, true, errno
}

var _ = (gofs.NodeSetattrer)((*dirNode)(nil))

// Setattr on a directory persists mode, owner and mtime on its marker,
// creating the marker of an implicit directory.
func (n *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f := n.fsys
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	ctx, done := requestContext(ctx)
	defer done()
	c := setattrChange(in)
	if c.None() {
		return n.Getattr(ctx, fh, out)
	}
	if n.IsRoot() {
		return syscall.EPERM
	}
	if n.orphaned() {
		return syscall.ENOENT // removed or replaced: no marker to change
	}
	key := n.key()
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return errno
	}
	have := func(context.Context) (*engine.Stat, syscall.Errno) { return a, 0 }
	if errno := f.setattrAllowed(ctx, &n.Inode, have, fh, in, c.Mode); errno != 0 {
		return errno
	}
	na, err := f.ns.ChangeDirAttrs(ctx, f.eng, key, a, c)
	if err != nil {
		return f.toErrno("setattr", err)
	}
	n.last.Store(na)
	fillAttr(&out.Attr, na)
	if f.enforcing() && na.Mode&0o111 != 0o111 {
		// Names the kernel keeps under the directory would let callers
		// past its new mode without asking: drop them.
		go func() {
			for name := range n.Children() {
				n.NotifyEntry(name)
			}
		}()
	}
	return 0
}
