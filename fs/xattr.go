package fs

// Object metadata as extended attributes:
//
//	user.<name>                  x-oss-meta-<name> (read/write)
//	user.oss.content-type etc.   the standard HTTP headers (read/write)
//	user.oss.etag etc.           facts about the object (read-only)
//
// Other namespaces (security., system., trusted.) answer at once, without a
// request: the kernel asks for them on every file during `ls -l`. The ossfs
// keys mode/uid/gid/atime/mtime/ctime are shown through stat, not here.
//
// Reads are served from the attribute cache while it is fresh (a HEAD
// brought the metadata; a LIST brought the etag, last-modified,
// storage-class and object-type). A change is a self-copy with REPLACE made
// from a fresh HEAD, durable when the call returns; for a file with an
// upload still to come it is carried by that upload instead.

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

const (
	xattrUser = "user."
	xattrOSS  = "oss." // after xattrUser
	// Linux setxattr flags.
	xattrCreate  = 1
	xattrReplace = 2
)

// ossfsKeys are the metadata names ossfs uses for stat fields.
var ossfsKeys = map[string]bool{"mode": true, "uid": true, "gid": true, "atime": true, "mtime": true, "ctime": true}

// headerXattrs are the writable standard headers (in the order of headerField).
var headerXattrs = []string{"content-type", "content-disposition", "cache-control", "content-encoding", "content-language", "expires"}

// factXattrs are read-only facts.
var factXattrs = []string{"etag", "crc64", "storage-class", "object-type", "last-modified"}

// listedFacts are the facts a LIST entry carries (no HEAD needed).
var listedFacts = map[string]bool{"etag": true, "last-modified": true, "storage-class": true, "object-type": true}

// xkind classifies an attribute name.
type xkind int

const (
	xForeign xkind = iota // not user.*: answered without a request
	xInvalid              // user.* that cannot be a metadata name
	xOssfs                // user.mode etc.: shown through stat
	xMeta                 // user.<name>
	xHeader               // user.oss.<standard header>
	xFact                 // user.oss.<read-only fact>
)

// parseXattr classifies name and returns its lower-case key: the metadata
// name, the header or the fact.
func parseXattr(name string) (xkind, string) {
	if !strings.HasPrefix(name, xattrUser) {
		return xForeign, ""
	}
	rest := name[len(xattrUser):]
	low := strings.ToLower(rest)
	if strings.HasPrefix(low, xattrOSS) {
		h := low[len(xattrOSS):]
		for _, s := range headerXattrs {
			if s == h {
				return xHeader, h
			}
		}
		for _, s := range factXattrs {
			if s == h {
				return xFact, h
			}
		}
		return xInvalid, ""
	}
	if !ossapi.ValidMetaName(rest) {
		return xInvalid, ""
	}
	if ossfsKeys[low] {
		return xOssfs, low
	}
	return xMeta, low
}

// checkRead answers a getxattr of a name that needs no request: ENOTSUP for
// the namespaces the mount does not have (security., system., trusted.),
// ENODATA for user. names that cannot exist. ENOTSUP rather than ENODATA
// matters: ls -l asks every file for security.selinux and its POSIX ACL, and
// stops asking on the device after the first "not supported".
func checkRead(kind xkind) syscall.Errno {
	switch kind {
	case xForeign:
		return syscall.ENOTSUP
	case xInvalid, xOssfs:
		return syscall.ENODATA
	}
	return 0
}

// checkWrite is what every setxattr/removexattr checks before any request:
// the name can be written, the value can travel in a header.
func checkWrite(kind xkind, value []byte) syscall.Errno {
	switch kind {
	case xForeign:
		return syscall.ENOTSUP
	case xInvalid:
		return syscall.EINVAL
	case xOssfs, xFact:
		return syscall.EPERM
	}
	// An empty header is no header: the SDK does not send it.
	if value != nil && (len(value) == 0 || !ossapi.ValidHeaderValue(string(value))) {
		return syscall.EINVAL
	}
	return 0
}

