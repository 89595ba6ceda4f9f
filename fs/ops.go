package fs

// Namespace operations: create, mkdir, rmdir, unlink, symlink, link,
// statfs. Each changes the server before it returns, except that a file
// created here publishes nothing before its close (engine/writer.go).
// Renames are in rename.go (and engine.RenameFile, engine.RenameDir),
// setattr in setattr.go.

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

func (f *FS) checkWritable() syscall.Errno {
	if f.cfg.ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// newEntry checks that the caller may create name in n (a writable mount,
// a name OSS can hold, write permission on n) and returns the new entry's
// key, the caller and n's attributes.
func (n *dirNode) newEntry(ctx context.Context, name string, dir bool) (string, *engine.Caller, *engine.Stat, syscall.Errno) {
	if errno := n.fsys.checkWritable(); errno != 0 {
		return "", nil, nil, errno
	}
	key := n.childKey(name)
	if errno := keyErrno(name, key, dir); errno != 0 {
		return "", nil, nil, errno
	}
	who, pa, errno := n.fsys.dirWriteErrno(ctx, n)
	if errno != 0 {
		return "", nil, nil, errno
	}
	return key, who, pa, 0
}

var _ = (gofs.NodeCreater)((*dirNode)(nil))

func (n *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	key, who, pa, errno := n.newEntry(ctx, name, false)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	uid, gid, m := n.fsys.newOwner(who, pa, mode&0o7777, false)
	fn := &fileNode{fsys: n.fsys}
	fst := fn.state()
	fst.pending = true
	w, err := n.fsys.newWriter(fst, key, nil, true, &engine.Owner{UID: uid, GID: gid, Mode: syscall.S_IFREG | m})
	if err != nil {
		return nil, nil, 0, n.fsys.toErrno("create", err)
	}
	w.Ref()
	fst.ws = w
	fn.attr = attrOf(w.Attr())
	fst.pt.cached = 1 // the handle returned
	n.fsys.eng.Track(w, true)
	n.fsys.invalidate(key)
	n.fsys.mem.inodes.Add(1) // until OnForget
	ch := n.NewInode(ctx, fn, gofs.StableAttr{Mode: syscall.S_IFREG})
	n.fsys.fillEntry(out, fn.attr, pa)
	return ch, &fileHandle{node: fn, w: w, appendMode: flags&syscall.O_APPEND != 0, opener: callerProcess(ctx)}, writeOpenFlags(flags), 0
}

var _ = (gofs.NodeMkdirer)((*dirNode)(nil))

func (n *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	return n.makeEntry(ctx, "mkdir", name, syscall.S_IFDIR|mode&0o7777, 0, "", out, nil)
}

// makeEntry creates name in n as a new directory, special file or symlink
// (mode: its full st_mode; rdev: a device's number; body: a symlink's
// target) after newEntry's checks and, when set, allow's of the caller;
// its owner and set-group-ID bit follow the caller and n (newOwner).
func (n *dirNode) makeEntry(ctx context.Context, op, name string, mode, rdev uint32, body string, out *fuse.EntryOut, allow func(*engine.Caller) syscall.Errno) (*gofs.Inode, syscall.Errno) {
	dir := mode&syscall.S_IFMT == syscall.S_IFDIR
	key, who, pa, errno := n.newEntry(ctx, name, dir)
	if errno != 0 {
		return nil, errno
	}
	if allow != nil {
		if errno := allow(who); errno != 0 {
			return nil, errno
		}
	}
	uid, gid, perm := n.fsys.newOwner(who, pa, mode&0o7777, dir)
	if dir {
		key += "/"
	}
	a, err := n.fsys.ns.Create(ctx, key, engine.Entry{Mode: mode&syscall.S_IFMT | perm, UID: uid, GID: gid, Rdev: rdev}, body)
	if err != nil {
		return nil, n.fsys.toErrno(op, err)
	}
	ch := n.childInode(ctx, name, a)
	n.fsys.fillEntry(out, a, pa)
	return ch, 0
}

var _ = (gofs.NodeRmdirer)((*dirNode)(nil))

func (n *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if errno := n.fsys.removeErrno(ctx, n, name); errno != 0 {
		return errno
	}
	key := n.childKey(name) + "/"
	if ch := n.GetChild(name); ch != nil {
		if dn, ok := ch.Operations().(*dirNode); ok && len(dn.pendingNames()) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	return n.fsys.toErrno("rmdir", n.fsys.ns.RemoveDir(ctx, key))
}

// removeErrno checks that name may be removed from d: the mount is
// writable and, when it enforces permissions, the caller has write and
// search on d, and the sticky bit's rule allows it (only the owner of d or
// of the victim, or root).
func (f *FS) removeErrno(ctx context.Context, d *dirNode, name string) syscall.Errno {
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	if !f.enforcing() {
		return 0
	}
	who, da, errno := f.dirWriteErrno(ctx, d)
	if errno != 0 || da.Mode&syscall.S_ISVTX == 0 || who.Root() {
		return errno
	}
	victim, errno := d.childAttr(ctx, name)
	if errno != 0 {
		return errno
	}
	if who.Sticky(da, victim) {
		return syscall.EPERM
	}
	return 0
}

// childAttr returns the exact attributes of the child called name: its
// writer's while it is being written, else what OSS has.
func (d *dirNode) childAttr(ctx context.Context, name string) (*engine.Stat, syscall.Errno) {
	if ch := d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			if w := fn.writer(); w != nil {
				return attrOf(w.Attr()), 0
			}
		}
	}
	a, errno := d.fsys.lookupKey(ctx, d.key(), name)
	if errno != 0 {
		return nil, errno
	}
	return d.fsys.exact(ctx, d.childKey(name), a)
}

