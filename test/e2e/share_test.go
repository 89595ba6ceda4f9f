package e2e

// Sharing from the mount: `ossmount presign` and `ossmount post-policy`,
// signed by the mount's daemon through virtual extended attributes, and the
// emulator's PostObject policy checks and CORS answers they rely on.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/auth/authtest"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

const nobody = 65534

// shareBin is a copy of ossmount that other users may run (the build
// directory is private to root).
func shareBin(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ossmount-share-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ossmountBin)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ossmount")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// shareMount mounts bucket "test" so that other users can reach it.
func shareMount(t *testing.T, srv *osstest.Server, extra ...string) *mount {
	t.Helper()
	m := startMount(t, srv, "test", append([]string{"-o", "allow_other,list_cache_ttl=0"}, extra...)...)
	// The mount point's parent is the test's private temporary directory.
	if err := os.Chmod(filepath.Dir(m.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return m
}

// noCredEnv is the environment without any credentials: what the daemon
// signs with must not come from the caller.
func noCredEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "ALIBABA_CLOUD_") && !strings.HasPrefix(e, "OSS_") {
			env = append(env, e)
		}
	}
	return append(env, "HOME=/nonexistent")
}

type shareRun struct {
	stdout, stderr string
	err            error
}

// runShare runs `bin args...` as cred (nil: as root) with env.
func runShare(t *testing.T, bin string, cred *syscall.Credential, env []string, args ...string) shareRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return shareRun{out.String(), errb.String(), err}
}

