package e2e

// Object metadata as extended attributes: user.<name> is x-oss-meta-<name>,
// user.oss.* the standard headers and read-only facts (docs/SEMANTICS.md,
// "Extended attributes").

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// sdkFor is the official Go SDK talking to the emulator.
func sdkFor(srv *osstest.Server) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAK, testSK)).
		WithRegion(testRegion).WithEndpoint(srv.URL())
	return oss.NewClient(cfg)
}

func sdkHead(t *testing.T, c *oss.Client, key string) *oss.HeadObjectResult {
	t.Helper()
	h, err := c.HeadObject(context.Background(), &oss.HeadObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr(key)})
	if err != nil {
		t.Fatalf("SDK HeadObject %s: %v", key, err)
	}
	return h
}

// getx returns one attribute through getxattr(2).
func getx(path, name string) (string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func mustGetx(t *testing.T, path, name string) string {
	t.Helper()
	v, err := getx(path, name)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", path, name, err)
	}
	return v
}

// listx returns the attribute names through listxattr(2), sorted.
func listx(t *testing.T, path string) []string {
	t.Helper()
	n, err := unix.Listxattr(path, nil)
	if err != nil {
		t.Fatalf("listxattr %s: %v", path, err)
	}
	buf := make([]byte, n)
	if n, err = unix.Listxattr(path, buf); err != nil {
		t.Fatalf("listxattr %s: %v", path, err)
	}
	var out []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// getfattrDump runs `getfattr -d` and returns its name -> value pairs.
func getfattrDump(t *testing.T, path string) map[string]string {
	t.Helper()
	out := run(t, "getfattr", "-d", "--absolute-names", path)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			m[line] = ""
			continue
		}
		if uq, err := strconv.Unquote(val); err == nil {
			val = uq
		}
		m[name] = val
	}
	return m
}

