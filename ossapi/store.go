// Package ossapi is the one boundary between the filesystem and Alibaba Cloud
// OSS. It defines the ObjectStore interface the rest of ossmount programs
// against, the typed errors every implementation returns (see Kind), and a
// client that implements ObjectStore over the official OSS Go SDK v2
// (github.com/aliyun/alibabacloud-oss-go-sdk-v2), which does the signing (V1
// and V4), presigning, retries and CRC64 checks.
//
// Nothing in this package knows about FUSE, and nothing above it matches
// error strings: callers use KindOf(err) or errors.As(err, **Error).
package ossapi

import (
	"context"
	"io"
	"time"
)

// ObjectStore is everything ossmount asks of one bucket. Keys are full object
// keys inside the bucket (no leading slash). Every method returns either nil
// or an error for which KindOf reports a Kind; ctx cancellation gives
// KindCanceled.
type ObjectStore interface {
	// Bucket returns the bucket name this store is bound to.
	Bucket() string

	// Probe checks that the bucket exists and the credentials work
	// (GetBucketInfo). Errors: KindNotExist (no such bucket), KindPermission
	// (bad keys, access denied), KindExpired (expired token), KindTransient
	// (endpoint unreachable, 5xx after retries).
	Probe(ctx context.Context) error

	// Head returns the object's full attributes (size, ETag, user metadata,
	// standard headers). Errors: KindNotExist when the key does not exist;
	// KindPrecondition when opt.IfMatch is set and differs.
	Head(ctx context.Context, key string, opt HeadOptions) (*ObjectInfo, error)

	// GetRange returns a reader for length bytes at offset (length < 0 means to
	// the end). With IfMatch set the read fails with KindPrecondition if the
	// object's ETag changed. Reading past the end returns what exists (a range
	// starting at or beyond the size gives KindInvalid with code InvalidRange,
	// except offset 0 of an empty object which returns an empty body).
	// Errors: KindNotExist, KindPrecondition. The caller must Close the body.
	GetRange(ctx context.Context, req GetRequest) (*GetResult, error)

	// List returns one page of keys under req.Prefix. With a Delimiter the
	// keys below a further delimiter are rolled up into CommonPrefixes.
	// A missing prefix is not an error: the page is empty.
	List(ctx context.Context, req ListRequest) (*ListResult, error)

	// Put uploads a whole object in one request. Errors: KindExist when
	// ForbidOverwrite is set and the key exists; KindInvalid for bad keys or
	// metadata (code InvalidArgument, KeyTooLong, MetadataTooLarge...).
	Put(ctx context.Context, req PutRequest) (*PutResult, error)

	// InitiateMultipart starts a multipart upload; metadata and headers are
	// given here and apply to the completed object.
	InitiateMultipart(ctx context.Context, req InitiateRequest) (uploadID string, err error)
	// UploadPart uploads part req.PartNumber (1..10000). Errors: KindNotExist
	// (code NoSuchUpload) when the upload is unknown or aborted.
	UploadPart(ctx context.Context, req UploadPartRequest) (*Part, error)
	// UploadPartCopy fills a part from a range of an existing object.
	// Errors: KindNotExist (source or upload missing), KindPrecondition
	// (source ETag differs from req.SourceIfMatch).
	UploadPartCopy(ctx context.Context, req UploadPartCopyRequest) (*Part, error)
	// CompleteMultipart assembles the parts (ascending part numbers).
	// Errors: KindNotExist (NoSuchUpload), KindInvalid (InvalidPart,
	// InvalidPartOrder, EntityTooSmall), KindExist (forbid-overwrite).
	CompleteMultipart(ctx context.Context, req CompleteRequest) (*PutResult, error)
	// AbortMultipart discards an upload. Errors: KindNotExist (NoSuchUpload).
	AbortMultipart(ctx context.Context, key, uploadID string) error
	// ListUploads lists in-progress multipart uploads under prefix.
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)

	// Copy copies SrcKey to DstKey inside the bucket (sources under 1 GB;
	// larger ones need UploadPartCopy). With MetadataReplace the destination
	// gets req.Meta and req.Headers; with MetadataCopy it keeps the source's.
	// A self-copy with MetadataReplace changes an object's metadata.
	// Errors: KindNotExist (source missing), KindPrecondition (SrcIfMatch),
	// KindExist (ForbidOverwrite), KindInvalid (source too large).
	Copy(ctx context.Context, req CopyRequest) (*PutResult, error)

	// Delete removes a key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteMulti removes up to 1000 keys in one request; a missing key is
	// not an error. It returns the keys the server failed to delete.
	DeleteMulti(ctx context.Context, keys []string) (failed []string, err error)

	// Append appends to an Appendable object (or creates one at position 0)
	// and returns the next append position. Errors: KindPrecondition (code
	// PositionNotEqualToLength), KindInvalid (ObjectNotAppendable).
	Append(ctx context.Context, req AppendRequest) (nextPosition int64, err error)

	// Presign returns a signed URL for a GET (or PUT) of key, valid for
	// req.Expires (at most 7 days). It performs no request. Errors: KindInvalid.
	Presign(ctx context.Context, req PresignRequest) (*PresignResult, error)

	// SignPostPolicy signs a browser form upload (PostObject) policy with
	// the current credentials; see postpolicy.go. It performs no request.
	SignPostPolicy(ctx context.Context, req PostPolicyRequest) (*PostPolicy, error)

	// Stats returns a snapshot of per-operation counters.
	Stats() Stats
}

