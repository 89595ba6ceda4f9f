package engine

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
// This file holds what needs no FUSE: the names and what they stand for,
// the checks of names, values and sizes, an object's metadata as xattrs
// see it (MetaView), and the changes: a self-copy with REPLACE made from
// a fresh HEAD (ChangeObjectXattr, ChangeXattr), a directory marker made
// for an implicit directory (CreateMarkerXattr), or, for a file with an
// upload still to come, the metadata that upload carries
// (ChangeWriterXattr). Package fs answers the go-fuse calls (fs/xattr.go:
// the caches a read is served from, the buffer sizes, ERANGE).

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

const (
	xattrUser = "user."
	xattrOSS  = "oss." // after xattrUser
)

// Linux setxattr flags.
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// ossfsKeys are the metadata names ossfs uses for stat fields.
var ossfsKeys = map[string]bool{"mode": true, "uid": true, "gid": true, "atime": true, "mtime": true, "ctime": true}

// headerXattrs are the writable standard headers (in the order of headerField).
var headerXattrs = []string{"content-type", "content-disposition", "cache-control", "content-encoding", "content-language", "expires"}

// factXattrs are read-only facts.
var factXattrs = []string{"etag", "crc64", "storage-class", "object-type", "last-modified"}

// XattrKind classifies an attribute name.
type XattrKind int

const (
	XattrForeign XattrKind = iota // not user.*: answered without a request
	XattrInvalid                  // user.* that cannot be a metadata name
	XattrOssfs                    // user.mode etc.: shown through stat
	XattrMeta                     // user.<name>
	XattrHeader                   // user.oss.<standard header>
	XattrFact                     // user.oss.<read-only fact>
)

// ParseXattr classifies name and returns its lower-case key: the metadata
// name, the header or the fact.
func ParseXattr(name string) (XattrKind, string) {
	if !strings.HasPrefix(name, xattrUser) {
		return XattrForeign, ""
	}
	rest := name[len(xattrUser):]
	low := strings.ToLower(rest)
	if strings.HasPrefix(low, xattrOSS) {
		h := low[len(xattrOSS):]
		if slices.Contains(headerXattrs, h) {
			return XattrHeader, h
		}
		if slices.Contains(factXattrs, h) {
			return XattrFact, h
		}
		return XattrInvalid, ""
	}
	if !ossapi.ValidMetaName(rest) {
		return XattrInvalid, ""
	}
	if ossfsKeys[low] {
		return XattrOssfs, low
	}
	return XattrMeta, low
}

// ListedFact reports whether the fact k of a XattrFact name is one a LIST
// entry carries (etag, last-modified, storage-class, object-type): a
// listing's attributes then answer it without a HEAD.
func ListedFact(kind XattrKind, k string) bool {
	return kind == XattrFact && k != "crc64"
}

// ReadErr is the answer to a getxattr of a name that needs no request:
// ENOTSUP for the namespaces the mount does not have (security., system.,
// trusted.), ENODATA for user. names that cannot exist, nil for the
// others. ENOTSUP rather than ENODATA matters: ls -l asks every file for
// security.selinux and its POSIX ACL, and stops asking on the device after
// the first "not supported".
func ReadErr(kind XattrKind) error {
	switch kind {
	case XattrForeign:
		return syscall.ENOTSUP
	case XattrInvalid, XattrOssfs:
		return syscall.ENODATA
	}
	return nil
}

// XattrChange is one setxattr (Value not nil) or removexattr (Value nil)
// of a name that can be written: a XattrMeta or XattrHeader.
type XattrChange struct {
	Kind  XattrKind
	Key   string // the lower-case metadata name or header
	Value []byte
	Flags uint32 // XattrCreate, XattrReplace
}

