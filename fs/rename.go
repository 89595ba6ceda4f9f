package fs

// Renames of a file, and the checks every rename makes (a directory's
// objects are moved by the engine, engine.RenameDir, and its caches kept
// in step by the namespace, engine.Namespace.TreeCaches). A file open for
// writing publishes nothing: what the server has of it moves, and its
// writer follows.

import (
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ossmount/ossmount/engine"
)

var _ = (gofs.NodeRenamer)((*dirNode)(nil))

func (n *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	f := n.fsys
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	const renameNoreplace, renameExchange = 1, 2
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EINVAL
	}
	src, dst := n.childKey(name), np.childKey(newName)
	if errno := keyErrno(newName, dst, false); errno != 0 {
		return errno
	}
	// Only a dying caller cancels a rename (see interrupt.go); a
	// directory rename cut short undoes what it did (renameDir).
	ctx, done := requestContext(ctx)
	defer done()
	who, srcDir, errno := f.dirWriteErrno(ctx, n)
	if errno != 0 {
		return errno
	}
	_, dstDir, errno := f.dirWriteErrno(ctx, np)
	if errno != 0 {
		return errno
	}
	var fn *fileNode
	if ch := n.GetChild(name); ch != nil {
		fn, _ = ch.Operations().(*fileNode)
	}
	sa, errno := f.renameSource(ctx, n, np, name, fn, who, srcDir)
	if errno != 0 {
		return errno
	}
	// The file at dst, if open for writing here (perhaps not on the
	// server yet: its writer's view is the file).
	var victim *fileNode
	if ch := np.GetChild(newName); ch != nil {
		if old, ok := ch.Operations().(*fileNode); ok && old != fn {
			victim = old
		}
	}
	f.ns.MayExist(dst)
	var da *engine.Stat
	dstObject := false // an object is at dst on the server
	if vw := victim.writer(); vw != nil {
		da, dstObject = attrOf(vw.Attr()), !victim.localOnly()
	} else if da, errno = f.lookupKey(ctx, np.key(), newName); errno != 0 && errno != syscall.ENOENT {
		return errno
	} else {
		dstObject = da != nil
	}
	if da != nil {
		if flags&renameNoreplace != 0 {
			return syscall.EEXIST
		}
		if errno := f.replaceErrno(ctx, sa, da, dst, who, dstDir); errno != 0 {
			return errno
		}
	}
	if sa.Dir {
		if strings.HasPrefix(dst+"/", src+"/") {
			return syscall.EINVAL
		}
		return f.renameDir(ctx, src+"/", dst+"/", da != nil)
	}
	// The file renamed over, if still open for writing, has no name once
	// the rename is done: it must never be uploaded over the new content.
	if errno := f.renameFile(ctx, fn, src, dst, victim.writer(), dstObject); errno != 0 {
		return errno
	}
	if victim != nil {
		victim.markUnlinked()
	}
	return 0
}

// renameSource returns the attributes of the entry name of n to be moved
// into np (an open writer's view when it is open for writing) and, when
// the mount enforces permissions, checks that the caller may move it.
func (f *FS) renameSource(ctx context.Context, n, np *dirNode, name string, fn *fileNode, who *engine.Caller, srcDir *engine.Stat) (*engine.Stat, syscall.Errno) {
	var sa *engine.Stat
	var errno syscall.Errno
	if w := fn.writer(); w != nil {
		// Open for writing, perhaps not on the server yet: its writer's
		// view is the file.
		sa = attrOf(w.Attr())
	} else if sa, errno = f.lookupKey(ctx, n.key(), name); errno != 0 {
		return nil, errno
	}
	if !f.enforcing() || who.Root() {
		return sa, 0
	}
	if sa, errno = f.exact(ctx, n.childKey(name), sa); errno != 0 {
		return nil, errno
	}
	if who.Sticky(srcDir, sa) {
		return nil, syscall.EPERM
	}
	// Moving a directory elsewhere rewrites its "..": it needs write
	// permission on the directory itself.
	if sa.Dir && np != n && !who.May(sa, engine.PermWrite) {
		return nil, syscall.EACCES
	}
	return sa, 0
}