// headerField is the field of h holding the standard header name (nil for
// another name).
func headerField(h *ossapi.StdHeaders, name string) *string {
	fields := [...]*string{&h.ContentType, &h.ContentDisposition, &h.CacheControl, &h.ContentEncoding, &h.ContentLanguage, &h.Expires}
	if i := slices.Index(headerXattrs, name); i >= 0 {
		return fields[i] // in headerXattrs' order
	}
	return nil
}

func factValue(info *ossapi.ObjectInfo, name string) (string, bool) {
	switch name {
	case "etag":
		return strings.Trim(info.ETag, `"`), info.ETag != ""
	case "crc64":
		return info.CRC64, info.CRC64 != ""
	case "storage-class":
		return info.StorageClass, info.StorageClass != ""
	case "object-type":
		return info.ObjectType, info.ObjectType != ""
	case "last-modified":
		if info.LastModified.IsZero() {
			return "", false
		}
		return info.LastModified.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), true
	}
	return "", false
}

// metaView is an object's metadata as xattrs see it.
type metaView struct {
	meta    map[string]string // all user metadata, ossfs keys included
	headers ossapi.StdHeaders
	info    *ossapi.ObjectInfo // facts; nil for implicit directories and files being written
}

func viewOf(info *ossapi.ObjectInfo) *metaView {
	v := &metaView{meta: make(map[string]string, len(info.Meta)), headers: info.Headers, info: info}
	for k, val := range info.Meta {
		v.meta[k] = val
	}
	return v
}

func (v *metaView) get(kind xkind, k string) (string, syscall.Errno) {
	switch kind {
	case xMeta:
		if val, ok := v.meta[k]; ok {
			return val, 0
		}
	case xHeader:
		if p := headerField(&v.headers, k); *p != "" {
			return *p, 0
		}
	case xFact:
		if v.info != nil {
			if val, ok := factValue(v.info, k); ok {
				return val, 0
			}
		}
	}
	return "", syscall.ENODATA
}

// list is what listxattr shows: every name get answers.
func (v *metaView) list() []string {
	var out []string
	for k := range v.meta {
		if !ossfsKeys[k] {
			out = append(out, xattrUser+k)
		}
	}
	for _, h := range headerXattrs {
		if *headerField(&v.headers, h) != "" {
			out = append(out, xattrUser+xattrOSS+h)
		}
	}
	if v.info != nil {
		for _, h := range factXattrs {
			if _, ok := factValue(v.info, h); ok {
				out = append(out, xattrUser+xattrOSS+h)
			}
		}
	}
	sortStrings(out)
	return out
}

// apply changes v for setxattr (value != nil) or removexattr (nil); kind is
// xMeta or xHeader (checkWrite has refused the others).
func (v *metaView) apply(kind xkind, k string, value []byte, flags uint32) syscall.Errno {
	if kind == xHeader {
		p := headerField(&v.headers, k)
		if errno := checkFlags(*p != "", value, flags); errno != 0 {
			return errno
		}
		*p = string(value) // nil removes the header
		return 0
	}
	_, exists := v.meta[k]
	if errno := checkFlags(exists, value, flags); errno != 0 {
		return errno
	}
	if value == nil {
		delete(v.meta, k)
	} else {
		v.meta[k] = string(value)
	}
	return 0
}

func checkFlags(exists bool, value []byte, flags uint32) syscall.Errno {
	switch {
	case value == nil && !exists:
		return syscall.ENODATA
	case flags&xattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&xattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	return 0
}

// checkSize refuses metadata OSS would refuse (names plus values over 8 KB).
func checkSize(meta map[string]string) syscall.Errno {
	if ossapi.MetaSize(meta) > ossapi.MaxMetaSize {
		return syscall.E2BIG
	}
	return 0
}

// keepMtime makes sure a self-copy does not move the mtime: an object
// without x-oss-meta-mtime shows its Last-Modified, which the copy changes.
func keepMtime(meta map[string]string, info *ossapi.ObjectInfo) {
	if _, ok := meta["mtime"]; !ok && !info.LastModified.IsZero() {
		meta["mtime"] = engine.FormatMtime(info.LastModified)
	}
}

func copyXattr(dest []byte, val string) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(val)), 0
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

