package fs

import (
	"context"
	"sort"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirNode is a directory: a key prefix ending in "/" (or the mount's root).
type dirNode struct {
	gofs.Inode
	fsys *FS
	last atomic.Pointer[attr] // the attributes last shown, for when it has no name
}

// orphaned reports whether the directory has no name any more (removed, or
// replaced by a rename) while the kernel still holds it (an open
// descriptor). Its key() would then be the mount prefix.
func (n *dirNode) orphaned() bool { return !n.IsRoot() && n.Path(nil) == "" }

func sortStrings(s []string) { sort.Strings(s) }

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

// attrs returns the directory's own attributes.
func (n *dirNode) attrs() *attr {
	if n.IsRoot() {
		return n.fsys.implicitDir()
	}
	if n.orphaned() {
		if a := n.last.Load(); a != nil {
			return a
		}
		return n.fsys.implicitDir()
	}
	k := n.key()
	a, ok := n.fsys.stat.Get(k[:len(k)-1])
	if !ok || !a.dir {
		a = n.fsys.implicitDir()
	}
	n.last.Store(a)
	return a
}

var _ = (gofs.NodeGetattrer)((*dirNode)(nil))

func (n *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.attrs().fill(&out.Attr)
	if n.orphaned() {
		out.Nlink = 0
	}
	return 0
}

var _ = (gofs.NodeLookuper)((*dirNode)(nil))

func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if !validName(name) {
		return nil, syscall.ENOENT
	}
	a, errno := n.fsys.lookupKey(ctx, n.key(), name)
	if errno != 0 {
		return nil, errno
	}
	ch := n.childInode(ctx, name, a)
	a.fill(&out.Attr)
	return ch, 0
}

// childInode returns the inode for name, reusing the existing one when its
// type still matches, and updates its attributes.
func (n *dirNode) childInode(ctx context.Context, name string, a *attr) *gofs.Inode {
	mode := a.mode & syscall.S_IFMT
	if ch := n.GetChild(name); ch != nil && ch.StableAttr().Mode == mode {
		if fn, ok := ch.Operations().(*fileNode); ok {
			fn.setAttr(a)
		}
		return ch
	}
	var node gofs.InodeEmbedder
	if a.dir {
		dn := &dirNode{fsys: n.fsys}
		dn.last.Store(a)
		node = dn
	} else {
		node = &fileNode{fsys: n.fsys, attr: a}
	}
	return n.NewInode(ctx, node, gofs.StableAttr{Mode: mode})
}

var _ = (gofs.NodeReaddirer)((*dirNode)(nil))

func (n *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ctx = uninterrupted(ctx)
	l, errno := n.fsys.listDir(ctx, n.key())
	if errno != 0 {
		return nil, errno
	}
	entries := make([]fuse.DirEntry, 0, len(l.names)+len(n.pendingNames()))
	seen := make(map[string]bool, len(l.names))
	for _, name := range l.names {
		seen[name] = true
		entries = append(entries, fuse.DirEntry{Name: name, Mode: l.entries[name].mode & syscall.S_IFMT})
	}
	// Files being created are not on the server yet, but they exist.
	for name, mode := range n.pendingNames() {
		if !seen[name] {
			entries = append(entries, fuse.DirEntry{Name: name, Mode: mode})
		}
	}
	return gofs.NewListDirStream(entries), 0
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
