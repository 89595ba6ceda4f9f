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
		return nil, syscall.EINVAL // (the kernel refuses other types before asking)
	}
	return n.makeEntry(ctx, "mknod", name, typ|mode&0o7777, rdev, "", out, func(who *engine.Caller) syscall.Errno {
		if (typ == syscall.S_IFCHR || typ == syscall.S_IFBLK) && !who.Root() {
			return syscall.EPERM // CAP_MKNOD (the kernel checks it too)
		}
		return 0
	})
}