func copyXattrList(dest []byte, names []string) (uint32, syscall.Errno) {
	n := 0
	for _, s := range names {
		n += len(s) + 1
	}
	if len(dest) == 0 {
		return uint32(n), 0
	}
	if len(dest) < n {
		return uint32(n), syscall.ERANGE
	}
	i := 0
	for _, s := range names {
		i += copy(dest[i:], s)
		dest[i] = 0
		i++
	}
	return uint32(n), 0
}

// writerView is the metadata a file being written will be uploaded with.
// Call with w locked.
func writerView(w *engine.Writer) *metaView {
	meta, hdr := w.UploadMetaLocked()
	return &metaView{meta: meta, headers: hdr}
}

// fileView returns a file's metadata: the pending upload's while a writer
// is attached, else the cached attributes while fresh, else a HEAD's. With
// listedFact set, attributes from a LIST are enough when they hold that
// fact.
func (n *fileNode) fileView(ctx context.Context, listedFact string) (*metaView, syscall.Errno) {
	orphaned := n.orphaned()
	n.mu.Lock()
	if w := n.liveWriterLocked(); w != nil {
		w.Lock()
		v := writerView(w)
		w.Unlock()
		n.mu.Unlock()
		return v, 0
	}
	a := n.attr
	n.mu.Unlock()
	if orphaned {
		// Unlinked (or renamed over) while open: its key names nothing
		// of its own any more; show what was known of it.
		if a == nil || a.Facts() == nil {
			return &metaView{meta: map[string]string{}}, 0
		}
		return viewOf(a.Facts()), 0
	}
	key := n.key()
	a, ok := n.fsys.cachedAttr(key)
	if !ok || a.Dir || a.Facts() == nil || !(a.Full() || listedFact != "" && hasFact(a.Facts(), listedFact)) {
		var errno syscall.Errno
		if a, errno = n.fsys.headFile(ctx, key); errno != 0 {
			return nil, errno
		}
		n.setAttr(a)
	}
	return viewOf(a.Facts()), 0
}

func hasFact(info *ossapi.ObjectInfo, k string) bool {
	_, ok := factValue(info, k)
	return ok
}

func (n *fileNode) isSymlink() bool { return n.StableAttr().Mode == syscall.S_IFLNK }

// applyXattr sets (value != nil) or removes one attribute of a file.
func (n *fileNode) applyXattr(ctx context.Context, kind xkind, k string, value []byte, flags uint32) syscall.Errno {
	if errno := n.fsys.xattrAllowed(ctx, n, true); errno != 0 {
		return errno
	}
	if done, errno := n.changePending(ctx, kind, k, value, flags); done {
		return errno
	}
	if n.orphaned() {
		return syscall.ENOENT // no object left to carry the change
	}
	// The kernel runs setxattr/removexattr of one inode one at a time
	// (inode lock), so the HEAD and the copy below do not race each other.
	key := n.key()
	info, err := n.fsys.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			n.fsys.invalidate(key)
		}
		return n.fsys.toErrno("setxattr", err)
	}
	_, _, errno := n.fsys.changeObject(ctx, info, kind, k, value, flags, false)
	return errno
}

