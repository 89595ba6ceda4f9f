package ossapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	sdkcreds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/transport"
)

// MaxPresignExpiry is the longest validity OSS accepts for a signed URL.
const MaxPresignExpiry = 7 * 24 * time.Hour

// Client implements ObjectStore over the official OSS Go SDK v2.
type Client struct {
	cfg    Config
	bucket string
	sdk    *oss.Client
	sdkV1  *oss.Client // for V1 presigning when the client signs with V4

	counters counters    // the client's own counters (Stats)
	obs      Observer    // counters and cfg.Observer: see observe.go
	retries  retryPolicy // see retry.go
}

// The defaults of Config's timeouts and retry window.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultFirstByteTimeout = 10 * time.Second
	DefaultTimeout          = 60 * time.Second
	DefaultStallTimeout     = 10 * time.Second
	DefaultRetryWindow      = 30 * time.Second
)

// ProbeWindow bounds the retries of Probe.
const ProbeWindow = 10 * time.Second

var _ ObjectStore = (*Client)(nil)

// New returns a client for cfg.Bucket. It performs no request (see Probe).
func New(cfg Config) (*Client, error) {
	if cfg.Bucket == "" {
		return nil, &Error{Op: "New", Kind: KindInvalid, Message: "no bucket given"}
	}
	if cfg.Credentials == nil {
		return nil, &Error{Op: "New", Kind: KindInvalid, Message: "no credentials given"}
	}
	cfg.Region = strings.TrimPrefix(cfg.Region, "oss-")
	if cfg.Region == "" && cfg.Endpoint == "" {
		return nil, &Error{Op: "New", Kind: KindInvalid, Message: "need a region or an endpoint"}
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&cfg.ConnectTimeout, DefaultConnectTimeout)
	def(&cfg.FirstByteTimeout, DefaultFirstByteTimeout)
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.StallTimeout, DefaultStallTimeout)
	if cfg.RetryWindow == 0 {
		cfg.RetryWindow = DefaultRetryWindow
	}
	retries := retryPolicy{window: max(cfg.RetryWindow, 0), max: max(cfg.RetryMax, 0)}
	if cfg.RetryWindow < 0 {
		retries.max = 1
	}
	c := &Client{cfg: cfg, bucket: cfg.Bucket, retries: retries}
	c.obs = &c.counters
	if cfg.Observer != nil {
		c.obs = observers{&c.counters, cfg.Observer}
	}
	c.sdk = oss.NewClient(c.sdkConfig(cfg.SignatureV1))
	if cfg.SignatureV1 {
		c.sdkV1 = c.sdk
	} else {
		c.sdkV1 = oss.NewClient(c.sdkConfig(true))
	}
	return c, nil
}