// totalRequests sums the emulator's request counters.
func totalRequests(srv *osstest.Server) int64 {
	var n int64
	for _, c := range srv.Counts() {
		n += c
	}
	return n
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func TestXattrSDKInterop(t *testing.T) {
	srv := newServer(t)
	c := sdkFor(srv)
	ctx := context.Background()
	body := "hello from the SDK"
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("docs/sdk.txt"),
		Body: strings.NewReader(body), Metadata: map[string]string{"Color": "blue", "Owner-Team": "infra"},
		ContentType: oss.Ptr("text/plain"), CacheControl: oss.Ptr("no-cache")})
	if err != nil {
		t.Fatal(err)
	}
	// An ossfs-written object: its mode/uid/gid/mtime must survive changes.
	mt := time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)
	srv.PutObject("test", "docs/ossfs.bin", []byte("ossfs"), hdr("x-oss-meta-mode", strconv.Itoa(syscall.S_IFREG|0o600),
		"x-oss-meta-uid", "1001", "x-oss-meta-gid", "1002", "x-oss-meta-mtime", strconv.FormatInt(mt.Unix(), 10),
		"x-oss-meta-project", "apollo", "Content-Type", "application/x-thing", "Content-Language", "fr"))
	m := startMount(t, srv, "test")
	p := m.path("docs", "sdk.txt")

	// getfattr -d shows the SDK's metadata under user., the headers under
	// user.oss., and none of ossfs's keys.
	d := getfattrDump(t, p)
	want := map[string]string{"user.color": "blue", "user.owner-team": "infra",
		"user.oss.content-type": "text/plain", "user.oss.cache-control": "no-cache",
		"user.oss.storage-class": "Standard", "user.oss.object-type": "Normal"}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("getfattr -d: %s = %q, want %q (all: %v)", k, d[k], v, d)
		}
	}
	head := sdkHead(t, c, "docs/sdk.txt")
	if got, w := d["user.oss.etag"], strings.Trim(oss.ToString(head.ETag), `"`); got != w || got == "" {
		t.Errorf("user.oss.etag = %q, want %q", got, w)
	}
	if got := d["user.oss.crc64"]; got == "" || got != oss.ToString(head.HashCRC64) {
		t.Errorf("user.oss.crc64 = %q, want %q", got, oss.ToString(head.HashCRC64))
	}
	if lm, err := http.ParseTime(d["user.oss.last-modified"]); err != nil || head.LastModified == nil || !lm.Equal(head.LastModified.Truncate(time.Second)) {
		t.Errorf("user.oss.last-modified = %q (%v), want %v", d["user.oss.last-modified"], err, head.LastModified)
	}
	for k := range d {
		if !strings.HasPrefix(k, "user.") || k == "user.mode" || k == "user.mtime" {
			t.Errorf("getfattr -d shows %q", k)
		}
	}
	st0, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}

	// A setfattr through the mount is on the server when it returns: one
	// HEAD and one self-copy, nothing else.
	srv.ResetCounts()
	run(t, "setfattr", "-n", "user.Reviewed", "-v", "yes", p)
	if cnt := srv.Counts(); cnt["CopyObject"] != 1 || cnt["HeadObject"] != 1 || totalRequests(srv) != 2 {
		t.Errorf("setfattr cost %v; want one HeadObject and one CopyObject", cnt)
	}
	head = sdkHead(t, c, "docs/sdk.txt")
	if head.Metadata["reviewed"] != "yes" || head.Metadata["color"] != "blue" || head.Metadata["owner-team"] != "infra" {
		t.Errorf("SDK sees metadata %v after setfattr; want reviewed=yes with color and owner-team kept", head.Metadata)
	}
	if oss.ToString(head.ContentType) != "text/plain" || oss.ToString(head.CacheControl) != "no-cache" {
		t.Errorf("setfattr lost standard headers: %q %q", oss.ToString(head.ContentType), oss.ToString(head.CacheControl))
	}
	if v := mustGetx(t, p, "user.reviewed"); v != "yes" {
		t.Errorf("user.reviewed reads back %q", v)
	}
	// The self-copy changes Last-Modified; the mtime stays: it is recorded
	// in x-oss-meta-mtime (the object had none).
	if head.Metadata["mtime"] != strconv.FormatInt(st0.ModTime().Unix(), 10) {
		t.Errorf("after setfattr x-oss-meta-mtime = %q, want the old mtime %d", head.Metadata["mtime"], st0.ModTime().Unix())
	}

	// Content-Disposition set through the mount comes back on a GET.
	disp := `attachment; filename="report.txt"`
	if err := unix.Setxattr(p, "user.oss.content-disposition", []byte(disp), 0); err != nil {
		t.Fatal(err)
	}
	g, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("docs/sdk.txt")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if g.Headers.Get("Content-Disposition") != disp || string(got) != body {
		t.Errorf("GET: Content-Disposition %q body %q; want %q %q", g.Headers.Get("Content-Disposition"), got, disp, body)
	}
	if g.Metadata["reviewed"] != "yes" || oss.ToString(g.ContentType) != "text/plain" {
		t.Errorf("GET after content-disposition: metadata %v type %q", g.Metadata, oss.ToString(g.ContentType))
	}

	// Every writable header round-trips.
	headers := map[string]string{"content-type": "application/json", "cache-control": "max-age=60",
		"content-encoding": "identity", "content-language": "de-DE", "expires": "Wed, 21 Oct 2037 07:28:00 GMT"}
	for h, v := range headers {
		run(t, "setfattr", "-n", "user.oss."+h, "-v", v, p)
	}
	_, sh, _ := srv.GetObject("test", "docs/sdk.txt")
	for h, v := range headers {
		if sh.Get(h) != v {
			t.Errorf("server %s = %q, want %q", h, sh.Get(h), v)
		}
		if got := mustGetx(t, p, "user.oss."+h); got != v {
			t.Errorf("user.oss.%s reads %q, want %q", h, got, v)
		}
	}

	// setfattr -x removes one name and keeps the others.
	run(t, "setfattr", "-x", "user.color", p)
	head = sdkHead(t, c, "docs/sdk.txt")
	if _, ok := head.Metadata["color"]; ok || head.Metadata["owner-team"] != "infra" || head.Metadata["reviewed"] != "yes" {
		t.Errorf("after setfattr -x user.color the SDK sees %v", head.Metadata)
	}
	if _, err := getx(p, "user.color"); !errors.Is(err, syscall.ENODATA) {
		t.Errorf("getxattr of the removed name = %v, want ENODATA", err)
	}
	run(t, "setfattr", "-x", "user.oss.cache-control", p)
	if _, sh, _ := srv.GetObject("test", "docs/sdk.txt"); sh.Get("Cache-Control") != "" || sh.Get("Content-Language") != "de-DE" {
		t.Errorf("removing cache-control: server has %q, content-language %q", sh.Get("Cache-Control"), sh.Get("Content-Language"))
	}
	if b := serverBytes(t, srv, "docs/sdk.txt"); string(b) != body {
		t.Errorf("metadata changes altered the content: %q", b)
	}

	// An empty value cannot travel (the SDK drops empty headers): refused,
	// for metadata and headers alike, and nothing changes.
	srv.ResetCounts()
	wantErrno(t, "empty metadata value", unix.Setxattr(p, "user.empty", []byte{}, 0), syscall.EINVAL)
	wantErrno(t, "empty header value", unix.Setxattr(p, "user.oss.content-type", []byte{}, 0), syscall.EINVAL)
	if out, err := exec.Command("setfattr", "-n", "user.flag", p).CombinedOutput(); err == nil || !strings.Contains(string(out), "Invalid argument") {
		t.Errorf("setfattr without a value: %v %s", err, out)
	}
	if n := totalRequests(srv); n != 0 {
		t.Errorf("refused empty values cost %d requests %v", n, srv.Counts())
	}

	// ossfs's mode/uid/gid/mtime and the headers survive a change.
	op := m.path("docs", "ossfs.bin")
	run(t, "setfattr", "-n", "user.stage", "-v", "review", op)
	_, oh, _ := srv.GetObject("test", "docs/ossfs.bin")
	if oh.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFREG|0o600) || oh.Get("X-Oss-Meta-Uid") != "1001" ||
		oh.Get("X-Oss-Meta-Gid") != "1002" || oh.Get("X-Oss-Meta-Mtime") != strconv.FormatInt(mt.Unix(), 10) ||
		oh.Get("X-Oss-Meta-Project") != "apollo" || oh.Get("X-Oss-Meta-Stage") != "review" ||
		oh.Get("Content-Type") != "application/x-thing" || oh.Get("Content-Language") != "fr" {
		t.Errorf("ossfs object after setfattr: %v", oh)
	}
	st, _ := os.Stat(op)
	if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != 0o600 || sys.Uid != 1001 || sys.Gid != 1002 || !st.ModTime().Equal(mt) {
		t.Errorf("ossfs object stat after setfattr: %v uid %d gid %d mtime %v", st.Mode(), sys.Uid, sys.Gid, st.ModTime())
	}
	if got := listx(t, op); strings.Join(got, ",") != "user.oss.content-language,user.oss.content-type,user.oss.crc64,user.oss.etag,user.oss.last-modified,user.oss.object-type,user.oss.storage-class,user.project,user.stage" {
		t.Errorf("listxattr = %v", got)
	}
}