func (r shareRun) must(t *testing.T) string {
	t.Helper()
	if r.err != nil {
		t.Fatalf("command failed: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// ossError is the XML error body of a refused request.
type ossError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func fetch(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// wantRefused checks a 403 with the OSS error code (and message part).
func wantRefused(t *testing.T, what string, status int, body []byte, code, msg string) {
	t.Helper()
	var e ossError
	xml.Unmarshal(body, &e)
	if status != 403 || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Errorf("%s: got %d %s, want 403 %s %q", what, status, body, code, msg)
	}
}

func TestSharePresign(t *testing.T) {
	srv := newServer(t)
	data := randBytes(300 << 10)
	if err := srv.PutObject("test", "docs/report.pdf", data, hdr("Content-Type", "application/pdf")); err != nil {
		t.Fatal(err)
	}
	m := shareMount(t, srv)
	bin := shareBin(t)
	file := m.path("docs", "report.pdf")
	env := noCredEnv()

	// A download under another name, with spaces and non-ASCII.
	u := runShare(t, bin, nil, env, "presign", file, "--download-as", "résumé 1.pdf").must(t)
	if !strings.HasPrefix(u, srv.URL()+"/test/docs/report.pdf?") || !strings.Contains(u, "x-oss-signature-version=OSS4-HMAC-SHA256") {
		t.Fatalf("presign printed %q: want a V4 URL of the object", u)
	}
	q, _ := url.ParseQuery(strings.SplitN(u, "?", 2)[1])
	if q.Get("x-oss-expires") != "1800" {
		t.Errorf("default expiry x-oss-expires=%q, want 1800", q.Get("x-oss-expires"))
	}
	resp, body := fetch(t, u)
	wantCD := `attachment; filename="r_sum_ 1.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf`
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("Content-Disposition") != wantCD {
		t.Fatalf("GET presigned URL: %d, %d bytes (want %d), Content-Disposition %q (want %q)",
			resp.StatusCode, len(body), len(data), resp.Header.Get("Content-Disposition"), wantCD)
	}

	// V1, inline, another content type; options before the path.
	u1 := runShare(t, bin, nil, env, "presign", "--sigv1", "--inline", "--content-type", "text/plain", "--expires", "2m", file).must(t)
	q1, _ := url.ParseQuery(strings.SplitN(u1, "?", 2)[1])
	if q1.Get("OSSAccessKeyId") != testAK || q1.Get("Signature") == "" || q1.Get("x-oss-signature") != "" {
		t.Fatalf("--sigv1 URL %q", u1)
	}
	if exp, err := strconv.ParseInt(q1.Get("Expires"), 10, 64); err != nil || exp < time.Now().Unix()+100 || exp > time.Now().Unix()+130 {
		t.Fatalf("V1 URL Expires=%q: want 2 minutes from now", q1.Get("Expires"))
	}
	resp, body = fetch(t, u1)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("Content-Disposition") != "inline" ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("GET V1 inline URL: %d %v", resp.StatusCode, resp.Header)
	}

	// Tampered URLs: another object, another disposition, another expiry.
	if err := srv.PutObject("test", "docs/other.pdf", []byte("other"), nil); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"other key":   strings.Replace(u, "/docs/report.pdf?", "/docs/other.pdf?", 1),
		"disposition": strings.Replace(u, "attachment", "inline", 1),
		"expiry":      strings.Replace(u, "x-oss-expires=1800", "x-oss-expires=3600", 1),
		"V1 key":      strings.Replace(u1, "/docs/report.pdf?", "/docs/other.pdf?", 1),
	} {
		if bad == u || bad == u1 {
			t.Fatalf("%s: nothing replaced in the URL", name)
		}
		resp, body := fetch(t, bad)
		wantRefused(t, "tampered "+name, resp.StatusCode, body, "SignatureDoesNotMatch", "signature")
	}

	// Expired.
	ue := runShare(t, bin, nil, env, "presign", "--expires", "1s", file).must(t)
	if resp, _ := fetch(t, ue); resp.StatusCode != 200 {
		t.Fatalf("fresh 1 s URL: %d", resp.StatusCode)
	}
	time.Sleep(2500 * time.Millisecond)
	resp, body = fetch(t, ue)
	wantRefused(t, "expired URL", resp.StatusCode, body, "AccessDenied", "expired")

	// Signed by other keys (oss:// paths use the mount's options and the
	// caller's credentials).
	direct := func(ak, sk string) string {
		env := append(noCredEnv(), "ALIBABA_CLOUD_ACCESS_KEY_ID="+ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+sk)
		return runShare(t, bin, nil, env, "presign", "oss://test/docs/report.pdf", "-o", "endpoint="+srv.URL()+",region="+testRegion).must(t)
	}
	if resp, body := fetch(t, direct(testAK, testSK)); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("oss:// URL: %d", resp.StatusCode)
	}
	resp, body = fetch(t, direct("LTAIsomeoneelse", testSK))
	wantRefused(t, "unknown key", resp.StatusCode, body, "InvalidAccessKeyId", "")
	resp, body = fetch(t, direct(testAK, "not-the-secret"))
	wantRefused(t, "wrong secret", resp.StatusCode, body, "SignatureDoesNotMatch", "")

	// Bad requests fail clearly, before anything is signed.
	r := runShare(t, bin, nil, env, "presign", file, "--download-as", strings.Repeat("é", 150))
	if r.err == nil || !strings.Contains(r.stderr, "255") {
		t.Errorf("an over-long request: %v %q", r.err, r.stderr)
	}
	r = runShare(t, bin, nil, env, "presign", file, "--expires", "8d")
	if r.err == nil || !strings.Contains(r.stderr, "--expires") {
		t.Errorf("--expires 8d: %v %q", r.err, r.stderr)
	}
	r = runShare(t, bin, nil, env, "presign", m.path("docs"))
	if r.err == nil || !strings.Contains(r.stderr, "directory") {
		t.Errorf("presign of a directory: %v %q", r.err, r.stderr)
	}
	outside := filepath.Join(t.TempDir(), "plain.txt")
	os.WriteFile(outside, []byte("x"), 0o644)
	r = runShare(t, bin, nil, env, "presign", outside)
	if r.err == nil || !strings.Contains(r.stderr, "not in an ossmount mount") {
		t.Errorf("presign outside a mount: %v %q", r.err, r.stderr)
	}
}

