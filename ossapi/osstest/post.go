package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	maxFormField  = 64 << 10 // one form field
	maxFormFields = 1 << 20  // all fields before the file
)

// postPolicy is a decoded PostObject policy.
type postPolicy struct {
	Expiration string            `json:"expiration"`
	Conditions []json.RawMessage `json:"conditions"`
}

func policyFailed(msg string) *ossError {
	return errAccessDenied("Invalid according to Policy: " + msg)
}

// postUpload is a PostObject form: its fields (lower-case names) and the
// file, the last field.
type postUpload struct {
	fields             map[string]string
	file               io.Reader
	fileName, fileType string
}

// postObject answers a browser form upload (POST / on the bucket).
func (rc *reqCtx) postObject() *ossError {
	f, e := rc.readPostForm()
	if e != nil {
		return e
	}
	key := strings.ReplaceAll(f.fields["key"], "${filename}", f.fileName)
	if f.fields["key"] == "" {
		return errInvalidArgument("The key field is required.", "key", "")
	}
	if e := validKey(key); e != nil {
		return e
	}
	rc.key = key
	v4, e := rc.checkPostSignature(f.fields)
	if e != nil {
		return e
	}
	values, minLen, maxLen, e := rc.checkPostPolicy(f, key, v4)
	if e != nil {
		return e
	}
	o, e := rc.storePosted(f, key, values, minLen, maxLen)
	if e != nil {
		return e
	}
	rc.answerPost(f.fields, o)
	return nil
}

// readPostForm reads the form up to its file field.
func (rc *reqCtx) readPostForm() (*postUpload, *ossError) {
	mr, err := rc.r.MultipartReader()
	if err != nil {
		return nil, errInvalidArgument("The body of a PostObject request must be multipart/form-data.", "Content-Type", rc.r.Header.Get("Content-Type"))
	}
	malformed := newErr(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
	f := &postUpload{fields: map[string]string{}}
	total := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errInvalidArgument("The file field is missing or is not the last field of the form.", "file", "")
		}
		if err != nil {
			return nil, malformed
		}
		name := strings.ToLower(p.FormName())
		if name == "file" {
			f.file, f.fileName, f.fileType = p, p.FileName(), p.Header.Get("Content-Type")
			return f, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFormField+1))
		if err != nil {
			return nil, malformed
		}
		if len(v) > maxFormField {
			return nil, newErr(400, "FieldItemTooLong", "The form field "+name+" is too long.")
		}
		total += len(v)
		if total > maxFormFields {
			return nil, newErr(400, "FieldItemTooLong", "The form fields are too long.")
		}
		f.fields[name] = string(v)
	}
}

// checkPostSignature checks the form's V4 or V1 signature of its policy;
// v4 tells which it was.
func (rc *reqCtx) checkPostSignature(fields map[string]string) (v4 bool, e *ossError) {
	switch {
	case fields["x-oss-signature-version"] != "":
		return true, rc.checkPostV4(fields)
	case fields["ossaccesskeyid"] != "":
		return false, rc.checkPostV1(fields)
	}
	return false, errAccessDenied("You have no right to access this bucket: anonymous uploads are not allowed.")
}

// postSignatureMismatch is the answer to a form signed with another secret.
func postSignatureMismatch(policyB64, ak string) *ossError {
	return newErr(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.").
		with("StringToSign", policyB64).with("OSSAccessKeyId", ak)
}

// checkPostV4 checks x-oss-signature: the hex HMAC-SHA256 of the policy
// with the V4 signing key of x-oss-credential's scope.
func (rc *reqCtx) checkPostV4(fields map[string]string) *ossError {
	policyB64 := fields["policy"]
	if fields["x-oss-signature-version"] != v4Algorithm {
		return errInvalidArgument("Invalid signature version.", "x-oss-signature-version", fields["x-oss-signature-version"])
	}
	cred := fields["x-oss-credential"]
	parts := strings.Split(cred, "/")
	if policyB64 == "" || fields["x-oss-signature"] == "" || len(parts) != 5 || parts[3] != "oss" || parts[4] != "aliyun_v4_request" {
		return errInvalidArgument("The policy, x-oss-credential and x-oss-signature fields are required.", "x-oss-credential", cred)
	}
	if parts[2] != rc.s.opt.Region {
		return errInvalidArgument("Invalid signing region in x-oss-credential.", "x-oss-credential", cred)
	}
	if d := fields["x-oss-date"]; len(d) < 8 || d[:8] != parts[1] {
		return errInvalidArgument("x-oss-date does not match the credential scope.", "x-oss-date", d)
	}
	secret, e := rc.s.secretFor(parts[0], fields["x-oss-security-token"])
	if e != nil {
		return e
	}
	rc.ak = parts[0]
	want := hex.EncodeToString(hmacSHA256(v4SigningKey(secret, parts[1], parts[2], parts[3]), policyB64))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(fields["x-oss-signature"]))) {
		return postSignatureMismatch(policyB64, parts[0])
	}
	return nil
}