// changeObject applies one change to the object info describes (a file, or
// a directory marker when dir) with a self-copy and returns the new metadata
// and ETag.
func (f *FS) changeObject(ctx context.Context, info *ossapi.ObjectInfo, kind xkind, k string, value []byte, flags uint32, dir bool) (*metaView, string, syscall.Errno) {
	v := viewOf(info)
	if errno := v.apply(kind, k, value, flags); errno != 0 {
		return nil, "", errno
	}
	keepMtime(v.meta, info)
	if errno := checkSize(v.meta); errno != 0 {
		return nil, "", errno
	}
	etag, err := f.rewriteMeta(ctx, info.Key, info.Size, info.ETag, v.meta, v.headers)
	if err != nil {
		return nil, "", f.toErrno("setxattr", err)
	}
	// rewriteMeta dropped the cached attributes: a file's next stat or
	// getxattr asks a HEAD. A directory's stat is served from the cache
	// alone, so it gets the new attributes (not Full: getxattr still asks
	// a HEAD for the server's facts).
	if dir {
		name := strings.TrimSuffix(info.Key, "/")
		f.invalidate(name)
		a := f.attrFromInfo(&ossapi.ObjectInfo{Key: info.Key, Size: info.Size, ETag: etag,
			LastModified: time.Now(), Meta: v.meta, Headers: v.headers}, true)
		a.Known = true // what was just written
		f.stat.Put(name, a)
	}
	return v, etag, 0
}

// changePending handles a file with a writer attached: the change travels
// with the upload still to come, or, when the writer has nothing to upload,
// is made on the object now and kept in the writer's copy. done is false
// when no writer is attached.
func (n *fileNode) changePending(ctx context.Context, kind xkind, k string, value []byte, flags uint32) (done bool, errno syscall.Errno) {
	n.mu.Lock()
	w := n.liveWriterLocked()
	if w == nil {
		n.mu.Unlock()
		return false, 0
	}
	// Holding w's lock keeps the writer attached: its last release
	// takes n.mu then w's lock before it uploads and detaches.
	w.Lock()
	n.mu.Unlock()
	defer w.Unlock()
	if w.FailedLocked() {
		return true, syscall.EIO
	}
	v := writerView(w)
	if errno := v.apply(kind, k, value, flags); errno != 0 {
		return true, errno
	}
	if w.UploadPendingLocked() {
		// Size as uploaded: with ossfs's mode, uid, gid and mtime.
		sized := make(map[string]string, len(v.meta)+4)
		for key, val := range v.meta {
			sized[key] = val
		}
		wa := w.AttrLocked()
		for key, val := range engine.OssfsMeta(wa.Mode, wa.UID, wa.GID, wa.Mtime) {
			sized[key] = val
		}
		if errno := checkSize(sized); errno != 0 {
			return true, errno
		}
		w.SetUploadMetaLocked(v.meta, v.headers)
		return true, 0
	}
	// Nothing to upload: change the object itself, from a fresh HEAD of
	// the version the writer holds.
	info, err := n.fsys.store.Head(ctx, w.KeyLocked(), ossapi.HeadOptions{IfMatch: w.BaseETagLocked()})
	if err != nil {
		return true, n.fsys.toErrno("setxattr", err)
	}
	nv, etag, errno := n.fsys.changeObject(ctx, info, kind, k, value, flags, false)
	if errno != 0 {
		return true, errno
	}
	w.RebaseMetaLocked(nv.meta, nv.headers, etag)
	return true, 0
}

// dirView returns a directory's metadata from its marker object (cached
// while fresh when a HEAD brought it); empty for an implicit directory (no
// marker) and the bucket root.
func (n *dirNode) dirView(ctx context.Context) (*metaView, syscall.Errno) {
	key := n.key()
	if key == "" || n.orphaned() {
		return &metaView{meta: map[string]string{}}, 0
	}
	name := strings.TrimSuffix(key, "/")
	a, cached := n.fsys.stat.Get(name)
	cached = cached && a.Dir && !n.IsRoot()
	if cached {
		switch {
		case a.Implicit && !a.Listed:
			// A lookup (or an earlier HEAD) found no marker.
			return &metaView{meta: map[string]string{}}, 0
		case a.Full():
			return viewOf(a.Info), 0
		}
	}
	info, err := n.fsys.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			if cached && a.Implicit {
				known := *a
				known.Listed, known.Known = false, true
				n.fsys.stat.Put(name, &known)
			}
			return &metaView{meta: map[string]string{}}, 0
		}
		return nil, n.fsys.toErrno("getxattr", err)
	}
	if !n.IsRoot() {
		n.fsys.stat.Put(name, n.fsys.attrFromInfo(info, true))
	}
	return viewOf(info), 0
}

