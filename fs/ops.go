package fs

// Namespace and attribute operations: create, mkdir, rmdir, unlink, rename,
// symlink, setattr. Each changes the server before it returns, except
// that a file being written publishes nothing before its close (a rename
// moves what the server has of it: see renameFile, writer.go).

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/ossapi"
)

// copyLimit is the largest object CopyObject copies; larger ones are copied
// part by part with UploadPartCopy.
const copyLimit = 1 << 30

// copyPartSize is the part size of a multipart copy.
const copyPartSize = 256 << 20

// ossfsMeta is the metadata ossfs keeps for mode, owner and mtime.
func ossfsMeta(mode, uid, gid uint32, mtime time.Time) map[string]string {
	return map[string]string{
		"mode":  strconv.FormatUint(uint64(mode), 10),
		"uid":   strconv.FormatUint(uint64(uid), 10),
		"gid":   strconv.FormatUint(uint64(gid), 10),
		"mtime": formatMtime(mtime),
	}
}

func (f *FS) checkWritable() syscall.Errno {
	if f.cfg.ReadOnly {
		return syscall.EROFS
	}
	return 0
}

// newEntry checks that the caller may create name in n (a writable mount,
// a name OSS can hold, write permission on n) and returns the new entry's
// key, the caller and n's attributes.
func (n *dirNode) newEntry(ctx context.Context, name string, dir bool) (string, *who, *attr, syscall.Errno) {
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
	caller, _ := fuse.FromContext(ctx)
	w, err := n.fsys.newWriteState(fn, key, nil, true, caller)
	if err != nil {
		return nil, nil, 0, n.fsys.toErrno("create", err)
	}
	w.mode = syscall.S_IFREG | m
	w.uid, w.gid = uid, gid
	w.refs = 1
	fst.ws = w
	fn.attr = w.attrView()
	fst.pt.cached = 1 // the handle returned
	n.fsys.trackWriter(w, true)
	n.fsys.invalidate(key)
	n.fsys.mem.inodes.Add(1) // until OnForget
	ch := n.NewInode(ctx, fn, gofs.StableAttr{Mode: syscall.S_IFREG})
	n.fsys.fillEntry(out, fn.attr, pa)
	return ch, &fileHandle{node: fn, w: w, appendMode: flags&syscall.O_APPEND != 0}, writeOpenFlags(flags), 0
}

var _ = (gofs.NodeMkdirer)((*dirNode)(nil))

func (n *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	key, who, pa, errno := n.newEntry(ctx, name, true)
	if errno != 0 {
		return nil, errno
	}
	uid, gid, m := n.fsys.newOwner(who, pa, mode&0o7777, true)
	a, errno := n.fsys.putEmpty(ctx, key+"/", syscall.S_IFDIR|m, uid, gid, 0, "application/x-directory")
	if errno != 0 {
		return nil, errno
	}
	n.fsys.noteEmptyDir(key + "/")
	n.fsys.stat.Put(key, a)
	ch := n.childInode(ctx, name, a)
	n.fsys.fillEntry(out, a, pa)
	return ch, 0
}

// putEmpty creates the zero-byte object at key that stands for a directory
// (key ends in '/') or a special file, with ossfs metadata, and returns its
// attributes.
func (f *FS) putEmpty(ctx context.Context, key string, mode, uid, gid, rdev uint32, contentType string) (*attr, syscall.Errno) {
	now := time.Now()
	meta := ossfsMeta(mode, uid, gid, now)
	if rdev != 0 {
		meta["rdev"] = strconv.FormatUint(uint64(rdev), 10)
	}
	hdr := ossapi.StdHeaders{ContentType: contentType}
	res, err := f.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Size: 0, Meta: meta, Headers: hdr})
	if err != nil {
		return nil, f.toErrno("mknod", err)
	}
	dir := strings.HasSuffix(key, "/")
	f.invalidate(strings.TrimSuffix(key, "/"))
	return f.attrFromInfo(&ossapi.ObjectInfo{Key: key, ETag: res.ETag, LastModified: now, Meta: meta, Full: true, Headers: hdr}, dir), 0
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
	if errno := n.fsys.emptyDirErrno(ctx, "rmdir", key); errno != 0 {
		return errno
	}
	if err := n.fsys.store.Delete(ctx, key); err != nil {
		return n.fsys.toErrno("rmdir", err)
	}
	n.fsys.invalidate(key[:len(key)-1])
	n.fsys.lists.Remove(key)
	n.fsys.neg.Put(key[:len(key)-1], struct{}{})
	return 0
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
	if errno != 0 || da.mode&syscall.S_ISVTX == 0 || who.root() {
		return errno
	}
	victim, errno := d.childAttr(ctx, name)
	if errno != 0 {
		return errno
	}
	if who.sticky(da, victim) {
		return syscall.EPERM
	}
	return 0
}

