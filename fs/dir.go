package fs

import (
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// dirNode is a directory: a key prefix ending in "/" (or the mount's root).
type dirNode struct {
	gofs.Inode
	fsys    *FS
	last    atomic.Pointer[engine.Stat] // the attributes last known: kept when it has no name, or OSS cannot be asked
	listKey atomic.Pointer[string]      // the key its last listing is cached under
}

var _ = (gofs.NodeOnForgetter)((*dirNode)(nil))

// OnForget drops the directory's listing with its inode: the kernel has
// forgotten every entry in it (nothing holds them), and the listing is
// the largest thing kept for them.
func (n *dirNode) OnForget() {
	if n.IsRoot() {
		return
	}
	f := n.fsys
	f.mem.inodes.Add(-1)
	if k := n.listKey.Load(); k != nil {
		f.ns.Forget(*k, n)
	}
}

// orphaned reports whether the directory has no name any more (removed, or
// replaced by a rename) while the kernel still holds it (an open
// descriptor). Its key() would then be the mount prefix.
func (n *dirNode) orphaned() bool { return !n.IsRoot() && n.Path(nil) == "" }

// key is the directory's key prefix: "" or the mount prefix for the root,
// else "path/to/dir/".
func (n *dirNode) key() string {
	p := n.Path(nil)
	if p == "" {
		return n.fsys.cfg.Prefix
	}
	return n.fsys.cfg.Prefix + p + "/"
}

// childKey is the object key of the child called name.
func (n *dirNode) childKey(name string) string { return n.key() + name }

// attrs returns the directory's attributes, exact: the cached ones while
// fresh, else its marker's (one HEAD; no marker: the mount's defaults).
// Known attributes are never replaced by defaults: if OSS cannot be asked,
// the last known ones are used.
func (n *dirNode) attrs(ctx context.Context) (*engine.Stat, syscall.Errno) {
	f := n.fsys
	if n.IsRoot() {
		return f.ns.Root(), 0
	}
	if n.orphaned() {
		if a := n.last.Load(); a != nil {
			return a, 0
		}
		return f.ns.ImplicitDir(), 0
	}
	name := strings.TrimSuffix(n.key(), "/")
	if a, ok := f.cachedAttr(name); ok && a.Dir && a.Known {
		n.last.Store(a)
		return a, 0
	}
	a, errno := f.headDir(ctx, name)
	if errno != 0 {
		if last := n.last.Load(); last != nil && last.Known {
			f.log.Warn("directory attributes not refreshed: showing the last known", "dir", name, "errno", errno.Error())
			return last, 0
		}
		return nil, errno
	}
	n.last.Store(a)
	return a, 0
}

var _ = (gofs.NodeGetattrer)((*dirNode)(nil))

func (n *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if fh == nil {
		if errno := n.fsys.pathErrno(ctx, &n.Inode); errno != 0 {
			return errno
		}
	}
	a, errno := n.shownAttrs(ctx)
	if errno != 0 {
		return errno
	}
	fillAttr(&out.Attr, a)
	if n.orphaned() {
		out.Nlink = 0
	}
	if !a.Known {
		out.SetTimeout(n.fsys.guessTimeout())
	}
	return 0
}

// shownAttrs is what stat shows of the directory: with fast_listing the
// guess a listing or a lookup's LIST gave while it is fresh, as for a file
// (no HEAD of the marker: `ls -l dir` costs its LISTs alone); else, and
// for every permission decision, attrs.
func (n *dirNode) shownAttrs(ctx context.Context) (*engine.Stat, syscall.Errno) {
	f := n.fsys
	if f.cfg.FastListing && !n.IsRoot() && !n.orphaned() {
		if a, ok := f.cachedAttr(strings.TrimSuffix(n.key(), "/")); ok && a.Dir {
			return a, 0
		}
	}
	return n.attrs(ctx)
}

var _ = (gofs.NodeAccesser)((*dirNode)(nil))

// Access answers access(2) (sent only without default_permissions).
func (n *dirNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	return n.fsys.access(ctx, n, mask)
}

var _ = (gofs.NodeLookuper)((*dirNode)(nil))

func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	if errno := keyErrno(name, n.childKey(name), false); errno != 0 {
		if errno == syscall.EINVAL {
			errno = syscall.ENOENT
		}
		return nil, errno
	}
	f := n.fsys
	parent, errno := n.searchable(ctx)
	if errno != 0 {
		return nil, errno
	}
	if ch := n.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			if w := fn.writer(); w != nil {
				// Being written here (perhaps not on the server yet, or
				// renamed there while written): its writer's view is the
				// file.
				f.fillEntry(out, attrOf(w.Attr()), parent)
				return ch, 0
			}
		}
	}
	a, errno := f.lookupKey(ctx, n.key(), name)
	if errno != 0 {
		return nil, errno
	}
	ch := n.childInode(ctx, name, a)
	f.fillEntry(out, a, parent)
	return ch, 0
}

