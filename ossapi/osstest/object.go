package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

const (
	maxObjectSize = 5 << 30 // PutObject, UploadPart, AppendObject
	maxCopySize   = 1 << 30 // CopyObject
	maxMetaSize   = 8 << 10
	isoMillis     = "2006-01-02T15:04:05.000Z"
)

// standardHeaders are the stored HTTP headers of an object.
var standardHeaders = []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// newObjectHeaders is objectHeaders of a request writing key, with the
// Content-Type OSS gives by the key's extension when the request has none.
func newObjectHeaders(h http.Header, key string) (map[string]string, *ossError) {
	headers, e := objectHeaders(h)
	if e != nil {
		return nil, e
	}
	if _, ok := headers["Content-Type"]; !ok {
		headers["Content-Type"] = defaultContentType(key)
	}
	return headers, nil
}

// objectHeaders extracts and validates the stored headers and user
// metadata of a request.
func objectHeaders(h http.Header) (map[string]string, *ossError) {
	out := map[string]string{}
	for _, k := range standardHeaders {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	size := 0
	for k, vs := range h {
		low := strings.ToLower(k)
		if !strings.HasPrefix(low, "x-oss-meta-") {
			continue
		}
		name := low[len("x-oss-meta-"):]
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil, errInvalidArgument("The user metadata name is invalid: only letters, digits and '-' are allowed.", k, "")
		}
		v := strings.Join(vs, ",")
		size += len(name) + len(v)
		out[low] = v
	}
	if size > maxMetaSize {
		return nil, newErr(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	}
	return out, nil
}

// setHeaders writes the object's headers into h. x-oss-meta-* names are
// written lower-case when raw (the wire form), canonical otherwise.
func (o *object) setHeaders(h http.Header) { o.writeHeaders(h, false) }

func (o *object) writeHeaders(h http.Header, raw bool) {
	for k, v := range o.headers {
		if strings.HasPrefix(k, "x-oss-meta-") && raw {
			h[k] = []string{v}
		} else {
			h.Set(k, v)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("Last-Modified", o.modTime.UTC().Format(http.TimeFormat))
	h.Set("x-oss-object-type", o.typ)
	h.Set("x-oss-storage-class", "Standard")
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	if o.md5 != nil {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(o.md5))
	}
	if o.typ == "Appendable" {
		h.Set("x-oss-next-append-position", strconv.FormatInt(o.size, 10))
	}
}

// lookup returns the current version of key in the request's bucket.
func (rc *reqCtx) lookup(bucket, key string) (*object, *ossError) {
	s := rc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil {
		return nil, errNoSuchBucket(bucket)
	}
	o := b.get(key)
	if o == nil {
		return nil, errNoSuchKey(key)
	}
	return o, nil
}

func (rc *reqCtx) forbidOverwrite() bool {
	return strings.EqualFold(rc.r.Header.Get("x-oss-forbid-overwrite"), "true")
}

// exists reports whether key exists in the request's bucket. Call with mu held.
func (rc *reqCtx) existsLocked(key string) bool {
	b := rc.s.buckets[rc.bucket]
	return b != nil && b.get(key) != nil
}

// checkOverwrite refuses, when forbid (x-oss-forbid-overwrite: true), a
// write to a key that exists. The write checks again when it installs
// the object.
func (rc *reqCtx) checkOverwrite(forbid bool, key string) *ossError {
	if !forbid {
		return nil
	}
	rc.s.mu.Lock()
	defer rc.s.mu.Unlock()
	if rc.existsLocked(key) {
		return errFileExists()
	}
	return nil
}

// contentMD5 returns the decoded Content-MD5 header (nil if absent).
func (rc *reqCtx) contentMD5() ([]byte, *ossError) {
	v := rc.r.Header.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != md5.Size {
		return nil, newErr(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	return b, nil
}

// receiveBody reads the request body, checking size and Content-MD5.
func (rc *reqCtx) receiveBody(limit int64) (blob, *sums, *ossError) {
	want, e := rc.contentMD5()
	if e != nil {
		return blob{}, nil, e
	}
	if rc.r.ContentLength > limit {
		return blob{}, nil, newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	b, h, err := rc.s.receive(rc.r.Body, rc.r.ContentLength, limit)
	if errors.Is(err, errTooLarge) {
		return blob{}, nil, newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
	}
	if err != nil {
		return blob{}, nil, newErr(400, "IncompleteBody", "The request body could not be read: "+err.Error())
	}
	if want != nil && !bytes.Equal(want, h.sum()) {
		rc.s.discard(b)
		return blob{}, nil, newErr(400, "InvalidDigest", "The Content-MD5 you specified did not match what we received.")
	}
	return b, h, nil
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func defaultContentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (rc *reqCtx) putObject() *ossError {
	headers, e := newObjectHeaders(rc.r.Header, rc.key)
	if e != nil {
		return e
	}
	if e := rc.checkOverwrite(rc.forbidOverwrite(), rc.key); e != nil {
		return e
	}
	data, sum, e := rc.receiveBody(maxObjectSize)
	if e != nil {
		return e
	}
	md := sum.sum()
	o := &object{blob: data, key: rc.key, etag: upperHex(md), crc: sum.crc, md5: md,
		modTime: time.Now().UTC(), typ: "Normal", headers: headers}
	if e := rc.store(o, rc.forbidOverwrite()); e != nil {
		return e
	}
	h := rc.w.Header()
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(md))
	h.Set("Content-Length", "0")
	rc.w.WriteHeader(200)
	return nil
}

// store installs o in the request's bucket, refusing to replace an
// object when forbid (x-oss-forbid-overwrite). It frees o's data on
// failure.
func (rc *reqCtx) store(o *object, forbid bool) *ossError {
	rc.s.mu.Lock()
	e := rc.installLocked(o, forbid)
	rc.s.mu.Unlock()
	if e != nil {
		rc.s.discard(o.blob)
	}
	return e
}

// installLocked installs o in the request's bucket, refusing to replace an
// object when forbid. Call with s.mu held; o's data is the caller's to
// free on failure.
func (rc *reqCtx) installLocked(o *object, forbid bool) *ossError {
	b := rc.s.buckets[rc.bucket]
	switch {
	case b == nil:
		return errNoSuchBucket(rc.bucket)
	case forbid && b.get(o.key) != nil:
		return errFileExists()
	}
	if err := rc.s.install(b, o); err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	return nil
}

func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.EqualFold(strings.Trim(t, `"`), etag) {
			return true
		}
	}
	return false
}

// checkConditions evaluates If-* headers (with the given name prefix, ""
// or "x-oss-copy-source-") against o. It returns 0, 304 or 412.
func checkConditions(h http.Header, prefix string, o *object) (int, string) {
	mod := o.modTime.UTC().Truncate(time.Second)
	if v := h.Get(prefix + "If-Match"); v != "" && !etagMatches(v, o.etag) {
		return 412, "If-Match"
	}
	if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return 412, "If-Unmodified-Since"
		}
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" && etagMatches(v, o.etag) {
		return 304, "If-None-Match"
	}
	if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return 304, "If-Modified-Since"
		}
	}
	return 0, ""
}