// childAttr returns the exact attributes of the child called name: its
// writer's while it is being written, else what OSS has.
func (d *dirNode) childAttr(ctx context.Context, name string) (*attr, syscall.Errno) {
	if ch := d.GetChild(name); ch != nil {
		if fn, ok := ch.Operations().(*fileNode); ok {
			if w := fn.writer(); w != nil {
				return w.attrView(), 0
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
func (f *FS) exact(ctx context.Context, key string, a *attr) (*attr, syscall.Errno) {
	if a.known {
		return a, 0
	}
	if a.dir {
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
	if !pending {
		if err := n.fsys.store.Delete(ctx, key); err != nil {
			return n.fsys.toErrno("unlink", err)
		}
	}
	n.fsys.invalidate(key)
	n.fsys.dropData(key)
	n.fsys.neg.Put(key, struct{}{})
	return 0
}

// writer returns the node's write state, if any (nil for a nil node).
func (n *fileNode) writer() *writeState {
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
		w.mu.Lock()
		w.unlinkLocked()
		pending = pending && !w.published
		w.mu.Unlock()
	}
	st.pending = false
	return pending
}

var _ = (gofs.NodeSymlinker)((*dirNode)(nil))

func (n *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	key, who, pa, errno := n.newEntry(ctx, name, false)
	if errno != 0 {
		return nil, errno
	}
	uid, gid, _ := n.fsys.newOwner(who, pa, 0, false)
	now := time.Now()
	meta := ossfsMeta(syscall.S_IFLNK|0o777, uid, gid, now)
	res, err := n.fsys.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(target), Size: int64(len(target)), Meta: meta,
		Headers: ossapi.StdHeaders{ContentType: "application/octet-stream"}})
	if err != nil {
		return nil, n.fsys.toErrno("symlink", err)
	}
	n.fsys.invalidate(key)
	a := n.fsys.attrFromInfo(&ossapi.ObjectInfo{Key: key, Size: int64(len(target)), ETag: res.ETag, LastModified: now, Meta: meta, Full: true,
		Headers: ossapi.StdHeaders{ContentType: "application/octet-stream"}}, false)
	n.fsys.stat.Put(key, a)
	ch := n.childInode(ctx, name, a)
	n.fsys.fillEntry(out, a, pa)
	return ch, 0
}

var _ = (gofs.NodeLinker)((*dirNode)(nil))

// Link is refused: objects cannot share content.
func (n *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

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
	f.neg.Remove(dst)
	var da *attr
	dstObject := false // an object is at dst on the server
	if vw := victim.writer(); vw != nil {
		da, dstObject = vw.attrView(), !victim.localOnly()
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
	if sa.dir {
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
func (f *FS) renameSource(ctx context.Context, n, np *dirNode, name string, fn *fileNode, who *who, srcDir *attr) (*attr, syscall.Errno) {
	var sa *attr
	var errno syscall.Errno
	if w := fn.writer(); w != nil {
		// Open for writing, perhaps not on the server yet: its writer's
		// view is the file.
		sa = w.attrView()
	} else if sa, errno = f.lookupKey(ctx, n.key(), name); errno != 0 {
		return nil, errno
	}
	if !f.enforcing() || who.root() {
		return sa, 0
	}
	if sa, errno = f.exact(ctx, n.childKey(name), sa); errno != 0 {
		return nil, errno
	}
	if who.sticky(srcDir, sa) {
		return nil, syscall.EPERM
	}
	// Moving a directory elsewhere rewrites its "..": it needs write
	// permission on the directory itself.
	if sa.dir && np != n && !who.may(sa, permWrite) {
		return nil, syscall.EACCES
	}
	return sa, 0
}

// replaceErrno checks that the entry sa may replace da at dst: the sticky
// bit of dst's directory, the kinds of both, an empty directory.
func (f *FS) replaceErrno(ctx context.Context, sa, da *attr, dst string, who *who, dstDir *attr) syscall.Errno {
	if f.enforcing() && dstDir.mode&syscall.S_ISVTX != 0 && !who.root() {
		var errno syscall.Errno
		if da, errno = f.exact(ctx, dst, da); errno != 0 {
			return errno
		}
		if who.sticky(dstDir, da) {
			return syscall.EPERM
		}
	}
	switch {
	case sa.dir && !da.dir:
		return syscall.ENOTDIR
	case !sa.dir && da.dir:
		return syscall.EISDIR
	case da.dir:
		return f.emptyDirErrno(ctx, "rename", dst+"/")
	}
	return 0
}

// emptyDirErrno is ENOTEMPTY when the directory key ("dir/") holds
// anything but its marker.
func (f *FS) emptyDirErrno(ctx context.Context, op, key string) syscall.Errno {
	page, err := f.store.List(ctx, ossapi.ListRequest{Prefix: key, MaxKeys: 2})
	if err != nil {
		return f.toErrno(op, err)
	}
	for _, o := range page.Objects {
		if o.Key != key {
			return syscall.ENOTEMPTY
		}
	}
	if len(page.CommonPrefixes) > 0 {
		return syscall.ENOTEMPTY
	}
	return 0
}

// renameFile moves the file at src to dst: a copy on the server, then a
// delete. A file open for writing publishes nothing: what the server has
// of it (its base, the object it was opened over or last uploaded) moves
// like the object of a file nobody writes, and the writer follows with its
// pending bytes, uploaded at dst by the close (followRenameLocked). A file
// not on the server yet only changes its name: no request but the abort of
// its streamed upload. The writer of the file at dst (vw), if any, is held
// for the whole rename (its close waits) and made nameless before it is
// released, so that it never completes an upload over the object renamed
// in. replaced says an object is at dst.
func (f *FS) renameFile(ctx context.Context, fn *fileNode, src, dst string, vw *writeState, replaced bool) syscall.Errno {
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

// renameFileLocked is renameFile under the writers' locks; local reports
// that w's file had no object on the server (only its name moved).
func (f *FS) renameFileLocked(ctx context.Context, w *writeState, pending bool, src, dst string, vw *writeState) (local bool, errno syscall.Errno) {
	for _, l := range lockOrder(w, vw) {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	if w != nil {
		if w.failed != nil {
			return false, syscall.EIO // sticky: its data is kept under the old name
		}
		if errno := w.renameReadyLocked(src, dst); errno != 0 {
			return false, errno
		}
		local = pending && !w.published
	}
	var info *ossapi.ObjectInfo
	if !local {
		var err error
		if info, err = f.store.Head(ctx, src, ossapi.HeadOptions{}); err != nil {
			if w == nil || ossapi.KindOf(err) != ossapi.KindNotExist {
				return false, f.toErrno("rename", err)
			}
			// Its object was removed by another client meanwhile: the
			// file being written is all there is.
			info, local = nil, true
		}
	}
	var from, to string
	if info != nil {
		etag, err := f.copyObject(ctx, info, dst, ossapi.MetadataCopy, nil, info.Headers)
		if err != nil {
			return false, f.toErrno("rename", err)
		}
		if err := f.store.Delete(ctx, src); err != nil {
			return false, f.toErrno("rename", err)
		}
		from, to = info.ETag, etag
	}
	if w != nil {
		w.followRenameLocked(dst, from, to)
	}
	if vw != nil {
		vw.unlinkLocked()
	}
	f.invalidate(src)
	f.invalidate(dst)
	f.dropData(src)
	f.dropData(dst)
	f.neg.Put(src, struct{}{})
	if info != nil && carriesMtime(info) {
		// The copy keeps the metadata: the new name has the same
		// attributes (unless its mtime was Last-Modified, which the copy
		// moved).
		f.stat.Put(dst, f.attrFromInfo(info, false).movedTo(to))
	}
	return local, 0
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
		w.mu.Lock()
		defer w.mu.Unlock()
		return !w.published
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

// carriesMtime reports whether a copy of the object info describes shows
// the same mtime: it is in x-oss-meta-mtime, not Last-Modified (nil: an
// upload of this mount, which always records it).
func carriesMtime(info *ossapi.ObjectInfo) bool {
	return info == nil || info.Meta["mtime"] != ""
}

// copyObject copies info's object to dst with CopyObject, or part by part
// when it is over copyLimit, and returns the new ETag.
func (f *FS) copyObject(ctx context.Context, info *ossapi.ObjectInfo, dst string, dir ossapi.MetadataDirective, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	if info.Size <= copyLimit {
		res, err := f.store.Copy(ctx, ossapi.CopyRequest{SrcKey: info.Key, DstKey: dst, Directive: dir, Meta: meta, Headers: hdr, SrcIfMatch: info.ETag})
		if err != nil {
			return "", err
		}
		return res.ETag, nil
	}
	if dir == ossapi.MetadataCopy {
		meta = info.Meta
		hdr = info.Headers
	}
	id, err := f.initiateUpload(ctx, ossapi.InitiateRequest{Key: dst, Meta: meta, Headers: hdr})
	if err != nil {
		return "", err
	}
	n := int((info.Size + copyPartSize - 1) / copyPartSize)
	parts := make([]ossapi.Part, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		off := int64(i) * copyPartSize
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := f.store.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: dst, UploadID: id, PartNumber: i + 1,
				SourceKey: info.Key, SourceOffset: off, SourceLength: min(copyPartSize, info.Size-off), SourceIfMatch: info.ETag})
			if err != nil {
				errs[i] = err
				return
			}
			parts[i] = *p
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			f.abortUpload(dst, id)
			return "", err
		}
	}
	res, err := f.completeUpload(ctx, ossapi.CompleteRequest{Key: dst, UploadID: id, Parts: parts})
	if err != nil {
		f.abortUpload(dst, id)
		return "", err
	}
	return res.ETag, nil
}

// rewriteMeta replaces an object's user metadata and standard headers in
// place (a self-copy with REPLACE) and returns the new ETag.
func (f *FS) rewriteMeta(ctx context.Context, key string, size int64, etag string, meta map[string]string, hdr ossapi.StdHeaders) (string, error) {
	info := &ossapi.ObjectInfo{Key: key, Size: size, ETag: etag}
	newETag, err := f.copyObject(ctx, info, key, ossapi.MetadataReplace, meta, hdr)
	if err == nil {
		f.invalidate(key)
	}
	return newETag, err
}

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
	if errno := f.setattrAllowed(ctx, &n.Inode, n.exactAttr, fh, in, c.mode); errno != 0 {
		return errno
	}
	if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 && c.mode == nil {
		// A truncate or chown by an unprivileged caller: the mount clears
		// set-user-ID/set-group-ID (FUSE_HANDLE_KILLPRIV_V2).
		var cur fuse.AttrOut
		if errno := n.Getattr(ctx, fh, &cur); errno == 0 {
			if m, ok := suidKilled(cur.Mode & 0o7777); ok {
				c.mode = &m
			}
		}
	}
	if !hasSize && c.none() {
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
		a := *n.attr
		t := a.mtime()
		c.apply(&a.mode, &a.uid, &a.gid, &t)
		a.setMtime(t)
		n.attr = &a
		a.fill(&out.Attr)
		out.Nlink = 0
		return 0
	}
	// No writer: change the metadata in place.
	a2, _, errno := n.rewriteAttrs(ctx, c)
	if errno != 0 {
		return errno
	}
	n.setAttr(a2)
	a2.fill(&out.Attr)
	return 0
}

// setattrWriter makes a setattr's changes through the file's writer w
// (temp: one made for a truncate, flushed and released here).
func (n *fileNode) setattrWriter(ctx context.Context, fh gofs.FileHandle, w *writeState, temp bool, c attrChange, size uint64, hasSize bool, out *fuse.AttrOut) syscall.Errno {
	// A change by path (no handle) while the file's writer has nothing
	// left to upload (its last close already uploaded it; the release is
	// still on its way, or a descriptor is open but idle) is made on the
	// server before returning, like one with no writer at all. Not a
	// truncate to 0: open(O_TRUNC) sends that without a handle too, and
	// the file is then about to be written.
	byPathClean := !temp && fh == nil && !(hasSize && size == 0) && w.isClean()
	if byPathClean && !hasSize {
		if errno, done := n.setattrCleanWriter(ctx, w, c, out); done {
			return errno
		}
	}
	if hasSize {
		if errno := w.truncate(ctx, int64(size)); errno != 0 {
			if temp {
				n.releaseWrite(ctx, w)
			}
			return errno
		}
	}
	w.setMeta(c)
	if !temp && !byPathClean {
		w.attrView().fill(&out.Attr)
		return 0
	}
	errno := w.flush(ctx)
	if temp {
		n.releaseWrite(ctx, w)
	}
	if errno != 0 {
		return errno
	}
	if byPathClean {
		w.attrView().fill(&out.Attr)
		return 0
	}
	return n.Getattr(ctx, nil, out)
}

// setattrAllowed applies, when the mount enforces permissions, the rules
// of chmod, chown, utimes and truncate to the caller (it may clear S_ISGID
// from *mode); attrs gives the node's attributes, asked only then.
func (f *FS) setattrAllowed(ctx context.Context, in *gofs.Inode, attrs func(context.Context) (*attr, syscall.Errno), fh gofs.FileHandle, sin *fuse.SetAttrIn, mode *uint32) syscall.Errno {
	if !f.enforcing() || callerOf(ctx).root() {
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
	return callerOf(ctx).setattrErrno(a, sin, mode, fh != nil)
}

// setattrCleanWriter changes mode, owner or mtime on the server for a file
// whose writer has nothing to upload, and gives the writer the new
// metadata and version. done is false when the writer has changes after
// all (they are then applied with its upload).
func (n *fileNode) setattrCleanWriter(ctx context.Context, w *writeState, c attrChange, out *fuse.AttrOut) (syscall.Errno, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.cleanLocked() {
		return 0, false
	}
	a, meta, errno := n.rewriteAttrs(ctx, c)
	if errno != 0 {
		return errno, true
	}
	w.mode, w.uid, w.gid, w.mtime = a.mode, a.uid, a.gid, a.mtime()
	w.mtimeSet = w.mtimeSet || c.mtime != nil
	w.meta = map[string]string{}
	for k, v := range meta {
		switch k {
		case "mode", "uid", "gid", "mtime":
		default:
			w.meta[k] = v
		}
	}
	w.baseETag = a.etag
	if a.info != nil {
		w.info = a.info
		w.headers = a.info.Headers
	}
	n.fsys.stat.Put(w.key, a)
	a.fill(&out.Attr)
	return 0, true
}

// rewriteAttrs applies mode, owner and mtime changes to the object in place
// (a self-copy keeping all other metadata and headers) and returns its new
// attributes and metadata.
func (n *fileNode) rewriteAttrs(ctx context.Context, c attrChange) (*attr, map[string]string, syscall.Errno) {
	f := n.fsys
	a, errno := f.headFile(ctx, n.key())
	if errno != 0 {
		return nil, nil, errno
	}
	meta := map[string]string{}
	for k, v := range a.info.Meta {
		meta[k] = v
	}
	m, u, g, t := a.mode, a.uid, a.gid, a.mtime()
	c.apply(&m, &u, &g, &t)
	for k, v := range ossfsMeta(m, u, g, t) {
		meta[k] = v
	}
	if _, err := f.rewriteMeta(ctx, n.key(), a.size, a.etag, meta, a.info.Headers); err != nil {
		return nil, nil, f.toErrno("setattr", err)
	}
	a2, errno := f.headFile(ctx, n.key())
	if errno != 0 {
		return nil, nil, errno
	}
	return a2, meta, 0
}

// attrChange is what a chmod, chown or utimes changes: a nil field stays
// as it is.
type attrChange struct {
	mode     *uint32 // its permission bits (07777); the file type stays
	uid, gid *uint32
	mtime    *time.Time
}

// setattrChange is what a SETATTR asks to change (the size apart).
func setattrChange(in *fuse.SetAttrIn) attrChange {
	var c attrChange
	if m, ok := in.GetMode(); ok {
		c.mode = &m
	}
	if u, ok := in.GetUID(); ok {
		c.uid = &u
	}
	if g, ok := in.GetGID(); ok {
		c.gid = &g
	}
	if t, ok := in.GetMTime(); ok {
		c.mtime = &t
	}
	return c
}

// none reports whether c changes nothing.
func (c attrChange) none() bool {
	return c.mode == nil && c.uid == nil && c.gid == nil && c.mtime == nil
}

// apply makes c's changes to a mode, owner and mtime.
func (c attrChange) apply(mode, uid, gid *uint32, mtime *time.Time) {
	if c.mode != nil {
		*mode = *mode&syscall.S_IFMT | *c.mode&0o7777
	}
	if c.uid != nil {
		*uid = *c.uid
	}
	if c.gid != nil {
		*gid = *c.gid
	}
	if c.mtime != nil {
		*mtime = *c.mtime
	}
}

// writerFor returns the node's open writer, or when create is set a
// temporary one (temp) that the caller flushes and releases.
func (n *fileNode) writerFor(ctx context.Context, create bool) (w *writeState, temp bool, errno syscall.Errno) {
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
	if c.none() {
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
	have := func(context.Context) (*attr, syscall.Errno) { return a, 0 }
	if errno := f.setattrAllowed(ctx, &n.Inode, have, fh, in, c.mode); errno != 0 {
		return errno
	}
	m, u, g, t := a.mode, a.uid, a.gid, a.mtime()
	c.apply(&m, &u, &g, &t)
	etag, meta, hdr, err := f.writeMarkerMeta(ctx, key, ossfsMeta(m, u, g, t))
	if err != nil {
		return f.toErrno("setattr", err)
	}
	na := f.attrFromInfo(&ossapi.ObjectInfo{Key: key, ETag: etag, LastModified: time.Now(), Meta: meta, Headers: hdr, Full: true}, true)
	f.invalidate(strings.TrimSuffix(key, "/"))
	f.stat.Put(strings.TrimSuffix(key, "/"), na)
	n.last.Store(na)
	na.fill(&out.Attr)
	if f.enforcing() && na.mode&0o111 != 0o111 {
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

// writeMarkerMeta sets ossfs metadata on the directory marker at key,
// keeping its other metadata and headers (a self-copy), or creates the
// marker with it. It returns the marker's ETag, metadata and headers.
func (f *FS) writeMarkerMeta(ctx context.Context, key string, ossfs map[string]string) (string, map[string]string, ossapi.StdHeaders, error) {
	info, err := f.store.Head(ctx, key, ossapi.HeadOptions{})
	meta := map[string]string{}
	hdr := ossapi.StdHeaders{ContentType: "application/x-directory"}
	if err == nil {
		for k, v := range info.Meta {
			meta[k] = v
		}
		hdr = info.Headers
	} else if ossapi.KindOf(err) != ossapi.KindNotExist {
		return "", nil, hdr, err
	}
	for k, v := range ossfs {
		meta[k] = v
	}
	if err == nil {
		etag, err := f.rewriteMeta(ctx, key, info.Size, info.ETag, meta, hdr)
		return etag, meta, hdr, err
	}
	res, err := f.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Meta: meta, Headers: hdr})
	if err != nil {
		return "", nil, hdr, err
	}
	return res.ETag, meta, hdr, nil
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

// trackWriter registers (or forgets) an open writer for FlushAll.
func (f *FS) trackWriter(w *writeState, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.writers[w] = struct{}{}
	} else {
		delete(f.writers, w)
	}
}

// lockOrder returns the non-nil writers among ws, without repeats, in the
// order their locks are taken (seq).
func lockOrder(ws ...*writeState) []*writeState {
	out := make([]*writeState, 0, len(ws))
	for _, w := range ws {
		if w != nil && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *writeState) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

func (f *FS) openWriters() []*writeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*writeState, 0, len(f.writers))
	for w := range f.writers {
		out = append(out, w)
	}
	return out
}

// FlushAll uploads every open file that has changes (at unmount) and
// returns how many uploads failed.
func (f *FS) FlushAll(ctx context.Context) int {
	failed := 0
	for _, w := range f.openWriters() {
		if w.isFailed() {
			// Failed earlier: reported to the application then, and
			// its data kept (its descriptor may just not be released
			// yet). Not a failure of this flush.
			continue
		}
		if w.flush(ctx) != 0 {
			failed++
		}
	}
	return failed
}

// Close releases the mount's local resources (after unmount).
func (f *FS) Close() {
	close(f.stop)
	if st := f.cfg.AttrStore; st != nil {
		close(f.stopSave)
		if err := st.Save(); err != nil {
			f.log.Warn("cannot save the attribute store", "path", st.Path(), "err", err)
		}
	}
	for _, k := range f.staging.keptFiles() {
		f.log.Error("data that could not be uploaded is kept", k.logAttrs()...)
	}
	f.staging.cleanup()
}

// noteUploaded records what an upload produced.
func (f *FS) noteUploaded(key string, size int64, etag string, mode, uid, gid uint32, mtime time.Time) {
	a := &attr{known: true, size: size, etag: etag, mode: mode, uid: uid, gid: gid, answered: time.Now().UnixNano()}
	a.setMtime(mtime)
	f.stat.Put(key, a)
}