func (c *Client) sdkConfig(v1 bool) *oss.Config {
	cfg := c.cfg
	provider := sdkcreds.CredentialsProviderFunc(func(ctx context.Context) (sdkcreds.Credentials, error) {
		cr, err := cfg.Credentials.Credentials(ctx)
		if err != nil {
			return sdkcreds.Credentials{}, &credentialsError{err}
		}
		out := sdkcreds.Credentials{AccessKeyID: cr.AccessKeyID, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken}
		if !cr.Expiration.IsZero() {
			exp := cr.Expiration
			out.Expires = &exp
		}
		return out, nil
	})
	// Every request gets a retryer of its own (see call).
	oc := oss.LoadDefaultConfig().
		WithCredentialsProvider(provider).
		WithRetryer(c.retries.newRetryer()).
		WithUserAgent("ossmount")
	if cfg.Region != "" {
		oc = oc.WithRegion(cfg.Region)
	}
	if cfg.Endpoint != "" {
		oc = oc.WithEndpoint(cfg.Endpoint)
	}
	if cfg.CNAME {
		oc = oc.WithUseCName(true)
	}
	if cfg.Internal {
		oc = oc.WithUseInternalEndpoint(true)
	}
	if cfg.Accelerate {
		oc = oc.WithUseAccelerateEndpoint(true)
	}
	if cfg.Insecure {
		oc = oc.WithDisableSSL(true)
	}
	if cfg.PathStyle {
		oc = oc.WithUsePathStyle(true)
	}
	if v1 {
		oc = oc.WithSignatureVersion(oss.SignatureVersionV1)
	}
	if len(cfg.AdditionalHeaders) > 0 {
		oc = oc.WithAdditionalHeaders(cfg.AdditionalHeaders)
	}
	if cfg.RequesterPays {
		oc = oc.WithDefaultRequestHeaders(map[string]string{"x-oss-request-payer": "requester"})
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// No deadline on the connection itself (the SDK's read/write
		// timeout would also end a connection idle in the pool, or a body
		// its reader pauses on): timeoutTransport bounds each phase.
		ct, rw := cfg.ConnectTimeout, time.Duration(0)
		hc = transport.NewHttpClient(&transport.Config{ConnectTimeout: &ct, ReadWriteTimeout: &rw},
			func(tr *http.Transport) {
				// Many parallel ranged reads and part uploads: keep their
				// connections alive between requests.
				tr.MaxConnsPerHost = 0
				tr.MaxIdleConns = 256
				tr.MaxIdleConnsPerHost = 128
				tr.Proxy = http.ProxyFromEnvironment
			})
	}
	hc = countingHTTPClient(hc)
	hc.Transport = &timeoutTransport{next: hc.Transport, firstByte: cfg.FirstByteTimeout, stall: cfg.StallTimeout}
	return oc.WithHttpClient(hc)
}

// Bucket returns the bucket name.
func (c *Client) Bucket() string { return c.bucket }

// Stats returns a snapshot of the per-operation counters.
func (c *Client) Stats() Stats { return c.counters.snapshot() }

// call runs one SDK call with ctx, reporting it (see observe.go) and
// converting its error; out is the request body's size.
//
// fn makes the call with the options o, which give it a retryer of its own
// (its retry window starts now), and with the first-byte timeout of op.
func (c *Client) call(ctx context.Context, op, key string, out int64, fn func(ctx context.Context, o func(*oss.Options)) error) error {
	ctx, finish := c.startCall(ctx, op)
	if slowOps[op] {
		ctx = withFirstByte(ctx, c.cfg.Timeout)
	}
	r := c.retries.newRetryer()
	err := fn(ctx, func(o *oss.Options) { o.Retryer = r })
	if err != nil {
		e := convert(op, key, err)
		if ctx.Err() != nil && e.Kind != KindCanceled {
			// Canceled while waiting to retry: the SDK then returns the
			// last attempt's error.
			e.Kind = KindCanceled
		}
		finish(0, e)
		if c.cfg.Logf != nil && e.Kind != KindNotExist && e.Kind != KindCanceled && !(op == "GetObject" && e.Code == "InvalidRange") {
			c.cfg.Logf("oss: %v", e)
		}
		return e
	}
	finish(out, nil)
	return nil
}

// callSDK runs the SDK method fn on the request in through c.call (see
// there for op, key and out) and returns its result.
func callSDK[In, Out any](ctx context.Context, c *Client, op, key string, out int64, in In,
	fn func(context.Context, In, ...func(*oss.Options)) (Out, error)) (Out, error) {
	var res Out
	err := c.call(ctx, op, key, out, func(ctx context.Context, o func(*oss.Options)) (err error) {
		res, err = fn(ctx, in, o)
		return err
	})
	return res, err
}