// parseRange interprets a Range header for an object of the given size. It
// returns the byte interval and whether the response is partial.
func parseRange(spec string, size int64, standard bool) (start, end int64, partial bool, e *ossError) {
	whole := func() (int64, int64, bool, *ossError) { return 0, size - 1, false, nil }
	invalid := func() (int64, int64, bool, *ossError) {
		if standard {
			return 0, 0, false, newErr(416, "InvalidRange", "The requested range cannot be satisfied.").
				withHeader("Content-Range", fmt.Sprintf("bytes */%d", size))
		}
		return whole()
	}
	if spec == "" {
		return whole()
	}
	r, ok := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !ok || strings.Contains(r, ",") {
		return whole()
	}
	a, b, ok := strings.Cut(strings.TrimSpace(r), "-")
	if !ok {
		return whole()
	}
	var err error
	switch {
	case a == "" && b == "":
		return whole()
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return whole()
		}
		if n > size {
			if !standard || size == 0 {
				return invalid()
			}
			n = size
		}
		return size - n, size - 1, true, nil
	default:
		start, err = strconv.ParseInt(a, 10, 64)
		if err != nil || start < 0 {
			return whole()
		}
		end = size - 1
		if b != "" {
			end, err = strconv.ParseInt(b, 10, 64)
			if err != nil || end < start {
				return whole()
			}
		}
		if start >= size {
			return invalid()
		}
		if end >= size {
			if !standard {
				return whole()
			}
			end = size - 1
		}
		return start, end, true, nil
	}
}

