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

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

const (
	xattrPresign    = "user.oss.presign"
	xattrPostPolicy = "user.oss.post-policy"
)

// isShareXattr reports whether name is a request to the daemon: sharing,
// or the statistics (stats.go).
func isShareXattr(name string) bool {
	base, _, _ := strings.Cut(name, "?")
	return base == xattrPresign || base == xattrPostPolicy || name == xattrStats || name == xattrCache
}

// shareParams parses the query of a sharing request for base, allowing
// only the names in allowed (each at most once). A request for another
// base (one of the other kind of node) is answered with wrong.
func shareParams(name, base string, wrong syscall.Errno, allowed ...string) (url.Values, syscall.Errno) {
	b, query, _ := strings.Cut(name, "?")
	if b != base {
		return nil, wrong
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, syscall.EINVAL
	}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok || len(v) != 1 {
			return nil, syscall.EINVAL
		}
	}
	return q, 0
}

// shareQuery reads a sharing request's parameters; the first bad one
// leaves errno EINVAL.
type shareQuery struct {
	q     url.Values
	errno syscall.Errno
}

// flag reads an on/off parameter (absent: off).
func (p *shareQuery) flag(k string) bool {
	switch p.q.Get(k) {
	case "", "0", "false", "no":
		return false
	case "1", "true", "yes":
		return true
	}
	p.errno = syscall.EINVAL
	return false
}

// int reads a parameter from 1 to max (absent: 0).
func (p *shareQuery) int(k string, max int64) int64 {
	s := p.q.Get(k)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > max {
		p.errno = syscall.EINVAL
		return 0
	}
	return n
}

// shareProbeKey names a size probe's answer: the inode, the caller and the
// attribute asked for.
type shareProbeKey struct {
	ino  uint64
	uid  uint32
	name string
}

type shareProbe struct {
	value   string
	expires time.Time
}

const shareProbeTTL = 5 * time.Second

// shareProbes keeps the answer to a size probe (getxattr with an empty
// buffer) for the read that follows, so both see the same signed value.
type shareProbes struct {
	mu      sync.Mutex
	answers map[shareProbeKey]shareProbe // GUARDED_BY(mu)
}

func probeKey(ctx context.Context, ino uint64, name string) shareProbeKey {
	k := shareProbeKey{ino: ino, name: name}
	if c, ok := fuse.FromContext(ctx); ok {
		k.uid = c.Uid
	}
	return k
}

// take returns (and forgets) a kept answer.
func (s *shareProbes) take(k shareProbeKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.answers[k]
	if !ok {
		return "", false
	}
	delete(s.answers, k)
	if time.Now().After(p.expires) {
		return "", false
	}
	return p.value, true
}

// keep keeps an answer for shareProbeTTL (at most 1024 of them).
func (s *shareProbes) keep(k shareProbeKey, v string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for old, p := range s.answers {
		if now.After(p.expires) {
			delete(s.answers, old)
		}
	}
	if s.answers == nil {
		s.answers = map[shareProbeKey]shareProbe{}
	}
	if len(s.answers) < 1024 {
		s.answers[k] = shareProbe{value: v, expires: now.Add(shareProbeTTL)}
	}
}

// answerShare returns the value for dest: a kept probe answer, or a fresh
// one from sign (kept when dest is a size probe).
func answerShare(ctx context.Context, f *FS, ino uint64, name string, dest []byte, sign func() (string, syscall.Errno)) (uint32, syscall.Errno) {
	k := probeKey(ctx, ino, name)
	val, ok := "", false
	if len(dest) > 0 {
		val, ok = f.probes.take(k)
	}
	if !ok {
		var errno syscall.Errno
		if val, errno = sign(); errno != 0 {
			return 0, errno
		}
		if len(dest) == 0 {
			f.probes.keep(k, val)
		}
	}
	return copyXattr(dest, val)
}

// shareXattr answers a presign request on a file.
func (n *fileNode) shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	q, errno := shareParams(name, xattrPresign, syscall.ENOTDIR, "exp", "dl", "inline", "ct", "v1")
	if errno != 0 {
		return 0, errno
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
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, engine.PermRead); errno != 0 {
		return 0, errno
	}
	p := shareQuery{q: q}
	exp := p.int("exp", int64(ossapi.MaxPresignExpiry/time.Second))
	inline := p.flag("inline")
	v1 := p.flag("v1")
	if p.errno != 0 {
		return 0, p.errno
	}
	req := ossapi.PresignRequest{Key: n.key(), Method: "GET", Expires: time.Duration(exp) * time.Second, SignatureV1: v1,
		ResponseContentType: q.Get("ct")}
	if req.Expires == 0 {
		req.Expires = ossapi.DefaultShareExpiry
	}
	if ct := req.ResponseContentType; ct != "" && !ossapi.ValidHeaderValue(ct) {
		return 0, syscall.EINVAL
	}
	if dl := q.Get("dl"); dl != "" || inline {
		kind := "attachment"
		if inline {
			kind = "inline"
		}
		cd, ok := ContentDisposition(kind, dl)
		if !ok {
			return 0, syscall.EINVAL
		}
		req.ResponseContentDisposition = cd
	}
	return answerShare(ctx, n.fsys, n.StableAttr().Ino, name, dest, func() (string, syscall.Errno) {
		return n.fsys.presign(ctx, req)
	})
}

