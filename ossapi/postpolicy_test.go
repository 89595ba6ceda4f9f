package ossapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

const (
	ppAK = "LTAIpostpolicy"
	ppSK = "post-policy-secret"
)

func ppServer(t *testing.T) *osstest.Server {
	t.Helper()
	srv, err := osstest.NewServer(osstest.Options{Region: testRegion, Buckets: []string{"test", "other"},
		Credentials: map[string]string{ppAK: ppSK}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func ppClient(t *testing.T, srv *osstest.Server, bucket string, creds ossapi.CredentialsProvider, v1 bool) *ossapi.Client {
	t.Helper()
	if creds == nil {
		creds = ossapi.StaticCredentials{AccessKeyID: ppAK, AccessKeySecret: ppSK}
	}
	c, err := ossapi.New(ossapi.Config{Bucket: bucket, Region: testRegion, Endpoint: srv.URL(), Credentials: creds, SignatureV1: v1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type upload struct {
	fields   map[string]string
	order    []string
	filename string
	fileType string
	data     []byte
}

// post sends a browser-style multipart/form-data PostObject.
func post(t *testing.T, target string, u upload) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	order := u.order
	if order == nil {
		order = (&ossapi.PostPolicy{Fields: u.fields}).FieldOrder()
	}
	for _, k := range order {
		if err := mw.WriteField(k, u.fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+u.filename+`"`)
	if u.fileType != "" {
		h.Set("Content-Type", u.fileType)
	}
	fw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(u.data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, target, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errCode(body string) string {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	xml.Unmarshal([]byte(body), &e)
	return e.Code
}

func mustSign(t *testing.T, c *ossapi.Client, req ossapi.PostPolicyRequest) *ossapi.PostPolicy {
	t.Helper()
	p, err := c.SignPostPolicy(context.Background(), req)
	if err != nil {
		t.Fatalf("SignPostPolicy(%+v): %v", req, err)
	}
	return p
}

func copyFields(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestSignPostPolicyUploads(t *testing.T) {
	srv := ppServer(t)
	stsAK, stsSK, stsTok := srv.MintSTS(time.Hour)
	sts := ossapi.StaticCredentials{AccessKeyID: stsAK, AccessKeySecret: stsSK, SecurityToken: stsTok, Expiration: time.Now().Add(time.Hour)}
	for _, tc := range []struct {
		name  string
		v1    bool
		creds ossapi.CredentialsProvider
	}{
		{"V4", false, nil},
		{"V1", true, nil},
		{"V4-STS", false, sts},
		{"V1-STS", true, sts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ppClient(t, srv, "test", tc.creds, tc.v1)
			prefix := "up-" + strings.ToLower(tc.name) + "/"

			// Keep the uploaded file's name.
			p := mustSign(t, c, ossapi.PostPolicyRequest{Prefix: prefix, Key: prefix + "${filename}", MaxSize: 1 << 20})
			if !strings.HasPrefix(p.URL, srv.URL()+"/test/") {
				t.Fatalf("form URL %q, want the bucket under %s", p.URL, srv.URL())
			}
			if tc.v1 {
				if p.Fields["OSSAccessKeyId"] == "" || p.Fields["Signature"] == "" || p.Fields["x-oss-signature"] != "" {
					t.Fatalf("V1 fields: %v", p.Fields)
				}
			} else {
				if p.Fields["x-oss-signature-version"] != "OSS4-HMAC-SHA256" || p.Fields["x-oss-signature"] == "" ||
					!strings.HasSuffix(p.Fields["x-oss-credential"], "/"+testRegion+"/oss/aliyun_v4_request") || p.Fields["Signature"] != "" {
					t.Fatalf("V4 fields: %v", p.Fields)
				}
				for _, f := range []string{"x-oss-signature-version", "x-oss-credential", "x-oss-date"} {
					if !strings.Contains(p.Policy, `{"`+f+`":"`+p.Fields[f]+`"}`) {
						t.Errorf("policy %s lacks a condition on %s", p.Policy, f)
					}
				}
			}
			if got, want := p.Fields["x-oss-security-token"], tokenOf(t, tc.creds); got != want {
				t.Fatalf("x-oss-security-token field %q, want %q", got, want)
			}
			var doc struct {
				Expiration string `json:"expiration"`
			}
			raw, _ := base64.StdEncoding.DecodeString(p.Fields["policy"])
			if err := json.Unmarshal(raw, &doc); err != nil || string(raw) != p.Policy {
				t.Fatalf("policy field does not decode to the document: %v", err)
			}
			if exp, err := time.Parse(time.RFC3339, doc.Expiration); err != nil || exp.Sub(time.Now()) > 31*time.Minute || exp.Sub(time.Now()) < 29*time.Minute {
				t.Fatalf("expiration %q (%v): want the default 30 minutes from now", doc.Expiration, err)
			}
			status, body := post(t, p.URL, upload{fields: p.Fields, filename: "hello.txt", data: []byte("hello " + tc.name)})
			if status != 201 || !strings.Contains(body, "<Key>"+prefix+"hello.txt</Key>") {
				t.Fatalf("upload: %d %s", status, body)
			}
			if data, _, err := srv.GetObject("test", prefix+"hello.txt"); err != nil || string(data) != "hello "+tc.name {
				t.Fatalf("uploaded object: %q %v", data, err)
			}

			// Random name; any key under the prefix is accepted.
			p = mustSign(t, c, ossapi.PostPolicyRequest{Prefix: prefix})
			key := p.Fields["key"]
			if !strings.HasPrefix(key, prefix) || len(key) != len(prefix)+24 {
				t.Fatalf("random key %q", key)
			}
			if status, body := post(t, p.URL, upload{fields: p.Fields, filename: "x.bin", data: []byte("random")}); status != 201 {
				t.Fatalf("upload under a random name: %d %s", status, body)
			}
			if data, _, err := srv.GetObject("test", key); err != nil || string(data) != "random" {
				t.Fatalf("object %s: %q %v", key, data, err)
			}
			f := copyFields(p.Fields)
			f["key"] = prefix + "sub/chosen.txt"
			if status, body := post(t, p.URL, upload{fields: f, filename: "x", data: []byte("chosen")}); status != 201 {
				t.Fatalf("upload under another key in the prefix: %d %s", status, body)
			}
		})
	}
}

func tokenOf(t *testing.T, p ossapi.CredentialsProvider) string {
	if p == nil {
		return ""
	}
	cr, err := p.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cr.SecurityToken
}

func TestSignPostPolicyRefusals(t *testing.T) {
	srv := ppServer(t)
	for _, v1 := range []bool{false, true} {
		name := "V4"
		if v1 {
			name = "V1"
		}
		t.Run(name, func(t *testing.T) {
			c := ppClient(t, srv, "test", nil, v1)
			p := mustSign(t, c, ossapi.PostPolicyRequest{Prefix: "in/", Key: "in/${filename}", MaxSize: 10, ContentType: "image/"})
			ok := upload{fields: p.Fields, filename: "a.png", fileType: "image/png", data: []byte("0123456789")}
			policyDenied := func(what string, u upload, want string) {
				t.Helper()
				status, body := post(t, p.URL, u)
				if status != 403 || errCode(body) != "AccessDenied" || !strings.Contains(body, "Invalid according to Policy") || !strings.Contains(body, want) {
					t.Errorf("%s: got %d %s, want 403 AccessDenied %q", what, status, body, want)
				}
			}
			big := ok
			big.data = []byte("0123456789A")
			policyDenied("too large", big, "exceeds the maximum allowed size")
			wrongPrefix := ok
			wrongPrefix.fields = copyFields(p.Fields)
			wrongPrefix.fields["key"] = "out/a.png"
			policyDenied("wrong prefix", wrongPrefix, "$key")
			wrongType := ok
			wrongType.fileType = "text/plain"
			policyDenied("wrong content type", wrongType, "$Content-Type")
			wrongStatus := ok
			wrongStatus.fields = copyFields(p.Fields)
			wrongStatus.fields["success_action_status"] = "200"
			policyDenied("other success_action_status", wrongStatus, "success_action_status")
			if status, body := post(t, strings.Replace(p.URL, "/test/", "/other/", 1), ok); status != 403 || !strings.Contains(body, "bucket") {
				t.Errorf("other bucket: %d %s", status, body)
			}

			// Tampered policy: a bigger size limit, same signature.
			tampered := ok
			tampered.fields = copyFields(p.Fields)
			tampered.fields["policy"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(p.Policy, `,10]`, `,1000]`, 1)))
			if tampered.fields["policy"] == p.Fields["policy"] {
				t.Fatalf("policy %s has no size limit to tamper with", p.Policy)
			}
			if status, body := post(t, p.URL, tampered); status != 403 || errCode(body) != "SignatureDoesNotMatch" {
				t.Errorf("tampered policy: %d %s", status, body)
			}

			// And the untouched form works.
			if status, body := post(t, p.URL, ok); status != 201 {
				t.Fatalf("upload: %d %s", status, body)
			}

			// Signed by a key the server does not know.
			other := ppClient(t, srv, "test", ossapi.StaticCredentials{AccessKeyID: "LTAIunknown", AccessKeySecret: ppSK}, v1)
			po := mustSign(t, other, ossapi.PostPolicyRequest{Prefix: "in/", Key: "in/${filename}"})
			if status, body := post(t, po.URL, upload{fields: po.Fields, filename: "b", data: []byte("b")}); status != 403 || errCode(body) != "InvalidAccessKeyId" {
				t.Errorf("unknown key: %d %s", status, body)
			}
			// Signed with the wrong secret.
			wrong := ppClient(t, srv, "test", ossapi.StaticCredentials{AccessKeyID: ppAK, AccessKeySecret: "not-the-secret"}, v1)
			pw := mustSign(t, wrong, ossapi.PostPolicyRequest{Prefix: "in/", Key: "in/${filename}"})
			if status, body := post(t, pw.URL, upload{fields: pw.Fields, filename: "b", data: []byte("b")}); status != 403 || errCode(body) != "SignatureDoesNotMatch" {
				t.Errorf("wrong secret: %d %s", status, body)
			}

			// Expired.
			pe := mustSign(t, c, ossapi.PostPolicyRequest{Prefix: "in/", Key: "in/${filename}", Expires: time.Second})
			time.Sleep(1500 * time.Millisecond)
			if status, body := post(t, pe.URL, upload{fields: pe.Fields, filename: "late", data: []byte("late")}); status != 403 || !strings.Contains(body, "Policy expired") {
				t.Errorf("expired policy: %d %s", status, body)
			}
			if _, _, err := srv.GetObject("test", "in/late"); err == nil {
				t.Errorf("the expired policy stored an object")
			}
		})
	}
}

func TestSignPostPolicyClipsToToken(t *testing.T) {
	srv := ppServer(t)
	ak, sk, tok := srv.MintSTS(90 * time.Second)
	tokExp := time.Now().Add(90 * time.Second)
	c := ppClient(t, srv, "test", ossapi.StaticCredentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: tok, Expiration: tokExp}, false)
	p := mustSign(t, c, ossapi.PostPolicyRequest{Prefix: "", Key: "${filename}", Expires: time.Hour})
	if !p.Clipped || p.Expiration.After(tokExp) || p.Expiration.Before(tokExp.Add(-2*time.Second)) {
		t.Fatalf("policy expiration %v clipped=%v, want the token's %v", p.Expiration, p.Clipped, tokExp)
	}
	if !strings.Contains(p.Policy, p.Expiration.UTC().Format("2006-01-02T15:04:05")) {
		t.Fatalf("policy %s does not carry the clipped expiration %v", p.Policy, p.Expiration)
	}
	if status, body := post(t, p.URL, upload{fields: p.Fields, filename: "root.txt", data: []byte("r")}); status != 201 {
		t.Fatalf("upload: %d %s", status, body)
	}
	// Not clipped when the token outlives the policy.
	p = mustSign(t, c, ossapi.PostPolicyRequest{Key: "${filename}", Expires: time.Minute})
	if p.Clipped {
		t.Fatalf("a 1-minute policy was clipped by a 90-second token")
	}

	// Presigned URLs are clipped the same way and still work.
	if err := srv.PutObject("test", "obj", []byte("object"), nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.PresignClipped(context.Background(), ossapi.PresignRequest{Key: "obj", Expires: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Expiration.After(tokExp.Add(time.Second)) || res.Expiration.Before(tokExp.Add(-2*time.Second)) {
		t.Fatalf("URL expiration %v, want the token's %v", res.Expiration, tokExp)
	}
	u, _ := url.Parse(res.URL)
	if e := u.Query().Get("x-oss-expires"); e == "7200" || e == "" {
		t.Fatalf("x-oss-expires=%q: not clipped", e)
	}
	resp, err := http.Get(res.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "object" {
		t.Fatalf("GET clipped URL: %d %s", resp.StatusCode, b)
	}
	res, err = c.PresignClipped(context.Background(), ossapi.PresignRequest{Key: "obj", Expires: time.Minute})
	if err != nil || res.Expiration.After(start.Add(time.Minute+2*time.Second)) {
		t.Fatalf("short URL: %v %v", res, err)
	}

	// Credentials about to expire sign nothing.
	dying := ppClient(t, srv, "test", ossapi.StaticCredentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: tok,
		Expiration: time.Now().Add(2 * time.Second)}, false)
	if _, err := dying.SignPostPolicy(context.Background(), ossapi.PostPolicyRequest{Key: "x"}); ossapi.KindOf(err) != ossapi.KindExpired {
		t.Fatalf("policy with dying credentials: %v, want KindExpired", err)
	}
	if _, err := dying.PresignClipped(context.Background(), ossapi.PresignRequest{Key: "obj"}); ossapi.KindOf(err) != ossapi.KindExpired {
		t.Fatalf("URL with dying credentials: %v, want KindExpired", err)
	}
}

func TestSignPostPolicyInvalid(t *testing.T) {
	srv := ppServer(t)
	c := ppClient(t, srv, "test", nil, false)
	for _, req := range []ossapi.PostPolicyRequest{
		{Prefix: "no-slash"},
		{Prefix: "a/", Key: "b/x"},
		{Prefix: "a/", Key: "a/"},
		{Expires: 8 * 24 * time.Hour},
		{MinSize: 10, MaxSize: 5},
		{SuccessActionStatus: 302},
		{ContentType: "bad\nvalue"},
	} {
		if _, err := c.SignPostPolicy(context.Background(), req); ossapi.KindOf(err) != ossapi.KindInvalid {
			t.Errorf("SignPostPolicy(%+v) = %v, want KindInvalid", req, err)
		}
	}
	noRegion, err := ossapi.New(ossapi.Config{Bucket: "test", Endpoint: srv.URL(),
		Credentials: ossapi.StaticCredentials{AccessKeyID: ppAK, AccessKeySecret: ppSK}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noRegion.SignPostPolicy(context.Background(), ossapi.PostPolicyRequest{}); ossapi.KindOf(err) != ossapi.KindInvalid {
		t.Errorf("V4 without a region: %v, want KindInvalid", err)
	}
	if _, err := noRegion.SignPostPolicy(context.Background(), ossapi.PostPolicyRequest{SignatureV1: true}); err != nil {
		t.Errorf("V1 without a region: %v", err)
	}
}

// TestPostObjectConditions checks the emulator's policy verification for
// every kind of condition, with hand-written V1 policies.
func TestPostObjectConditions(t *testing.T) {
	srv := ppServer(t)
	target := srv.URL() + "/test/"
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	form := func(conds string, extra map[string]string) map[string]string {
		policy := base64.StdEncoding.EncodeToString([]byte(`{"expiration":"` + exp + `","conditions":[` + conds + `]}`))
		m := hmac.New(sha1.New, []byte(ppSK))
		m.Write([]byte(policy))
		f := map[string]string{"key": "c/file", "policy": policy, "OSSAccessKeyId": ppAK,
			"Signature": base64.StdEncoding.EncodeToString(m.Sum(nil))}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	for _, tc := range []struct {
		name  string
		conds string
		extra map[string]string
		ok    bool
	}{
		{"key eq", `{"key":"c/file"}`, nil, true},
		{"key eq fails", `{"key":"c/other"}`, nil, false},
		{"key eq array", `["eq","$key","c/file"]`, nil, true},
		{"key starts-with", `["starts-with","$key","c/"]`, nil, true},
		{"key starts-with fails", `["starts-with","$key","d/"]`, nil, false},
		{"bucket", `{"bucket":"test"}`, nil, true},
		{"bucket fails", `{"bucket":"other"}`, nil, false},
		{"length in range", `["content-length-range",1,4]`, nil, true},
		{"length over", `["content-length-range",1,3]`, nil, false},
		{"length under", `["content-length-range",5,10]`, nil, false},
		{"content-type eq field", `["eq","$Content-Type","text/x-test"]`, map[string]string{"Content-Type": "text/x-test"}, true},
		{"content-type eq fails", `["eq","$Content-Type","text/x-test"]`, map[string]string{"Content-Type": "text/plain"}, false},
		{"content-type starts-with", `["starts-with","$Content-Type","text/"]`, map[string]string{"Content-Type": "text/x-test"}, true},
		{"meta eq", `{"x-oss-meta-owner":"alice"}`, map[string]string{"x-oss-meta-owner": "alice"}, true},
		{"meta eq fails", `{"x-oss-meta-owner":"alice"}`, map[string]string{"x-oss-meta-owner": "mallory"}, false},
		{"meta starts-with", `["starts-with","$x-oss-meta-tag","team-"]`, map[string]string{"x-oss-meta-tag": "team-a"}, true},
		{"meta missing", `["starts-with","$x-oss-meta-tag","team-"]`, nil, false},
		{"success_action_status", `{"success_action_status":"201"}`, map[string]string{"success_action_status": "201"}, true},
		{"success_action_status fails", `{"success_action_status":"201"}`, map[string]string{"success_action_status": "200"}, false},
		{"in", `["in","$Content-Type",["image/png","image/jpeg"]]`, map[string]string{"Content-Type": "image/png"}, true},
		{"not-in", `["not-in","$Content-Type",["image/png"]]`, map[string]string{"Content-Type": "image/png"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, target, upload{fields: form(tc.conds, tc.extra), filename: "f", data: []byte("data")})
			if tc.ok && status/100 != 2 {
				t.Fatalf("want success, got %d %s", status, body)
			}
			if !tc.ok && (status != 403 || !strings.Contains(body, "Invalid according to Policy")) {
				t.Fatalf("want 403 Invalid according to Policy, got %d %s", status, body)
			}
		})
	}
	// Metadata from the form is stored with the object.
	status, body := post(t, target, upload{fields: form(`{"x-oss-meta-owner":"alice"}`, map[string]string{"x-oss-meta-owner": "alice", "Content-Type": "text/x-test"}), filename: "f", data: []byte("data")})
	if status != 204 {
		t.Fatalf("default success status: %d %s", status, body)
	}
	_, h, err := srv.GetObject("test", "c/file")
	if err != nil || h.Get("x-oss-meta-owner") != "alice" || h.Get("Content-Type") != "text/x-test" {
		t.Fatalf("stored headers %v %v", h, err)
	}
	// An expired policy.
	exp = time.Now().Add(-time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	if status, body := post(t, target, upload{fields: form(`{"bucket":"test"}`, nil), filename: "f", data: []byte("d")}); status != 403 || !strings.Contains(body, "Policy expired") {
		t.Fatalf("expired: %d %s", status, body)
	}
}
