package osstest

// Cross-origin resource sharing, as OSS does it:
//
//	PutBucketCors     PUT    /bucket?cors  <CORSConfiguration><CORSRule>...
//	GetBucketCors     GET    /bucket?cors  (404 NoSuchCORSConfiguration)
//	DeleteBucketCors  DELETE /bucket?cors
//	Options           OPTIONS /bucket/[key], the browser's preflight: not
//	                  signed; 200 with Access-Control-Allow-* when a rule
//	                  matches Origin, Access-Control-Request-Method and every
//	                  Access-Control-Request-Headers name, else 403
//	                  AccessForbidden.
//
// Other requests that carry an Origin matched by a rule (origin and method)
// get Access-Control-Allow-Origin, -Allow-Methods, -Expose-Headers and
// -Max-Age on their response, errors included.
//
// A rule's AllowedOrigin and AllowedHeader may hold one '*' wildcard;
// AllowedMethod is GET, PUT, DELETE, POST or HEAD; at most 10 rules. The
// configuration is kept in memory only (not in Options.DataDir).

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"weak"
)

// CORSRule is one rule of a bucket's CORS configuration.
type CORSRule struct {
	AllowedOrigins []string `xml:"AllowedOrigin"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int64   `xml:"MaxAgeSeconds,omitempty"`
}

type corsConfiguration struct {
	XMLName      xml.Name   `xml:"CORSConfiguration"`
	Rules        []CORSRule `xml:"CORSRule"`
	ResponseVary *bool      `xml:"ResponseVary,omitempty"`
}

// corsState is one server's CORS configuration (Server.corsCfg).
// Buckets are weak keys: a deleted bucket's rules go with it, and a new
// bucket of the same name starts without any.
type corsState struct {
	mu       sync.Mutex
	byBucket map[weak.Pointer[bucket]]*corsConfiguration
	def      *corsConfiguration // for buckets without their own
}

func (s *Server) cors() *corsState { return &s.corsCfg }

// bucketPtr returns the live bucket called name, or nil.
func (s *Server) bucketPtr(name string) *bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[name]
}

// SetBucketCORS sets a bucket's CORS rules directly (nil removes them).
func (s *Server) SetBucketCORS(bucketName string, rules []CORSRule) error {
	b := s.bucketPtr(bucketName)
	if b == nil {
		return errNoBucket
	}
	st := s.cors()
	st.mu.Lock()
	defer st.mu.Unlock()
	if rules == nil {
		delete(st.byBucket, weak.Make(b))
		return nil
	}
	cfg := &corsConfiguration{Rules: rules}
	if e := validateCORS(cfg); e != nil {
		return e
	}
	st.byBucket[weak.Make(b)] = cfg
	return nil
}

// SetDefaultCORS gives every bucket without a CORS configuration of its own
// these rules (nil: none). GetBucketCors still reports such buckets as
// unconfigured. osslocal's --cors-allow-origin uses it.
func (s *Server) SetDefaultCORS(rules []CORSRule) error {
	st := s.cors()
	st.mu.Lock()
	defer st.mu.Unlock()
	if rules == nil {
		st.def = nil
		return nil
	}
	cfg := &corsConfiguration{Rules: rules}
	if e := validateCORS(cfg); e != nil {
		return e
	}
	st.def = cfg
	return nil
}

// AllowOriginRule is a rule allowing origin every method and header,
// exposing the headers browser uploads read (ETag, request id, CRC-64).
func AllowOriginRule(origin string) CORSRule {
	age := int64(600)
	return CORSRule{
		AllowedOrigins: []string{origin},
		AllowedMethods: []string{"GET", "PUT", "POST", "DELETE", "HEAD"},
		AllowedHeaders: []string{"*"},
		ExposeHeaders:  []string{"ETag", "x-oss-request-id", "x-oss-hash-crc64ecma", "Location"},
		MaxAgeSeconds:  &age,
	}
}

// corsFor returns the configuration that applies to a bucket (own, else
// the default), or nil.
func (s *Server) corsFor(b *bucket, withDefault bool) *corsConfiguration {
	st := s.cors()
	st.mu.Lock()
	defer st.mu.Unlock()
	if c := st.byBucket[weak.Make(b)]; c != nil {
		return c
	}
	if withDefault {
		return st.def
	}
	return nil
}

var corsMethods = map[string]bool{"GET": true, "PUT": true, "DELETE": true, "POST": true, "HEAD": true}

func validateCORS(cfg *corsConfiguration) *ossError {
	if len(cfg.Rules) == 0 {
		return errMalformedXML()
	}
	if len(cfg.Rules) > 10 {
		return errInvalidArgument("A bucket can have at most 10 CORS rules.", "CORSRule", strconv.Itoa(len(cfg.Rules)))
	}
	for _, r := range cfg.Rules {
		if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
			return errMalformedXML()
		}
		for _, o := range r.AllowedOrigins {
			if o == "" || strings.Count(o, "*") > 1 {
				return errInvalidArgument("AllowedOrigin can have at most one wildcard.", "AllowedOrigin", o)
			}
		}
		for _, m := range r.AllowedMethods {
			if !corsMethods[m] {
				return errInvalidArgument("Unsupported method in AllowedMethod.", "AllowedMethod", m)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return errInvalidArgument("AllowedHeader can have at most one wildcard.", "AllowedHeader", h)
			}
		}
		for _, h := range r.ExposeHeaders {
			if strings.Contains(h, "*") {
				return errInvalidArgument("ExposeHeader cannot contain a wildcard.", "ExposeHeader", h)
			}
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return errInvalidArgument("MaxAgeSeconds must not be negative.", "MaxAgeSeconds", strconv.FormatInt(*r.MaxAgeSeconds, 10))
		}
	}
	return nil
}

// wildMatch matches s against a pattern with at most one '*'.
func wildMatch(pattern, s string) bool {
	pre, suf, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(pre)+len(suf) && strings.HasPrefix(s, pre) && strings.HasSuffix(s, suf)
}

// match returns the first rule allowing origin and method and every
// header (lower-case names), and the AllowedOrigin that matched.
func (c *corsConfiguration) match(origin, method string, headers []string) (*CORSRule, string) {
	for i := range c.Rules {
		r := &c.Rules[i]
		matchedOrigin := ""
		for _, o := range r.AllowedOrigins {
			if wildMatch(o, origin) {
				matchedOrigin = o
				break
			}
		}
		if matchedOrigin == "" {
			continue
		}
		methodOK := false
		for _, m := range r.AllowedMethods {
			if m == method {
				methodOK = true
			}
		}
		if !methodOK {
			continue
		}
		headersOK := true
		for _, h := range headers {
			found := false
			for _, a := range r.AllowedHeaders {
				if wildMatch(strings.ToLower(a), h) {
					found = true
					break
				}
			}
			if !found {
				headersOK = false
				break
			}
		}
		if headersOK {
			return r, matchedOrigin
		}
	}
	return nil, ""
}

func (c *corsConfiguration) vary() bool { return c.ResponseVary != nil && *c.ResponseVary }

// serveCORS runs the CORS operations; ok is false for other operations.
func (rc *reqCtx) serveCORS() (e *ossError, ok bool) {
	switch rc.op {
	case "Options":
		return rc.preflight(), true
	case "PutBucketCors", "GetBucketCors", "DeleteBucketCors":
	default:
		return nil, false
	}
	if e := rc.authenticate(); e != nil {
		return e, true
	}
	if e := rc.needBucket(); e != nil {
		return e, true
	}
	b := rc.s.bucketPtr(rc.bucket)
	if b == nil {
		return errNoSuchBucket(rc.bucket), true
	}
	st := rc.s.cors()
	switch rc.op {
	case "PutBucketCors":
		body, err := io.ReadAll(io.LimitReader(rc.r.Body, 64<<10+1))
		if err != nil {
			return newErr(400, "IncompleteBody", "The request body could not be read."), true
		}
		if len(body) > 64<<10 {
			return errInvalidArgument("The CORS configuration is too large.", "CORSConfiguration", ""), true
		}
		var cfg corsConfiguration
		if err := xml.Unmarshal(body, &cfg); err != nil || cfg.XMLName.Local != "CORSConfiguration" {
			return errMalformedXML(), true
		}
		if e := validateCORS(&cfg); e != nil {
			return e, true
		}
		st.mu.Lock()
		st.byBucket[weak.Make(b)] = &cfg
		st.mu.Unlock()
		rc.w.Header().Set("Content-Length", "0")
		rc.w.WriteHeader(200)
	case "GetBucketCors":
		cfg := rc.s.corsFor(b, false)
		if cfg == nil {
			return newErr(404, "NoSuchCORSConfiguration", "The CORS configuration does not exist.").with("BucketName", rc.bucket), true
		}
		rc.writeXML(200, cfg)
	case "DeleteBucketCors":
		st.mu.Lock()
		delete(st.byBucket, weak.Make(b))
		st.mu.Unlock()
		rc.w.WriteHeader(204)
	}
	return nil, true
}

func corsForbidden(msg string) *ossError {
	return newErr(403, "AccessForbidden", "CORSResponse: "+msg)
}

// preflight answers an OPTIONS request. It is not signed.
func (rc *reqCtx) preflight() *ossError {
	b := rc.s.bucketPtr(rc.bucket)
	if b == nil {
		return errNoSuchBucket(rc.bucket)
	}
	origin := rc.r.Header.Get("Origin")
	method := rc.r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		return corsForbidden("Insufficient information. Origin and Access-Control-Request-Method request headers are needed.")
	}
	cfg := rc.s.corsFor(b, true)
	if cfg == nil {
		return corsForbidden("CORS is not enabled for this bucket.")
	}
	var reqHeaders []string
	for _, h := range strings.Split(rc.r.Header.Get("Access-Control-Request-Headers"), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			reqHeaders = append(reqHeaders, h)
		}
	}
	h := rc.w.Header()
	if cfg.vary() {
		h.Set("Vary", "Origin")
	}
	rule, matched := cfg.match(origin, method, reqHeaders)
	if rule == nil {
		return corsForbidden("This CORS request is not allowed. This is usually because the evaluation of Origin, " +
			"request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	}
	setCORSHeaders(h, rule, matched, origin)
	if len(reqHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ", "))
	}
	h.Set("Content-Length", "0")
	rc.w.WriteHeader(200)
	return nil
}

func setCORSHeaders(h http.Header, rule *CORSRule, matched, origin string) {
	if matched == "*" {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(rule.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	if rule.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.FormatInt(*rule.MaxAgeSeconds, 10))
	}
}

// corsHeaders adds the Access-Control-* headers to the response of an
// actual (non-preflight) request whose Origin a rule allows.
func (rc *reqCtx) corsHeaders() {
	origin := rc.r.Header.Get("Origin")
	if rc.bucket == "" || rc.op == "Options" {
		return
	}
	b := rc.s.bucketPtr(rc.bucket)
	if b == nil {
		return
	}
	cfg := rc.s.corsFor(b, true)
	if cfg == nil {
		return
	}
	if cfg.vary() {
		rc.w.Header().Set("Vary", "Origin")
	}
	if origin == "" {
		return
	}
	if rule, matched := cfg.match(origin, rc.r.Method, nil); rule != nil {
		setCORSHeaders(rc.w.Header(), rule, matched, origin)
	}
}
