package engine

// Sharing from the mount, apart from FUSE: the requests that the names of
// the virtual attributes user.oss.presign?... and user.oss.post-policy?...
// carry (fs/share.go documents them), their answers signed with the
// mount's own current credentials, and the answers kept between a size
// probe and the read that follows (ShareProbes). Package fs checks the
// caller and the node, and hands the answer to go-fuse.

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/ossmount/ossmount/ossapi"
)

// The names of the sharing requests (before the '?').
const (
	XattrPresign    = "user.oss.presign"
	XattrPostPolicy = "user.oss.post-policy"
)

// shareParams parses the query of a sharing request for base, allowing
// only the names in allowed (each at most once): EINVAL for a malformed
// query. A request for another base (one of the other kind of node) is
// answered with wrong.
func shareParams(name, base string, wrong error, allowed ...string) (url.Values, error) {
	b, query, _ := strings.Cut(name, "?")
	if b != base {
		return nil, wrong
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, syscall.EINVAL
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) || len(v) != 1 {
			return nil, syscall.EINVAL
		}
	}
	return q, nil
}

// presignParams are the parameters a presign request may hold.
var presignParams = []string{"exp", "dl", "inline", "ct", "v1"}

// postPolicyParams are the parameters a post-policy request may hold.
var postPolicyParams = []string{"exp", "max", "min", "ct", "keep", "v1"}

// PresignParams parses a presign request (on a file; ENOTDIR for a
// post-policy request).
func PresignParams(name string) (url.Values, error) {
	return shareParams(name, XattrPresign, syscall.ENOTDIR, presignParams...)
}

// PostPolicyParams parses a post-policy request (on a directory; EISDIR
// for a presign request).
func PostPolicyParams(name string) (url.Values, error) {
	return shareParams(name, XattrPostPolicy, syscall.EISDIR, postPolicyParams...)
}

// shareQuery reads a sharing request's parameters; the first bad one
// leaves err EINVAL.
type shareQuery struct {
	q   url.Values
	err error
}

// flag reads an on/off parameter (absent: off).
func (p *shareQuery) flag(k string) bool {
	switch p.q.Get(k) {
	case "", "0", "false", "no":
		return false
	case "1", "true", "yes":
		return true
	}
	p.err = syscall.EINVAL
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
		p.err = syscall.EINVAL
		return 0
	}
	return n
}

// expires is the validity the parameter exp asks for, at most max
// (absent: ossapi.DefaultShareExpiry).
func (p *shareQuery) expires(max time.Duration) time.Duration {
	if exp := p.int("exp", int64(max/time.Second)); exp != 0 {
		return time.Duration(exp) * time.Second
	}
	return ossapi.DefaultShareExpiry
}

// PresignRequest is the GET of the object at key that the parameters q of
// a presign request ask for: EINVAL for a bad value.
func PresignRequest(q url.Values, key string) (ossapi.PresignRequest, error) {
	p := shareQuery{q: q}
	expires := p.expires(ossapi.MaxPresignExpiry)
	inline := p.flag("inline")
	v1 := p.flag("v1")
	if p.err != nil {
		return ossapi.PresignRequest{}, p.err
	}
	req := ossapi.PresignRequest{Key: key, Method: "GET", Expires: expires, SignatureV1: v1, ResponseContentType: q.Get("ct")}
	if ct := req.ResponseContentType; ct != "" && !ossapi.ValidHeaderValue(ct) {
		return ossapi.PresignRequest{}, syscall.EINVAL
	}
	if dl := q.Get("dl"); dl != "" || inline {
		kind := "attachment"
		if inline {
			kind = "inline"
		}
		cd, ok := ContentDisposition(kind, dl)
		if !ok {
			return ossapi.PresignRequest{}, syscall.EINVAL
		}
		req.ResponseContentDisposition = cd
	}
	return req, nil
}