func TestXattrErrors(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "e.txt", []byte("e"), hdr("x-oss-meta-color", "blue", "x-oss-meta-mode", strconv.Itoa(syscall.S_IFREG|0o644)))
	m := startMount(t, srv, "test")
	p := m.path("e.txt")
	mustGetx(t, p, "user.color") // the metadata is cached from here on

	// Names and values refused before any request.
	srv.ResetCounts()
	cases := []struct {
		name  string
		value string
		want  syscall.Errno
	}{
		{"user.under_score", "v", syscall.EINVAL},
		{"user.dot.ted", "v", syscall.EINVAL},
		{"user.sp ace", "v", syscall.EINVAL},
		{"user.ünï", "v", syscall.EINVAL},
		{"user.", "v", syscall.EINVAL},
		{"user.oss.nosuch", "v", syscall.EINVAL},
		{"user.oss.", "v", syscall.EINVAL},
		{"user.newline", "a\nb", syscall.EINVAL},
		{"user.cr", "a\rb", syscall.EINVAL},
		{"user.nul", "a\x00b", syscall.EINVAL},
		{"user.utf8", "grüße", syscall.EINVAL},
		{"user.blank", " padded", syscall.EINVAL},
		{"user.oss.content-type", "text/plain\nX-Evil: 1", syscall.EINVAL},
		{"user.oss.content-disposition", "attachment; filename=\"ü.txt\"", syscall.EINVAL},
		{"user.oss.etag", "abc", syscall.EPERM},
		{"user.oss.crc64", "1", syscall.EPERM},
		{"user.oss.storage-class", "IA", syscall.EPERM},
		{"user.oss.object-type", "Normal", syscall.EPERM},
		{"user.oss.last-modified", "Mon, 02 Jan 2006 15:04:05 GMT", syscall.EPERM},
		{"user.OSS.ETag", "abc", syscall.EPERM},
		{"user.mode", "33279", syscall.EPERM},
		{"user.uid", "0", syscall.EPERM},
		{"user.gid", "0", syscall.EPERM},
		{"user.atime", "1", syscall.EPERM},
		{"user.MTime", "1", syscall.EPERM},
		{"user.ctime", "1", syscall.EPERM},
		{"security.selinux", "x", syscall.ENOTSUP},
		{"trusted.x", "x", syscall.ENOTSUP},
	}
	for _, c := range cases {
		wantErrno(t, fmt.Sprintf("setxattr %q=%q", c.name, c.value), unix.Setxattr(p, c.name, []byte(c.value), 0), c.want)
	}
	for _, name := range []string{"user.under_score", "user.oss.nosuch"} {
		wantErrno(t, "removexattr "+name, unix.Removexattr(p, name), syscall.EINVAL)
	}
	for _, name := range []string{"user.oss.etag", "user.oss.last-modified"} {
		wantErrno(t, "removexattr "+name, unix.Removexattr(p, name), syscall.EPERM)
	}
	for _, name := range []string{"user.mode", "user.mtime"} {
		wantErrno(t, "removexattr "+name, unix.Removexattr(p, name), syscall.EPERM)
	}
	// Names that cannot exist: nothing there. Other namespaces: not
	// supported at all (ls stops asking a device that says so).
	for _, name := range []string{"user.mode", "user.uid", "user.under_score", "user.oss.nosuch"} {
		_, err := getx(p, name)
		wantErrno(t, "getxattr "+name, err, syscall.ENODATA)
	}
	for _, name := range []string{"security.selinux", "security.capability", "security.ima", "trusted.x", "trusted.overlay.opaque",
		"system.posix_acl_access", "system.posix_acl_default"} {
		_, err := getx(p, name)
		wantErrno(t, "getxattr "+name, err, syscall.ENOTSUP)
	}
	for _, name := range []string{"security.selinux", "trusted.x"} {
		wantErrno(t, "removexattr "+name, unix.Removexattr(p, name), syscall.ENOTSUP)
	}
	if n := totalRequests(srv); n != 0 {
		t.Errorf("refused names and other namespaces cost %d requests %v; want none", n, srv.Counts())
	}
	run(t, "getfattr", "-m", "-", "-d", p) // every namespace, through the real tool

	// Over 8 KB of metadata: E2BIG, nothing changed (one HEAD, no copy).
	srv.ResetCounts()
	wantErrno(t, "setxattr of 9000 bytes", unix.Setxattr(p, "user.big", bytes.Repeat([]byte("x"), 9000), 0), syscall.E2BIG)
	if srv.Count("CopyObject") != 0 {
		t.Errorf("E2BIG still copied: %v", srv.Counts())
	}
	for i := 0; i < 2; i++ {
		if err := unix.Setxattr(p, fmt.Sprintf("user.chunk%d", i), bytes.Repeat([]byte("y"), 3000), 0); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	wantErrno(t, "third 3000-byte value", unix.Setxattr(p, "user.chunk2", bytes.Repeat([]byte("y"), 3000), 0), syscall.E2BIG)
	// Close to the limit is fine: 8192 minus what is there.
	_, h, _ := srv.GetObject("test", "e.txt")
	used := 0
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-meta-") {
			used += len(lk) - len("x-oss-meta-") + len(v[0])
		}
	}
	room := 8192 - used - len("fill")
	if err := unix.Setxattr(p, "user.fill", bytes.Repeat([]byte("z"), room), 0); err != nil {
		t.Errorf("setxattr filling metadata to exactly 8192 bytes: %v", err)
	}
	wantErrno(t, "one byte more", unix.Setxattr(p, "user.fill", bytes.Repeat([]byte("z"), room+1), 0), syscall.E2BIG)
	for _, name := range []string{"user.chunk0", "user.chunk1", "user.fill"} {
		if err := unix.Removexattr(p, name); err != nil {
			t.Errorf("removexattr %s: %v", name, err)
		}
	}

	// Missing names, flags, case.
	_, err := getx(p, "user.missing")
	wantErrno(t, "getxattr of a missing name", err, syscall.ENODATA)
	wantErrno(t, "removexattr of a missing name", unix.Removexattr(p, "user.missing"), syscall.ENODATA)
	wantErrno(t, "removexattr of a missing header", unix.Removexattr(p, "user.oss.content-language"), syscall.ENODATA)
	wantErrno(t, "XATTR_CREATE on an existing name", unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_CREATE, another case", unix.Setxattr(p, "user.COLOR", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE on a missing name", unix.Setxattr(p, "user.missing", []byte("x"), unix.XATTR_REPLACE), syscall.ENODATA)
	wantErrno(t, "XATTR_CREATE on an existing header", unix.Setxattr(p, "user.oss.content-type", []byte("a/b"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE on a missing header", unix.Setxattr(p, "user.oss.expires", []byte("x"), unix.XATTR_REPLACE), syscall.ENODATA)
	if err := unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_REPLACE); err != nil {
		t.Errorf("XATTR_REPLACE on an existing name: %v", err)
	}
	if err := unix.Setxattr(p, "user.MiXed-Case", []byte("v"), unix.XATTR_CREATE); err != nil {
		t.Errorf("XATTR_CREATE on a new name: %v", err)
	}
	if v, err := getx(p, "user.MIXED-case"); err != nil || v != "v" {
		t.Errorf("case-insensitive getxattr: %q %v", v, err)
	}
	if v, err := getx(p, "user.OSS.Content-Type"); err != nil || v != "application/octet-stream" {
		t.Errorf("case-insensitive user.oss name: %q %v", v, err)
	}
	names := listx(t, p)
	if strings.Join(names, ",") != "user.color,user.mixed-case,user.oss.content-type,user.oss.crc64,user.oss.etag,user.oss.last-modified,user.oss.object-type,user.oss.storage-class" {
		t.Errorf("listxattr = %v (names lower-case, no ossfs keys)", names)
	}
	_, h, _ = srv.GetObject("test", "e.txt")
	if h.Get("X-Oss-Meta-Color") != "red" || h.Get("X-Oss-Meta-Mixed-Case") != "v" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFREG|0o644) {
		t.Errorf("server metadata: %v", h)
	}
	for k := range h {
		if lk := strings.ToLower(k); strings.Contains(lk, "under") || strings.Contains(lk, "big") || strings.Contains(lk, "missing") || strings.Contains(lk, "chunk") {
			t.Errorf("a refused change reached the server: %s", k)
		}
	}
	// ERANGE for a short buffer, the size for an empty one.
	if n, err := unix.Getxattr(p, "user.color", nil); err != nil || n != 3 {
		t.Errorf("getxattr size probe = %d %v, want 3", n, err)
	}
	_, err = unix.Getxattr(p, "user.color", make([]byte, 2))
	wantErrno(t, "getxattr into 2 bytes", err, syscall.ERANGE)
	_, err = unix.Listxattr(p, make([]byte, 5))
	wantErrno(t, "listxattr into 5 bytes", err, syscall.ERANGE)

	// Through the real tools: the error text reaches the user.
	out, err := exec.Command("setfattr", "-n", "user.bad_name", "-v", "x", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Invalid argument") {
		t.Errorf("setfattr of a bad name: %v %s", err, out)
	}
	out, err = exec.Command("setfattr", "-n", "user.oss.etag", "-v", "x", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("setfattr of user.oss.etag: %v %s", err, out)
	}
	out, err = exec.Command("getfattr", "-n", "user.nope", p).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No such attribute") {
		t.Errorf("getfattr of a missing name: %v %s", err, out)
	}

	// Symlinks carry no user. attributes.
	if err := os.Symlink("e.txt", m.path("link")); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Llistxattr(m.path("link"), make([]byte, 256)); err != nil || n != 0 {
		t.Errorf("llistxattr on a symlink = %d %v, want nothing", n, err)
	}
	wantErrno(t, "lsetxattr on a symlink", unix.Lsetxattr(m.path("link"), "user.x", []byte("1"), 0), syscall.EPERM)
	if v, err := getx(m.path("link"), "user.color"); err != nil || v != "red" {
		t.Errorf("getxattr through a symlink = %q %v, want the target's", v, err)
	}

	// A read-only mount refuses changes but shows the metadata.
	ro := startMount(t, srv, "test", "-o", "ro")
	if v := mustGetx(t, ro.path("e.txt"), "user.color"); v != "red" {
		t.Errorf("ro mount: user.color = %q", v)
	}
	wantErrno(t, "setxattr on a ro mount", unix.Setxattr(ro.path("e.txt"), "user.color", []byte("x"), 0), syscall.EROFS)
}