var responseOverrides = [][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

// getObject answers GetObject, HeadObject and GetObjectMeta.
func (rc *reqCtx) getObject() *ossError {
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	var o *object
	if b != nil {
		o = b.get(rc.key)
	}
	if o == nil {
		s.mu.Unlock()
		return errNoSuchKey(rc.key)
	}
	var ra io.ReaderAt
	var closer io.Closer
	var err error
	if rc.op == "GetObject" {
		ra, closer, err = o.open()
	}
	s.mu.Unlock()
	if err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	if closer != nil {
		defer closer.Close()
	}
	if rc.op == "GetObjectMeta" {
		rc.objectMeta(o)
		return nil
	}
	if done, e := rc.preconditions(o); done || e != nil {
		return e
	}
	rangeSpec := rc.r.Header.Get("Range")
	if rc.op == "HeadObject" {
		rangeSpec = "" // HeadObject describes the whole object
	}
	start, length, e := rc.writeObjectHeaders(o, rangeSpec)
	if e != nil || rc.op == "HeadObject" {
		return e
	}
	rc.sendBody(io.NewSectionReader(ra, start, length), length)
	return nil
}

// objectMeta answers GetObjectMeta: ETag, Last-Modified, size and CRC
// only.
func (rc *reqCtx) objectMeta(o *object) {
	h := rc.w.Header()
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("Last-Modified", o.modTime.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(o.size, 10))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	rc.w.WriteHeader(200)
}

// preconditions checks a GET's or HEAD's If-Match, If-None-Match,
// If-Modified-Since and If-Unmodified-Since: a failed one is a 412 error,
// or a 304 answered here (done).
func (rc *reqCtx) preconditions(o *object) (done bool, e *ossError) {
	status, cond := checkConditions(rc.r.Header, "", o)
	switch status {
	case 412:
		return false, errPrecondition(cond)
	case 304:
		h := rc.w.Header()
		h.Set("ETag", `"`+o.etag+`"`)
		h.Set("Last-Modified", o.modTime.UTC().Format(http.TimeFormat))
		rc.w.WriteHeader(304)
		return true, nil
	}
	return false, nil
}

// writeObjectHeaders writes the status and headers of a GET of o's range
// rangeSpec ("": all of it) and returns the bytes to send.
func (rc *reqCtx) writeObjectHeaders(o *object, rangeSpec string) (start, length int64, e *ossError) {
	standard := strings.EqualFold(rc.r.Header.Get("x-oss-range-behavior"), "standard")
	start, end, partial, e := parseRange(rangeSpec, o.size, standard)
	if e != nil {
		return 0, 0, e
	}
	h := rc.w.Header()
	o.writeHeaders(h, true)
	h.Set("Accept-Ranges", "bytes")
	for _, ov := range responseOverrides {
		if v := rc.query.Get(ov[0]); v != "" {
			h.Set(ov[1], v)
		}
	}
	length = end - start + 1
	status := 200
	if partial {
		status = 206
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, o.size))
		h.Del("x-oss-hash-crc64ecma")
		h.Del("Content-MD5")
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	rc.w.WriteHeader(status)
	return start, length, nil
}

// sendBody sends a response body of length bytes, cut (connection reset)
// or stalled where a fault says so.
func (rc *reqCtx) sendBody(body io.Reader, length int64) {
	if rc.resetAfter > 0 && rc.resetAfter < length {
		io.CopyN(rc.w, body, rc.resetAfter)
		rc.hangUp()
		return
	}
	if rc.stallAfter > 0 && rc.stallAfter < length {
		io.CopyN(rc.w, body, rc.stallAfter)
		rc.w.Flush()
		rc.s.hold(rc.r)
		return
	}
	io.Copy(rc.w, body)
}