// presign signs req, clipped to the credentials' lifetime.
func (f *FS) presign(ctx context.Context, req ossapi.PresignRequest) (string, syscall.Errno) {
	start := time.Now()
	var res *ossapi.PresignResult
	var err error
	if cp, ok := f.store.(ossapi.ClippingPresigner); ok {
		res, err = cp.PresignClipped(ctx, req)
	} else {
		res, err = f.store.Presign(ctx, req)
	}
	if err != nil {
		return "", f.toErrno("presign", err)
	}
	clipped := res.Expiration.Before(start.Add(req.Expires).Add(-time.Second))
	var b strings.Builder
	b.WriteString(res.URL + "\n")
	b.WriteString("expires=" + res.Expiration.UTC().Format(time.RFC3339) + "\n")
	if clipped {
		b.WriteString("clipped=1\n")
	}
	uid := uint32(0)
	if c, ok := fuse.FromContext(ctx); ok {
		uid = c.Uid
	}
	// The URL is a bearer credential: never logged.
	f.log.Info("share: presigned a URL", "key", req.Key, "uid", uid, "expires", res.Expiration.UTC().Format(time.RFC3339), "clipped", clipped)
	return b.String(), 0
}

// shareXattr answers a post-policy request on a directory.
func (n *dirNode) shareXattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	q, errno := shareParams(name, xattrPostPolicy, syscall.EISDIR, "exp", "max", "min", "ct", "keep", "v1")
	if errno != 0 {
		return 0, errno
	}
	if errno := n.fsys.checkWritable(); errno != 0 {
		return 0, errno
	}
	a, errno := n.attrs(ctx)
	if errno != 0 {
		return 0, errno
	}
	if errno := n.fsys.mayErrno(ctx, &n.Inode, a, engine.PermWrite|engine.PermExec); errno != 0 {
		return 0, errno
	}
	p := shareQuery{q: q}
	exp := p.int("exp", int64(ossapi.MaxPostPolicyExpiry/time.Second))
	maxSize := p.int("max", 5<<30)
	minSize := p.int("min", 5<<30)
	keep := p.flag("keep")
	v1 := p.flag("v1")
	if p.errno != 0 {
		return 0, p.errno
	}
	prefix := n.key()
	req := ossapi.PostPolicyRequest{Prefix: prefix, Expires: time.Duration(exp) * time.Second, MinSize: minSize,
		MaxSize: maxSize, ContentType: q.Get("ct"), SignatureV1: v1}
	if req.Expires == 0 {
		req.Expires = ossapi.DefaultShareExpiry
	}
	if keep {
		req.Key = prefix + "${filename}"
	}
	return answerShare(ctx, n.fsys, n.StableAttr().Ino, name, dest, func() (string, syscall.Errno) {
		p, err := n.fsys.store.SignPostPolicy(ctx, req)
		if err != nil {
			return "", n.fsys.toErrno("post-policy", err)
		}
		out, err := json.Marshal(PostPolicyAnswer{URL: p.URL, Prefix: prefix, Fields: p.Fields,
			Expiration: p.Expiration.UTC().Format(time.RFC3339), Clipped: p.Clipped, PolicyDocument: p.Policy})
		if err != nil {
			return "", syscall.EIO
		}
		uid := uint32(0)
		if c, ok := fuse.FromContext(ctx); ok {
			uid = c.Uid
		}
		n.fsys.log.Info("share: signed a POST policy", "prefix", prefix, "uid", uid,
			"expires", p.Expiration.UTC().Format(time.RFC3339), "clipped", p.Clipped)
		return string(out), 0
	})
}

// PostPolicyAnswer is the JSON value of a user.oss.post-policy request.
type PostPolicyAnswer struct {
	URL    string            `json:"url"`    // where the form is posted
	Prefix string            `json:"prefix"` // every key must start with it
	Fields map[string]string `json:"fields"` // form fields, before the file
	// Expiration is when the policy stops being accepted (RFC 3339).
	Expiration string `json:"expiration"`
	// Clipped: Expiration was brought forward to the temporary
	// credentials' expiry.
	Clipped bool `json:"clipped"`
	// PolicyDocument is the decoded policy (fields.policy is its base64).
	PolicyDocument string `json:"policy_document"`
}

// ContentDisposition builds a Content-Disposition value of kind
// ("attachment" or "inline") for filename after RFC 6266 and RFC 5987,
//
//	attachment; filename="r_sum_ 1.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf
//
// (an ASCII fallback, then the UTF-8 name percent-encoded). With an empty
// filename it is just kind. ok is false for a name that is not UTF-8 or
// holds control characters.
func ContentDisposition(kind, filename string) (string, bool) {
	if filename == "" {
		return kind, true
	}
	if !utf8.ValidString(filename) {
		return "", false
	}
	var fallback, ext strings.Builder
	for _, r := range filename {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
		switch {
		case r >= 0x80, r == '"', r == '\\', r == '%':
			fallback.WriteByte('_')
		default:
			fallback.WriteRune(r)
		}
	}
	for i := 0; i < len(filename); i++ {
		c := filename[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			ext.WriteByte(c)
		} else {
			ext.WriteByte('%')
			ext.WriteByte("0123456789ABCDEF"[c>>4])
			ext.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	return kind + `; filename="` + fallback.String() + `"; filename*=UTF-8''` + ext.String(), true
}