func TestXattrSurvivesNamespaceOps(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "src.txt", []byte("original"), hdr("Content-Type", "text/plain"))
	m := startMount(t, srv, "test")
	p := m.path("src.txt")
	run(t, "setfattr", "-n", "user.label", "-v", "keep-me", p)
	run(t, "setfattr", "-n", "user.oss.content-language", "-v", "en", p)
	check := func(what, path, key string) {
		t.Helper()
		if v, err := getx(path, "user.label"); err != nil || v != "keep-me" {
			t.Errorf("%s: user.label = %q %v", what, v, err)
		}
		if v, err := getx(path, "user.oss.content-language"); err != nil || v != "en" {
			t.Errorf("%s: user.oss.content-language = %q %v", what, v, err)
		}
		_, h, err := srv.GetObject("test", key)
		if err != nil || h.Get("X-Oss-Meta-Label") != "keep-me" || h.Get("Content-Language") != "en" || h.Get("Content-Type") != "text/plain" {
			t.Errorf("%s: server object %s: %v %v", what, key, err, h)
		}
	}

	// rename
	np := m.path("renamed.txt")
	if err := os.Rename(p, np); err != nil {
		t.Fatal(err)
	}
	check("after rename", np, "renamed.txt")
	// chmod
	if err := os.Chmod(np, 0o600); err != nil {
		t.Fatal(err)
	}
	check("after chmod", np, "renamed.txt")
	if st, _ := os.Stat(np); st.Mode().Perm() != 0o600 {
		t.Errorf("chmod lost: %v", st.Mode())
	}
	// overwrite through the mount: open(O_TRUNC) and write
	if err := os.WriteFile(np, []byte("new content, longer than before"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b := serverBytes(t, srv, "renamed.txt"); string(b) != "new content, longer than before" {
		t.Fatalf("overwrite: server has %q", b)
	}
	check("after overwrite", np, "renamed.txt")
	// a directory rename carries the files' metadata and the marker's
	if err := os.Mkdir(m.path("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(np, m.path("dir", "f.txt")); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", "user.dirlabel", "-v", "d", m.path("dir"))
	if err := os.Rename(m.path("dir"), m.path("moved")); err != nil {
		t.Fatal(err)
	}
	check("after directory rename", m.path("moved", "f.txt"), "moved/f.txt")
	if v, err := getx(m.path("moved"), "user.dirlabel"); err != nil || v != "d" {
		t.Errorf("directory marker metadata after rename: %q %v", v, err)
	}
	// remount
	m.stop()
	m2 := startMount(t, srv, "test")
	check("after remount", m2.path("moved", "f.txt"), "moved/f.txt")
	d := getfattrDump(t, m2.path("moved", "f.txt"))
	if d["user.label"] != "keep-me" {
		t.Errorf("getfattr -d after remount: %v", d)
	}
}

func TestXattrDirectories(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "impl/child.txt", []byte("c"), nil)
	// A marker with metadata and children: a listing of the parent shows
	// it as a common prefix only.
	srv.PutObject("test", "marked/", nil, hdr("Content-Type", "application/x-directory",
		"x-oss-meta-mode", strconv.Itoa(syscall.S_IFDIR|0o700), "x-oss-meta-team", "core"))
	srv.PutObject("test", "marked/child.txt", []byte("c"), nil)
	srv.PutObject("test", "plain/child.txt", []byte("c"), nil)
	m := startMount(t, srv, "test")

	// mkdir'ed directory.
	if err := os.Mkdir(m.path("made"), 0o750); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", "user.purpose", "-v", "scratch", m.path("made"))
	_, h, err := srv.GetObject("test", "made/")
	if err != nil || h.Get("X-Oss-Meta-Purpose") != "scratch" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFDIR|0o750) ||
		h.Get("Content-Type") != "application/x-directory" {
		t.Errorf("made/ marker after setfattr: %v %v", err, h)
	}
	if d := getfattrDump(t, m.path("made")); d["user.purpose"] != "scratch" || d["user.oss.content-type"] != "application/x-directory" {
		t.Errorf("getfattr -d made: %v", d)
	}
	if st, err := os.Stat(m.path("made")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("made after setfattr: %v %v", st, err)
	}
	run(t, "setfattr", "-x", "user.purpose", m.path("made"))
	if _, h, _ := srv.GetObject("test", "made/"); h.Get("X-Oss-Meta-Purpose") != "" || h.Get("X-Oss-Meta-Mode") == "" {
		t.Errorf("made/ after setfattr -x: %v", h)
	}

	// An implicit directory has no attributes until the first setfattr
	// creates its marker.
	if got := listx(t, m.path("impl")); len(got) != 0 {
		t.Errorf("implicit directory lists %v", got)
	}
	_, err = getx(m.path("impl"), "user.anything")
	wantErrno(t, "getxattr on an implicit directory", err, syscall.ENODATA)
	wantErrno(t, "removexattr on an implicit directory", unix.Removexattr(m.path("impl"), "user.anything"), syscall.ENODATA)
	wantErrno(t, "XATTR_REPLACE on an implicit directory", unix.Setxattr(m.path("impl"), "user.x", []byte("1"), unix.XATTR_REPLACE), syscall.ENODATA)
	if _, _, err := srv.GetObject("test", "impl/"); err == nil {
		t.Fatalf("a failed change created the marker")
	}
	run(t, "setfattr", "-n", "user.owner", "-v", "alice", m.path("impl"))
	_, h, err = srv.GetObject("test", "impl/")
	if err != nil || h.Get("X-Oss-Meta-Owner") != "alice" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFDIR|0o755) ||
		h.Get("Content-Type") != "application/x-directory" {
		t.Fatalf("implicit dir: marker after setfattr: %v %v", err, h)
	}
	if b := serverBytes(t, srv, "impl/"); len(b) != 0 {
		t.Errorf("marker has %d bytes", len(b))
	}
	if v := mustGetx(t, m.path("impl"), "user.owner"); v != "alice" {
		t.Errorf("impl user.owner = %q", v)
	}
	if b, err := os.ReadFile(m.path("impl", "child.txt")); err != nil || string(b) != "c" {
		t.Errorf("child after marker creation: %q %v", b, err)
	}
	ents, err := os.ReadDir(m.path("impl"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "child.txt" {
		t.Errorf("impl lists %v %v; want only child.txt (the marker is not an entry)", ents, err)
	}
	run(t, "setfattr", "-n", "user.second", "-v", "2", m.path("impl"))
	if _, h, _ := srv.GetObject("test", "impl/"); h.Get("X-Oss-Meta-Owner") != "alice" || h.Get("X-Oss-Meta-Second") != "2" {
		t.Errorf("second change on the new marker: %v", h)
	}

	// A marker seen only as a listing's common prefix: its metadata is
	// read from the marker, and a change keeps it (never a new marker).
	run(t, "ls", "-l", m.dir)
	if v, err := getx(m.path("marked"), "user.team"); err != nil || v != "core" {
		t.Errorf("marked user.team after ls = %q %v", v, err)
	}
	// Both answers are cached: a marker's metadata, and that an implicit
	// directory has none.
	getfattrDump(t, m.path("plain"))
	srv.ResetCounts()
	for _, d := range []string{"marked", "plain"} {
		getfattrDump(t, m.path(d))
		getx(m.path(d), "user.team")
	}
	if n := totalRequests(srv); n != 0 {
		t.Errorf("directory xattrs asked again cost %d requests %v", n, srv.Counts())
	}
	run(t, "setfattr", "-n", "user.extra", "-v", "1", m.path("marked"))
	_, h, _ = srv.GetObject("test", "marked/")
	if h.Get("X-Oss-Meta-Team") != "core" || h.Get("X-Oss-Meta-Extra") != "1" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFDIR|0o700) {
		t.Errorf("marked/ after setfattr: %v", h)
	}

	// The bucket root has no object: refused; a prefix mount's root has a
	// marker to carry them.
	wantErrno(t, "setxattr on the bucket root", unix.Setxattr(m.dir, "user.x", []byte("1"), 0), syscall.EPERM)
	if got := listx(t, m.dir); len(got) != 0 {
		t.Errorf("bucket root lists %v", got)
	}
	pm := startMount(t, srv, "test:/impl")
	run(t, "setfattr", "-n", "user.viaprefix", "-v", "yes", pm.dir)
	if _, h, _ := srv.GetObject("test", "impl/"); h.Get("X-Oss-Meta-Viaprefix") != "yes" || h.Get("X-Oss-Meta-Owner") != "alice" {
		t.Errorf("prefix root setfattr: impl/ = %v", h)
	}
	if v := mustGetx(t, pm.dir, "user.owner"); v != "alice" {
		t.Errorf("prefix root user.owner = %q", v)
	}
}