// convert maps any SDK error to *Error. This is the only place where OSS
// answers are classified.
func convert(op, key string, err error) *Error {
	e := &Error{Op: op, Key: key, Err: err}
	var se *oss.ServiceError
	var pe oss.InvalidParamError
	var ce *oss.CanceledError
	var ne net.Error
	var own *Error
	switch {
	case errors.As(err, &own):
		// One of ours passed through the SDK, e.g. the credentials
		// provider's KindExpired: keep its classification.
		e.Kind, e.Status, e.Code, e.Message, e.RequestID = own.Kind, own.Status, own.Code, own.Message, own.RequestID
		e.Err = own.Err
	case errors.As(err, new(*credentialsError)):
		// No credentials to sign with: nothing was sent.
		e.Kind = KindPermission
	case errors.As(err, &se):
		e.Status, e.Code, e.RequestID = se.StatusCode, se.Code, se.RequestID
		e.Message = se.Message
		e.Kind = kindOfService(se.StatusCode, se.Code)
		e.Err = nil // its text repeats the endpoint; keep the fields above
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ce):
		e.Kind = KindCanceled
	case errors.As(err, &pe):
		e.Kind = KindInvalid
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		e.Kind = KindTransient
	default:
		// Connection refused, DNS, TLS, CRC mismatches: the request did not
		// take effect as asked; retrying later may work.
		e.Kind = KindTransient
	}
	return e
}

func kindOfService(status int, code string) Kind {
	switch code {
	case "NoSuchKey", "NoSuchBucket", "NoSuchUpload":
		return KindNotExist
	case "FileAlreadyExists":
		return KindExist
	case "PreconditionFailed", "PositionNotEqualToLength":
		return KindPrecondition
	case "SecurityTokenExpired", "InvalidSecurityToken.Expired":
		return KindExpired
	case "SlowDown", "Throttling", "TooManyRequests", "QpsLimitExceeded", "TotalQpsLimitExceeded",
		"MetaOperationQpsLimitExceeded", "ActiveRequestLimitExceeded", "DownloadTrafficRateLimitExceeded",
		"UploadTrafficRateLimitExceeded":
		// OSS's rate limits (503 but for QpsLimitExceeded's 429), retried
		// by the SDK before they reach here.
		return KindThrottled
	case "InvalidRange", "InvalidArgument", "ObjectNotAppendable", "KeyTooLong", "InvalidObjectName",
		"MetadataTooLarge", "EntityTooLarge", "EntityTooSmall", "InvalidPart", "InvalidPartOrder", "MalformedXML":
		return KindInvalid
	}
	switch {
	case status == 404:
		return KindNotExist
	case status == 412 || status == 304:
		return KindPrecondition
	case status == 401 || status == 403:
		return KindPermission
	case status == 429:
		return KindThrottled
	case status >= 500:
		return KindTransient
	case status >= 400:
		return KindInvalid
	}
	return KindOther
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func forbid(b bool) *string {
	if b {
		return oss.Ptr("true")
	}
	return nil
}

// sdkHeaders points at the standard header fields of one SDK request
// (PutObject, InitiateMultipartUpload, CopyObject, AppendObject): the SDK
// has a field for each but Content-Language, which goes in the extra
// headers.
type sdkHeaders struct {
	contentType, contentDisposition, cacheControl, contentEncoding, expires **string
	extra                                                                   *map[string]string
}

// setOn fills a request's standard header fields from h (the one place
// that maps StdHeaders to the SDK; headersFrom is the way back).
func (h StdHeaders) setOn(f sdkHeaders) {
	*f.contentType = strp(h.ContentType)
	*f.contentDisposition = strp(h.ContentDisposition)
	*f.cacheControl = strp(h.CacheControl)
	*f.contentEncoding = strp(h.ContentEncoding)
	*f.expires = strp(h.Expires)
	if h.ContentLanguage != "" {
		if *f.extra == nil {
			*f.extra = map[string]string{}
		}
		(*f.extra)["Content-Language"] = h.ContentLanguage
	}
}

// headersFrom reads the standard headers of a response.
func headersFrom(h http.Header) StdHeaders {
	return StdHeaders{
		ContentType:        h.Get("Content-Type"),
		ContentDisposition: h.Get("Content-Disposition"),
		CacheControl:       h.Get("Cache-Control"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentLanguage:    h.Get("Content-Language"),
		Expires:            h.Get("Expires"),
	}
}

func metaFrom(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-meta-") && len(v) > 0 {
			m[strings.TrimPrefix(lk, "x-oss-meta-")] = v[0]
		}
	}
	return m
}

