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

import (
	"context"
	"strings"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/ossmount/ossmount/ossapi"
)

const (
	xattrUser = "user."
	xattrOSS  = "user.oss."
	// Linux setxattr flags.
	xattrCreate  = 1
	xattrReplace = 2
)

// ossfsKeys are the metadata names ossfs uses for stat fields.
var ossfsKeys = map[string]bool{"mode": true, "uid": true, "gid": true, "atime": true, "mtime": true, "ctime": true}

// headerXattrs are the writable standard headers.
var headerXattrs = []string{"content-type", "content-disposition", "cache-control", "content-encoding", "content-language", "expires"}

// factXattrs are read-only facts.
var factXattrs = []string{"etag", "crc64", "storage-class", "object-type", "last-modified"}

func headerField(h *ossapi.StdHeaders, name string) *string {
	switch name {
	case "content-type":
		return &h.ContentType
	case "content-disposition":
		return &h.ContentDisposition
	case "cache-control":
		return &h.CacheControl
	case "content-encoding":
		return &h.ContentEncoding
	case "content-language":
		return &h.ContentLanguage
	case "expires":
		return &h.Expires
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
	meta    map[string]string
	headers ossapi.StdHeaders
	info    *ossapi.ObjectInfo // nil for implicit directories and pending files
}

func (v *metaView) get(name string) (string, syscall.Errno) {
	switch {
	case strings.HasPrefix(name, xattrOSS):
		h := strings.TrimPrefix(name, xattrOSS)
		if p := headerField(&v.headers, h); p != nil {
			if *p == "" {
				return "", syscall.ENODATA
			}
			return *p, 0
		}
		if v.info != nil {
			if val, ok := factValue(v.info, h); ok {
				return val, 0
			}
		}
		return "", syscall.ENODATA
	case strings.HasPrefix(name, xattrUser):
		k := strings.ToLower(strings.TrimPrefix(name, xattrUser))
		if ossfsKeys[k] {
			return "", syscall.ENODATA
		}
		if val, ok := v.meta[k]; ok {
			return val, 0
		}
	}
	return "", syscall.ENODATA
}

func (v *metaView) list() []string {
	var out []string
	for k := range v.meta {
		if !ossfsKeys[k] {
			out = append(out, xattrUser+k)
		}
	}
	for _, h := range headerXattrs {
		if *headerField(&v.headers, h) != "" {
			out = append(out, xattrOSS+h)
		}
	}
	if v.info != nil {
		for _, h := range factXattrs {
			if _, ok := factValue(v.info, h); ok {
				out = append(out, xattrOSS+h)
			}
		}
	}
	sortStrings(out)
	return out
}

// apply changes v for setxattr (value != nil) or removexattr (nil).
func (v *metaView) apply(name string, value []byte, flags uint32) syscall.Errno {
	if !strings.HasPrefix(name, xattrUser) {
		return syscall.ENOTSUP
	}
	if strings.HasPrefix(name, xattrOSS) {
		h := strings.TrimPrefix(name, xattrOSS)
		p := headerField(&v.headers, h)
		if p == nil {
			for _, f := range factXattrs {
				if f == h {
					return syscall.EPERM
				}
			}
			return syscall.ENOTSUP
		}
		if errno := checkFlags(*p != "", value, flags); errno != 0 {
			return errno
		}
		if value == nil {
			*p = ""
			return 0
		}
		if !ossapi.ValidHeaderValue(string(value)) {
			return syscall.EINVAL
		}
		*p = string(value)
		return 0
	}
	k := strings.TrimPrefix(name, xattrUser)
	if !ossapi.ValidMetaName(k) {
		return syscall.EINVAL
	}
	k = strings.ToLower(k)
	if ossfsKeys[k] {
		return syscall.EPERM
	}
	_, exists := v.meta[k]
	if errno := checkFlags(exists, value, flags); errno != 0 {
		return errno
	}
	if value == nil {
		delete(v.meta, k)
		return 0
	}
	if !ossapi.ValidHeaderValue(string(value)) {
		return syscall.EINVAL
	}
	v.meta[k] = string(value)
	if ossapi.MetaSize(v.meta) > ossapi.MaxMetaSize {
		return syscall.E2BIG
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

// foreignXattr reports names outside user.*: answered without a request.
func foreignXattr(name string) bool { return !strings.HasPrefix(name, xattrUser) }

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

// fileMeta returns a file's metadata: the writer's pending view, or a fresh
// HEAD's (one HEAD at most while the cached one is fresh).
func (n *fileNode) fileMeta(ctx context.Context) (*metaView, *writeState, syscall.Errno) {
	n.mu.Lock()
	w := n.ws
	n.mu.Unlock()
	if w != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		v := &metaView{meta: map[string]string{}, headers: w.headers, info: w.info}
		for k, val := range w.meta {
			v.meta[k] = val
		}
		return v, w, 0
	}
	key := n.key()
	a, ok := n.fsys.stat.Get(key)
	if !ok || !a.full() || a.dir {
		var errno syscall.Errno
		if a, errno = n.fsys.headFile(ctx, key); errno != 0 {
			return nil, nil, errno
		}
	}
	n.setAttr(a)
	v := &metaView{meta: map[string]string{}, headers: a.info.Headers, info: a.info}
	for k, val := range a.info.Meta {
		v.meta[k] = val
	}
	return v, nil, 0
}

var _ = (gofs.NodeGetxattrer)((*fileNode)(nil))

func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if foreignXattr(attr) {
		return 0, syscall.ENODATA
	}
	v, _, errno := n.fileMeta(ctx)
	if errno != 0 {
		return 0, errno
	}
	val, errno := v.get(attr)
	if errno != 0 {
		return 0, errno
	}
	return copyXattr(dest, val)
}

var _ = (gofs.NodeListxattrer)((*fileNode)(nil))

func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	v, _, errno := n.fileMeta(ctx)
	if errno != 0 {
		return 0, errno
	}
	return copyXattrList(dest, v.list())
}