func TestSharePresignXattr(t *testing.T) {
	srv := newServer(t)
	if err := srv.PutObject("test", "a b.txt", []byte("spaced"), nil); err != nil {
		t.Fatal(err)
	}
	m := shareMount(t, srv)
	file := m.path("a b.txt")
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}

	// Asking for the size first, then the value, gives one consistent
	// answer (what getfattr does).
	name := "user.oss.presign?exp=60&dl=x y.txt"
	before := srv.Counts()
	n, err := syscall.Getxattr(file, name, nil)
	if err != nil || n < 50 {
		t.Fatalf("size probe: %d %v", n, err)
	}
	buf := make([]byte, n)
	got, err := syscall.Getxattr(file, name, buf)
	if err != nil || got != n {
		t.Fatalf("read with the probed size: %d %v (probed %d)", got, err, n)
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "http") || !strings.HasPrefix(lines[1], "expires=") {
		t.Fatalf("value %q: want the URL, then expires=", buf)
	}
	exp, err := time.Parse(time.RFC3339, strings.TrimPrefix(lines[1], "expires="))
	if err != nil || exp.Before(time.Now().Add(55*time.Second)) || exp.After(time.Now().Add(65*time.Second)) {
		t.Fatalf("expires %q: want about a minute from now", lines[1])
	}
	// Signing is local: no request while the attributes are cached.
	if after := srv.Counts(); !equalCounts(before, after) {
		t.Errorf("signing sent requests: before %v, after %v", before, after)
	}
	resp, body := fetch(t, lines[0])
	if resp.StatusCode != 200 || string(body) != "spaced" || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename="x y.txt"`) {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	// The virtual names are never listed, and cannot be set.
	lbuf := make([]byte, 4096)
	ln, err := syscall.Listxattr(file, lbuf)
	if err != nil {
		t.Fatal(err)
	}
	if l := string(lbuf[:ln]); strings.Contains(l, "presign") || strings.Contains(l, "post-policy") {
		t.Errorf("listxattr shows a sharing name: %q", l)
	}
	if err := syscall.Setxattr(file, "user.oss.presign?exp=60", []byte("x"), 0); err == nil {
		t.Errorf("setxattr of a sharing name succeeded")
	}
	// Malformed requests.
	for _, bad := range []string{"user.oss.presign?exp=abc", "user.oss.presign?exp=700000", "user.oss.presign?nosuch=1",
		"user.oss.presign?exp=1&exp=2", "user.oss.presign?dl=%ZZ"} {
		if _, err := syscall.Getxattr(file, bad, make([]byte, 4096)); err != syscall.EINVAL {
			t.Errorf("getxattr %q: %v, want EINVAL", bad, err)
		}
	}
	if _, err := syscall.Getxattr(file, "user.oss.post-policy", make([]byte, 4096)); err != syscall.ENOTDIR {
		t.Errorf("post-policy of a file: %v, want ENOTDIR", err)
	}
	if _, err := syscall.Getxattr(m.dir, "user.oss.presign", make([]byte, 4096)); err != syscall.EISDIR {
		t.Errorf("presign of a directory: %v, want EISDIR", err)
	}

	// A file still being written for the first time is not in the bucket.
	f, err := os.Create(m.path("new.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new"))
	if _, err := syscall.Getxattr(m.path("new.txt"), "user.oss.presign", make([]byte, 4096)); err != syscall.EBUSY {
		t.Errorf("presign of a file not yet uploaded: %v, want EBUSY", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Getxattr(m.path("new.txt"), "user.oss.presign", make([]byte, 4096)); err != nil {
		t.Errorf("presign after close: %v", err)
	}

	// A read-only mount shares files but takes no uploads.
	ro := startMount(t, srv, "test", "-o", "ro")
	if _, err := syscall.Getxattr(ro.path("a b.txt"), "user.oss.presign", make([]byte, 4096)); err != nil {
		t.Errorf("presign on a read-only mount: %v", err)
	}
	if _, err := syscall.Getxattr(ro.dir, "user.oss.post-policy", make([]byte, 4096)); err != syscall.EROFS {
		t.Errorf("post-policy on a read-only mount: %v, want EROFS", err)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSharePermissions(t *testing.T) {
	srv := newServer(t)
	m := shareMount(t, srv)
	bin := shareBin(t)
	env := noCredEnv()
	write := func(name string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		p := m.path(name)
		if err := os.WriteFile(p, []byte("content of "+name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != mode || sys.Uid != uint32(uid) || sys.Gid != uint32(gid) {
			t.Fatalf("%s: mode %v uid %d gid %d, want %v %d %d", name, st.Mode(), sys.Uid, sys.Gid, mode, uid, gid)
		}
		return p
	}
	secret := write("secret.txt", 0o600, 0, 0)
	public := write("public.txt", 0o644, 0, 0)
	group := write("group.txt", 0o640, 0, 4242)

	other := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	inGroup := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{4242}}
	r := runShare(t, bin, other, env, "presign", secret)
	if r.err == nil || !strings.Contains(r.stderr, "permission denied") || r.stdout != "" {
		t.Fatalf("presign of a 0600 root file as another user: %v %q %q", r.err, r.stdout, r.stderr)
	}
	if _, err := syscall.Getxattr(secret, "user.oss.presign", make([]byte, 4096)); err != nil {
		t.Fatalf("root may sign anything: %v", err)
	}
	// The same user is allowed what the mode allows.
	u := runShare(t, bin, other, env, "presign", public).must(t)
	if resp, body := fetch(t, u); resp.StatusCode != 200 || string(body) != "content of public.txt" {
		t.Fatalf("GET public URL: %d %q", resp.StatusCode, body)
	}
	if r := runShare(t, bin, other, env, "presign", group); r.err == nil {
		t.Fatalf("presign of a 0640 file outside its group succeeded: %q", r.stdout)
	}
	runShare(t, bin, inGroup, env, "presign", group).must(t)

	// Uploads need write permission on the directory.
	if err := os.Mkdir(m.path("closed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(m.path("open"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(m.path("open"), 0o777)
	r = runShare(t, bin, other, env, "post-policy", m.path("closed"))
	if r.err == nil || !strings.Contains(r.stderr, "permission denied") {
		t.Fatalf("post-policy on a 0755 root directory as another user: %v %q", r.err, r.stderr)
	}
	var ans policyAnswer
	if err := json.Unmarshal([]byte(runShare(t, bin, other, env, "post-policy", m.path("open")).must(t)), &ans); err != nil || ans.Prefix != "open/" {
		t.Fatalf("post-policy on a 0777 directory: %+v %v", ans, err)
	}
}

type policyAnswer struct {
	URL            string            `json:"url"`
	Prefix         string            `json:"prefix"`
	Fields         map[string]string `json:"fields"`
	Expiration     string            `json:"expiration"`
	Clipped        bool              `json:"clipped"`
	PolicyDocument string            `json:"policy_document"`
}

// postFile uploads data as filename with only the fields of a policy
// answer (plus changes), like a browser form.
func postFile(t *testing.T, ans policyAnswer, change map[string]string, filename, ctype string, data []byte, origin string) (*http.Response, []byte) {
	t.Helper()
	fields := map[string]string{}
	for k, v := range ans.Fields {
		fields[k] = v
	}
	for k, v := range change {
		fields[k] = v
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range names {
		mw.WriteField(k, fields[k])
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + filename + `"`}
	h["Content-Type"] = []string{ctype}
	fw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, ans.URL, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func listNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestSharePostPolicy(t *testing.T) {
	srv := newServer(t)
	m := shareMount(t, srv)
	bin := shareBin(t)
	env := noCredEnv()
	inbox := m.path("inbox")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if names := listNames(t, inbox); len(names) != 0 {
		t.Fatalf("new directory lists %v", names)
	}
	policy := func(args ...string) policyAnswer {
		t.Helper()
		out := runShare(t, bin, nil, env, append([]string{"post-policy"}, args...)...).must(t)
		var ans policyAnswer
		if err := json.Unmarshal([]byte(out), &ans); err != nil {
			t.Fatalf("post-policy output is not JSON: %v\n%s", err, out)
		}
		return ans
	}

	// Keep the file's name; V4; at most 1 KiB.
	ans := policy(inbox, "--keep-name", "--max-size", "1K")
	f := ans.Fields
	if ans.URL != srv.URL()+"/test/" || ans.Prefix != "inbox/" || f["key"] != "inbox/${filename}" || f["success_action_status"] != "201" ||
		f["x-oss-signature-version"] != "OSS4-HMAC-SHA256" || f["x-oss-signature"] == "" || f["x-oss-date"] == "" ||
		!strings.HasPrefix(f["x-oss-credential"], testAK+"/") || f["policy"] == "" {
		t.Fatalf("post-policy answer %+v", ans)
	}
	if !strings.Contains(ans.PolicyDocument, `["content-length-range",0,1024]`) || !strings.Contains(ans.PolicyDocument, `["starts-with","$key","inbox/"]`) {
		t.Fatalf("policy document %s", ans.PolicyDocument)
	}
	payload := randBytes(1000)
	resp, body := postFile(t, ans, nil, "hello.bin", "application/octet-stream", payload, "")
	if resp.StatusCode != 201 || !strings.Contains(string(body), "<Key>inbox/hello.bin</Key>") {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	if names := listNames(t, inbox); len(names) != 1 || names[0] != "hello.bin" {
		t.Fatalf("inbox after the upload lists %v", names)
	}
	if got, err := os.ReadFile(filepath.Join(inbox, "hello.bin")); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("uploaded file read through the mount: %d bytes, %v", len(got), err)
	}

	// Refusals, with the policy error.
	resp, body = postFile(t, ans, nil, "big.bin", "application/octet-stream", randBytes(1025), "")
	wantRefused(t, "too large", resp.StatusCode, body, "AccessDenied", "Invalid according to Policy")
	resp, body = postFile(t, ans, map[string]string{"key": "elsewhere/${filename}"}, "x.bin", "application/octet-stream", []byte("x"), "")
	wantRefused(t, "wrong prefix", resp.StatusCode, body, "AccessDenied", "Invalid according to Policy")
	expired := policy(inbox, "--keep-name", "--expires", "1")
	time.Sleep(2 * time.Second)
	resp, body = postFile(t, expired, nil, "late.bin", "application/octet-stream", []byte("late"), "")
	wantRefused(t, "expired policy", resp.StatusCode, body, "AccessDenied", "Policy expired")
	typed := policy(inbox, "--keep-name", "--content-type", "image/")
	resp, body = postFile(t, typed, nil, "a.txt", "text/plain", []byte("text"), "")
	wantRefused(t, "wrong content type", resp.StatusCode, body, "AccessDenied", "Invalid according to Policy")
	if resp, body := postFile(t, typed, nil, "a.png", "image/png", []byte("png"), ""); resp.StatusCode != 201 {
		t.Fatalf("image upload: %d %s", resp.StatusCode, body)
	}
	for _, n := range listNames(t, inbox) {
		if n == "big.bin" || n == "x.bin" || n == "late.bin" || n == "a.txt" {
			t.Errorf("a refused upload created %s", n)
		}
	}

	// Random names, V1.
	v1 := policy(inbox, "--sigv1")
	if v1.Fields["OSSAccessKeyId"] != testAK || v1.Fields["Signature"] == "" || v1.Fields["x-oss-signature"] != "" ||
		!strings.HasPrefix(v1.Fields["key"], "inbox/") || strings.Contains(v1.Fields["key"], "${filename}") {
		t.Fatalf("--sigv1 answer %+v", v1)
	}
	if resp, body := postFile(t, v1, nil, "ignored.txt", "text/plain", []byte("random"), ""); resp.StatusCode != 201 {
		t.Fatalf("V1 upload: %d %s", resp.StatusCode, body)
	}
	name := strings.TrimPrefix(v1.Fields["key"], "inbox/")
	if got, err := os.ReadFile(filepath.Join(inbox, name)); err != nil || string(got) != "random" {
		t.Fatalf("randomly named upload %s: %q %v", name, got, err)
	}

	// The same through oss:// with the caller's credentials.
	credEnv := append(noCredEnv(), "ALIBABA_CLOUD_ACCESS_KEY_ID="+testAK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+testSK)
	out := runShare(t, bin, nil, credEnv, "post-policy", "oss://test/inbox/sub", "--keep-name", "--endpoint", srv.URL(), "--region", testRegion).must(t)
	var direct policyAnswer
	if err := json.Unmarshal([]byte(out), &direct); err != nil || direct.Prefix != "inbox/sub/" {
		t.Fatalf("oss:// post-policy: %v %s", err, out)
	}
	if resp, body := postFile(t, direct, nil, "d.txt", "text/plain", []byte("direct"), ""); resp.StatusCode != 201 {
		t.Fatalf("oss:// upload: %d %s", resp.StatusCode, body)
	}
	if got, err := os.ReadFile(filepath.Join(inbox, "sub", "d.txt")); err != nil || string(got) != "direct" {
		t.Fatalf("oss:// upload through the mount: %q %v", got, err)
	}

	// An HTML page.
	page := runShare(t, bin, nil, env, "post-policy", inbox, "--html", "--max-size", "10M").must(t)
	for _, want := range []string{"<form", `action="` + srv.URL() + `/test/"`, `enctype="multipart/form-data"`,
		`name="x-oss-signature"`, `type="file" name="file"`, "10 MiB"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML page lacks %q", want)
		}
	}

	// CORS: the browser's preflight and the upload's answer.
	if err := srv.SetBucketCORS("test", []osstest.CORSRule{osstest.AllowOriginRule("http://app.localhost:8000")}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodOptions, ans.URL, nil)
	req.Header.Set("Origin", "http://app.localhost:8000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != 200 || presp.Header.Get("Access-Control-Allow-Origin") != "http://app.localhost:8000" ||
		!strings.Contains(presp.Header.Get("Access-Control-Allow-Methods"), "POST") || presp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %d %v", presp.StatusCode, presp.Header)
	}
	req.Header.Set("Origin", "http://evil.localhost")
	presp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if presp.StatusCode != 403 || !strings.Contains(string(pb), "AccessForbidden") {
		t.Fatalf("preflight from another origin: %d %s", presp.StatusCode, pb)
	}
	resp, body = postFile(t, ans, nil, "cors.bin", "application/octet-stream", []byte("cors"), "http://app.localhost:8000")
	if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.localhost:8000" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("upload with an Origin: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// TestShareTemporaryCredentials: a mount on STS credentials signs with its
