package osstest

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
)

// ossError is an error answered to the client.
type ossError struct {
	status  int
	code    string
	message string
	extra   [][2]string // extra XML elements after EC (e.g. Key, StringToSign)
	header  http.Header // extra response headers
}

func (e *ossError) Error() string { return e.code + ": " + e.message }

func newErr(status int, code, msg string) *ossError {
	return &ossError{status: status, code: code, message: msg}
}

func (e *ossError) with(name, value string) *ossError {
	e.extra = append(e.extra, [2]string{name, value})
	return e
}

func (e *ossError) withHeader(name, value string) *ossError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set(name, value)
	return e
}

// Common errors.
func errNoSuchBucket(name string) *ossError {
	return newErr(404, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", name)
}

func errNoSuchKey(key string) *ossError {
	return newErr(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

func errNoSuchUpload(id string) *ossError {
	return newErr(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").with("UploadId", id)
}

func errInvalidArgument(msg, name, value string) *ossError {
	e := newErr(400, "InvalidArgument", msg)
	if name != "" {
		e.with("ArgumentName", name).with("ArgumentValue", value)
	}
	return e
}

func errAccessDenied(msg string) *ossError { return newErr(403, "AccessDenied", msg) }

func errMalformedXML() *ossError {
	return newErr(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
}

func errPrecondition(cond string) *ossError {
	return newErr(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.").with("Condition", cond)
}

func errFileExists() *ossError {
	return newErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

func xmlEscape(s string) string {
	var b []byte
	w := &byteWriter{&b}
	xml.EscapeText(w, []byte(s))
	return string(b)
}

type byteWriter struct{ b *[]byte }

func (w *byteWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// writeError answers e. For HEAD requests the XML goes base64-encoded into
// the x-oss-err header and the body is empty.
func (rc *reqCtx) writeError(e *ossError) {
	w := rc.w
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error>\n" +
		"  <Code>" + xmlEscape(e.code) + "</Code>\n" +
		"  <Message>" + xmlEscape(e.message) + "</Message>\n" +
		"  <RequestId>" + rc.id + "</RequestId>\n" +
		"  <HostId>" + xmlEscape(rc.hostID()) + "</HostId>\n"
	for _, kv := range e.extra {
		body += "  <" + kv[0] + ">" + xmlEscape(kv[1]) + "</" + kv[0] + ">\n"
	}
	body += "  <EC>0000-00000000</EC>\n  <RecommendDoc>https://api.aliyun.com/troubleshoot?q=0000-00000000</RecommendDoc>\n</Error>\n"
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/xml")
	h.Set("x-oss-ec", "0000-00000000")
	rc.errCode = e.code
	if e.status == http.StatusNotModified {
		h.Del("Content-Type")
		w.WriteHeader(e.status)
		return
	}
	if rc.r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString([]byte(body)))
		h.Set("Content-Length", "0")
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	w.Write([]byte(body))
}
