package engine

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

func TestParseXattr(t *testing.T) {
	cases := []struct {
		name string
		kind XattrKind
		key  string
	}{
		{"user.color", XattrMeta, "color"},
		{"user.Color", XattrMeta, "color"},
		{"user.oss.content-type", XattrHeader, "content-type"},
		{"user.OSS.Cache-Control", XattrHeader, "cache-control"},
		{"user.oss.etag", XattrFact, "etag"},
		{"user.oss.crc64", XattrFact, "crc64"},
		{"user.oss.nothing", XattrInvalid, ""},
		{"user.mode", XattrOssfs, "mode"},
		{"user.mtime", XattrOssfs, "mtime"},
		{"user.bad name", XattrInvalid, ""},
		{"user.", XattrInvalid, ""},
		{"security.selinux", XattrForeign, ""},
		{"system.posix_acl_access", XattrForeign, ""},
		{"trusted.x", XattrForeign, ""},
	}
	for _, c := range cases {
		kind, key := ParseXattr(c.name)
		if kind != c.kind || key != c.key {
			t.Errorf("ParseXattr(%q) = %d, %q; want %d, %q", c.name, kind, key, c.kind, c.key)
		}
	}
	reads := map[string]error{"security.selinux": syscall.ENOTSUP, "user.mode": syscall.ENODATA, "user.bad name": syscall.ENODATA,
		"user.color": nil, "user.oss.etag": nil}
	for name, want := range reads {
		if got := ReadErr(must(ParseXattr(name))); got != want {
			t.Errorf("ReadErr(%q) = %v, want %v", name, got, want)
		}
	}
	for _, f := range factXattrs {
		if got := ListedFact(XattrFact, f); got != (f != "crc64") {
			t.Errorf("ListedFact(%s) = %v", f, got)
		}
	}
	if ListedFact(XattrMeta, "etag") {
		t.Error("ListedFact of user.etag (metadata, not a fact): true")
	}
}

func must(k XattrKind, _ string) XattrKind { return k }

func TestParseXattrChange(t *testing.T) {
	cases := []struct {
		name  string
		value []byte
		want  error
	}{
		{"user.color", []byte("red"), nil},
		{"user.color", nil, nil}, // a removal
		{"user.oss.content-type", []byte("text/plain"), nil},
		{"security.selinux", []byte("x"), syscall.ENOTSUP},
		{"user.bad name", []byte("x"), syscall.EINVAL},
		{"user.mode", []byte("0"), syscall.EPERM},
		{"user.oss.etag", []byte("x"), syscall.EPERM},
		{"user.oss.etag", nil, syscall.EPERM},
		{"user.color", []byte{}, syscall.EINVAL},                  // an empty header is no header
		{"user.color", []byte("line\nbreak"), syscall.EINVAL},     // cannot travel in a header
		{"user.oss.expires", []byte("a\x00b"), syscall.EINVAL},    // nor can a NUL
		{"user.color", []byte("caf\xc3\xa9"), syscall.EINVAL},     // non-ASCII is refused, not mangled
		{"user.color", []byte(" padded"), syscall.EINVAL},         // HTTP would trim it
		{"user.oss.content-language", []byte("de-CH"), nil},       // every standard header
		{"user.oss.content-disposition", []byte("inline"), nil},   //
		{"user.oss.content-encoding", []byte("gzip"), nil},        //
		{"user.oss.cache-control", []byte("max-age=60"), nil},     //
		{"user.oss.expires", []byte("Thu, 01 Jan 2099"), nil},     //
		{"user.oss.storage-class", []byte("IA"), syscall.EPERM},   // facts are read-only
		{"user.oss.object-type", []byte("Normal"), syscall.EPERM}, //
	}
	for _, c := range cases {
		ch, err := ParseXattrChange(c.name, c.value, XattrCreate)
		if err != c.want {
			t.Errorf("ParseXattrChange(%q, %q) = %v, want %v", c.name, c.value, err, c.want)
			continue
		}
		if err == nil && (ch.Flags != XattrCreate || (ch.Value == nil) != (c.value == nil)) {
			t.Errorf("ParseXattrChange(%q): %+v", c.name, ch)
		}
	}
}