// searchable checks, when the mount enforces permissions, that the caller
// may search n, and returns n's attributes (nil when it does not enforce:
// fillEntry then needs none).
func (n *dirNode) searchable(ctx context.Context) (*engine.Stat, syscall.Errno) {
	f := n.fsys
	if !f.enforcing() {
		return nil, 0
	}
	pa, errno := n.attrs(ctx)
	if errno != 0 {
		return nil, errno
	}
	if errno := f.searchErrno(ctx, callerOf(ctx), n); errno != 0 {
		return nil, errno
	}
	return pa, 0
}

// fillEntry fills a new dentry's attributes and timeouts. When the mount
// checks permissions and the directory holding it is not searchable by
// everyone, the kernel is told not to keep the name (entry timeout of 1 ns):
// every path walk through it then comes back here, where the caller's
// search permission is checked.
//
// A listing's guess (shown with fast_listing) is kept by the kernel no
// longer than the listing it came from.
func (f *FS) fillEntry(out *fuse.EntryOut, a, parent *engine.Stat) {
	fillAttr(&out.Attr, a)
	if f.enforcing() && parent != nil && parent.Mode&0o111 != 0o111 {
		out.SetEntryTimeout(time.Nanosecond)
	}
	if !a.Known {
		out.SetAttrTimeout(f.guessTimeout())
	}
}

// guessTimeout is how long the kernel may keep a listing's guess: no
// longer than the listing (1 ns when listings are not cached).
func (f *FS) guessTimeout() time.Duration {
	return max(min(f.cfg.StatTTL, f.cfg.ListTTL), time.Nanosecond)
}

// childInode returns the inode for name, reusing the existing one when its
// type still matches, and updates its attributes.
func (n *dirNode) childInode(ctx context.Context, name string, a *engine.Stat) *gofs.Inode {
	mode := a.Mode & syscall.S_IFMT
	if ch := n.GetChild(name); ch != nil && ch.StableAttr().Mode == mode {
		switch c := ch.Operations().(type) {
		case *fileNode:
			c.setAttr(a)
		case *dirNode:
			c.last.Store(a)
		}
		return ch
	}
	var node gofs.InodeEmbedder
	n.fsys.mem.inodes.Add(1) // until OnForget
	if a.Dir {
		dn := &dirNode{fsys: n.fsys}
		dn.last.Store(a)
		node = dn
	} else {
		node = &fileNode{fsys: n.fsys, attr: a}
	}
	return n.NewInode(ctx, node, gofs.StableAttr{Mode: mode})
}

var _ = (gofs.NodeOpendirHandler)((*dirNode)(nil))

// OpendirHandle checks that the caller may read the directory and opens
// it: the listing is read at the first readdir.
func (n *dirNode) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	if f.enforcing() {
		ctx, done := requestContext(ctx)
		defer done()
		a, errno := n.attrs(ctx)
		if errno != 0 {
			return nil, 0, errno
		}
		if errno := f.nodeErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
			return nil, 0, errno
		}
	}
	return &dirHandle{node: n}, 0, 0
}

// dirHandle is an open directory.
type dirHandle struct {
	node *dirNode
	ds   gofs.DirStream // the listing, from the first readdir
}

var _ = (gofs.FileReaddirenter)((*dirHandle)(nil))

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.ds == nil {
		var errno syscall.Errno
		if h.ds, errno = h.node.Readdir(ctx); errno != 0 {
			return nil, errno
		}
	}
	if !h.ds.HasNext() {
		return nil, 0
	}
	e, errno := h.ds.Next()
	return &e, errno
}

var _ = (gofs.FileSeekdirer)((*dirHandle)(nil))

