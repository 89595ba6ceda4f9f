package fs

// Special files: FIFOs, character and block devices and unix sockets, stored
// as ossfs stores them: a zero-byte object whose x-oss-meta-mode carries
// the file type (S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK) with the permission
// bits, the usual x-oss-meta-uid/gid/mtime, and for a device its number in
// x-oss-meta-rdev (decimal, the kernel's encoding of st_rdev). The kernel
// serves them itself once it knows their type: a FIFO is a local pipe, a
// socket is bound locally, and device nodes do not open (the mount is
// nodev).

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

var _ = (gofs.NodeMknoder)((*dirNode)(nil))

func (n *dirNode) Mknod(ctx context.Context, name string, mode uint32, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	f := n.fsys
	if errno := f.checkWritable(); errno != 0 {
		return nil, errno
	}
	key := n.childKey(name)
	if errno := keyErrno(name, key, false); errno != 0 {
		return nil, errno
	}
	typ := mode & syscall.S_IFMT
	switch typ {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
		rdev = 0
	case syscall.S_IFCHR, syscall.S_IFBLK:
	case syscall.S_IFREG, 0:
		// mknod(2) of a regular file: an empty file.
		typ = syscall.S_IFREG
		rdev = 0
	default:
		return nil, syscall.EINVAL
	}
	who, pa, errno := f.dirWriteErrno(ctx, n)
	if errno != 0 {
		return nil, errno
	}
	if (typ == syscall.S_IFCHR || typ == syscall.S_IFBLK) && !who.Root() {
		return nil, syscall.EPERM // CAP_MKNOD (the kernel checks it too)
	}
	uid, gid, m := f.newOwner(who, pa, mode&0o7777, false)
	a, err := f.ns.Create(ctx, key, engine.Entry{Mode: typ | m, UID: uid, GID: gid, Rdev: rdev}, "")
	if err != nil {
		return nil, f.toErrno("mknod", err)
	}
	ch := n.childInode(ctx, name, a)
	f.fillEntry(out, a, pa)
	return ch, 0
}