func change(t *testing.T, name, value string, flags uint32) XattrChange {
	t.Helper()
	var v []byte
	if value != "\x00" {
		v = []byte(value)
	}
	c, err := ParseXattrChange(name, v, flags)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

const remove = "\x00"

func TestMetaView(t *testing.T) {
	lm := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	info := &ossapi.ObjectInfo{Key: "k", ETag: `"abc"`, CRC64: "123", StorageClass: "IA", LastModified: lm,
		Meta: map[string]string{"color": "red", "mode": "33188", "mtime": "1"}, Headers: ossapi.StdHeaders{ContentType: "text/plain"}}
	v := ViewOf(info)
	v.Meta["color"] = "changed"
	if info.Meta["color"] != "red" {
		t.Fatal("ViewOf shares the info's map")
	}
	want := []string{"user.color", "user.oss.content-type", "user.oss.crc64", "user.oss.etag", "user.oss.last-modified", "user.oss.storage-class"}
	if got := v.List(); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	gets := []struct {
		name, want string
		err        error
	}{
		{"user.color", "changed", nil},
		{"user.oss.content-type", "text/plain", nil},
		{"user.oss.etag", "abc", nil},
		{"user.oss.last-modified", "Mon, 06 May 2024 07:08:09 GMT", nil},
		{"user.oss.object-type", "", syscall.ENODATA},
		{"user.oss.cache-control", "", syscall.ENODATA},
		{"user.shape", "", syscall.ENODATA},
	}
	for _, g := range gets {
		kind, k := ParseXattr(g.name)
		if got, err := v.Get(kind, k); got != g.want || err != g.err {
			t.Errorf("Get(%s) = %q, %v; want %q, %v", g.name, got, err, g.want, g.err)
		}
	}
	if got := EmptyView().List(); len(got) != 0 {
		t.Errorf("an empty view lists %v", got)
	}
	wv := &MetaView{Meta: map[string]string{"color": "red"}} // a file being written: no facts
	if _, err := wv.Get(ParseXattr("user.oss.etag")); err != syscall.ENODATA {
		t.Errorf("a fact of a file being written: %v, want ENODATA", err)
	}

	applies := []struct {
		name, value string
		flags       uint32
		want        error
	}{
		{"user.color", "blue", XattrReplace, nil},
		{"user.shape", "round", XattrReplace, syscall.ENODATA},
		{"user.shape", "round", XattrCreate, nil},
		{"user.shape", "square", XattrCreate, syscall.EEXIST},
		{"user.size", remove, 0, syscall.ENODATA},
		{"user.shape", remove, 0, nil},
		{"user.oss.cache-control", "no-cache", XattrReplace, syscall.ENODATA},
		{"user.oss.cache-control", "no-cache", 0, nil},
		{"user.oss.content-type", "text/html", XattrCreate, syscall.EEXIST},
		{"user.oss.content-type", remove, 0, nil},
		{"user.oss.content-type", remove, 0, syscall.ENODATA},
	}
	for _, a := range applies {
		if err := v.Apply(change(t, a.name, a.value, a.flags)); err != a.want {
			t.Errorf("Apply(%s=%q, %d) = %v, want %v", a.name, a.value, a.flags, err, a.want)
		}
	}
	if v.Meta["color"] != "blue" || v.Meta["shape"] != "" || v.Headers.CacheControl != "no-cache" || v.Headers.ContentType != "" || v.Meta["mode"] != "33188" {
		t.Errorf("after the changes: %v, %+v", v.Meta, v.Headers)
	}
}

// xattrTest is an engine over a bucket with one object, "f.txt", whose
// user metadata is color=red and whose Content-Type is text/plain (no
// x-oss-meta-mtime: its mtime is its Last-Modified).
func xattrTest(t *testing.T) (*Engine, *osstest.Server) {
	t.Helper()
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	h := http.Header{}
	h.Set("x-oss-meta-color", "red")
	h.Set("Content-Type", "text/plain")
	if err := srv.PutObject("test", "f.txt", []byte("hello"), h); err != nil {
		t.Fatal(err)
	}
	return e, srv
}

// requests is how many requests srv served.
func requests(srv *osstest.Server) int64 {
	var n int64
	for _, c := range srv.Counts() {
		n += c
	}
	return n
}

// A set or removal of an object's attribute is one HEAD and one self-copy
// that keeps the bytes, the other metadata and headers, and the mtime
// shown (an object without x-oss-meta-mtime gets its Last-Modified); a
// refused change (flags, size) sends no copy.
func TestChangeObjectXattr(t *testing.T) {
	e, srv := xattrTest(t)
	ctx := context.Background()
	_, h0, _ := srv.GetObject("test", "f.txt")
	lm, _ := time.Parse(http.TimeFormat, h0.Get("Last-Modified"))
	heads, copies, total := srv.Count("HeadObject"), srv.Count("CopyObject"), requests(srv)
	info, err := e.ChangeObjectXattr(ctx, "f.txt", change(t, "user.shape", "round", XattrCreate))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Count("HeadObject") != heads+1 || srv.Count("CopyObject") != copies+1 || requests(srv) != total+2 {
		t.Errorf("requests: %d HEAD, %d copies, %d in all; want 1, 1, 2",
			srv.Count("HeadObject")-heads, srv.Count("CopyObject")-copies, requests(srv)-total)
	}
	data, h, _ := srv.GetObject("test", "f.txt")
	if string(data) != "hello" || h.Get("x-oss-meta-shape") != "round" || h.Get("x-oss-meta-color") != "red" ||
		h.Get("Content-Type") != "text/plain" || h.Get("ETag") != info.ETag {
		t.Errorf("after the set: %q, shape %q, color %q, type %q, ETag %s (said %s)", data, h.Get("x-oss-meta-shape"),
			h.Get("x-oss-meta-color"), h.Get("Content-Type"), h.Get("ETag"), info.ETag)
	}
	if got, ok := ParseMtime(h.Get("x-oss-meta-mtime")); !ok || !got.Equal(lm) {
		t.Errorf("mtime kept as %q, want the old Last-Modified %v", h.Get("x-oss-meta-mtime"), lm)
	}
	if info.Meta["shape"] != "round" || info.Headers.ContentType != "text/plain" || info.Key != "f.txt" {
		t.Errorf("the answer: %+v", info)
	}
	if _, err := e.ChangeObjectXattr(ctx, "f.txt", change(t, "user.oss.content-type", remove, 0)); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := srv.GetObject("test", "f.txt"); h.Get("Content-Type") == "text/plain" || h.Get("x-oss-meta-shape") != "round" {
		t.Errorf("after removing the Content-Type: type %q, shape %q", h.Get("Content-Type"), h.Get("x-oss-meta-shape"))
	}

	copies = srv.Count("CopyObject")
	if _, err := e.ChangeObjectXattr(ctx, "f.txt", change(t, "user.shape", "square", XattrCreate)); err != syscall.EEXIST {
		t.Errorf("create of an existing name: %v, want EEXIST", err)
	}
	big := strings.Repeat("x", ossapi.MaxMetaSize)
	if _, err := e.ChangeObjectXattr(ctx, "f.txt", change(t, "user.big", big, 0)); err != syscall.E2BIG {
		t.Errorf("metadata over %d bytes: %v, want E2BIG", ossapi.MaxMetaSize, err)
	}
	if n := srv.Count("CopyObject") - copies; n != 0 {
		t.Errorf("refused changes sent %d copies", n)
	}
	if _, err := e.ChangeObjectXattr(ctx, "gone.txt", change(t, "user.shape", "round", 0)); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("a change of a missing object: %v, want not found", err)
	}
	// The object replaced between the HEAD and the copy: the copy is
	// refused (If-Match), nothing is overwritten.
	stale, err := e.store.Head(ctx, "f.txt", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.PutObject("test", "f.txt", []byte("replaced"), nil)
	if _, err := e.ChangeXattr(ctx, stale, change(t, "user.shape", "oval", 0)); ossapi.KindOf(err) != ossapi.KindPrecondition {
		t.Errorf("a change from a stale HEAD: %v, want a precondition failure", err)
	}
	if _, h, _ := srv.GetObject("test", "f.txt"); h.Get("x-oss-meta-shape") != "" {
		t.Errorf("the stale change landed: shape %q", h.Get("x-oss-meta-shape"))
	}
}

// The first attribute of an implicit directory creates its marker with
// the mode, owner and mtime the directory shows.
func TestCreateMarkerXattr(t *testing.T) {
	e, srv := xattrTest(t)
	ctx := context.Background()
	a := &Stat{Mode: syscall.S_IFDIR | 0o750, UID: 10, GID: 20, Dir: true, Implicit: true}
	a.SetMtime(time.Unix(1700000000, 0))
	info, err := e.CreateMarkerXattr(ctx, "d/", a, change(t, "user.owner", "team", XattrCreate))
	if err != nil {
		t.Fatal(err)
	}
	data, h, err := srv.GetObject("test", "d/")
	if err != nil || len(data) != 0 {
		t.Fatalf("marker: %q, %v", data, err)
	}
	if h.Get("x-oss-meta-owner") != "team" || h.Get("x-oss-meta-mode") != "16872" || h.Get("x-oss-meta-uid") != "10" ||
		h.Get("x-oss-meta-gid") != "20" || h.Get("x-oss-meta-mtime") != "1700000000" || h.Get("Content-Type") != "application/x-directory" {
		t.Errorf("marker's metadata: %v", h)
	}
	if info.Key != "d/" || info.ETag != h.Get("ETag") || !info.LastModified.Equal(a.Mtime()) || info.Meta["owner"] != "team" {
		t.Errorf("the answer: %+v", info)
	}
	puts := srv.Count("PutObject")
	if _, err := e.CreateMarkerXattr(ctx, "e/", a, change(t, "user.owner", remove, 0)); err != syscall.ENODATA {
		t.Errorf("a removal on an implicit directory: %v, want ENODATA", err)
	}
	if srv.Count("PutObject") != puts {
		t.Error("a refused change made a marker")
	}
}

// A file being written carries an attribute change with its upload (no
// request now), unless it has nothing to upload: the object is changed
// now and the writer rebased on the new version. A failed writer refuses.
func TestChangeWriterXattr(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	h := http.Header{}
	h.Set("x-oss-meta-color", "red")
	wt.srv.PutObject("test", "clean.txt", []byte("abc"), h)
	info, err := wt.e.store.Head(ctx, "clean.txt", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clean, err := wt.e.NewWriter("clean.txt", &Base{Attr: Attr{Size: 3, ETag: info.ETag, Mode: 0o100644}, Info: info}, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clean.Ref()
	defer clean.Release()
	clean.Lock()
	total := requests(wt.srv)
	rewritten, err := wt.e.ChangeWriterXattr(ctx, clean, change(t, "user.shape", "round", 0))
	etag := clean.baseETagLocked()
	view := clean.xattrViewLocked()
	clean.Unlock()
	if err != nil || !rewritten {
		t.Fatalf("change of a clean writer's file: %v, rewritten %v", err, rewritten)
	}
	if n := requests(wt.srv) - total; n != 2 {
		t.Errorf("%d requests, want 2 (HEAD, copy)", n)
	}
	_, oh, _ := wt.srv.GetObject("test", "clean.txt")
	if oh.Get("x-oss-meta-shape") != "round" || oh.Get("x-oss-meta-color") != "red" || oh.Get("ETag") != etag || view.Meta["shape"] != "round" {
		t.Errorf("object shape %q color %q ETag %s; writer's base %s, metadata %v", oh.Get("x-oss-meta-shape"),
			oh.Get("x-oss-meta-color"), oh.Get("ETag"), etag, view.Meta)
	}

	w := wt.writer("new.txt", true)
	wt.write(w, []byte("data"), 0)
	w.Lock()
	total = requests(wt.srv)
	rewritten, err = wt.e.ChangeWriterXattr(ctx, w, change(t, "user.oss.content-type", "text/csv", 0))
	if err != nil || rewritten || requests(wt.srv) != total {
		t.Errorf("change of a pending upload: %v, rewritten %v, %d requests", err, rewritten, requests(wt.srv)-total)
	}
	big := strings.Repeat("x", ossapi.MaxMetaSize-20) // fits alone, not with ossfs's mode, owner and mtime
	if _, err := wt.e.ChangeWriterXattr(ctx, w, change(t, "user.b", big, 0)); err != syscall.E2BIG {
		t.Errorf("metadata too large with ossfs's keys: %v, want E2BIG", err)
	}
	if _, err := wt.e.ChangeWriterXattr(ctx, w, change(t, "user.none", remove, 0)); err != syscall.ENODATA {
		t.Errorf("removal of a name the file lacks: %v, want ENODATA", err)
	}
	w.Unlock()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, nh, _ := wt.srv.GetObject("test", "new.txt"); nh.Get("Content-Type") != "text/csv" || nh.Get("x-oss-meta-b") != "" {
		t.Errorf("the upload carried Content-Type %q, b %d bytes", nh.Get("Content-Type"), len(nh.Get("x-oss-meta-b")))
	}

	wt.srv.PutObject("test", "f.txt", []byte("old"), nil)
	fw := wt.writer("f.txt", true)
	wt.write(fw, []byte("new"), 0)
	wt.srv.AddFault(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"})
	err = fw.Flush(ctx)
	wt.srv.ClearFaults()
	var uerr *UploadError
	if !errors.As(err, &uerr) {
		t.Fatalf("flush with a refused PUT: %v", err)
	}
	fw.Lock()
	_, err = wt.e.ChangeWriterXattr(ctx, fw, change(t, "user.shape", "round", 0))
	fw.Unlock()
	if err != syscall.EIO {
		t.Errorf("change of a failed writer's file: %v, want EIO", err)
	}
}