// Probe checks the bucket and credentials with GetBucketInfo.
// It is retried for at most ProbeWindow (or the retry window, if shorter):
// a mistyped endpoint must not keep the mount command waiting long.
func (c *Client) Probe(ctx context.Context) error {
	return c.call(ctx, "GetBucketInfo", "", 0, func(ctx context.Context, o func(*oss.Options)) error {
		p := c.retries
		p.window = min(p.window, ProbeWindow)
		r := p.newRetryer()
		_, err := c.sdk.GetBucketInfo(ctx, &oss.GetBucketInfoRequest{Bucket: &c.bucket}, o, func(o *oss.Options) { o.Retryer = r })
		return err
	})
}

// Head returns an object's attributes.
func (c *Client) Head(ctx context.Context, key string, opt HeadOptions) (*ObjectInfo, error) {
	res, err := callSDK(ctx, c, "HeadObject", key, 0, &oss.HeadObjectRequest{Bucket: &c.bucket, Key: &key, IfMatch: strp(opt.IfMatch)}, c.sdk.HeadObject)
	if err != nil {
		return nil, err
	}
	info := &ObjectInfo{Key: key, Size: res.ContentLength, ETag: str(res.ETag), StorageClass: str(res.StorageClass),
		ObjectType: str(res.ObjectType), CRC64: str(res.HashCRC64), Meta: metaFrom(res.Headers),
		Headers: headersFrom(res.Headers), Full: true}
	if res.LastModified != nil {
		info.LastModified = *res.LastModified
	}
	return info, nil
}

// GetRange starts a ranged read.
func (c *Client) GetRange(ctx context.Context, req GetRequest) (*GetResult, error) {
	in := &oss.GetObjectRequest{Bucket: &c.bucket, Key: &req.Key, IfMatch: strp(req.IfMatch),
		RangeBehavior: oss.Ptr("standard")}
	if req.Offset > 0 || req.Length >= 0 {
		r := fmt.Sprintf("bytes=%d-", req.Offset)
		if req.Length >= 0 {
			if req.Length == 0 {
				return c.emptyRead(ctx, req)
			}
			r += strconv.FormatInt(req.Offset+req.Length-1, 10)
		}
		in.Range = &r
	}
	res, err := callSDK(ctx, c, "GetObject", req.Key, 0, in, c.sdk.GetObject)
	if err != nil {
		if req.Offset == 0 && CodeOf(err) == "InvalidRange" {
			return c.emptyRead(ctx, req)
		}
		return nil, err
	}
	out := &GetResult{Body: countingBody{res.Body, "GetObject", c.obs}, ContentLength: res.ContentLength,
		Size: res.ContentLength, ETag: str(res.ETag)}
	if cr := str(res.ContentRange); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				out.Size = n
			}
		}
	}
	return out, nil
}

// emptyRead answers a zero-length read (or a read of an empty object) with
// a HEAD so the caller still learns the size and ETag.
func (c *Client) emptyRead(ctx context.Context, req GetRequest) (*GetResult, error) {
	info, err := c.Head(ctx, req.Key, HeadOptions{IfMatch: req.IfMatch})
	if err != nil {
		return nil, err
	}
	if req.Offset > info.Size || (req.Offset == info.Size && req.Length != 0 && info.Size > 0) {
		return nil, &Error{Op: "GetObject", Key: req.Key, Kind: KindInvalid, Status: 416, Code: "InvalidRange",
			Message: "the range starts at or after the end of the object"}
	}
	return &GetResult{Body: io.NopCloser(strings.NewReader("")), Size: info.Size, ETag: info.ETag}, nil
}