// hangUp flushes what was written and closes the connection abruptly.
func (rc *reqCtx) hangUp() {
	rc.w.Flush()
	conn, brw, err := rc.w.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if brw != nil {
		brw.Flush()
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	conn.Close()
	rc.errCode = "ResetAfter"
}

func (rc *reqCtx) deleteObject() *ossError {
	s := rc.s
	s.mu.Lock()
	if b := s.buckets[rc.bucket]; b != nil {
		s.drop(b, rc.key)
	}
	s.mu.Unlock()
	rc.w.WriteHeader(204)
	return nil
}

// copySource parses x-oss-copy-source and returns the source object.
func (rc *reqCtx) copySource() (*object, string, *ossError) {
	src := rc.r.Header.Get("x-oss-copy-source")
	if i := strings.Index(src, "?"); i >= 0 {
		src = src[:i]
	}
	un, err := url.PathUnescape(src)
	if err != nil {
		return nil, "", errInvalidArgument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.", "x-oss-copy-source", src)
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(un, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return nil, "", errInvalidArgument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.", "x-oss-copy-source", src)
	}
	o, e := rc.lookup(bucket, key)
	if e != nil {
		return nil, "", e
	}
	if status, cond := checkConditions(rc.r.Header, "x-oss-copy-source-", o); status == 412 {
		return nil, "", errPrecondition("x-oss-copy-source-" + cond)
	} else if status == 304 {
		return nil, "", newErr(304, "NotModified", "The source object was not modified.")
	}
	return o, bucket, nil
}

// cloneBlob returns a blob holding bytes [off, off+n) of src: shared memory
// or a new file.
func (s *Server) cloneBlob(src blob, off, n int64) (blob, error) {
	if src.segs != nil {
		if off == 0 && n == src.size {
			return blob{segs: src.segs, size: n}, nil
		}
		d := make([]byte, n)
		(&segReader{segs: src.segs, size: src.size}).ReadAt(d, off)
		return blob{data: d, size: n}, nil
	}
	if src.path == "" {
		d := src.data[off : off+n : off+n]
		return blob{data: d, size: n}, nil
	}
	f, err := s.disk.tempFile()
	if err != nil {
		return blob{}, err
	}
	if off == 0 && n == src.size {
		name := f.Name()
		f.Close()
		os.Remove(name)
		if os.Link(src.path, name) == nil {
			return blob{path: name, size: n}, nil
		}
		if f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return blob{}, err
		}
	}
	in, err := os.Open(src.path)
	if err == nil {
		_, err = io.Copy(f, io.NewSectionReader(in, off, n))
		in.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return blob{}, err
	}
	return blob{path: f.Name(), size: n}, nil
}

func (rc *reqCtx) copyObject() *ossError {
	src, _, e := rc.copySource()
	if e != nil {
		return e
	}
	if src.size > maxCopySize {
		return errInvalidArgument("The source object is larger than 1 GB; use UploadPartCopy.", "x-oss-copy-source", rc.r.Header.Get("x-oss-copy-source"))
	}
	var headers map[string]string
	switch d := rc.r.Header.Get("x-oss-metadata-directive"); strings.ToUpper(d) {
	case "", "COPY":
		headers = src.headers
	case "REPLACE":
		if headers, e = newObjectHeaders(rc.r.Header, rc.key); e != nil {
			return e
		}
	default:
		return errInvalidArgument("Unknown metadata directive.", "x-oss-metadata-directive", d)
	}
	data, err := rc.s.cloneBlob(src.blob, 0, src.size)
	if err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	etag := src.etag
	if src.typ == "Appendable" {
		etag = upperHex(md5sumBytes(data, rc.s))
	}
	o := &object{blob: data, key: rc.key, etag: etag, crc: src.crc, md5: src.md5,
		modTime: time.Now().UTC(), typ: src.typ, headers: headers}
	if o.typ == "Appendable" {
		o.typ = "Normal"
	}
	if e := rc.store(o, rc.forbidOverwrite()); e != nil {
		return e
	}
	rc.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	rc.w.Header().Set("ETag", `"`+o.etag+`"`)
	rc.writeXML(200, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
	}{ETag: `"` + o.etag + `"`, LastModified: o.modTime.Format(isoMillis)})
	return nil
}

// md5sumBytes returns the MD5 of a blob's data.
func md5sumBytes(b blob, s *Server) []byte {
	ra, c, err := b.open()
	if err != nil {
		return make([]byte, md5.Size)
	}
	defer c.Close()
	h := md5.New()
	io.Copy(h, io.NewSectionReader(ra, 0, b.size))
	return h.Sum(nil)
}

// appendETag derives an appendable object's ETag from its CRC and size.
func appendETag(crc uint64, size int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], crc)
	binary.BigEndian.PutUint64(b[8:], uint64(size))
	m := md5.Sum(b[:])
	return upperHex(m[:])
}

func (rc *reqCtx) appendObject() *ossError {
	pos, err := strconv.ParseInt(rc.query.Get("position"), 10, 64)
	if err != nil || pos < 0 {
		return errInvalidArgument("Position is not valid.", "position", rc.query.Get("position"))
	}
	s := rc.s
	s.mu.Lock()
	_, e := rc.appendTargetLocked(pos)
	s.mu.Unlock()
	if e != nil {
		return e
	}
	var headers map[string]string
	if pos == 0 {
		if headers, e = newObjectHeaders(rc.r.Header, rc.key); e != nil {
			return e
		}
	}
	chunk, sum, e := rc.receiveBody(maxObjectSize - pos)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, e := rc.appendTargetLocked(pos)
	if e != nil {
		s.discard(chunk)
		return e
	}
	o := &object{blob: chunk, key: rc.key, crc: sum.crc, typ: "Appendable", headers: headers}
	if old != nil {
		if o, err = s.appended(old, chunk); err != nil {
			return newErr(500, "InternalError", err.Error())
		}
	}
	o.modTime = time.Now().UTC()
	o.etag = appendETag(o.crc, o.size)
	if err := s.install(s.buckets[rc.bucket], o); err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	h := rc.w.Header()
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("x-oss-next-append-position", strconv.FormatInt(o.size, 10))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("Content-Length", "0")
	rc.w.WriteHeader(200)
	return nil
}

