package fs

// A directory rename as the caches see it: the objects are moved by the
// engine (engine.RenameDir); what was known of them follows here.

import (
	"context"
	"strings"
	"syscall"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// renameDir moves every object under src to dst (engine.RenameDir), the
// cached attributes following them.
func (f *FS) renameDir(ctx context.Context, src, dst string, dstExisted bool) syscall.Errno {
	err := f.eng.RenameDir(ctx, src, dst, dstExisted, engine.TreeCaches{
		Forget: func() { f.forgetTree(src, dst) },
		Carry: func(objs []ossapi.ObjectInfo, hasMarker bool, newETags map[string]string) {
			f.carryAttrs(objs, src, dst, hasMarker, newETags)
		},
	})
	return f.toErrno("rename", err)
}

// carryAttrs forgets what was cached under src and dst, keeping what was
// known of the directory and of the files under it for their new names
// (the copies keep their metadata).
func (f *FS) carryAttrs(objs []ossapi.ObjectInfo, src, dst string, hasMarker bool, newETags map[string]string) {
	carried := map[string]*engine.Stat{}
	if a, _, ok := f.stat.Peek(strings.TrimSuffix(src, "/")); ok && a.Known && a.Dir && (hasMarker && engine.CarriesMtime(a.Facts()) || a.Implicit && !hasMarker && len(objs) > 0) {
		carried[strings.TrimSuffix(dst, "/")] = a
	}
	for _, o := range objs {
		if a, _, ok := f.stat.Peek(o.Key); ok && a.Known && !a.Dir && newETags[o.Key] != "" && engine.CarriesMtime(a.Facts()) {
			carried[dst+strings.TrimPrefix(o.Key, src)] = a.MovedTo(newETags[o.Key])
		}
	}
	f.forgetTree(src, dst)
	for k, a := range carried {
		f.stat.Put(k, a)
	}
}

// forgetTree drops what the caches know under src and dst.
func (f *FS) forgetTree(src, dst string) {
	f.stat.RemovePrefix(src)
	f.stat.RemovePrefix(dst)
	f.ns.Lists.RemovePrefix(src)
	f.ns.Lists.RemovePrefix(dst)
	f.ns.Neg.RemovePrefix(dst)
	f.invalidate(strings.TrimSuffix(src, "/"))
	f.invalidate(strings.TrimSuffix(dst, "/"))
}