// ParseXattrChange is what every setxattr/removexattr checks before any
// request: the name can be written (ENOTSUP for another namespace, EINVAL
// for an invalid name, EPERM for the ossfs keys and the facts), the value
// can travel in a header (EINVAL).
func ParseXattrChange(name string, value []byte, flags uint32) (XattrChange, error) {
	kind, k := ParseXattr(name)
	switch kind {
	case XattrForeign:
		return XattrChange{}, syscall.ENOTSUP
	case XattrInvalid:
		return XattrChange{}, syscall.EINVAL
	case XattrOssfs, XattrFact:
		return XattrChange{}, syscall.EPERM
	}
	// An empty header is no header: the SDK does not send it.
	if value != nil && (len(value) == 0 || !ossapi.ValidHeaderValue(string(value))) {
		return XattrChange{}, syscall.EINVAL
	}
	return XattrChange{Kind: kind, Key: k, Value: value, Flags: flags}, nil
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

// HasFact reports whether info holds the fact k.
func HasFact(info *ossapi.ObjectInfo, k string) bool {
	_, ok := factValue(info, k)
	return ok
}

// MetaView is an object's metadata as xattrs see it.
type MetaView struct {
	Meta    map[string]string // all user metadata, ossfs keys included
	Headers ossapi.StdHeaders
	Info    *ossapi.ObjectInfo // facts; nil for implicit directories and files being written
}

// EmptyView is the metadata of an object that has none (an implicit
// directory, the bucket root).
func EmptyView() *MetaView { return &MetaView{Meta: map[string]string{}} }

// ViewOf is the metadata info describes (a copy of its map).
func ViewOf(info *ossapi.ObjectInfo) *MetaView {
	v := &MetaView{Meta: make(map[string]string, len(info.Meta)), Headers: info.Headers, Info: info}
	for k, val := range info.Meta {
		v.Meta[k] = val
	}
	return v
}

// Get is the value of the name ParseXattr classified as kind, k; ENODATA
// when the object has none.
func (v *MetaView) Get(kind XattrKind, k string) (string, error) {
	switch kind {
	case XattrMeta:
		if val, ok := v.Meta[k]; ok {
			return val, nil
		}
	case XattrHeader:
		if p := headerField(&v.Headers, k); *p != "" {
			return *p, nil
		}
	case XattrFact:
		if v.Info != nil {
			if val, ok := factValue(v.Info, k); ok {
				return val, nil
			}
		}
	}
	return "", syscall.ENODATA
}

// List is what listxattr shows: every name Get answers, sorted.
func (v *MetaView) List() []string {
	var out []string
	for k := range v.Meta {
		if !ossfsKeys[k] {
			out = append(out, xattrUser+k)
		}
	}
	for _, h := range headerXattrs {
		if *headerField(&v.Headers, h) != "" {
			out = append(out, xattrUser+xattrOSS+h)
		}
	}
	if v.Info != nil {
		for _, h := range factXattrs {
			if _, ok := factValue(v.Info, h); ok {
				out = append(out, xattrUser+xattrOSS+h)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Apply makes c in v: ENODATA when it removes, or replaces with
// XattrReplace, a name v does not have; EEXIST when it creates
// (XattrCreate) one v has.
func (v *MetaView) Apply(c XattrChange) error {
	if c.Kind == XattrHeader {
		p := headerField(&v.Headers, c.Key)
		if err := checkFlags(*p != "", c.Value, c.Flags); err != nil {
			return err
		}
		*p = string(c.Value) // nil removes the header
		return nil
	}
	_, exists := v.Meta[c.Key]
	if err := checkFlags(exists, c.Value, c.Flags); err != nil {
		return err
	}
	if c.Value == nil {
		delete(v.Meta, c.Key)
	} else {
		v.Meta[c.Key] = string(c.Value)
	}
	return nil
}

func checkFlags(exists bool, value []byte, flags uint32) error {
	switch {
	case value == nil && !exists:
		return syscall.ENODATA
	case flags&XattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&XattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	return nil
}

// checkMetaSize refuses metadata OSS would refuse (names plus values over
// 8 KB) with E2BIG.
func checkMetaSize(meta map[string]string) error {
	if ossapi.MetaSize(meta) > ossapi.MaxMetaSize {
		return syscall.E2BIG
	}
	return nil
}

// keepMtime makes sure a self-copy does not move the mtime: an object
// without x-oss-meta-mtime shows its Last-Modified, which the copy changes.
func keepMtime(meta map[string]string, info *ossapi.ObjectInfo) {
	if _, ok := meta["mtime"]; !ok && !info.LastModified.IsZero() {
		meta["mtime"] = FormatMtime(info.LastModified)
	}
}

// ChangeXattr makes c on the object info describes (a fresh HEAD's) with a
// self-copy keeping its mtime, and returns what the object is now: its
// key, size, new ETag, metadata and headers (LastModified: now).
func (e *Engine) ChangeXattr(ctx context.Context, info *ossapi.ObjectInfo, c XattrChange) (*ossapi.ObjectInfo, error) {
	v := ViewOf(info)
	if err := v.Apply(c); err != nil {
		return nil, err
	}
	keepMtime(v.Meta, info)
	if err := checkMetaSize(v.Meta); err != nil {
		return nil, err
	}
	etag, err := e.RewriteMeta(ctx, info.Key, info.Size, info.ETag, v.Meta, v.Headers)
	if err != nil {
		return nil, err
	}
	return &ossapi.ObjectInfo{Key: info.Key, Size: info.Size, ETag: etag, LastModified: time.Now(), Meta: v.Meta, Headers: v.Headers}, nil
}

// ChangeObjectXattr makes c on the object at key, from a fresh HEAD (the
// kernel runs setxattr/removexattr of one inode one at a time, so the
// HEAD and the copy do not race each other): see ChangeXattr.
func (e *Engine) ChangeObjectXattr(ctx context.Context, key string, c XattrChange) (*ossapi.ObjectInfo, error) {
	info, err := e.store.Head(ctx, key, ossapi.HeadOptions{})
	if err != nil {
		return nil, err
	}
	return e.ChangeXattr(ctx, info, c)
}

// CreateMarkerXattr makes c on an implicit directory at key (a "dir/"
// prefix with no marker object): it creates the marker, with the mode,
// owner and mtime a shows and c, and returns what the marker is.
func (e *Engine) CreateMarkerXattr(ctx context.Context, key string, a *Stat, c XattrChange) (*ossapi.ObjectInfo, error) {
	v := &MetaView{Meta: a.OssfsMeta(), Headers: ossapi.StdHeaders{ContentType: "application/x-directory"}}
	if err := v.Apply(c); err != nil {
		return nil, err
	}
	if err := checkMetaSize(v.Meta); err != nil {
		return nil, err
	}
	res, err := e.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Meta: v.Meta, Headers: v.Headers})
	if err != nil {
		return nil, err
	}
	return &ossapi.ObjectInfo{Key: key, ETag: res.ETag, LastModified: a.Mtime(), Meta: v.Meta, Headers: v.Headers}, nil
}

// XattrView is the metadata the file being written will be uploaded with
// (no facts: the object it will be is not made yet).
func (w *Writer) XattrView() *MetaView {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.xattrViewLocked()
}

// xattrViewLocked is XattrView with the writer locked.
func (w *Writer) xattrViewLocked() *MetaView {
	meta, hdr := w.uploadMetaLocked()
	return &MetaView{Meta: meta, Headers: hdr}
}

// ChangeWriterXattr makes c on the file w writes (w locked): while an
// upload is still to come, c travels with it (E2BIG when the metadata,
// with ossfs's mode, owner and mtime, would be too large); when the
// writer has nothing to upload, c is made on the object now, from a fresh
// HEAD of the version w holds, and kept in w (rewritten: the object
// changed). A writer whose upload failed refuses with EIO.
func (e *Engine) ChangeWriterXattr(ctx context.Context, w *Writer, c XattrChange) (rewritten bool, err error) {
	if w.FailedLocked() {
		return false, syscall.EIO
	}
	v := w.xattrViewLocked()
	if err := v.Apply(c); err != nil {
		return false, err
	}
	if w.uploadPendingLocked() {
		// Size as uploaded: with ossfs's mode, uid, gid and mtime.
		sized := make(map[string]string, len(v.Meta)+4)
		for key, val := range v.Meta {
			sized[key] = val
		}
		wa := w.attrLocked()
		for key, val := range OssfsMeta(wa.Mode, wa.UID, wa.GID, wa.Mtime) {
			sized[key] = val
		}
		if err := checkMetaSize(sized); err != nil {
			return false, err
		}
		w.setUploadMetaLocked(v.Meta, v.Headers)
		return false, nil
	}
	info, err := e.store.Head(ctx, w.keyLocked(), ossapi.HeadOptions{IfMatch: w.baseETagLocked()})
	if err != nil {
		return false, err
	}
	ni, err := e.ChangeXattr(ctx, info, c)
	if err != nil {
		return false, err
	}
	w.rebaseMetaLocked(ni.Meta, ni.Headers, ni.ETag)
	return true, nil
}
