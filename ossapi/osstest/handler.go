package osstest

import (
	"bufio"
	"encoding/xml"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// reqCtx is the state of one request.
type reqCtx struct {
	s       *Server
	w       *statusWriter
	r       *http.Request
	query   url.Values
	id      string
	bucket  string
	key     string
	op      string
	ak      string // access key id that signed the request
	errCode string

	resetAfter   int64 // from a fault: GetObject hangs up after this many body bytes
	stallAfter   int64 // from a fault: GetObject stops sending after this many body bytes
	loseResponse bool  // from a fault: the request takes effect, then the connection is cut unanswered
}

func (rc *reqCtx) hostID() string {
	host := rc.s.opt.Region
	if rc.bucket != "" {
		return rc.bucket + ".oss-" + host + ".aliyuncs.com"
	}
	return "oss-" + host + ".aliyuncs.com"
}

// statusWriter records the status and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	lost   bool   // the response is swallowed (a LoseResponse fault)
	delay  func() // waits the network model's latency before the first byte
}

// WriteHeader sends the status line and headers, with x-oss-* header names
// in lower case as OSS writes them.
func (w *statusWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if w.lost {
		w.status = code
		return
	}
	w.status = code
	if w.delay != nil {
		w.delay()
	}
	h := w.ResponseWriter.Header()
	for k, v := range h {
		if strings.HasPrefix(k, "X-Oss-") {
			delete(h, k)
			h[strings.ToLower(k)] = v
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(200)
	}
	if w.lost {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	rc := &reqCtx{s: s, w: sw, r: r, id: newRequestID()}
	h := w.Header()
	h.Set("x-oss-request-id", rc.id)
	h.Set("Server", "AliyunOSS")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	model := s.net.Load()
	if d := model.latency(); d > 0 {
		sw.delay = func() { s.sleep(r.Context(), d) }
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	rc.query = q
	rc.route()
	s.count(rc.op)
	defer func() {
		if s.opt.Logf != nil {
			status := sw.status
			if status == 0 {
				status = 200
			}
			s.opt.Logf("osstest: %s %s %s bucket=%q key=%q status=%d %s bytes=%d ak=%s %s id=%s",
				r.RemoteAddr, r.Method, rc.op, rc.bucket, rc.key, status, rc.errCode, sw.n, rc.ak,
				time.Since(start).Round(time.Microsecond), rc.id)
		}
	}()
	if model.qps != nil && !model.qps.admit(time.Now()) {
		rc.writeError(errQPSExceeded())
		return
	}
	if err != nil {
		rc.writeError(errInvalidArgument("The query string is malformed.", "", ""))
		return
	}
	if done := rc.applyFaults(); done {
		return
	}
	rc.corsHeaders() // cors.go: Access-Control-* for allowed origins
	sw.lost = rc.loseResponse
	if e := rc.serve(); e != nil {
		rc.writeError(e)
	}
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK) // an empty 200, after the model's latency
	}
	if rc.loseResponse {
		// The request took effect; its answer is lost with the
		// connection, as when a network path fails after the server
		// acted.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}
}

var ipLike = regexp.MustCompile(`^[0-9.]+$|^\[`)

// route finds bucket, key and operation.
func (rc *reqCtx) route() {
	r := rc.r
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := r.URL.Path
	virtual := false
	if first, rest, ok := strings.Cut(host, "."); ok && !ipLike.MatchString(host) && first != "" {
		rc.s.mu.Lock()
		_, exists := rc.s.buckets[first]
		rc.s.mu.Unlock()
		if exists || strings.HasPrefix(rest, "oss-") {
			virtual = true
			rc.bucket = first
			rc.key = strings.TrimPrefix(path, "/")
		}
	}
	if !virtual {
		p := strings.TrimPrefix(path, "/")
		rc.bucket, rc.key, _ = strings.Cut(p, "/")
	}
	rc.op = rc.operation()
}

func (rc *reqCtx) has(k string) bool { return rc.query.Has(k) }

// operation names the request's OSS operation ("Unsupported" for what
// the emulator does not serve).
func (rc *reqCtx) operation() string {
	if rc.bucket == "" {
		if rc.r.Method == http.MethodGet {
			return "ListBuckets"
		}
		return "Unsupported"
	}
	if op := rc.corsOperation(); op != "" {
		return op
	}
	for _, k := range []string{"acl", "tagging", "symlink", "cors", "lifecycle", "policy", "versioning", "versions",
		"website", "logging", "referer", "encryption", "worm", "restore", "x-oss-process", "stat", "requestPayment", "select"} {
		if rc.has(k) {
			return "Unsupported"
		}
	}
	if rc.key == "" {
		return rc.bucketOperation()
	}
	return rc.objectOperation()
}

// bucketOperation names a request on a bucket (no key).
func (rc *reqCtx) bucketOperation() string {
	switch rc.r.Method {
	case http.MethodPut:
		return "PutBucket"
	case http.MethodDelete:
		return "DeleteBucket"
	case http.MethodGet:
		switch {
		case rc.has("bucketInfo"):
			return "GetBucketInfo"
		case rc.has("location"):
			return "GetBucketLocation"
		case rc.has("uploads"):
			return "ListMultipartUploads"
		case rc.query.Get("list-type") == "2":
			return "ListObjectsV2"
		}
		return "ListObjects"
	case http.MethodPost:
		if rc.has("delete") {
			return "DeleteMultipleObjects"
		}
		if strings.HasPrefix(strings.ToLower(rc.r.Header.Get("Content-Type")), "multipart/form-data") {
			return "PostObject"
		}
	}
	return "Unsupported"
}

// objectOperation names a request on an object.
func (rc *reqCtx) objectOperation() string {
	switch rc.r.Method {
	case http.MethodPut:
		copySrc := rc.r.Header.Get("x-oss-copy-source") != ""
		switch {
		case rc.has("partNumber") && copySrc:
			return "UploadPartCopy"
		case rc.has("partNumber") || rc.has("uploadId"):
			return "UploadPart"
		case copySrc:
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodGet:
		if rc.has("uploadId") {
			return "ListParts"
		}
		return "GetObject"
	case http.MethodHead:
		if rc.has("objectMeta") {
			return "GetObjectMeta"
		}
		return "HeadObject"
	case http.MethodDelete:
		if rc.has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodPost:
		switch {
		case rc.has("uploads"):
			return "InitiateMultipartUpload"
		case rc.has("uploadId"):
			return "CompleteMultipartUpload"
		case rc.has("append"):
			return "AppendObject"
		}
	}
	return "Unsupported"
}

// serve authenticates and runs the operation.
func (rc *reqCtx) serve() *ossError {
	s := rc.s
	if rc.op == "Unsupported" {
		return newErr(501, "NotImplemented", "This operation is not implemented by the emulator.")
	}
	if e, ok := rc.serveCORS(); ok { // cors.go: bucket CORS operations and preflight
		return e
	}
	if rc.op == "PostObject" {
		if e := rc.needBucket(); e != nil {
			return e
		}
		return rc.postObject()
	}
	if e := rc.authenticate(); e != nil {
		return e
	}
	switch rc.op {
	case "ListBuckets":
		return rc.listBuckets()
	case "PutBucket":
		return rc.putBucket()
	}
	if e := rc.needBucket(); e != nil {
		return e
	}
	switch rc.op {
	case "DeleteBucket":
		return rc.deleteBucket()
	case "GetBucketInfo":
		return rc.getBucketInfo()
	case "GetBucketLocation":
		rc.writeXML(200, struct {
			XMLName xml.Name `xml:"LocationConstraint"`
			V       string   `xml:",chardata"`
		}{V: "oss-" + s.opt.Region})
		return nil
	case "ListObjects", "ListObjectsV2":
		return rc.listObjects()
	case "ListMultipartUploads":
		return rc.listUploads()
	case "DeleteMultipleObjects":
		return rc.deleteMultiple()
	}
	if e := rc.checkKey(); e != nil {
		return e
	}
	switch rc.op {
	case "PutObject":
		return rc.putObject()
	case "GetObject", "HeadObject", "GetObjectMeta":
		return rc.getObject()
	case "DeleteObject":
		return rc.deleteObject()
	case "CopyObject":
		return rc.copyObject()
	case "AppendObject":
		return rc.appendObject()
	case "InitiateMultipartUpload":
		return rc.initiateUpload()
	case "UploadPart":
		return rc.uploadPart()
	case "UploadPartCopy":
		return rc.uploadPartCopy()
	case "CompleteMultipartUpload":
		return rc.completeUpload()
	case "AbortMultipartUpload":
		return rc.abortUpload()
	case "ListParts":
		return rc.listParts()
	}
	return newErr(501, "NotImplemented", "This operation is not implemented by the emulator.")
}

// needBucket checks that the bucket exists and, for requester-pays buckets,
// that the requester agreed to pay.
func (rc *reqCtx) needBucket() *ossError {
	rc.s.mu.Lock()
	_, ok := rc.s.buckets[rc.bucket]
	rc.s.mu.Unlock()
	if !ok {
		return errNoSuchBucket(rc.bucket)
	}
	for _, b := range rc.s.opt.RequesterPays {
		if b == rc.bucket {
			payer := rc.r.Header.Get("x-oss-request-payer")
			if payer == "" {
				payer = rc.query.Get("x-oss-request-payer")
			}
			if !strings.EqualFold(payer, "requester") {
				return errAccessDenied("Access denied for requester pay bucket.")
			}
		}
	}
	return nil
}

// checkKey validates the object name.
func (rc *reqCtx) checkKey() *ossError {
	return validKey(rc.key)
}

func validKey(key string) *ossError {
	if len(key) > 1023 {
		return newErr(400, "KeyTooLong", "Your key is too long.")
	}
	if key == "" || !utf8Valid(key) || strings.HasPrefix(key, "/") || strings.HasPrefix(key, "\\") {
		return newErr(400, "InvalidObjectName", "The specified object is not valid.")
	}
	return nil
}

func (rc *reqCtx) writeXML(status int, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		rc.writeError(newErr(500, "InternalError", err.Error()))
		return
	}
	body := append([]byte(xml.Header), out...)
	h := rc.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rc.w.WriteHeader(status)
	rc.w.Write(body)
}

// Fault describes an injected failure. A request matches when Op and Key
// match (empty matches anything).
type Fault struct {
	Op         string        // operation name; "" = any
	Key        string        // "" = any key; else only requests on this key
	Nth        int           // 0 = every matching request; N = only the Nth matching request (1-based) after AddFault
	Times      int           // 0 = unlimited; else the fault fires at most Times times
	Rate       float64       // 0 = always; else the probability of firing, in (0,1]
	Status     int           // HTTP status of an injected OSS error, e.g. 500, 503
	Code       string        // OSS error code, e.g. "InternalError", "SlowDown"
	Latency    time.Duration // added before answering
	ResetAfter int64         // >0: GetObject closes the connection abruptly after this many body bytes
	StallAfter int64         // >0: GetObject sends this many body bytes, then nothing until the client goes away, SetDown or Close
	Stall      bool          // hold the request until the client goes away, SetDown or Close
	// LoseResponse lets the request take effect, then closes the
	// connection without an answer: the client cannot tell whether it
	// was applied (a response lost on the way back).
	LoseResponse bool
	// Slow delays the request's effect by this long even when the client
	// goes away meanwhile: OSS finishes what it started (a CopyObject
	// whose client gave up still makes its copy).
	Slow time.Duration
}

type faultState struct {
	f     Fault
	seen  int
	fired int
}

// AddFault installs a fault.
func (s *Server) AddFault(f Fault) {
	s.cmu.Lock()
	s.faults = append(s.faults, &faultState{f: f})
	s.cmu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.cmu.Lock()
	s.faults = nil
	s.cmu.Unlock()
}

// applyFaults runs the faults that fire for this request; it reports whether
// the request has been answered.
func (rc *reqCtx) applyFaults() bool {
	s := rc.s
	var fired []Fault
	s.cmu.Lock()
	for _, fs := range s.faults {
		f := fs.f
		if (f.Op != "" && f.Op != rc.op) || (f.Key != "" && f.Key != rc.key) {
			continue
		}
		fs.seen++
		if f.Nth > 0 && fs.seen != f.Nth {
			continue
		}
		if f.Times > 0 && fs.fired >= f.Times {
			continue
		}
		if f.Rate > 0 && f.Rate < 1 && rand.Float64() >= f.Rate {
			continue
		}
		fs.fired++
		fired = append(fired, f)
	}
	s.cmu.Unlock()
	var errF *Fault
	for i := range fired {
		f := &fired[i]
		if f.Latency > 0 {
			select {
			case <-time.After(f.Latency):
			case <-rc.r.Context().Done():
				return true
			case <-s.closed:
				return true
			}
		}
		if f.Slow > 0 {
			select {
			case <-time.After(f.Slow):
			case <-s.closed:
				return true
			}
		}
		if f.Stall {
			s.hold(rc.r)
			return true
		}
		if f.LoseResponse {
			rc.loseResponse = true
		}
		if f.ResetAfter > 0 && (rc.resetAfter == 0 || f.ResetAfter < rc.resetAfter) {
			rc.resetAfter = f.ResetAfter
		}
		if f.StallAfter > 0 && (rc.stallAfter == 0 || f.StallAfter < rc.stallAfter) {
			rc.stallAfter = f.StallAfter
		}
		if (f.Status != 0 || f.Code != "") && errF == nil {
			errF = f
		}
	}
	if errF != nil {
		status, code := errF.Status, errF.Code
		if status == 0 {
			status = 500
		}
		if code == "" {
			switch status {
			case 503:
				code = "ServiceUnavailable"
			case 429:
				code = "SlowDown"
			default:
				code = http.StatusText(status)
				code = strings.ReplaceAll(code, " ", "")
			}
		}
		rc.writeError(newErr(status, code, "Injected fault."))
		return true
	}
	return false
}

// corsOperation names the CORS operations ("" for others).
func (rc *reqCtx) corsOperation() string {
	if rc.r.Method == http.MethodOptions {
		return "Options"
	}
	if rc.key != "" || !rc.has("cors") {
		return ""
	}
	switch rc.r.Method {
	case http.MethodPut:
		return "PutBucketCors"
	case http.MethodGet:
		return "GetBucketCors"
	case http.MethodDelete:
		return "DeleteBucketCors"
	}
	return ""
}