var _ = (gofs.NodeSetxattrer)((*fileNode)(nil))

func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if data == nil {
		data = []byte{}
	}
	return n.changeXattr(ctx, attr, data, flags)
}

var _ = (gofs.NodeRemovexattrer)((*fileNode)(nil))

func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if foreignXattr(attr) {
		return syscall.ENODATA
	}
	return n.changeXattr(ctx, attr, nil, 0)
}

func (n *fileNode) changeXattr(ctx context.Context, attr string, value []byte, flags uint32) syscall.Errno {
	if errno := n.fsys.checkWritable(); errno != 0 {
		return errno
	}
	if foreignXattr(attr) {
		return syscall.ENOTSUP
	}
	v, w, errno := n.fileMeta(ctx)
	if errno != 0 {
		return errno
	}
	if errno := v.apply(attr, value, flags); errno != 0 {
		return errno
	}
	if w != nil {
		// Travels with the upload.
		w.mu.Lock()
		w.meta = mergeOssfs(v.meta, w.meta)
		w.headers = v.headers
		w.dirty = true
		w.mu.Unlock()
		return 0
	}
	if _, err := n.fsys.rewriteMeta(ctx, n.key(), v.info.Size, v.info.ETag, mergeOssfs(v.meta, v.info.Meta), v.headers); err != nil {
		return n.fsys.toErrno("setxattr", err)
	}
	if a, errno := n.fsys.headFile(ctx, n.key()); errno == 0 {
		n.setAttr(a)
	}
	return 0
}

// mergeOssfs returns user metadata plus the ossfs keys of old.
func mergeOssfs(user, old map[string]string) map[string]string {
	out := make(map[string]string, len(user)+4)
	for k, v := range user {
		out[k] = v
	}
	for k := range ossfsKeys {
		if v, ok := old[k]; ok {
			out[k] = v
		}
	}
	return out
}

