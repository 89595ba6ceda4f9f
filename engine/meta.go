package engine

// ossfs's metadata (x-oss-meta-mode, uid, gid, mtime) as the file system
// writes it, and the changes chmod, chown and utimes make to it: in place
// on an object with no upload to come (RewriteAttrs), on a directory's
// marker (WriteMarkerMeta), or in a Writer's state (Writer.SetMeta).

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// OssfsMeta is the metadata ossfs keeps for mode, owner and mtime.
func OssfsMeta(mode, uid, gid uint32, mtime time.Time) map[string]string {
	return map[string]string{
		"mode":  strconv.FormatUint(uint64(mode), 10),
		"uid":   strconv.FormatUint(uint64(uid), 10),
		"gid":   strconv.FormatUint(uint64(gid), 10),
		"mtime": FormatMtime(mtime),
	}
}

// ParseMtime reads ossfs's x-oss-meta-mtime: epoch seconds, optionally
// "sec.nnnnnnnnn".
func ParseMtime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ns), true
}

// FormatMtime writes t the way ossfs does (seconds; nanoseconds when set).
func FormatMtime(t time.Time) string {
	if t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(int64(t.Nanosecond())+1e9, 10)[1:]
}

// AttrChange is what a chmod, chown or utimes changes: a nil field stays
// as it is.
type AttrChange struct {
	Mode     *uint32 // its permission bits (07777); the file type stays
	UID, GID *uint32
	Mtime    *time.Time
}

// None reports whether c changes nothing.
func (c AttrChange) None() bool {
	return c.Mode == nil && c.UID == nil && c.GID == nil && c.Mtime == nil
}

// Apply makes c's changes to a mode, owner and mtime.
func (c AttrChange) Apply(mode, uid, gid *uint32, mtime *time.Time) {
	if c.Mode != nil {
		*mode = *mode&syscall.S_IFMT | *c.Mode&0o7777
	}
	if c.UID != nil {
		*uid = *c.UID
	}
	if c.GID != nil {
		*gid = *c.GID
	}
	if c.Mtime != nil {
		*mtime = *c.Mtime
	}
}

// Changed is a copy of a with c's changes made.
func (c AttrChange) Changed(a *Stat) *Stat {
	na := *a
	t := na.Mtime()
	c.Apply(&na.Mode, &na.UID, &na.GID, &t)
	na.SetMtime(t)
	return &na
}

// OssfsMeta is ossfs's metadata for a's mode, owner and mtime.
func (a *Stat) OssfsMeta() map[string]string { return OssfsMeta(a.Mode, a.UID, a.GID, a.Mtime()) }

// SUIDKilled is mode without set-user-ID, and without set-group-ID when
// the file is group-executable; ok says whether that changed anything.
func SUIDKilled(mode uint32) (uint32, bool) {
	kill := uint32(syscall.S_ISUID)
	if mode&syscall.S_IXGRP != 0 {
		kill |= syscall.S_ISGID
	}
	return mode &^ kill, mode&kill != 0
}

// RewriteAttrs makes c (chmod, chown, utimes) on the object at key, which
// a describes (a HEAD's attributes, with its Info), in place: a self-copy
// keeping its other metadata and headers. It returns the metadata written.
func (e *Engine) RewriteAttrs(ctx context.Context, key string, a *Stat, c AttrChange) (map[string]string, error) {
	meta := map[string]string{}
	for k, v := range a.Info.Meta {
		meta[k] = v
	}
	for k, v := range c.Changed(a).OssfsMeta() {
		meta[k] = v
	}
	if _, err := e.RewriteMeta(ctx, key, a.Size, a.ETag, meta, a.Info.Headers); err != nil {
		return nil, err
	}
	return meta, nil
}

// WriteMarkerMeta sets ossfs's metadata (ossfs: OssfsMeta's) on the
// directory marker at key, keeping its other metadata and headers (a
// self-copy), or creates the marker with it. It returns what the marker
// is now: its key, ETag, metadata and headers (LastModified: now).
func (e *Engine) WriteMarkerMeta(ctx context.Context, key string, ossfs map[string]string) (*ossapi.ObjectInfo, error) {
	info, err := e.store.Head(ctx, key, ossapi.HeadOptions{})
	meta := map[string]string{}
	hdr := ossapi.StdHeaders{ContentType: "application/x-directory"}
	if err == nil {
		for k, v := range info.Meta {
			meta[k] = v
		}
		hdr = info.Headers
	} else if ossapi.KindOf(err) != ossapi.KindNotExist {
		return nil, err
	}
	for k, v := range ossfs {
		meta[k] = v
	}
	var etag string
	if err == nil {
		etag, err = e.RewriteMeta(ctx, key, info.Size, info.ETag, meta, hdr)
	} else {
		var res *ossapi.PutResult
		res, err = e.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(""), Meta: meta, Headers: hdr})
		if res != nil {
			etag = res.ETag
		}
	}
	if err != nil {
		return nil, err
	}
	return &ossapi.ObjectInfo{Key: key, ETag: etag, LastModified: time.Now(), Meta: meta, Headers: hdr, Full: true}, nil
}

// ChangeCleanWriterAttrs makes c (chmod, chown, utimes) on the file at
// key whose writer w has nothing to upload: in place on the server
// (ChangeFileAttrs), and w takes the new metadata and version (its next
// upload starts from them). done is false, and nothing is changed, when w
// has changes after all: its upload then carries c (Writer.SetMeta).
func (n *Namespace) ChangeCleanWriterAttrs(ctx context.Context, e *Engine, w *Writer, key string, c AttrChange) (a *Stat, done bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.cleanLocked() {
		return nil, false, nil
	}
	a, meta, err := n.ChangeFileAttrs(ctx, e, key, c)
	if err != nil {
		return nil, true, err
	}
	w.rebaseLocked(*a.Base(), meta, c.Mtime != nil)
	n.Learned(w.key, a)
	return a, true, nil
}

// ChangeFileAttrs makes c (chmod, chown, utimes) on the file at key with
// e, in place, from a fresh HEAD (RewriteAttrs), and returns the file's
// new attributes (another HEAD's, which the namespace now holds) and the
// metadata written.
func (n *Namespace) ChangeFileAttrs(ctx context.Context, e *Engine, key string, c AttrChange) (*Stat, map[string]string, error) {
	a, err := n.HeadFile(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	meta, err := e.RewriteAttrs(ctx, key, a, c)
	if err != nil {
		return nil, nil, err
	}
	n.Invalidate(key)
	if a, err = n.HeadFile(ctx, key); err != nil {
		return nil, nil, err
	}
	return a, meta, nil
}

// ChangeDirAttrs makes c (chmod, chown, utimes) on the directory at key
// (ending in '/'), whose attributes are a, with e: on its marker, created
// for an implicit directory (WriteMarkerMeta). It returns the directory's
// new attributes, which the namespace now holds (MadeDir).
func (n *Namespace) ChangeDirAttrs(ctx context.Context, e *Engine, key string, a *Stat, c AttrChange) (*Stat, error) {
	info, err := e.WriteMarkerMeta(ctx, key, c.Changed(a).OssfsMeta())
	if err != nil {
		return nil, err
	}
	na := n.AttrFromInfo(info, true)
	n.MadeDir(key, na)
	return na, nil
}