// List returns one page of a listing.
func (c *Client) List(ctx context.Context, req ListRequest) (*ListResult, error) {
	max := req.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	in := &oss.ListObjectsV2Request{Bucket: &c.bucket, Prefix: strp(req.Prefix), Delimiter: strp(req.Delimiter),
		StartAfter: strp(req.StartAfter), ContinuationToken: strp(req.ContinuationToken), MaxKeys: int32(max),
		EncodingType: oss.Ptr("url")}
	res, err := callSDK(ctx, c, "ListObjectsV2", req.Prefix, 0, in, c.sdk.ListObjectsV2)
	if err != nil {
		return nil, err
	}
	out := &ListResult{IsTruncated: res.IsTruncated, NextContinuationToken: str(res.NextContinuationToken)}
	out.Objects = make([]ObjectInfo, 0, len(res.Contents))
	for _, o := range res.Contents {
		info := ObjectInfo{Key: str(o.Key), Size: o.Size, ETag: str(o.ETag), StorageClass: str(o.StorageClass),
			ObjectType: str(o.Type)}
		if o.LastModified != nil {
			info.LastModified = *o.LastModified
		}
		out.Objects = append(out.Objects, info)
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, str(p.Prefix))
	}
	return out, nil
}

// Put uploads a whole object.
func (c *Client) Put(ctx context.Context, req PutRequest) (*PutResult, error) {
	size := req.Size
	in := &oss.PutObjectRequest{Bucket: &c.bucket, Key: &req.Key, Body: req.Body, ContentLength: &size,
		Metadata: req.Meta, ForbidOverwrite: forbid(req.ForbidOverwrite)}
	req.Headers.setOn(sdkHeaders{&in.ContentType, &in.ContentDisposition, &in.CacheControl, &in.ContentEncoding, &in.Expires, &in.Headers})
	if req.Body == nil {
		in.Body = strings.NewReader("")
	}
	res, err := callSDK(ctx, c, "PutObject", req.Key, size, in, c.sdk.PutObject)
	if err != nil {
		return nil, err
	}
	return &PutResult{ETag: str(res.ETag), CRC64: str(res.HashCRC64)}, nil
}

// InitiateMultipart starts a multipart upload.
func (c *Client) InitiateMultipart(ctx context.Context, req InitiateRequest) (string, error) {
	in := &oss.InitiateMultipartUploadRequest{Bucket: &c.bucket, Key: &req.Key, Metadata: req.Meta,
		ForbidOverwrite: forbid(req.ForbidOverwrite)}
	req.Headers.setOn(sdkHeaders{&in.ContentType, &in.ContentDisposition, &in.CacheControl, &in.ContentEncoding, &in.Expires, &in.Headers})
	res, err := callSDK(ctx, c, "InitiateMultipartUpload", req.Key, 0, in, c.sdk.InitiateMultipartUpload)
	if err != nil {
		return "", err
	}
	return str(res.UploadId), nil
}

// UploadPart uploads one part.
func (c *Client) UploadPart(ctx context.Context, req UploadPartRequest) (*Part, error) {
	size := req.Size
	res, err := callSDK(ctx, c, "UploadPart", req.Key, size, &oss.UploadPartRequest{Bucket: &c.bucket, Key: &req.Key,
		UploadId: &req.UploadID, PartNumber: int32(req.PartNumber), Body: req.Body, ContentLength: &size}, c.sdk.UploadPart)
	if err != nil {
		return nil, err
	}
	return &Part{PartNumber: req.PartNumber, ETag: str(res.ETag), Size: size, CRC64: str(res.HashCRC64)}, nil
}