func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if h.ds == nil {
		var errno syscall.Errno
		if h.ds, errno = h.node.Readdir(ctx); errno != 0 {
			return errno
		}
	}
	if sd, ok := h.ds.(gofs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

var _ = (gofs.FileReleasedirer)((*dirHandle)(nil))

func (h *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {
	if h.ds != nil {
		h.ds.Close()
	}
}

var _ = (gofs.FileLookuper)((*dirHandle)(nil))

// Lookup gives READDIRPLUS the attributes of an entry when they may be
// shown at no cost: known, or a listing's guess with fast_listing. For any
// other entry it gives none (the kernel then asks when a program wants
// them, and Lookup verifies them): a plain `ls` costs no HEAD. None either
// for a caller that may not search the directory.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	n := h.node
	f := n.fsys
	dirKey := n.key()
	key := dirKey + name
	if keyErrno(name, key, false) != 0 {
		return nil, syscall.ENOENT
	}
	var parent *engine.Stat
	if f.enforcing() {
		// Only the permission checks may ask OSS: a listing of a
		// million entries makes no request context for each.
		ctx, done := requestContext(ctx)
		var errno syscall.Errno
		parent, errno = n.searchable(ctx)
		done()
		if errno != 0 {
			return nil, errno
		}
	}
	a, ok := f.ns.Shown(dirKey, name)
	if !ok {
		return nil, syscall.ENOENT
	}
	ch := n.childInode(ctx, name, a)
	f.fillEntry(out, a, parent)
	return ch, 0
}

var _ = (gofs.NodeReaddirer)((*dirNode)(nil))

func (n *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	key := n.key()
	l, errno := n.fsys.listDir(ctx, key, n)
	if errno != 0 {
		return nil, errno
	}
	n.listKey.Store(&key)
	parentIno := n.StableAttr().Ino
	if p := parentDir(&n.Inode); p != nil {
		parentIno = p.StableAttr().Ino
	}
	s := &listStream{f: n.fsys, l: l, extra: []fuse.DirEntry{
		{Name: ".", Mode: syscall.S_IFDIR, Ino: n.StableAttr().Ino},
		{Name: "..", Mode: syscall.S_IFDIR, Ino: parentIno}}}
	// Files being created are not on the server yet, but they exist.
	for name, mode := range n.pendingNames() {
		if l.Find(name) < 0 {
			s.extra = append(s.extra, fuse.DirEntry{Name: name, Mode: mode})
		}
	}
	return s, 0
}

// listStream is readdir's view of a listing: "." and "..", the listing's
// entries read in place (a million-entry directory costs no copy), then
// the files being created that it does not show. An entry's offset is its
// position plus one.
type listStream struct {
	f     *FS
	l     *engine.Listing
	extra []fuse.DirEntry // "." and ".." first, then files being created
	pos   int
}

func (s *listStream) HasNext() bool { return s.pos < len(s.extra)+s.l.Len() }

func (s *listStream) Next() (fuse.DirEntry, syscall.Errno) {
	var e fuse.DirEntry
	switch i := s.pos; {
	case i < 2:
		e = s.extra[i]
	case i-2 < s.l.Len():
		name, a := s.l.At(i - 2)
		e = fuse.DirEntry{Name: name, Mode: s.f.direntType(a)}
	default:
		e = s.extra[i-s.l.Len()]
	}
	s.pos++
	e.Off = uint64(s.pos)
	return e, 0
}

var _ = (gofs.FileSeekdirer)((*listStream)(nil))

func (s *listStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off > uint64(len(s.extra)+s.l.Len()) {
		return syscall.EINVAL
	}
	s.pos = int(off)
	return 0
}

func (s *listStream) Close() {}

// direntType is the file type readdir shows for an entry: its own when
// known, a directory for a common prefix, else unknown (DT_UNKNOWN: the
// object may be a file, a symlink or a special file; programs that care
// stat it), or a regular file with fast_listing.
func (f *FS) direntType(a *engine.Stat) uint32 {
	switch {
	case a == nil:
		return 0
	case a.Dir:
		return syscall.S_IFDIR
	case a.Known:
		return a.Mode & syscall.S_IFMT
	case f.cfg.FastListing:
		return syscall.S_IFREG
	}
	return 0
}

// pendingNames lists children that exist only locally (files still being
// written for the first time).
func (n *dirNode) pendingNames() map[string]uint32 {
	var out map[string]uint32
	for name, ch := range n.Children() {
		if fn, ok := ch.Operations().(*fileNode); ok && fn.isPending() {
			if out == nil {
				out = map[string]uint32{}
			}
			out[name] = syscall.S_IFREG
		}
	}
	return out
}