// applyXattr sets (value != nil) or removes one attribute of a directory:
// it rewrites the marker's metadata, creating the marker of an implicit
// directory.
func (n *dirNode) applyXattr(ctx context.Context, kind xkind, k string, value []byte, flags uint32) syscall.Errno {
	if n.orphaned() {
		return syscall.ENOENT
	}
	if errno := n.fsys.xattrAllowed(ctx, n, true); errno != 0 {
		return errno
	}
	key := n.key()
	if key == "" {
		return syscall.EPERM // the bucket root has no object to carry metadata
	}
	info, err := n.fsys.store.Head(ctx, key, ossapi.HeadOptions{})
	if err == nil {
		_, _, errno := n.fsys.changeObject(ctx, info, kind, k, value, flags, true)
		return errno
	}
	if ossapi.KindOf(err) != ossapi.KindNotExist {
		return n.fsys.toErrno("setxattr", err)
	}
	// An implicit directory: the first change creates its marker, with
	// the attributes the directory shows now.
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return errno
	}
	mt := a.Mtime()
	if mt.IsZero() {
		mt = time.Now()
	}
	v := &metaView{meta: engine.OssfsMeta(a.Mode, a.UID, a.GID, mt), headers: ossapi.StdHeaders{ContentType: "application/x-directory"}}
	if errno := v.apply(kind, k, value, flags); errno != 0 {
		return errno
	}
	if errno := checkSize(v.meta); errno != 0 {
		return errno
	}
	res, err := n.fsys.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Meta: v.meta, Headers: v.headers})
	if err != nil {
		return n.fsys.toErrno("setxattr", err)
	}
	name := strings.TrimSuffix(key, "/")
	n.fsys.invalidate(name)
	if !n.IsRoot() {
		na := n.fsys.attrFromInfo(&ossapi.ObjectInfo{Key: key, ETag: res.ETag, LastModified: mt,
			Meta: v.meta, Headers: v.headers}, true)
		na.Known = true // what was just written
		n.fsys.stat.Put(name, na)
	}
	return 0
}

// The xattr calls of files and directories share one code path; what
// differs is in xattrNode's methods.

// xattrNode is a file or a directory as the xattr calls see it.
type xattrNode interface {
	permNode
	// shareXattr answers user.oss.presign and post-policy (share.go).
	shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno)
	// cacheXattr answers a read of user.oss.cache (datacache.go).
	cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno)
	// xattrView is the node's metadata (listedFact: a fact a listing may
	// answer).
	xattrView(ctx context.Context, listedFact string) (*metaView, syscall.Errno)
	// setCacheXattr answers a set of user.oss.cache (datacache.go).
	setCacheXattr(ctx context.Context, data []byte) syscall.Errno
	// applyXattr sets (value != nil) or removes one attribute, a
	// checked change (changeXattr).
	applyXattr(ctx context.Context, kind xkind, k string, value []byte, flags uint32) syscall.Errno
}

func (n *fileNode) xattrView(ctx context.Context, listedFact string) (*metaView, syscall.Errno) {
	return n.fileView(ctx, listedFact)
}

func (n *dirNode) xattrView(ctx context.Context, _ string) (*metaView, syscall.Errno) {
	return n.dirView(ctx)
}

func (n *fileNode) setCacheXattr(ctx context.Context, data []byte) syscall.Errno {
	return n.cacheControl(ctx, data) // pin, unpin, drop
}

func (n *fileNode) cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.cacheStatus(ctx, dest)
}

func (n *dirNode) cacheXattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.cacheSummary(ctx, dest)
}

func (n *dirNode) setCacheXattr(context.Context, []byte) syscall.Errno { return syscall.EISDIR }

var _ = (gofs.NodeGetxattrer)((*fileNode)(nil))
var _ = (gofs.NodeGetxattrer)((*dirNode)(nil))

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.getxattr(ctx, n, attr, dest)
}