// UploadPartCopy fills a part from an existing object's range.
func (c *Client) UploadPartCopy(ctx context.Context, req UploadPartCopyRequest) (*Part, error) {
	rng := fmt.Sprintf("bytes=%d-%d", req.SourceOffset, req.SourceOffset+req.SourceLength-1)
	res, err := callSDK(ctx, c, "UploadPartCopy", req.Key, 0, &oss.UploadPartCopyRequest{Bucket: &c.bucket, Key: &req.Key,
		UploadId: &req.UploadID, PartNumber: int32(req.PartNumber), SourceKey: &req.SourceKey,
		Range: &rng, IfMatch: strp(req.SourceIfMatch)}, c.sdk.UploadPartCopy)
	if err != nil {
		return nil, err
	}
	return &Part{PartNumber: req.PartNumber, ETag: str(res.ETag), Size: req.SourceLength,
		CRC64: res.Headers.Get("x-oss-hash-crc64ecma")}, nil
}

// CompleteMultipart assembles the parts.
func (c *Client) CompleteMultipart(ctx context.Context, req CompleteRequest) (*PutResult, error) {
	parts := make([]oss.UploadPart, 0, len(req.Parts))
	for _, p := range req.Parts {
		parts = append(parts, oss.UploadPart{PartNumber: int32(p.PartNumber), ETag: oss.Ptr(p.ETag)})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	res, err := callSDK(ctx, c, "CompleteMultipartUpload", req.Key, 0, &oss.CompleteMultipartUploadRequest{Bucket: &c.bucket,
		Key: &req.Key, UploadId: &req.UploadID, ForbidOverwrite: forbid(req.ForbidOverwrite),
		CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: parts}}, c.sdk.CompleteMultipartUpload)
	if err != nil {
		return nil, err
	}
	return &PutResult{ETag: str(res.ETag), CRC64: str(res.HashCRC64)}, nil
}

// AbortMultipart discards an upload.
func (c *Client) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := callSDK(ctx, c, "AbortMultipartUpload", key, 0, &oss.AbortMultipartUploadRequest{Bucket: &c.bucket, Key: &key, UploadId: &uploadID}, c.sdk.AbortMultipartUpload)
	return err
}

// ListUploads lists in-progress multipart uploads under prefix.
func (c *Client) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var out []Upload
	var keyMarker, idMarker *string
	for {
		res, err := callSDK(ctx, c, "ListMultipartUploads", prefix, 0, &oss.ListMultipartUploadsRequest{Bucket: &c.bucket,
			Prefix: strp(prefix), KeyMarker: keyMarker, UploadIdMarker: idMarker, MaxUploads: 1000}, c.sdk.ListMultipartUploads)
		if err != nil {
			return nil, err
		}
		for _, u := range res.Uploads {
			up := Upload{Key: str(u.Key), UploadID: str(u.UploadId)}
			if u.Initiated != nil {
				up.Initiated = *u.Initiated
			}
			out = append(out, up)
		}
		if !res.IsTruncated || (str(res.NextKeyMarker) == "" && str(res.NextUploadIdMarker) == "") {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIdMarker
	}
}

// Copy copies an object inside the bucket.
func (c *Client) Copy(ctx context.Context, req CopyRequest) (*PutResult, error) {
	in := &oss.CopyObjectRequest{Bucket: &c.bucket, Key: &req.DstKey, SourceKey: &req.SrcKey,
		IfMatch: strp(req.SrcIfMatch), ForbidOverwrite: forbid(req.ForbidOverwrite)}
	if req.Directive == MetadataReplace {
		in.MetadataDirective = oss.Ptr("REPLACE")
		in.Metadata = req.Meta
		req.Headers.setOn(sdkHeaders{&in.ContentType, &in.ContentDisposition, &in.CacheControl, &in.ContentEncoding, &in.Expires, &in.Headers})
	} else {
		in.MetadataDirective = oss.Ptr("COPY")
	}
	res, err := callSDK(ctx, c, "CopyObject", req.DstKey, 0, in, c.sdk.CopyObject)
	if err != nil {
		return nil, err
	}
	return &PutResult{ETag: str(res.ETag), CRC64: str(res.HashCRC64)}, nil
}

