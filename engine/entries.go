package engine

// The namespace operations that create and remove entries on the server
// (mkdir, mknod, symlink, rmdir, unlink): each changes the server before
// it returns and tells the caches what the key now is. (A regular file is
// created by a Writer, which publishes nothing before its close.)

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// Entry is a new directory, special file or symlink: its full st_mode,
// owner and device number (devices only).
type Entry struct {
	Mode, UID, GID, Rdev uint32
}

// Create makes the object that stands for a new entry at key: a
// directory's marker (key ends in '/'; an empty object of type
// application/x-directory), a special file (empty) or a symlink (body:
// its target), with ossfs metadata (mode, owner, now as the mtime, rdev),
// and records it (Made). It returns the entry's attributes.
func (n *Namespace) Create(ctx context.Context, key string, e Entry, body string) (*Stat, error) {
	now := time.Now()
	meta := OssfsMeta(e.Mode, e.UID, e.GID, now)
	if e.Rdev != 0 {
		meta["rdev"] = strconv.FormatUint(uint64(e.Rdev), 10)
	}
	dir := strings.HasSuffix(key, "/")
	hdr := ossapi.StdHeaders{ContentType: "application/octet-stream"}
	if dir {
		hdr.ContentType = "application/x-directory"
	}
	res, err := n.store.Put(ctx, ossapi.PutRequest{Key: key, Body: strings.NewReader(body), Size: int64(len(body)), Meta: meta, Headers: hdr})
	if err != nil {
		return nil, err
	}
	a := n.AttrFromInfo(&ossapi.ObjectInfo{Key: key, Size: int64(len(body)), ETag: res.ETag, LastModified: now, Meta: meta, Full: true, Headers: hdr}, dir)
	n.Made(strings.TrimSuffix(key, "/"), a)
	if dir {
		n.NoteEmptyDir(key)
	}
	return a, nil
}

// EmptyDir returns ENOTEMPTY when the directory dirKey ("dir/") holds
// anything but its marker (one LIST of two keys).
func (n *Namespace) EmptyDir(ctx context.Context, dirKey string) error {
	page, err := n.store.List(ctx, ossapi.ListRequest{Prefix: dirKey, MaxKeys: 2})
	if err != nil {
		return err
	}
	for _, o := range page.Objects {
		if o.Key != dirKey {
			return syscall.ENOTEMPTY
		}
	}
	if len(page.CommonPrefixes) > 0 {
		return syscall.ENOTEMPTY
	}
	return nil
}

// RemoveDir removes the empty directory dirKey ("dir/"): ENOTEMPTY unless
// it holds nothing but its marker, else the marker is deleted (a delete of
// a key that does not exist succeeds on OSS) and the directory recorded as
// removed.
func (n *Namespace) RemoveDir(ctx context.Context, dirKey string) error {
	if err := n.EmptyDir(ctx, dirKey); err != nil {
		return err
	}
	if err := n.store.Delete(ctx, dirKey); err != nil {
		return err
	}
	n.Removed(strings.TrimSuffix(dirKey, "/"), true)
	return nil
}

// RemoveFile removes the file at key: its object is deleted when it has
// one on the server (onServer), and the name recorded as removed.
func (n *Namespace) RemoveFile(ctx context.Context, key string, onServer bool) error {
	if onServer {
		if err := n.store.Delete(ctx, key); err != nil {
			return err
		}
	}
	n.Removed(key, false)
	return nil
}
