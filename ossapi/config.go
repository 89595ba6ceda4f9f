package ossapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Credentials are what a request is signed with.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string    // "" for long-term keys
	Expiration      time.Time // zero for credentials that do not expire
}

// CredentialsProvider supplies the current credentials. Implementations
// (package auth) must answer from memory without blocking on a refresh.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// StaticCredentials is a CredentialsProvider that always returns itself.
type StaticCredentials Credentials

// Credentials returns c.
func (c StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(c), nil
}

// Config configures a Client. It mirrors the OSS SDK client options
// (region, endpoint, cname, internal, secure, timeout, retryMax,
// isRequestPay, authorizationV4) plus what a mount needs.
type Config struct {
	Bucket string
	// Region, e.g. "cn-hangzhou" (the "oss-" prefix is accepted and removed).
	Region string
	// Endpoint, e.g. "oss-cn-hangzhou.aliyuncs.com" or "http://127.0.0.1:9000".
	// Derived from Region when empty.
	Endpoint string
	// CNAME: Endpoint is a custom domain bound to the bucket.
	CNAME bool
	// Internal: use the region's internal (VPC) endpoint.
	Internal bool
	// Accelerate: use the global transfer-acceleration endpoint.
	Accelerate bool
	// Insecure: use http instead of https when Endpoint has no scheme.
	Insecure bool
	// PathStyle forces path-style addressing (automatic for IP endpoints).
	PathStyle bool
	// ConnectTimeout bounds connecting to the endpoint, TLS included
	// (0: 5 s).
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the response once a request is
	// sent (0: 10 s), except for the requests of Timeout.
	FirstByteTimeout time.Duration
	// Timeout is that wait for the requests in which OSS copies or
	// assembles data before answering: CopyObject, UploadPartCopy,
	// CompleteMultipartUpload (0: 60 s, the SDKs' request timeout).
	Timeout time.Duration
	// StallTimeout bounds a request or response body that makes no
	// progress (0: 10 s).
	StallTimeout time.Duration
	// RetryWindow is how long after its first attempt a request that
	// fails in a retryable way (network, timeout, 5xx, throttling) is
	// still retried, with exponential backoff and jitter; a last attempt
	// is made at its end (0: 30 s; < 0: no retries).
	RetryWindow time.Duration
	// RetryMax caps the attempts per request, the first included (0: no
	// cap, RetryWindow alone bounds them).
	RetryMax int
	// RequesterPays sends x-oss-request-payer: requester.
	RequesterPays bool
	// SignatureV1 selects the V1 signature; V4 is the default.
	SignatureV1 bool
	// AdditionalHeaders are extra header names included in V4 signatures.
	AdditionalHeaders []string
	// Credentials supplies keys; required.
	Credentials CredentialsProvider
	// HTTPClient overrides the transport (tests); nil for the default.
	HTTPClient *http.Client
	// Logf, if set, receives one line per failed request (never secrets).
	Logf func(format string, args ...any)
	// Observer, if set, is told about every request (see observe.go): the
	// mount's metrics.
	Observer Observer
}

// EndpointHost names the endpoint requests go to, as host[:port], without
// scheme, user info or path (so never a secret): Endpoint's host, or the
// public, internal or acceleration endpoint of Region.
func (c Config) EndpointHost() string {
	if c.Endpoint != "" {
		e := c.Endpoint
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		if u, err := url.Parse(e); err == nil {
			return u.Host
		}
		return ""
	}
	region := strings.TrimPrefix(c.Region, "oss-")
	switch {
	case c.Accelerate:
		return "oss-accelerate.aliyuncs.com"
	case c.Internal:
		return "oss-" + region + "-internal.aliyuncs.com"
	}
	return "oss-" + region + ".aliyuncs.com"
}

// EndpointURL is the endpoint requests go to, scheme included, as the SDK
// derives it from Endpoint or Region (for messages).
func (c Config) EndpointURL() string {
	if strings.Contains(c.Endpoint, "://") {
		return c.Endpoint
	}
	scheme := "https"
	if c.Insecure {
		scheme = "http"
	}
	return scheme + "://" + c.EndpointHost()
}

// OpStats are the counters of one operation.
type OpStats struct {
	Requests int64         // calls made (a retried call counts once)
	Errors   int64         // calls that returned an error
	Retries  int64         // HTTP attempts after a call's first
	BytesIn  int64         // body bytes received
	BytesOut int64         // body bytes sent
	Latency  time.Duration // total time spent in calls
}

// Stats maps operation names (HeadObject, GetObject, ListObjectsV2,
// PutObject, ...) to their counters.
type Stats map[string]OpStats

// Total returns the number of requests over all operations.
func (s Stats) Total() int64 {
	var n int64
	for _, o := range s {
		n += o.Requests
	}
	return n
}