// checkPostV1 checks Signature: the base64 HMAC-SHA1 of the policy with
// OSSAccessKeyId's secret.
func (rc *reqCtx) checkPostV1(fields map[string]string) *ossError {
	ak, policyB64 := fields["ossaccesskeyid"], fields["policy"]
	if policyB64 == "" || fields["signature"] == "" {
		return errInvalidArgument("The policy and Signature fields are required with OSSAccessKeyId.", "policy", "")
	}
	secret, e := rc.s.secretFor(ak, fields["x-oss-security-token"])
	if e != nil {
		return e
	}
	rc.ak = ak
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(policyB64))
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(want), []byte(fields["signature"])) {
		return postSignatureMismatch(policyB64, ak)
	}
	return nil
}

// checkPostPolicy decodes the policy and checks the form against it: its
// expiry and every condition (a V4 policy must also bind the signature's
// fields). It returns the form's values as the conditions saw them and
// the size range the file must be in.
func (rc *reqCtx) checkPostPolicy(f *postUpload, key string, v4 bool) (values map[string]string, minLen, maxLen int64, e *ossError) {
	raw, err := base64.StdEncoding.DecodeString(f.fields["policy"])
	var pol postPolicy
	if err == nil {
		err = json.Unmarshal(raw, &pol)
	}
	if err != nil {
		return nil, 0, 0, newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
	}
	exp, err := time.Parse(time.RFC3339, pol.Expiration)
	if err != nil {
		return nil, 0, 0, newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: '"+pol.Expiration+"'.")
	}
	if time.Now().After(exp) {
		return nil, 0, 0, policyFailed("Policy expired.")
	}
	values = map[string]string{}
	for k, v := range f.fields {
		values[k] = v
	}
	values["key"] = key
	values["bucket"] = rc.bucket
	if _, ok := values["content-type"]; !ok && f.fileType != "" {
		values["content-type"] = f.fileType
	}
	minLen, maxLen = 0, maxObjectSize
	covered := map[string]bool{}
	for _, c := range pol.Conditions {
		if e := checkCondition(c, values, covered, &minLen, &maxLen); e != nil {
			return nil, 0, 0, e
		}
	}
	if v4 {
		for _, name := range []string{"x-oss-signature-version", "x-oss-credential", "x-oss-date"} {
			if !covered[name] {
				return nil, 0, 0, policyFailed("Policy must contain a condition on " + name + ".")
			}
		}
	}
	return values, minLen, maxLen, nil
}

// storePosted stores the form's file at key, with the object headers the
// form's values give, when its size is within [minLen, maxLen].
func (rc *reqCtx) storePosted(f *postUpload, key string, values map[string]string, minLen, maxLen int64) (*object, *ossError) {
	h := http.Header{}
	for k, v := range values {
		if k != "bucket" && k != "key" {
			h.Set(k, v)
		}
	}
	headers, e := newObjectHeaders(h, key)
	if e != nil {
		return nil, e
	}
	forbid := strings.EqualFold(f.fields["x-oss-forbid-overwrite"], "true")
	s := rc.s
	if e := rc.checkOverwrite(forbid, key); e != nil {
		return nil, e
	}
	data, sum, err := s.receive(f.file, -1, maxLen)
	if errors.Is(err, errTooLarge) {
		return nil, policyFailed("Your proposed upload exceeds the maximum allowed size.")
	}
	if err != nil {
		return nil, newErr(400, "IncompleteBody", "The file could not be read: "+err.Error())
	}
	if data.size < minLen {
		s.discard(data)
		return nil, policyFailed("Your proposed upload is smaller than the minimum allowed size.")
	}
	md := sum.sum()
	o := &object{blob: data, key: key, etag: upperHex(md), crc: sum.crc, md5: md,
		modTime: time.Now().UTC(), typ: "Normal", headers: headers}
	if e := rc.store(o, forbid); e != nil {
		return nil, e
	}
	return o, nil
}

