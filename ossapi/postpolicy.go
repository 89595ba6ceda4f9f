package ossapi

// Sharing: browser form uploads (PostObject policies) and presigned URLs
// whose lifetime is bounded by the credentials that sign them.
//
// The OSS Go SDK v2 has no POST-policy helper, so the policy is built and
// signed here (V1: base64 HMAC-SHA1 of the base64 policy; V4: hex
// HMAC-SHA256 with the V4 signing key). Both kinds of grant are signed with
// one snapshot of the client's current credentials, and neither can outlive
// them: a URL or policy signed with an STS token is useless once the token
// has expired, so the expiry is clipped to the token's.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// MaxPostPolicyExpiry is the longest validity given to a POST policy (the
// V4 form signature is valid for at most 7 days from its x-oss-date).
const MaxPostPolicyExpiry = 7 * 24 * time.Hour

// DefaultShareExpiry is the validity of a presigned URL or POST policy when
// none is asked for (as in the OSS SDKs).
const DefaultShareExpiry = 30 * time.Minute

// minShareLifetime is the shortest validity worth handing out: credentials
// that expire sooner than this sign nothing.
const minShareLifetime = 5 * time.Second

const (
	postV4Algorithm = "OSS4-HMAC-SHA256"
	postV4Date      = "20060102T150405Z"
	postExpiration  = "2006-01-02T15:04:05.000Z"
)

// PostPolicyRequest describes a browser form upload (PostObject) to allow.
type PostPolicyRequest struct {
	// Prefix is what every uploaded key must start with ("" or ending in
	// "/" for a directory; "" allows the whole bucket).
	Prefix string
	// Key is the form's key field. It must start with Prefix and may hold
	// ${filename}, which OSS replaces with the uploaded file's name. Empty:
	// Prefix + a random name (the uploader may pick any other key under
	// Prefix).
	Key string
	// Expires is the policy's validity (0: DefaultShareExpiry; at most
	// MaxPostPolicyExpiry). It is clipped to the credentials' expiry.
	Expires time.Duration
	// MinSize and MaxSize bound the file's size (content-length-range);
	// MaxSize 0 means no limit beyond OSS's own.
	MinSize, MaxSize int64
	// ContentType, when set, is required of the upload: an exact type, or
	// a prefix when it ends in "/" (e.g. "image/").
	ContentType string
	// SuccessActionStatus is the status OSS answers a successful upload
	// with: 200, 201 (an XML PostResponse) or 204 (0: 201).
	SuccessActionStatus int
	// SignatureV1 signs with V1 whatever the client's signature version.
	SignatureV1 bool
}

// PostPolicy is a signed form: post Fields (then the file, as the last
// field named "file") as multipart/form-data to URL.
type PostPolicy struct {
	URL    string
	Fields map[string]string
	// Policy is the decoded policy document (also in Fields["policy"],
	// base64-encoded).
	Policy string
	// Expiration is when the policy stops being accepted.
	Expiration time.Time
	// Clipped is true when Expiration was brought forward to the expiry of
	// the temporary credentials that signed the policy.
	Clipped bool
}