// current token, renewed in the background, and never beyond its expiry.
func TestShareTemporaryCredentials(t *testing.T) {
	srv := newServer(t)
	if err := srv.PutObject("test", "f.txt", []byte("temporary"), nil); err != nil {
		t.Fatal(err)
	}
	const ttl = 15 * time.Second
	uri, err := authtest.NewCredentialsURI(srv.MintSTS, ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer uri.Close()
	m := shareMount(t, srv, "-o", "credentials_uri="+uri.URL())
	bin := shareBin(t)
	file := m.path("f.txt")

	sign := func() (string, string) {
		t.Helper()
		r := runShare(t, bin, nil, noCredEnv(), "presign", "--expires", "3600", file)
		u := r.must(t)
		if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "temporary credentials") {
			t.Errorf("no warning about the clipped expiry: %q", r.stderr)
		}
		q, _ := url.ParseQuery(strings.SplitN(u, "?", 2)[1])
		if e := q.Get("x-oss-expires"); e == "" || len(e) > 2 || e == "0" {
			t.Errorf("x-oss-expires=%q: want under the token's %v", e, ttl)
		}
		if q.Get("x-oss-security-token") == "" {
			t.Fatalf("URL without the security token: %s", u)
		}
		if resp, body := fetch(t, u); resp.StatusCode != 200 || string(body) != "temporary" {
			t.Fatalf("GET: %d %s", resp.StatusCode, body)
		}
		return u, q.Get("x-oss-security-token")
	}
	u1, tok1 := sign()

	var ans policyAnswer
	r := runShare(t, bin, nil, noCredEnv(), "post-policy", m.dir, "--expires", "3600", "--keep-name")
	if err := json.Unmarshal([]byte(r.must(t)), &ans); err != nil || !ans.Clipped || ans.Fields["x-oss-security-token"] != tok1 ||
		!strings.Contains(r.stderr, "warning") {
		t.Fatalf("post-policy on STS: %+v %v %q", ans, err, r.stderr)
	}
	if exp, err := time.Parse(time.RFC3339, ans.Expiration); err != nil || time.Until(exp) > ttl {
		t.Fatalf("policy expiration %q is past the token's", ans.Expiration)
	}
	if resp, body := postFile(t, ans, nil, "sts.txt", "text/plain", []byte("sts"), ""); resp.StatusCode != 201 {
		t.Fatalf("upload with the token: %d %s", resp.StatusCode, body)
	}

	// After the background renewal the daemon signs with the new token.
	deadline := time.Now().Add(30 * time.Second)
	for uri.Issued() < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if uri.Issued() < 2 {
		t.Fatalf("the mount did not renew its credentials")
	}
	time.Sleep(200 * time.Millisecond)
	_, tok2 := sign()
	if tok2 == tok1 {
		t.Fatalf("the URL signed after the renewal still carries the old token")
	}
	// The first URL dies with its token.
	time.Sleep(ttl)
	resp, body := fetch(t, u1)
	if resp.StatusCode != 403 {
		t.Fatalf("URL past its token's expiry: %d %s", resp.StatusCode, body)
	}
	var e ossError
	xml.Unmarshal(body, &e)
	if e.Code != "AccessDenied" && e.Code != "SecurityTokenExpired" {
		t.Fatalf("URL past its token's expiry: %s", body)
	}
}