func TestXattrWhileWriting(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")

	// A new file: the attributes travel with its one PUT.
	f, err := os.Create(m.path("new.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	f.Write([]byte(`{"a":1}`))
	fd := int(f.Fd())
	if err := unix.Fsetxattr(fd, "user.stage", []byte("draft"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fsetxattr(fd, "user.oss.content-type", []byte("application/vnd.test+json"), 0); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "XATTR_CREATE on a pending name", unix.Fsetxattr(fd, "user.stage", []byte("x"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "E2BIG on a pending file", unix.Fsetxattr(fd, "user.big", bytes.Repeat([]byte("b"), 8190), 0), syscall.E2BIG)
	if err := unix.Fsetxattr(fd, "user.gone", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fremovexattr(fd, "user.gone"); err != nil {
		t.Fatal(err)
	}
	if v := mustGetx(t, m.path("new.json"), "user.stage"); v != "draft" {
		t.Errorf("pending user.stage = %q", v)
	}
	if got := strings.Join(listx(t, m.path("new.json")), ","); got != "user.oss.content-type,user.stage" {
		t.Errorf("pending listxattr = %s", got)
	}
	if n := totalRequests(srv); n != 0 {
		t.Errorf("changes to a file not yet uploaded cost %d requests %v", n, srv.Counts())
	}
	f.Write([]byte("\n"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, h, err := srv.GetObject("test", "new.json")
	if err != nil || h.Get("X-Oss-Meta-Stage") != "draft" || h.Get("Content-Type") != "application/vnd.test+json" ||
		h.Get("X-Oss-Meta-Gone") != "" || h.Get("X-Oss-Meta-Mode") == "" {
		t.Errorf("new.json on the server: %v %v", err, h)
	}
	if cnt := srv.Counts(); cnt["CopyObject"] != 0 || cnt["PutObject"] != 1 {
		t.Errorf("new file with xattrs: %v; want one PutObject and no CopyObject", cnt)
	}

	// An existing file being rewritten: the change waits for the upload
	// and costs no copy.
	srv.PutObject("test", "old.txt", []byte("old content"), hdr("x-oss-meta-keep", "k"))
	w, err := os.OpenFile(m.path("old.txt"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("rewritten"))
	srv.ResetCounts()
	if err := unix.Fsetxattr(int(w.Fd()), "user.rev", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := srv.GetObject("test", "old.txt"); h.Get("X-Oss-Meta-Rev") != "" {
		t.Errorf("pending change reached the server before the upload")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, h, _ = srv.GetObject("test", "old.txt")
	if b := serverBytes(t, srv, "old.txt"); string(b) != "rewritten" || h.Get("X-Oss-Meta-Rev") != "2" || h.Get("X-Oss-Meta-Keep") != "k" {
		t.Errorf("old.txt after close: %q %v", b, h)
	}
	if cnt := srv.Counts(); cnt["CopyObject"] != 0 || cnt["PutObject"] != 1 {
		t.Errorf("rewrite with xattr: %v; want one PutObject and no CopyObject", cnt)
	}

	// A file open for writing with nothing to upload is changed at once.
	r, err := os.OpenFile(m.path("old.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fsetxattr(int(r.Fd()), "user.now", []byte("yes"), 0); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := srv.GetObject("test", "old.txt"); h.Get("X-Oss-Meta-Now") != "yes" || h.Get("X-Oss-Meta-Rev") != "2" {
		t.Errorf("clean writer: change not on the server at once: %v", h)
	}
	srv.ResetCounts()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if cnt := srv.Counts(); cnt["PutObject"] != 0 || cnt["CopyObject"] != 0 {
		t.Errorf("closing a clean writer uploaded: %v", cnt)
	}
	if b := serverBytes(t, srv, "old.txt"); string(b) != "rewritten" {
		t.Errorf("old.txt content %q", b)
	}

	// A streamed file: its metadata was fixed when the multipart upload
	// began, so a later change (metadata or header) is applied after
	// completion.
	s, err := os.Create(m.path("stream.bin"))
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(3<<20 + 100)
	s.Write(data[:2<<20])
	if err := unix.Fsetxattr(int(s.Fd()), "user.late", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fsetxattr(int(s.Fd()), "user.oss.content-type", []byte("application/x-late"), 0); err != nil {
		t.Fatal(err)
	}
	s.Write(data[2<<20:])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, h, _ := srv.GetObject("test", "stream.bin")
	if !bytes.Equal(b, data) || h.Get("X-Oss-Meta-Late") != "1" || h.Get("Content-Type") != "application/x-late" {
		t.Errorf("streamed file: content ok=%v late=%q type=%q", bytes.Equal(b, data), h.Get("X-Oss-Meta-Late"), h.Get("Content-Type"))
	}
	if srv.Count("InitiateMultipartUpload") != 1 {
		t.Errorf("stream.bin was not streamed: %v", srv.Counts())
	}
	// cp -a inside the mount carries the metadata with the new file's one
	// upload (the read-only facts it also tries to copy are refused, which
	// cp -a tolerates).
	srv.ResetCounts()
	run(t, "cp", "-a", m.path("new.json"), m.path("copy.json"))
	_, h, err = srv.GetObject("test", "copy.json")
	if err != nil || h.Get("X-Oss-Meta-Stage") != "draft" || h.Get("Content-Type") != "application/vnd.test+json" {
		t.Errorf("cp -a copy: %v %v", err, h)
	}
	if cnt := srv.Counts(); cnt["CopyObject"] != 0 || cnt["PutObject"] != 1 {
		t.Errorf("cp -a with xattrs: %v; want one PutObject and no CopyObject", cnt)
	}

	// A header alone changed while streaming is applied too.
	s, err = os.Create(m.path("stream2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	s.Write(data[:2<<20])
	if err := unix.Fsetxattr(int(s.Fd()), "user.oss.cache-control", []byte("no-store"), 0); err != nil {
		t.Fatal(err)
	}
	s.Write(data[2<<20:])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := srv.GetObject("test", "stream2.bin"); h.Get("Cache-Control") != "no-store" {
		t.Errorf("header set while streaming is lost: Cache-Control %q", h.Get("Cache-Control"))
	}
}

// A file unlinked while open has no object left: its descriptor shows what
// was known and refuses changes, which must never reach another object.
func TestXattrUnlinkedOpenFile(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "pre/", nil, hdr("Content-Type", "application/x-directory", "x-oss-meta-root", "r"))
	srv.PutObject("test", "pre/f.txt", []byte("f"), hdr("x-oss-meta-a", "1"))
	m := startMount(t, srv, "test:/pre")
	f, err := os.Open(m.path("f.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(m.path("f.txt")); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	fd := int(f.Fd())
	buf := make([]byte, 64)
	if n, err := unix.Fgetxattr(fd, "user.a", buf); err != nil || string(buf[:n]) != "1" {
		t.Errorf("fgetxattr on the unlinked file: %q %v", buf[:max(n, 0)], err)
	}
	wantErrno(t, "fsetxattr on the unlinked file", unix.Fsetxattr(fd, "user.b", []byte("2"), 0), syscall.ENOENT)
	wantErrno(t, "fremovexattr on the unlinked file", unix.Fremovexattr(fd, "user.a"), syscall.ENOENT)
	if n := totalRequests(srv); n != 0 {
		t.Errorf("xattr calls on an unlinked file cost %d requests %v", n, srv.Counts())
	}
	// Likewise a directory removed while open.
	if err := os.Mkdir(m.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "setfattr", "-n", "user.s", "-v", "1", m.path("sub"))
	dfd, err := unix.Open(m.path("sub"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if err := os.Remove(m.path("sub")); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	wantErrno(t, "fsetxattr on the removed directory", unix.Fsetxattr(dfd, "user.c", []byte("3"), 0), syscall.ENOENT)
	if n, err := unix.Flistxattr(dfd, buf); err != nil || n != 0 {
		t.Errorf("flistxattr on the removed directory: %q %v", buf[:max(n, 0)], err)
	}
	if n := totalRequests(srv); n != 0 {
		t.Errorf("xattr calls on a removed directory cost %d requests %v", n, srv.Counts())
	}
	_, h, err := srv.GetObject("test", "pre/")
	if err != nil || h.Get("X-Oss-Meta-Root") != "r" || h.Get("X-Oss-Meta-B") != "" || h.Get("X-Oss-Meta-A") != "" || h.Get("X-Oss-Meta-C") != "" {
		t.Errorf("the prefix marker was touched: %v %v", err, h)
	}
}

func TestXattrLargeObject(t *testing.T) {
	srv := newServer(t)
	c := sdkFor(srv)
	const size = 1<<30 + 5<<20 // over the 1 GiB CopyObject limit
	data := make([]byte, size)
	for i := 0; i < size; i += 1 << 20 {
		data[i] = byte(i >> 20)
	}
	if err := srv.PutObject("test", "huge.bin", data, hdr("x-oss-meta-origin", "lab", "Content-Type", "application/x-huge")); err != nil {
		t.Fatal(err)
	}
	data = nil
	h0 := sdkHead(t, c, "huge.bin")
	m := startMount(t, srv, "test")
	p := m.path("huge.bin")
	srv.ResetCounts()
	start := time.Now()
	run(t, "setfattr", "-n", "user.checked", "-v", "yes", p)
	t.Logf("setfattr on %d bytes took %v: %v", size, time.Since(start), srv.Counts())
	if cnt := srv.Counts(); cnt["CopyObject"] != 0 || cnt["UploadPartCopy"] < 5 || cnt["CompleteMultipartUpload"] != 1 {
		t.Errorf("setfattr on a %d-byte object: %v; want UploadPartCopy, no CopyObject", size, cnt)
	}
	h := sdkHead(t, c, "huge.bin")
	if h.ContentLength != size || h.Metadata["checked"] != "yes" || h.Metadata["origin"] != "lab" ||
		oss.ToString(h.ContentType) != "application/x-huge" || oss.ToString(h.HashCRC64) != oss.ToString(h0.HashCRC64) ||
		h.Metadata["mtime"] != strconv.FormatInt(h0.LastModified.Unix(), 10) {
		t.Fatalf("huge.bin after setfattr: %d bytes, metadata %v, type %q, crc %q (before %q)", h.ContentLength, h.Metadata,
			oss.ToString(h.ContentType), oss.ToString(h.HashCRC64), oss.ToString(h0.HashCRC64))
	}
	if v := mustGetx(t, p, "user.checked"); v != "yes" {
		t.Errorf("user.checked reads %q", v)
	}
	if v := mustGetx(t, p, "user.oss.object-type"); v != "Multipart" {
		t.Errorf("object type after a part copy = %q", v)
	}
	// Removing one, then renaming: both copy part by part and keep the rest.
	run(t, "setfattr", "-x", "user.origin", p)
	if err := os.Rename(p, m.path("huge2.bin")); err != nil {
		t.Fatal(err)
	}
	h = sdkHead(t, c, "huge2.bin")
	if h.Metadata["checked"] != "yes" || h.Metadata["origin"] != "" || oss.ToString(h.ContentType) != "application/x-huge" ||
		oss.ToString(h.HashCRC64) != oss.ToString(h0.HashCRC64) || h.ContentLength != size {
		t.Errorf("huge2.bin after remove and rename: %v %q", h.Metadata, oss.ToString(h.ContentType))
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
}

func TestXattrListingCost(t *testing.T) {
	srv := newServer(t)
	const n = 10000
	for i := 0; i < n; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), hdr("x-oss-meta-index", strconv.Itoa(i)))
	}
	m := startMount(t, srv, "test", "-o", "fast_listing") // a LIST-only budget
	if _, err := os.Stat(m.path("many")); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	out := run(t, "ls", "-l", m.path("many"))
	if lines := strings.Count(out, "\n") - 1; lines != n {
		t.Fatalf("ls -l listed %d entries, want %d", lines, n)
	}
	counts := srv.Counts()
	total := totalRequests(srv)
	t.Logf("ls -l of %d objects: %d requests %v", n, total, counts)
	if counts["HeadObject"] != 0 || total > 12 {
		t.Fatalf("ls -l of %d objects cost %d requests %v; want at most 12 and no HEAD", n, total, counts)
	}
	// What ls asks of every file (security.*, system.*) costs nothing.
	srv.ResetCounts()
	for i := 0; i < 100; i++ {
		p := m.path("many", fmt.Sprintf("f%05d", i))
		for _, name := range []string{"security.selinux", "security.capability", "system.posix_acl_access", "trusted.x"} {
			_, err := getx(p, name)
			wantErrno(t, "getxattr "+name+" on "+p, err, syscall.ENOTSUP)
		}
	}
	if total := totalRequests(srv); total != 0 {
		t.Errorf("foreign-namespace getxattr on 100 files cost %d requests %v", total, srv.Counts())
	}
	// Facts a listing brought: no request.
	srv.ResetCounts()
	if v := mustGetx(t, m.path("many", "f00007"), "user.oss.etag"); v == "" {
		t.Errorf("empty etag")
	}
	mustGetx(t, m.path("many", "f00007"), "user.oss.last-modified")
	if total := totalRequests(srv); total != 0 {
		t.Errorf("user.oss.etag after ls cost %d requests %v; the listing has it", total, srv.Counts())
	}
	// getfattr -d of one listed file: one HEAD brings the metadata, and
	// the getxattr calls that follow are served from it.
	srv.ResetCounts()
	d := getfattrDump(t, m.path("many", "f04321"))
	if d["user.index"] != "4321" {
		t.Errorf("getfattr -d f04321: %v", d)
	}
	if cnt := srv.Counts(); cnt["HeadObject"] != 1 || totalRequests(srv) != 1 {
		t.Errorf("getfattr -d of one file after ls -l cost %v; want exactly one HEAD", cnt)
	}
	srv.ResetCounts()
	getfattrDump(t, m.path("many", "f04321"))
	run(t, "ls", "-l", m.path("many", "f04321"))
	if total := totalRequests(srv); total != 0 {
		t.Errorf("second getfattr -d cost %d requests %v; want none while the cache is fresh", total, srv.Counts())
	}
}

// An object's metadata changed by another client is seen once the cached
// entry expires, even when a listing is the first to touch the expired entry
// (a metadata-only self-copy keeps the ETag: the listing must not revive the
// old metadata).
func TestXattrExternalChangeSeen(t *testing.T) {
	srv := newServer(t)
	c := sdkFor(srv)
	ctx := context.Background()
	srv.PutObject("test", "d/shared.txt", []byte("s"), hdr("x-oss-meta-color", "blue"))
	const ttl = time.Second
	m := startMount(t, srv, "test", "-o", "stat_cache_ttl=1s,list_cache_ttl=1s")
	p := m.path("d", "shared.txt")
	if v := mustGetx(t, p, "user.color"); v != "blue" {
		t.Fatalf("user.color = %q", v)
	}
	cached := time.Now() // the HEAD's attributes are cached from about here
	lm := sdkHead(t, c, "d/shared.txt").LastModified
	// Last-Modified has one-second resolution: let it tick so the other
	// client's change is a different version.
	for time.Now().Unix() <= lm.Unix() {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("test"), Key: oss.Ptr("d/shared.txt"),
		SourceKey: oss.Ptr("d/shared.txt"), MetadataDirective: oss.Ptr("REPLACE"), Metadata: map[string]string{"color": "green"}}); err != nil {
		t.Fatal(err)
	}
	if h := sdkHead(t, c, "d/shared.txt"); oss.ToString(h.ETag) == "" || h.LastModified.Unix() == lm.Unix() {
		t.Fatalf("the self-copy did not make a new Last-Modified: %v", h.LastModified)
	}
	// Let the cached entry (and the kernel's) expire without touching it:
	// there is nothing to poll, this waits out a TTL.
	time.Sleep(time.Until(cached.Add(ttl + 300*time.Millisecond)))
	run(t, "ls", m.path("d"))
	if v, err := getx(p, "user.color"); err != nil || v != "green" {
		t.Fatalf("after the cache expired and a listing, user.color = %q %v; want the other client's green", v, err)
	}
}