// Delete removes a key.
func (c *Client) Delete(ctx context.Context, key string) error {
	_, err := callSDK(ctx, c, "DeleteObject", key, 0, &oss.DeleteObjectRequest{Bucket: &c.bucket, Key: &key}, c.sdk.DeleteObject)
	return err
}

// DeleteMulti removes up to 1000 keys.
func (c *Client) DeleteMulti(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > 1000 {
		return nil, &Error{Op: "DeleteMultipleObjects", Kind: KindInvalid, Message: "more than 1000 keys"}
	}
	objs := make([]oss.DeleteObject, len(keys))
	for i := range keys {
		objs[i] = oss.DeleteObject{Key: oss.Ptr(keys[i])}
	}
	res, err := callSDK(ctx, c, "DeleteMultipleObjects", "", 0, &oss.DeleteMultipleObjectsRequest{Bucket: &c.bucket, Objects: objs}, c.sdk.DeleteMultipleObjects)
	if err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(res.DeletedObjects))
	for _, d := range res.DeletedObjects {
		done[str(d.Key)] = true
	}
	var failed []string
	for _, k := range keys {
		if !done[k] {
			failed = append(failed, k)
		}
	}
	return failed, nil
}

// Append appends to an appendable object.
func (c *Client) Append(ctx context.Context, req AppendRequest) (int64, error) {
	size, pos := req.Size, req.Position
	in := &oss.AppendObjectRequest{Bucket: &c.bucket, Key: &req.Key, Position: &pos, Body: req.Body,
		ContentLength: &size}
	if pos == 0 {
		in.Metadata = req.Meta
		req.Headers.setOn(sdkHeaders{&in.ContentType, &in.ContentDisposition, &in.CacheControl, &in.ContentEncoding, &in.Expires, &in.Headers})
	}
	res, err := callSDK(ctx, c, "AppendObject", req.Key, size, in, c.sdk.AppendObject)
	if err != nil {
		return 0, err
	}
	return res.NextPosition, nil
}

// Presign signs a URL without sending a request.
func (c *Client) Presign(ctx context.Context, req PresignRequest) (*PresignResult, error) {
	req, err := checkPresign(req)
	if err != nil {
		return nil, err
	}
	return c.presign(ctx, req, time.Time{})
}

// checkPresign fills in the default expiry and refuses what OSS would.
func checkPresign(req PresignRequest) (PresignRequest, error) {
	if req.Expires <= 0 {
		req.Expires = DefaultShareExpiry
	}
	if req.Expires > MaxPresignExpiry {
		return req, &Error{Op: "Presign", Key: req.Key, Kind: KindInvalid,
			Message: fmt.Sprintf("expiry %v is longer than the 7 days OSS allows", req.Expires)}
	}
	if req.Key == "" {
		return req, &Error{Op: "Presign", Kind: KindInvalid, Message: "no object key"}
	}
	return req, nil
}

// presign signs req (already checked) valid for req.Expires, or until
// expiration when that is set.
func (c *Client) presign(ctx context.Context, req PresignRequest, expiration time.Time) (*PresignResult, error) {
	sdk := c.sdk
	if req.SignatureV1 {
		sdk = c.sdkV1
	}
	in, e := presignInput(c.bucket, req)
	if e != nil {
		return nil, e
	}
	opt := oss.PresignExpires(req.Expires)
	if !expiration.IsZero() {
		opt = oss.PresignExpiration(expiration)
	}
	res, err := sdk.Presign(ctx, in, opt)
	if err != nil {
		return nil, convert("Presign", req.Key, err)
	}
	return &PresignResult{URL: res.URL, Method: res.Method, Expiration: res.Expiration, SignedHeaders: res.SignedHeaders}, nil
}