// StdHeaders are the standard HTTP headers OSS stores with an object.
type StdHeaders struct {
	ContentType        string
	ContentDisposition string
	CacheControl       string
	ContentEncoding    string
	ContentLanguage    string
	Expires            string
}

// ObjectInfo describes an object. Fields from a LIST are Key, Size, ETag,
// LastModified, StorageClass and ObjectType only; Full is true when the info
// came from a HEAD (or a write) and Meta/Headers/CRC64 are meaningful.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // as returned by OSS, including the quotes
	LastModified time.Time
	StorageClass string // Standard, IA, Archive...
	ObjectType   string // Normal, Multipart, Appendable, Symlink
	CRC64        string // decimal x-oss-hash-crc64ecma, "" when unknown

	// Meta holds user metadata: lower-case names without the x-oss-meta-
	// prefix. Includes ossfs keys (mode, uid, gid, mtime...).
	Meta    map[string]string
	Headers StdHeaders
	Full    bool
}

// HeadOptions modify Head.
type HeadOptions struct {
	IfMatch string
}

// GetRequest is a ranged read.
type GetRequest struct {
	Key     string
	Offset  int64
	Length  int64 // < 0: to the end
	IfMatch string
}

// GetResult is the answer to GetRange. Body must be closed.
type GetResult struct {
	Body io.ReadCloser
	// ContentLength is the number of bytes Body will return.
	ContentLength int64
	// Size is the whole object's size; ETag its ETag.
	Size int64
	ETag string
}

// ListRequest asks for one page of a listing.
type ListRequest struct {
	Prefix            string
	Delimiter         string
	StartAfter        string
	ContinuationToken string
	MaxKeys           int // 0: 1000
}

// ListResult is one page of a listing.
type ListResult struct {
	Objects               []ObjectInfo
	CommonPrefixes        []string
	IsTruncated           bool
	NextContinuationToken string
}

// PutRequest uploads a whole object.
type PutRequest struct {
	Key             string
	Body            io.Reader
	Size            int64
	Meta            map[string]string
	Headers         StdHeaders
	ForbidOverwrite bool
}

// PutResult is what a write returns.
type PutResult struct {
	ETag  string
	CRC64 string
}

// InitiateRequest starts a multipart upload.
type InitiateRequest struct {
	Key             string
	Meta            map[string]string
	Headers         StdHeaders
	ForbidOverwrite bool
}

// UploadPartRequest uploads one part.
type UploadPartRequest struct {
	Key        string
	UploadID   string
	PartNumber int
	Body       io.Reader
	Size       int64
}

// UploadPartCopyRequest fills one part from an existing object's range.
type UploadPartCopyRequest struct {
	Key           string
	UploadID      string
	PartNumber    int
	SourceKey     string
	SourceOffset  int64
	SourceLength  int64
	SourceIfMatch string
}

// Part is an uploaded part.
type Part struct {
	PartNumber int
	ETag       string
	Size       int64
	CRC64      string // decimal x-oss-hash-crc64ecma of the part, "" when unknown
}

// CompleteRequest completes a multipart upload.
type CompleteRequest struct {
	Key             string
	UploadID        string
	Parts           []Part
	ForbidOverwrite bool
}

// Upload is an in-progress multipart upload.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// MetadataDirective selects what Copy does with metadata.
type MetadataDirective int

const (
	// MetadataCopy keeps the source's metadata and headers.
	MetadataCopy MetadataDirective = iota
	// MetadataReplace sets the request's metadata and headers.
	MetadataReplace
)

// CopyRequest copies an object inside the bucket.
type CopyRequest struct {
	SrcKey          string
	DstKey          string
	Directive       MetadataDirective
	Meta            map[string]string
	Headers         StdHeaders
	SrcIfMatch      string
	ForbidOverwrite bool
}

// AppendRequest appends to an appendable object.
type AppendRequest struct {
	Key      string
	Position int64
	Body     io.Reader
	Size     int64
	Meta     map[string]string // used only when the object is created
	Headers  StdHeaders
}

// PresignRequest describes a URL to sign.
type PresignRequest struct {
	Key     string
	Method  string // "GET" (default) or "PUT"
	Expires time.Duration
	// Response header overrides for GET (response-content-disposition...).
	ResponseContentDisposition string
	ResponseContentType        string
	// SignatureV1 signs with V1 whatever the client's signature version.
	SignatureV1 bool
}

// PresignResult is a signed URL.
type PresignResult struct {
	URL        string
	Method     string
	Expiration time.Time
	// SignedHeaders must be sent with the request (PUT with Content-Type).
	SignedHeaders map[string]string
}
