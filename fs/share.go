package fs

// Sharing from the mount: virtual, read-only extended attributes whose NAME
// carries a request and whose VALUE is the daemon's answer, signed with the
// mount's own current credentials (a refreshed STS token included):
//
//	getxattr(FILE, "user.oss.presign?exp=3600&dl=a%20b.txt&v1=1")
//	    a presigned GET URL for the file's object. Value (text):
//	        <URL>\n
//	        expires=<RFC 3339 UTC>\n
//	        clipped=1\n             (only when the expiry was brought forward
//	                                 to the temporary credentials' expiry)
//	getxattr(DIR, "user.oss.post-policy?exp=600&max=1048576&ct=image/&keep=1")
//	    a signed browser form upload (PostObject) into the directory's
//	    prefix. Value (JSON, PostPolicyAnswer): {"url":..., "prefix":...,
//	    "fields":{...}, "expiration":"<RFC 3339>", "clipped":bool,
//	    "policy_document":"<decoded policy JSON>"}
//
// The part after '?' is application/x-www-form-urlencoded (UTF-8 may also
// appear raw; '%', '&', '=', '+' and ';' in a value must be escaped), and
// every parameter is optional:
//
//	exp=SECONDS   validity (default 1800; at most 604800)
//	v1=1          signature V1 (default: the mount's, normally V4)
//	presign only:
//	dl=NAME       response-content-disposition: attachment with NAME as
//	              RFC 6266 filename="ascii fallback"; filename*=UTF-8''...
//	inline=1      response-content-disposition: inline (with dl: its name)
//	ct=TYPE       response-content-type
//	post-policy only:
//	max=BYTES     largest upload (content-length-range); min=BYTES smallest
//	ct=TYPE       required Content-Type; a prefix when it ends in '/'
//	keep=1        key = prefix + "${filename}" (the uploaded file's name);
//	              default: prefix + a random name. Either way the policy
//	              allows any key starting with the prefix.
//
// The caller (uid/gid of the FUSE request, supplementary groups from
// /proc/PID/status) must be allowed to search the path, and to read the
// file or to write and search the directory, by its exact mode, uid and
// gid (access.go); root always is. Otherwise EACCES. A post-policy on a read-only mount is
// EROFS; presign of a directory EISDIR; post-policy of a file ENOTDIR; a
// malformed request EINVAL; a file not yet uploaded EBUSY. The names are
// never listed by listxattr, cannot be set or removed, and cause no request
// to OSS (signing is local; a HEAD only when the file's attributes are not
// cached). The kernel limits xattr names to 255 bytes.
//
// Because tools often ask for a value's size first and then for the value,
// the answer to a size probe is kept for a few seconds and returned by the
// next read of the same name by the same user on the same node, so both
// calls see the same value.
//
// The requests, their signing and the kept answers are the engine's
// (engine/share.go); here are the checks of the caller and the node, and
// the answer handed to go-fuse.

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// isShareXattr reports whether name is a request to the daemon: sharing,
// or the statistics (stats.go).
func isShareXattr(name string) bool {
	base, _, _ := strings.Cut(name, "?")
	return base == engine.XattrPresign || base == engine.XattrPostPolicy || name == xattrStats || name == xattrCache
}

// PostPolicyAnswer is the JSON value of a user.oss.post-policy request
// (engine.PostPolicyAnswer; the post-policy command reads it).
type PostPolicyAnswer = engine.PostPolicyAnswer

// ContentDisposition builds a Content-Disposition value of kind for
// filename (engine.ContentDisposition; the presign command uses it).
func ContentDisposition(kind, filename string) (string, bool) {
	return engine.ContentDisposition(kind, filename)
}

// callerUID is the uid of the request's caller (0 when there is none).
func callerUID(ctx context.Context) uint32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Uid
	}
	return 0
}

// answerShare returns the value for dest: a kept probe answer, or a fresh
// one from sign (kept when dest is a size probe).
func answerShare(ctx context.Context, f *FS, ino uint64, name string, dest []byte, sign func() (string, syscall.Errno)) (uint32, syscall.Errno) {
	k := engine.ProbeKey{Ino: ino, UID: callerUID(ctx), Name: name}
	val, ok := "", false
	if len(dest) > 0 {
		val, ok = f.probes.Take(k)
	}
	if !ok {
		var errno syscall.Errno
		if val, errno = sign(); errno != 0 {
			return 0, errno
		}
		if len(dest) == 0 {
			f.probes.Keep(k, val)
		}
	}
	return copyXattr(dest, val)
}

// shareXattr answers a presign request on a file.
func (n *fileNode) shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	f := n.fsys
	q, err := engine.PresignParams(name)
	if err != nil {
		return 0, f.toErrno("presign", err)
	}
	if n.Path(nil) == "" {
		return 0, syscall.ENOENT // unlinked while open: no object any more
	}
	if n.isPending() {
		return 0, syscall.EBUSY // not on OSS yet: nothing to share
	}
	a, errno := n.exactAttr(ctx)
	if errno != 0 {
		return 0, errno
	}
	if a.IsSymlink() || a.Dir || a.Special() {
		return 0, syscall.EINVAL
	}
	if errno := f.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return 0, errno
	}
	req, err := engine.PresignRequest(q, n.key())
	if err != nil {
		return 0, f.toErrno("presign", err)
	}
	return answerShare(ctx, f, n.StableAttr().Ino, name, dest, func() (string, syscall.Errno) {
		val, err := f.eng.Presign(ctx, req, callerUID(ctx))
		return val, f.toErrno("presign", err)
	})
}

// shareXattr answers a post-policy request on a directory.
func (n *dirNode) shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	f := n.fsys
	q, err := engine.PostPolicyParams(name)
	if err != nil {
		return 0, f.toErrno("post-policy", err)
	}
	if errno := f.checkWritable(); errno != 0 {
		return 0, errno
	}
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := f.mayErrno(ctx, &n.Inode, a, engine.PermWrite|engine.PermExec); errno != 0 {
		return 0, errno
	}
	req, err := engine.PostPolicyRequest(q, n.key())
	if err != nil {
		return 0, f.toErrno("post-policy", err)
	}
	return answerShare(ctx, f, n.StableAttr().Ino, name, dest, func() (string, syscall.Errno) {
		val, err := f.eng.SignPostPolicy(ctx, req, callerUID(ctx))
		return val, f.toErrno("post-policy", err)
	})
}
