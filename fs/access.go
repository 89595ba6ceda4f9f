package fs

// Permission checks made by the file system itself, the way the kernel
// makes them with default_permissions (generic_permission and the VFS
// rules for chmod, chown, utimes, sticky directories). They run for every
// caller when the mount is not given default_permissions (Config.
// CheckPermissions), and always for the sharing requests (a presigned URL
// or a POST policy is access the kernel knows nothing about).
//
// The caller is the FUSE request's uid, gid and pid; its supplementary
// groups are read from /proc/PID/status when a group decision needs them
// (a caller whose pid is not visible, in another pid namespace, has none).
// uid 0 is root: it may read and write anything, search any directory, and
// execute a file that has at least one execute bit.
//
// Every decision uses attributes known to be the object's own (see
// attr.known): a directory's from its marker or its absence, a file's from
// a HEAD or a cached HEAD of the same version.

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// Access wanted, as in access(2).
const (
	permRead  = 4
	permWrite = 2
	permExec  = 1
)

// fmodeExec is the open flag the kernel adds when it opens a file to
// execute it (__FMODE_EXEC).
const fmodeExec = 0o40

// who is the caller of a request. A nil *who is the file system itself
// (no FUSE caller): it may do anything.
type who struct {
	uid, gid uint32
	pid      uint32
	groups   []uint32 // supplementary groups, read on first use
	loaded   bool
}

// callerOf returns the request's caller, nil when there is none.
func callerOf(ctx context.Context) *who {
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return nil
	}
	return &who{uid: c.Uid, gid: c.Gid, pid: c.Pid}
}

// root reports whether w bypasses permission bits.
func (w *who) root() bool { return w == nil || w.uid == 0 }

// inGroup reports whether gid is w's group or one of its supplementary
// groups.
func (w *who) inGroup(gid uint32) bool {
	if w == nil {
		return true
	}
	if w.gid == gid {
		return true
	}
	if !w.loaded {
		w.groups, w.loaded = supplementaryGroups(w.pid), true
	}
	for _, g := range w.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// supplementaryGroups reads a process's groups from /proc/PID/status (none
// when the process is not visible to the daemon).
func supplementaryGroups(pid uint32) []uint32 {
	if pid == 0 {
		return nil
	}
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				out = append(out, uint32(n))
			}
		}
		return out
	}
	return nil
}

// may reports whether w may access an object with attributes a for all of
// want (permRead, permWrite, permExec), as generic_permission decides.
func (w *who) may(a *engine.Stat, want uint32) bool {
	if w == nil {
		return true
	}
	mode := a.Mode
	if w.uid == 0 {
		// Root reads, writes and searches anything; it executes a file
		// only when someone may.
		return want&permExec == 0 || a.Dir || mode&0o111 != 0
	}
	var bits uint32
	switch {
	case w.uid == a.UID:
		bits = mode >> 6
	case w.inGroup(a.GID):
		bits = mode >> 3
	default:
		bits = mode
	}
	return bits&7&want == want
}

// owns reports whether w may act as the owner of a (chmod, utimes to a
// given time): it is the owner, or root.
func (w *who) owns(a *engine.Stat) bool { return w.root() || w.uid == a.UID }

// sticky reports whether the sticky bit of dir keeps w from removing or
// replacing victim: only the owner of either, or root, may.
func (w *who) sticky(dir, victim *engine.Stat) bool {
	return dir.Mode&syscall.S_ISVTX != 0 && !w.root() && w.uid != dir.UID && w.uid != victim.UID
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
func (f *FS) searchErrno(ctx context.Context, w *who, d *dirNode) syscall.Errno {
	if w.root() {
		return 0
	}
	for ; d != nil; d = parentDir(&d.Inode) {
		a, errno := d.attrs(ctx)
		if errno != 0 {
			return errno
		}
		if !w.may(a, permExec) {
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
func (f *FS) dirWriteErrno(ctx context.Context, d *dirNode) (*who, *engine.Stat, syscall.Errno) {
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
	if !w.may(a, permWrite|permExec) {
		return w, a, syscall.EACCES
	}
	return w, a, 0
}

// openWant is the access an open with flags asks for.
func openWant(flags uint32) uint32 {
	var want uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		want = permRead
	case syscall.O_WRONLY:
		want = permWrite
	default:
		want = permRead | permWrite
	}
	if flags&syscall.O_TRUNC != 0 {
		want |= permWrite
	}
	if flags&fmodeExec != 0 {
		want |= permExec
	}
	return want
}

// setattrErrno applies the rules of chmod, chown, utimes and truncate to
// the caller w on an object with attributes a. withHandle says the change
// came through an open descriptor (ftruncate needs no permission: the
// descriptor's mode was checked at open). It may clear S_ISGID from *mode
// (chmod by a caller outside the file's group), as the kernel does.
func (w *who) setattrErrno(a *engine.Stat, in *fuse.SetAttrIn, mode *uint32, withHandle bool) syscall.Errno {
	if w.root() {
		return 0
	}
	owner := w.uid == a.UID
	if uid, ok := in.GetUID(); ok && !(owner && uid == a.UID) {
		return syscall.EPERM // only root gives a file away
	}
	gid, hasGID := in.GetGID()
	if hasGID && !(owner && (gid == a.GID || w.inGroup(gid))) {
		return syscall.EPERM // the owner may pick only one of its groups
	}
	if mode != nil {
		if !owner {
			return syscall.EPERM
		}
		g := a.GID
		if hasGID {
			g = gid
		}
		if *mode&syscall.S_ISGID != 0 && !w.inGroup(g) {
			*mode &^= syscall.S_ISGID
		}
	}
	const timesNow = fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW
	if in.Valid&(fuse.FATTR_ATIME|fuse.FATTR_MTIME) != 0 && !owner {
		explicit := in.Valid&fuse.FATTR_ATIME != 0 && in.Valid&fuse.FATTR_ATIME_NOW == 0 ||
			in.Valid&fuse.FATTR_MTIME != 0 && in.Valid&fuse.FATTR_MTIME_NOW == 0
		switch {
		case explicit:
			return syscall.EPERM // only the owner sets a time of its choosing
		case in.Valid&timesNow != 0 && !w.may(a, permWrite):
			return syscall.EACCES // "now" needs the owner or write permission
		}
	}
	if _, ok := in.GetSize(); ok && !withHandle && !w.may(a, permWrite) {
		return syscall.EACCES
	}
	return 0
}

// newOwner is the owner, group and extra mode bits of a new object made by
// w in a directory with attributes parent: the caller's uid and gid, or the
// directory's gid when it is set-group-ID (which a new directory inherits).
func (f *FS) newOwner(w *who, parent *engine.Stat, mode uint32, dir bool) (uid, gid, outMode uint32) {
	uid, gid = f.cfg.UID, f.cfg.GID
	if w != nil {
		uid, gid = w.uid, w.gid
	}
	outMode = mode
	if parent != nil && parent.Mode&syscall.S_ISGID != 0 {
		gid = parent.GID
		if dir {
			outMode |= syscall.S_ISGID
		}
	}
	if !dir && outMode&syscall.S_ISGID != 0 && w != nil && !w.root() && !w.inGroup(gid) {
		outMode &^= syscall.S_ISGID
	}
	return uid, gid, outMode
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
	if write && a.Dir && a.Mode&syscall.S_ISVTX != 0 && !w.owns(a) {
		return syscall.EPERM
	}
	want := uint32(permRead)
	if write {
		want = permWrite
	}
	if !w.may(a, want) {
		return syscall.EACCES
	}
	return 0
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
	if !w.may(a, want) {
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