func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.getxattr(ctx, n, attr, dest)
}

func (f *FS) getxattr(ctx context.Context, n xattrNode, attr string, dest []byte) (uint32, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	switch {
	case attr == xattrStats:
		return f.statsXattr(ctx, n.EmbeddedInode().StableAttr().Ino, dest)
	case attr == xattrCache:
		return n.cacheXattr(ctx, dest)
	case isShareXattr(attr): // share.go: user.oss.presign?..., user.oss.post-policy?...
		return n.shareXattr(ctx, attr, dest)
	}
	kind, k := parseXattr(attr)
	if errno := checkRead(kind); errno != 0 {
		return 0, errno
	}
	if errno := f.xattrAllowed(ctx, n, false); errno != 0 {
		return 0, errno
	}
	listed := ""
	if kind == xFact && listedFacts[k] {
		listed = k
	}
	v, errno := n.xattrView(ctx, listed)
	if errno != 0 {
		return 0, errno
	}
	val, errno := v.get(kind, k)
	if errno != 0 {
		return 0, errno
	}
	return copyXattr(dest, val)
}

var _ = (gofs.NodeListxattrer)((*fileNode)(nil))
var _ = (gofs.NodeListxattrer)((*dirNode)(nil))

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.isSymlink() {
		return 0, 0 // the kernel refuses user.* on symlinks
	}
	return n.fsys.listxattr(ctx, n, dest)
}

func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return n.fsys.listxattr(ctx, n, dest)
}

func (f *FS) listxattr(ctx context.Context, n xattrNode, dest []byte) (uint32, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	if errno := f.pathErrno(ctx, n.EmbeddedInode()); errno != 0 {
		return 0, errno
	}
	v, errno := n.xattrView(ctx, "")
	if errno != 0 {
		return 0, errno
	}
	return copyXattrList(dest, v.list())
}

var _ = (gofs.NodeSetxattrer)((*fileNode)(nil))
var _ = (gofs.NodeSetxattrer)((*dirNode)(nil))

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.fsys.setxattr(ctx, n, attr, data, flags)
}

func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.fsys.setxattr(ctx, n, attr, data, flags)
}

func (f *FS) setxattr(ctx context.Context, n xattrNode, attr string, data []byte, flags uint32) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if attr == xattrCache {
		return n.setCacheXattr(ctx, data)
	}
	if data == nil {
		data = []byte{}
	}
	return f.changeXattr(ctx, n, attr, data, flags)
}

var _ = (gofs.NodeRemovexattrer)((*fileNode)(nil))
var _ = (gofs.NodeRemovexattrer)((*dirNode)(nil))

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.fsys.removexattr(ctx, n, attr)
}

func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.fsys.removexattr(ctx, n, attr)
}

func (f *FS) removexattr(ctx context.Context, n xattrNode, attr string) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	if attr == xattrCache {
		return syscall.EINVAL
	}
	return f.changeXattr(ctx, n, attr, nil, 0)
}

// changeXattr sets (value != nil) or removes one attribute of n.
func (f *FS) changeXattr(ctx context.Context, n xattrNode, attr string, value []byte, flags uint32) syscall.Errno {
	if errno := f.checkWritable(); errno != 0 {
		return errno
	}
	kind, k := parseXattr(attr)
	if errno := checkWrite(kind, value); errno != 0 {
		return errno
	}
	return n.applyXattr(ctx, kind, k, value, flags)
}

// xattrAllowed checks, when the mount enforces permissions, that the
// caller may read or change the node's user.* attributes.
func (f *FS) xattrAllowed(ctx context.Context, n permNode, write bool) syscall.Errno {
	if !f.enforcing() || callerOf(ctx).Root() {
		return 0
	}
	a, errno := n.permAttr(ctx)
	if errno != 0 {
		return errno
	}
	return f.xattrErrno(ctx, n.EmbeddedInode(), a, write)
}