// FieldOrder returns the form's field names in the order a form should
// send them (key first; the file goes after all of them).
func (p *PostPolicy) FieldOrder() []string {
	order := []string{"key", "policy", "OSSAccessKeyId", "Signature", "x-oss-signature-version", "x-oss-credential",
		"x-oss-date", "x-oss-signature", "x-oss-security-token", "success_action_status", "Content-Type"}
	var out []string
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := p.Fields[k]; ok {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range p.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// ClippingPresigner is implemented by stores whose presigned URLs never
// outlive the credentials that sign them (Client does).
type ClippingPresigner interface {
	// PresignClipped is Presign signed with one snapshot of the current
	// credentials, with the expiry brought forward to theirs when they are
	// temporary; the result's Expiration tells the effective expiry.
	PresignClipped(ctx context.Context, req PresignRequest) (*PresignResult, error)
}

var _ ClippingPresigner = (*Client)(nil)

// snapshot returns the current credentials and a client signing with
// exactly them (no request is sent by either).
func (c *Client) snapshot(ctx context.Context, op string) (Credentials, *Client, error) {
	cr, err := c.cfg.Credentials.Credentials(ctx)
	if err != nil {
		e := &Error{Op: op, Kind: KindPermission, Message: "no credentials to sign with", Err: err}
		if k := KindOf(err); k == KindExpired || k == KindCanceled || k == KindTransient {
			e.Kind = k
		}
		return Credentials{}, nil, e
	}
	if cr.AccessKeyID == "" || cr.AccessKeySecret == "" {
		return Credentials{}, nil, &Error{Op: op, Kind: KindPermission, Message: "no credentials to sign with"}
	}
	cfg := c.cfg
	cfg.Credentials = StaticCredentials(cr)
	cfg.HTTPClient = &http.Client{} // never used: signing sends nothing
	cfg.Logf = nil
	cl, err := New(cfg)
	if err != nil {
		return Credentials{}, nil, err
	}
	return cr, cl, nil
}

// clip returns the expiry of a grant valid for d from now, brought forward
// to the credentials' expiry; clipped says whether it was.
func clip(op, key string, cr Credentials, now time.Time, d time.Duration) (time.Time, bool, error) {
	exp := now.Add(d)
	if cr.Expiration.IsZero() || !cr.Expiration.Before(exp) {
		return exp, false, nil
	}
	if cr.Expiration.Sub(now) < minShareLifetime {
		return time.Time{}, false, &Error{Op: op, Key: key, Kind: KindExpired,
			Message: "the temporary credentials expire too soon to sign anything (at " + cr.Expiration.UTC().Format(time.RFC3339) + ")"}
	}
	return cr.Expiration, true, nil
}

// PresignClipped signs a URL like Presign, with one snapshot of the current
// credentials, never valid past their expiry.
func (c *Client) PresignClipped(ctx context.Context, req PresignRequest) (*PresignResult, error) {
	req, err := checkPresign(req)
	if err != nil {
		return nil, err
	}
	cr, cl, err := c.snapshot(ctx, "Presign")
	if err != nil {
		return nil, err
	}
	exp, clipped, err := clip("Presign", req.Key, cr, time.Now(), req.Expires)
	if err != nil {
		return nil, err
	}
	if !clipped {
		exp = time.Time{}
	}
	// When clipped, sign for an absolute expiry: the token's.
	return cl.presign(ctx, req, exp)
}

func presignInput(bucket string, req PresignRequest) (any, *Error) {
	switch strings.ToUpper(req.Method) {
	case "", "GET":
		return &oss.GetObjectRequest{Bucket: &bucket, Key: &req.Key,
			ResponseContentDisposition: strp(req.ResponseContentDisposition),
			ResponseContentType:        strp(req.ResponseContentType)}, nil
	case "PUT":
		return &oss.PutObjectRequest{Bucket: &bucket, Key: &req.Key, ContentType: strp(req.ResponseContentType)}, nil
	}
	return nil, &Error{Op: "Presign", Key: req.Key, Kind: KindInvalid, Message: "method must be GET or PUT"}
}

// bucketURL is the URL a form posts to: the bucket's endpoint as the SDK
// addresses it (virtual-hosted, path style, CNAME...), without a key.
func (c *Client) bucketURL(ctx context.Context, cl *Client) (string, error) {
	const probe = "k"
	key := probe
	res, err := cl.sdkV1.Presign(ctx, &oss.GetObjectRequest{Bucket: &c.bucket, Key: &key})
	if err != nil {
		return "", convert("PostObject", "", err)
	}
	u, err := url.Parse(res.URL)
	if err != nil || !strings.HasSuffix(u.Path, "/"+probe) {
		return "", &Error{Op: "PostObject", Kind: KindInvalid, Message: "cannot derive the bucket URL from the endpoint"}
	}
	u.Path = strings.TrimSuffix(u.Path, probe)
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// randomName returns 24 random lower-case hex digits.
func randomName() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SignPostPolicy builds and signs a PostObject policy with the client's
// current credentials and region. It sends no request. Errors: KindInvalid
// (bad request, V4 without a region), KindExpired (temporary credentials
// about to expire), KindPermission (no credentials).
func (c *Client) SignPostPolicy(ctx context.Context, req PostPolicyRequest) (*PostPolicy, error) {
	const op = "PostObject"
	req, err := c.checkPostPolicy(req)
	if err != nil {
		return nil, err
	}
	v1 := req.SignatureV1 || c.cfg.SignatureV1
	cr, cl, err := c.snapshot(ctx, op)
	if err != nil {
		return nil, err
	}
	actionURL, err := c.bucketURL(ctx, cl)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	exp, clipped, err := clip(op, "", cr, now, req.Expires)
	if err != nil {
		return nil, err
	}
	exp = exp.UTC()
	fields, conds := c.postConditions(req)
	if cr.SecurityToken != "" {
		fields["x-oss-security-token"] = cr.SecurityToken
	}
	if !v1 {
		conds = append(conds, postV4Fields(fields, cr, now, c.cfg.Region)...)
	}
	doc, err := json.Marshal(struct {
		Expiration string `json:"expiration"`
		Conditions []any  `json:"conditions"`
	}{exp.Format(postExpiration), conds})
	if err != nil {
		return nil, &Error{Op: op, Kind: KindInvalid, Err: err}
	}
	policy := base64.StdEncoding.EncodeToString(doc)
	fields["policy"] = policy
	if v1 {
		m := hmac.New(sha1.New, []byte(cr.AccessKeySecret))
		m.Write([]byte(policy))
		fields["OSSAccessKeyId"] = cr.AccessKeyID
		fields["Signature"] = base64.StdEncoding.EncodeToString(m.Sum(nil))
	} else {
		key := postSigningKey(cr.AccessKeySecret, fields["x-oss-date"][:8], c.cfg.Region)
		fields["x-oss-signature"] = hex.EncodeToString(hmacSHA256(key, policy))
	}
	return &PostPolicy{URL: actionURL, Fields: fields, Policy: string(doc), Expiration: exp, Clipped: clipped}, nil
}

// checkPostPolicy validates a policy request and fills in its defaults
// (expiry, a random key under the prefix, success status 201).
func (c *Client) checkPostPolicy(req PostPolicyRequest) (PostPolicyRequest, error) {
	const op = "PostObject"
	invalid := func(key, msg string) (PostPolicyRequest, error) {
		return req, &Error{Op: op, Key: key, Kind: KindInvalid, Message: msg}
	}
	if req.Expires <= 0 {
		req.Expires = DefaultShareExpiry
	}
	if req.Expires > MaxPostPolicyExpiry {
		return invalid("", fmt.Sprintf("expiry %v is longer than the 7 days a POST policy may last", req.Expires))
	}
	if req.Prefix != "" && !strings.HasSuffix(req.Prefix, "/") {
		return invalid("", "the prefix must end in /")
	}
	if req.Key == "" {
		req.Key = req.Prefix + randomName()
	}
	if !strings.HasPrefix(req.Key, req.Prefix) || req.Key == req.Prefix {
		return invalid(req.Key, "the key must be a name under the prefix")
	}
	if req.MinSize < 0 || req.MaxSize < 0 || (req.MaxSize > 0 && req.MinSize > req.MaxSize) {
		return invalid("", "invalid size range")
	}
	switch req.SuccessActionStatus {
	case 0:
		req.SuccessActionStatus = 201
	case 200, 201, 204:
	default:
		return invalid("", "success_action_status must be 200, 201 or 204")
	}
	if req.ContentType != "" && !ValidHeaderValue(req.ContentType) {
		return invalid("", "invalid content type")
	}
	if !req.SignatureV1 && !c.cfg.SignatureV1 && c.cfg.Region == "" {
		return invalid("", "a V4 signature needs the region (give -o region=, or sign with V1)")
	}
	return req, nil
}

// postConditions returns the form fields and policy conditions of a
// checked request, before the signature's own.
func (c *Client) postConditions(req PostPolicyRequest) (map[string]string, []any) {
	status := fmt.Sprint(req.SuccessActionStatus)
	fields := map[string]string{"key": req.Key, "success_action_status": status}
	conds := []any{
		map[string]string{"bucket": c.bucket},
		[]any{"starts-with", "$key", req.Prefix},
	}
	if req.MinSize > 0 || req.MaxSize > 0 {
		hi := req.MaxSize
		if hi == 0 {
			hi = 5 << 30 // OSS's limit for one PostObject
		}
		conds = append(conds, []any{"content-length-range", req.MinSize, hi})
	}
	if ct := req.ContentType; ct != "" {
		if strings.HasSuffix(ct, "/") {
			conds = append(conds, []any{"starts-with", "$Content-Type", ct})
		} else {
			conds = append(conds, []any{"eq", "$Content-Type", ct})
			fields["Content-Type"] = ct
		}
	}
	conds = append(conds, map[string]string{"success_action_status": status})
	return fields, conds
}

// postV4Fields adds the V4 signature's fields (version, credential, date)
// to fields and returns the conditions that bind them (and the security
// token) into the policy.
func postV4Fields(fields map[string]string, cr Credentials, now time.Time, region string) []any {
	date := now.Format(postV4Date)
	credential := cr.AccessKeyID + "/" + date[:8] + "/" + region + "/oss/aliyun_v4_request"
	fields["x-oss-signature-version"] = postV4Algorithm
	fields["x-oss-credential"] = credential
	fields["x-oss-date"] = date
	conds := []any{
		map[string]string{"x-oss-signature-version": postV4Algorithm},
		map[string]string{"x-oss-credential": credential},
		map[string]string{"x-oss-date": date},
	}
	if cr.SecurityToken != "" {
		conds = append(conds, map[string]string{"x-oss-security-token": cr.SecurityToken})
	}
	return conds
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// postSigningKey is the V4 signing key: an HMAC-SHA256 chain from
// "aliyun_v4"+secret over the date, the region, "oss" and
// "aliyun_v4_request".
func postSigningKey(secret, day, region string) []byte {
	k := hmacSHA256([]byte("aliyun_v4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "oss")
	return hmacSHA256(k, "aliyun_v4_request")
}