// replaceErrno checks that the entry sa may replace da at dst: the sticky
// bit of dst's directory, the kinds of both, an empty directory.
func (f *FS) replaceErrno(ctx context.Context, sa, da *engine.Stat, dst string, who *engine.Caller, dstDir *engine.Stat) syscall.Errno {
	if f.enforcing() && dstDir.Mode&syscall.S_ISVTX != 0 && !who.Root() {
		var errno syscall.Errno
		if da, errno = f.exact(ctx, dst, da); errno != 0 {
			return errno
		}
		if who.Sticky(dstDir, da) {
			return syscall.EPERM
		}
	}
	switch {
	case sa.Dir && !da.Dir:
		return syscall.ENOTDIR
	case !sa.Dir && da.Dir:
		return syscall.EISDIR
	case da.Dir:
		return f.toErrno("rename", f.ns.EmptyDir(ctx, dst+"/"))
	}
	return 0
}

// renameFile moves the file at src to dst: a copy on the server, then a
// delete. A file open for writing publishes nothing: what the server has
// of it (its base, the object it was opened over or last uploaded) moves
// like the object of a file nobody writes, and the writer follows with its
// pending bytes, uploaded at dst by the close (engine.RenameFile). A file
// not on the server yet only changes its name: no request but the abort of
// its streamed upload. The writer of the file at dst (vw), if any, is held
// for the whole rename (its close waits) and made nameless before it is
// released, so that it never completes an upload over the object renamed
// in. replaced says an object is at dst.
func (f *FS) renameFile(ctx context.Context, fn *fileNode, src, dst string, vw *engine.Writer, replaced bool) syscall.Errno {
	w := fn.writer()
	pending := fn.isPending()
	local, errno := f.renameFileLocked(ctx, w, pending, src, dst, vw)
	if errno == 0 && local && replaced {
		// The object at dst stays until the close replaces it; an
		// unlink before then must delete it.
		fn.tookName()
	}
	return errno
}

// renameFileLocked moves the file (engine.RenameFile) and keeps the
// caches in step; local reports that w's file had no object on the server
// (only its name moved).
func (f *FS) renameFileLocked(ctx context.Context, w *engine.Writer, pending bool, src, dst string, vw *engine.Writer) (local bool, errno syscall.Errno) {
	mv, err := f.eng.RenameFile(ctx, w, vw, pending, src, dst)
	if err != nil {
		return false, f.toErrno("rename", err)
	}
	f.ns.FileRenamed(src, dst, mv)
	f.eng.DropData(src)
	f.eng.DropData(dst)
	return mv.Local, 0
}

// localOnly reports whether the node is a file created here that has not
// reached the server.
func (n *fileNode) localOnly() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.st.Load()
	if st == nil {
		return false
	}
	if w := st.ws; st.pending && w != nil {
		return !w.Published()
	}
	return st.pending
}

// tookName notes that a file created here, not yet on the server, was
// renamed over an object: that object is at the file's key until the
// close replaces it, so the file is no longer only local (an unlink
// deletes it; a failed upload leaves it as the file).
func (n *fileNode) tookName() {
	n.mu.Lock()
	if st := n.st.Load(); st != nil {
		st.pending = false
	}
	n.mu.Unlock()
}

// renameDir moves every object under src to dst (engine.RenameDir), the
// cached attributes following them (engine.Namespace.TreeCaches).
func (f *FS) renameDir(ctx context.Context, src, dst string, dstExisted bool) syscall.Errno {
	return f.toErrno("rename", f.eng.RenameDir(ctx, src, dst, dstExisted, f.ns.TreeCaches(src, dst)))
}