// exact returns a itself when its attributes are known, else the object's
// own (a HEAD of the file, or of the directory's marker).
func (f *FS) exact(ctx context.Context, key string, a *engine.Stat) (*engine.Stat, syscall.Errno) {
	if a.Known {
		return a, 0
	}
	if a.Dir {
		return f.headDir(ctx, key)
	}
	return f.headFile(ctx, key)
}

var _ = (gofs.NodeUnlinker)((*dirNode)(nil))

func (n *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	key := n.childKey(name)
	ctx, done := requestContext(ctx)
	defer done()
	if errno := n.fsys.removeErrno(ctx, n, name); errno != 0 {
		return errno
	}
	pending := false
	if ch := n.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			pending = fn.markUnlinked()
		}
	}
	if err := n.fsys.ns.RemoveFile(ctx, key, !pending); err != nil {
		return n.fsys.toErrno("unlink", err)
	}
	n.fsys.eng.DropData(key)
	return 0
}

// writer returns the node's write state, if any (nil for a nil node).
func (n *fileNode) writer() *engine.Writer {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.liveWriterLocked()
}

// markUnlinked stops any upload of the node (its name is gone: it is never
// uploaded, its streamed parts are aborted) and reports whether the object
// never reached the server.
func (n *fileNode) markUnlinked() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	pending := n.pendingLocked()
	st := n.st.Load()
	if st == nil {
		return false
	}
	if w := st.ws; w != nil {
		pending = !w.Unlink() && pending
	}
	st.pending = false
	return pending
}

var _ = (gofs.NodeSymlinker)((*dirNode)(nil))

func (n *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	return n.makeEntry(ctx, "symlink", name, syscall.S_IFLNK|0o777, 0, target, out, nil)
}

var _ = (gofs.NodeLinker)((*dirNode)(nil))

// Link is refused: objects cannot share content.
func (n *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

var _ = (gofs.NodeStatfser)((*dirNode)(nil))

// Statfs reports a large, mostly free filesystem: a bucket has no fixed size.
func (n *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 40 / 4096
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<30, 1<<30
	out.NameLen = 255
	return 0
}