// appendTargetLocked returns the appendable object an append at pos adds
// to (nil for a new one), or why the append is refused.
func (rc *reqCtx) appendTargetLocked(pos int64) (*object, *ossError) {
	b := rc.s.buckets[rc.bucket]
	if b == nil {
		return nil, errNoSuchBucket(rc.bucket)
	}
	o := b.get(rc.key)
	cur := int64(0)
	if o != nil {
		if o.typ != "Appendable" {
			return nil, newErr(409, "ObjectNotAppendable", "The object is not appendable.")
		}
		cur = o.size
	}
	if pos != cur {
		return nil, newErr(409, "PositionNotEqualToLength", "Position is not equal to file length.").
			withHeader("x-oss-next-append-position", strconv.FormatInt(cur, 10))
	}
	return o, nil
}

// appended is old with chunk appended (its headers kept), chunk's file
// discarded once copied.
func (s *Server) appended(old *object, chunk blob) (*object, error) {
	o := &object{key: old.key, typ: "Appendable", headers: old.headers, blob: old.blob}
	o.size = old.size + chunk.size
	if chunk.path == "" {
		o.data = append(old.data[:old.size], chunk.data...)
		o.crc = crc64.Update(old.crc, crcTable, chunk.data)
		return o, nil
	}
	crc, err := appendFile(old.path, chunk.path, old.size, old.crc)
	s.discard(chunk)
	o.crc = crc
	return o, err
}

// appendFile writes the contents of chunk at offset off of dst and returns
// the CRC-64 continued from crc.
func appendFile(dst, chunk string, off int64, crc uint64) (uint64, error) {
	in, err := os.Open(chunk)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	for {
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				out.Close()
				return 0, err
			}
			off += int64(n)
			crc = crc64.Update(crc, crcTable, buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			return 0, rerr
		}
	}
	return crc, out.Close()
}

// urlEncoded reports whether the request asks for the names in the answer
// URL-encoded (encoding-type=url; any other value: not encoded).
func (rc *reqCtx) urlEncoded() bool { return rc.query.Get("encoding-type") == "url" }

// encodeKey applies encoding-type=url to a name.
func encodeKey(s string, enc bool) string {
	if !enc {
		return s
	}
	return escapeRFC3986(s, true)
}

// encodingType is the EncodingType an answer echoes: "url" when its names
// are encoded (encoding-type=url), else none.
func encodingType(enc bool) string {
	if enc {
		return "url"
	}
	return ""
}

func (rc *reqCtx) deleteMultiple() *ossError {
	if rc.r.Header.Get("Content-MD5") == "" {
		return newErr(400, "InvalidDigest", "The Content-MD5 header is required for DeleteMultipleObjects.")
	}
	want, e := rc.contentMD5()
	if e != nil {
		return e
	}
	body, err := io.ReadAll(io.LimitReader(rc.r.Body, 4<<20))
	if err != nil {
		return newErr(400, "IncompleteBody", err.Error())
	}
	if got := md5.Sum(body); !bytes.Equal(got[:], want) {
		return newErr(400, "InvalidDigest", "The Content-MD5 you specified did not match what we received.")
	}
	var req struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   bool     `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errMalformedXML()
	}
	for _, o := range req.Objects {
		if e := validKey(o.Key); e != nil {
			return e
		}
	}
	enc := rc.urlEncoded()
	type deleted struct {
		Key string `xml:"Key"`
	}
	out := struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:"EncodingType,omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}{EncodingType: encodingType(enc)}
	s := rc.s
	s.mu.Lock()
	b := s.buckets[rc.bucket]
	for _, o := range req.Objects {
		if b != nil {
			s.drop(b, o.Key)
		}
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deleted{encodeKey(o.Key, enc)})
		}
	}
	s.mu.Unlock()
	rc.writeXML(200, out)
	return nil
}

func bytesToB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