// answerPost answers a stored upload as the form asks:
// success_action_redirect (303 to it), success_action_status 200, 201 (a
// PostResponse) or else 204.
func (rc *reqCtx) answerPost(fields map[string]string, o *object) {
	w := rc.w
	w.Header().Set("ETag", `"`+o.etag+`"`)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	w.Header().Set("Content-MD5", bytesToB64(o.md5))
	location := "http://" + rc.bucket + ".oss-" + rc.s.opt.Region + ".aliyuncs.com/" + escapeRFC3986(o.key, true)
	if redirect := fields["success_action_redirect"]; redirect != "" {
		u, err := url.Parse(redirect)
		if err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			q := u.Query()
			q.Set("bucket", rc.bucket)
			q.Set("key", o.key)
			q.Set("etag", `"`+o.etag+`"`)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
			w.WriteHeader(303)
			return
		}
	}
	switch fields["success_action_status"] {
	case "200":
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(200)
	case "201":
		w.Header().Set("Location", location)
		rc.writeXML(201, struct {
			XMLName  xml.Name `xml:"PostResponse"`
			Bucket   string   `xml:"Bucket"`
			Location string   `xml:"Location"`
			Key      string   `xml:"Key"`
			ETag     string   `xml:"ETag"`
		}{Bucket: rc.bucket, Location: location, Key: o.key, ETag: `"` + o.etag + `"`})
	default:
		w.WriteHeader(204)
	}
}

// checkCondition evaluates one policy condition against the form values
// (lower-case names; "bucket" and "key" included).
func checkCondition(raw json.RawMessage, values map[string]string, covered map[string]bool, minLen, maxLen *int64) *ossError {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			want, ok := v.(string)
			if !ok {
				return newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Condition: value must be a string.")
			}
			name := strings.ToLower(strings.TrimPrefix(k, "$"))
			covered[name] = true
			if values[name] != want {
				return policyFailed(fmt.Sprintf("Policy Condition failed: [\"eq\", \"$%s\", %q]", name, want))
			}
		}
		return nil
	}
	var arr []any
	if json.Unmarshal(raw, &arr) != nil || len(arr) != 3 {
		return newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition: "+string(raw))
	}
	op, _ := arr[0].(string)
	op = strings.ToLower(op)
	if op == "content-length-range" {
		lo, ok1 := arr[1].(float64)
		hi, ok2 := arr[2].(float64)
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range condition.")
		}
		if int64(lo) > *minLen {
			*minLen = int64(lo)
		}
		if int64(hi) < *maxLen {
			*maxLen = int64(hi)
		}
		return nil
	}
	field, _ := arr[1].(string)
	if !strings.HasPrefix(field, "$") {
		return newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition field: "+field)
	}
	name := strings.ToLower(field[1:])
	covered[name] = true
	got := values[name]
	fail := policyFailed("Policy Condition failed: " + string(raw))
	switch op {
	case "eq":
		want, _ := arr[2].(string)
		if got != want {
			return fail
		}
	case "starts-with":
		want, _ := arr[2].(string)
		if !strings.HasPrefix(got, want) {
			return fail
		}
	case "in", "not-in":
		list, _ := arr[2].([]any)
		found := false
		for _, x := range list {
			if s, _ := x.(string); s == got {
				found = true
			}
		}
		if found != (op == "in") {
			return fail
		}
	default:
		return newErr(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition operator: "+op)
	}
	return nil
}