// dirMeta returns a directory's metadata from its marker (empty for an
// implicit directory or the root).
func (n *dirNode) dirMeta(ctx context.Context) (*metaView, syscall.Errno) {
	v := &metaView{meta: map[string]string{}}
	if n.IsRoot() && n.fsys.cfg.Prefix == "" {
		return v, 0
	}
	key := n.key()
	if a, ok := n.fsys.stat.Get(strings.TrimSuffix(key, "/")); ok && a.dir && (a.implicit || a.full()) {
		if a.implicit {
			return v, 0
		}
		for k, val := range a.info.Meta {
			v.meta[k] = val
		}
		v.headers, v.info = a.info.Headers, a.info
		return v, 0
	}
	info, err := n.fsys.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		if ossapi.KindOf(err) == ossapi.KindNotExist {
			return v, 0
		}
		return nil, n.fsys.toErrno("getxattr", err)
	}
	if !n.IsRoot() {
		n.fsys.stat.Put(strings.TrimSuffix(key, "/"), n.fsys.attrFromInfo(info, true))
	}
	for k, val := range info.Meta {
		v.meta[k] = val
	}
	v.headers, v.info = info.Headers, info
	return v, 0
}

var _ = (gofs.NodeGetxattrer)((*dirNode)(nil))

func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if foreignXattr(attr) {
		return 0, syscall.ENODATA
	}
	v, errno := n.dirMeta(ctx)
	if errno != 0 {
		return 0, errno
	}
	val, errno := v.get(attr)
	if errno != 0 {
		return 0, errno
	}
	return copyXattr(dest, val)
}

var _ = (gofs.NodeListxattrer)((*dirNode)(nil))

func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	v, errno := n.dirMeta(ctx)
	if errno != 0 {
		return 0, errno
	}
	return copyXattrList(dest, v.list())
}

var _ = (gofs.NodeSetxattrer)((*dirNode)(nil))

func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if data == nil {
		data = []byte{}
	}
	return n.changeXattr(ctx, attr, data, flags)
}

var _ = (gofs.NodeRemovexattrer)((*dirNode)(nil))

func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if foreignXattr(attr) {
		return syscall.ENODATA
	}
	return n.changeXattr(ctx, attr, nil, 0)
}

// changeXattr rewrites the directory marker's metadata, creating the marker
// of an implicit directory.
func (n *dirNode) changeXattr(ctx context.Context, attr string, value []byte, flags uint32) syscall.Errno {
	if errno := n.fsys.checkWritable(); errno != 0 {
		return errno
	}
	if foreignXattr(attr) {
		return syscall.ENOTSUP
	}
	if n.IsRoot() && n.fsys.cfg.Prefix == "" {
		return syscall.EPERM // the bucket root has no object to carry metadata
	}
	v, errno := n.dirMeta(ctx)
	if errno != 0 {
		return errno
	}
	if errno := v.apply(attr, value, flags); errno != 0 {
		return errno
	}
	key := n.key()
	var err error
	if v.info != nil {
		_, err = n.fsys.rewriteMeta(ctx, key, v.info.Size, v.info.ETag, mergeOssfs(v.meta, v.info.Meta), v.headers)
	} else {
		a := n.attrs()
		mt := a.mtime
		if mt.IsZero() {
			mt = time.Now()
		}
		meta := mergeOssfs(v.meta, ossfsMeta(a.mode, a.uid, a.gid, mt))
		if v.headers.ContentType == "" {
			v.headers.ContentType = "application/x-directory"
		}
		_, err = n.fsys.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Meta: meta, Headers: v.headers})
	}
	if err != nil {
		return n.fsys.toErrno("setxattr", err)
	}
	n.fsys.stat.Remove(strings.TrimSuffix(key, "/"))
	n.fsys.lists.Remove(parentKey(strings.TrimSuffix(key, "/")))
	return 0
}