// PostPolicyRequest is the policy for uploads under prefix that the
// parameters q of a post-policy request ask for: EINVAL for a bad value.
func PostPolicyRequest(q url.Values, prefix string) (ossapi.PostPolicyRequest, error) {
	p := shareQuery{q: q}
	expires := p.expires(ossapi.MaxPostPolicyExpiry)
	maxSize := p.int("max", 5<<30)
	minSize := p.int("min", 5<<30)
	keep := p.flag("keep")
	v1 := p.flag("v1")
	if p.err != nil {
		return ossapi.PostPolicyRequest{}, p.err
	}
	req := ossapi.PostPolicyRequest{Prefix: prefix, Expires: expires, MinSize: minSize,
		MaxSize: maxSize, ContentType: q.Get("ct"), SignatureV1: v1}
	if keep {
		req.Key = prefix + "${filename}"
	}
	return req, nil
}

// Presign signs req, clipped to the credentials' lifetime, for the caller
// uid (logged, the URL never: it is a bearer credential), and returns the
// answer: "<URL>\nexpires=<RFC 3339 UTC>\n", then "clipped=1\n" when the
// expiry was brought forward to the temporary credentials'.
func (e *Engine) Presign(ctx context.Context, req ossapi.PresignRequest, uid uint32) (string, error) {
	start := time.Now()
	var res *ossapi.PresignResult
	var err error
	if cp, ok := e.store.(ossapi.ClippingPresigner); ok {
		res, err = cp.PresignClipped(ctx, req)
	} else {
		res, err = e.store.Presign(ctx, req)
	}
	if err != nil {
		return "", err
	}
	clipped := res.Expiration.Before(start.Add(req.Expires).Add(-time.Second))
	var b strings.Builder
	b.WriteString(res.URL + "\n")
	b.WriteString("expires=" + res.Expiration.UTC().Format(time.RFC3339) + "\n")
	if clipped {
		b.WriteString("clipped=1\n")
	}
	e.log.Info("share: presigned a URL", "key", req.Key, "uid", uid, "expires", res.Expiration.UTC().Format(time.RFC3339), "clipped", clipped)
	return b.String(), nil
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

// SignPostPolicy signs req for the caller uid (logged, the policy never)
// and returns the answer, a PostPolicyAnswer in JSON.
func (e *Engine) SignPostPolicy(ctx context.Context, req ossapi.PostPolicyRequest, uid uint32) (string, error) {
	p, err := e.store.SignPostPolicy(ctx, req)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(PostPolicyAnswer{URL: p.URL, Prefix: req.Prefix, Fields: p.Fields,
		Expiration: p.Expiration.UTC().Format(time.RFC3339), Clipped: p.Clipped, PolicyDocument: p.Policy})
	if err != nil {
		return "", &Error{Op: "post-policy", Key: req.Prefix, Errno: syscall.EIO, Msg: "cannot encode the answer", Cause: err}
	}
	e.log.Info("share: signed a POST policy", "prefix", req.Prefix, "uid", uid,
		"expires", p.Expiration.UTC().Format(time.RFC3339), "clipped", p.Clipped)
	return string(out), nil
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

// ProbeKey names a size probe's answer: the inode, the caller and the
// attribute asked for.
type ProbeKey struct {
	Ino  uint64
	UID  uint32
	Name string
}

type shareProbe struct {
	value   string
	expires time.Time
}

// ShareProbeTTL is how long the answer to a size probe is kept.
const ShareProbeTTL = 5 * time.Second

// maxShareProbes is how many answers are kept at most.
const maxShareProbes = 1024

// ShareProbes keeps the answer to a size probe (getxattr with an empty
// buffer) for the read that follows, so both see the same signed value.
// The zero value is ready.
type ShareProbes struct {
	mu      sync.Mutex
	answers map[ProbeKey]shareProbe // GUARDED_BY(mu)
}

// Take returns (and forgets) a kept answer.
func (s *ShareProbes) Take(k ProbeKey) (string, bool) {
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

// Keep keeps an answer for ShareProbeTTL (at most 1024 of them).
func (s *ShareProbes) Keep(k ProbeKey, v string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for old, p := range s.answers {
		if now.After(p.expires) {
			delete(s.answers, old)
		}
	}
	if s.answers == nil {
		s.answers = map[ProbeKey]shareProbe{}
	}
	if len(s.answers) < maxShareProbes {
		s.answers[k] = shareProbe{value: v, expires: now.Add(ShareProbeTTL)}
	}
}
