package engine

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// A chmod, chown or utimes of a file with no upload to come is one
// self-copy that keeps the bytes, the other metadata and the headers.
func TestRewriteAttrs(t *testing.T) {
	e, srv := xattrTest(t)
	ctx := context.Background()
	info, err := e.store.Head(ctx, "f.txt", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := &Stat{Size: info.Size, ETag: info.ETag, Info: info, Mode: syscall.S_IFREG | 0o644, UID: 1, GID: 2}
	mode, uid, mt := uint32(0o600), uint32(5), time.Unix(1700000000, 42)
	total := requests(srv)
	meta, err := e.RewriteAttrs(ctx, "f.txt", a, AttrChange{Mode: &mode, UID: &uid, Mtime: &mt})
	if err != nil {
		t.Fatal(err)
	}
	if n := requests(srv) - total; n != 1 || srv.Count("CopyObject") != 1 {
		t.Errorf("%d requests (%d copies), want one copy", n, srv.Count("CopyObject"))
	}
	data, h, _ := srv.GetObject("test", "f.txt")
	if string(data) != "hello" || h.Get("x-oss-meta-color") != "red" || h.Get("Content-Type") != "text/plain" ||
		h.Get("x-oss-meta-mode") != "33152" || h.Get("x-oss-meta-uid") != "5" || h.Get("x-oss-meta-gid") != "2" ||
		h.Get("x-oss-meta-mtime") != "1700000000.000000042" {
		t.Errorf("after the rewrite: %q, %v", data, h)
	}
	if meta["color"] != "red" || meta["mode"] != "33152" || meta["uid"] != "5" {
		t.Errorf("metadata returned: %v", meta)
	}
	srv.PutObject("test", "f.txt", []byte("replaced"), nil)
	if _, err := e.RewriteAttrs(ctx, "f.txt", a, AttrChange{Mode: &mode}); ossapi.KindOf(err) != ossapi.KindPrecondition {
		t.Errorf("a rewrite from attributes of a version gone: %v, want a precondition failure", err)
	}
	if _, h, _ := srv.GetObject("test", "f.txt"); h.Get("x-oss-meta-mode") != "" {
		t.Errorf("the refused rewrite changed the new version: mode %q", h.Get("x-oss-meta-mode"))
	}
}

// A directory's chmod, chown or utimes rewrites its marker, keeping its
// other metadata and headers, or creates the marker of an implicit
// directory.
func TestWriteMarkerMeta(t *testing.T) {
	e, srv := xattrTest(t)
	ctx := context.Background()
	h := http.Header{}
	h.Set("x-oss-meta-owner", "team")
	h.Set("Content-Type", "application/octet-stream")
	srv.PutObject("test", "d/", nil, h)
	info, err := e.WriteMarkerMeta(ctx, "d/", OssfsMeta(syscall.S_IFDIR|0o700, 3, 4, time.Unix(1700000000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	_, mh, _ := srv.GetObject("test", "d/")
	if mh.Get("x-oss-meta-owner") != "team" || mh.Get("Content-Type") != "application/octet-stream" || mh.Get("x-oss-meta-mode") != "16832" ||
		mh.Get("x-oss-meta-uid") != "3" || mh.Get("ETag") != info.ETag || !info.Full || info.Meta["owner"] != "team" {
		t.Errorf("rewritten marker: %v; answer %+v", mh, info)
	}
	puts := srv.Count("PutObject")
	info, err = e.WriteMarkerMeta(ctx, "implicit/", OssfsMeta(syscall.S_IFDIR|0o755, 0, 0, time.Unix(1700000000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	data, ih, err := srv.GetObject("test", "implicit/")
	if err != nil || len(data) != 0 || ih.Get("Content-Type") != "application/x-directory" || ih.Get("x-oss-meta-mode") != "16877" ||
		srv.Count("PutObject") != puts+1 || info.ETag != ih.Get("ETag") {
		t.Errorf("created marker: %q %v, %v; answer %+v", data, ih, err, info)
	}
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 403, Code: "AccessDenied"})
	_, err = e.WriteMarkerMeta(ctx, "other/", OssfsMeta(0, 0, 0, time.Unix(1, 0)))
	srv.ClearFaults()
	if ossapi.KindOf(err) != ossapi.KindPermission {
		t.Errorf("a refused HEAD: %v, want the refusal", err)
	}
	if _, _, err := srv.GetObject("test", "other/"); err == nil {
		t.Error("a marker was made after a refused HEAD")
	}
}

// Changed makes a chmod's, chown's or utimes' change on a copy of the
// attributes (the file type stays), and OssfsMeta writes them.
func TestAttrChangeChanged(t *testing.T) {
	a := &Stat{Mode: syscall.S_IFDIR | 0o755, UID: 1, GID: 2, Size: 9}
	a.SetMtime(time.Unix(1700000000, 5))
	mode, gid, mt := uint32(0o1777), uint32(7), time.Unix(1800000000, 0)
	na := AttrChange{Mode: &mode, GID: &gid, Mtime: &mt}.Changed(a)
	if na.Mode != syscall.S_IFDIR|0o1777 || na.UID != 1 || na.GID != 7 || !na.Mtime().Equal(mt) || na.Size != 9 {
		t.Errorf("changed: %+v", na)
	}
	if a.Mode != syscall.S_IFDIR|0o755 || a.GID != 2 || a.Mtime().Unix() != 1700000000 {
		t.Errorf("the original changed too: %+v", a)
	}
	m := na.OssfsMeta()
	if m["mode"] != "17407" || m["uid"] != "1" || m["gid"] != "7" || m["mtime"] != "1800000000" {
		t.Errorf("OssfsMeta: %v", m)
	}
	if same := (AttrChange{}).Changed(a); *same != *a {
		t.Errorf("no change: %+v, want %+v", same, a)
	}
}

// A Stat as a writer's base version: its size, version, mode, owner,
// mtime and description.
func TestStatBase(t *testing.T) {
	info := &ossapi.ObjectInfo{Key: "k"}
	a := &Stat{Size: 5, ETag: `"e"`, Mode: syscall.S_IFREG | 0o640, UID: 3, GID: 4, Info: info}
	a.SetMtime(time.Unix(1700000000, 9))
	b := a.Base()
	if b.Size != 5 || b.ETag != `"e"` || b.Mode != a.Mode || b.UID != 3 || b.GID != 4 || !b.Mtime.Equal(a.Mtime()) || b.Info != info {
		t.Errorf("Base() = %+v", b)
	}
}

// TestChangeFileAttrs: a chmod of a file with no upload to come is a HEAD,
// a self-copy and a HEAD of the new version, whose attributes the
// namespace then holds (no request for a stat after); the parent's
// listing no longer speaks for the name. A file that is gone costs one
// HEAD and no copy.
func TestChangeFileAttrs(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/f", 5, map[string]string{"color": "red"})
	n, _ := newTestNamespace(t, srv, nil)
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	ctx := context.Background()
	l, err := n.ListDir(ctx, "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	mode := uint32(0o600)
	a, meta, err := n.ChangeFileAttrs(ctx, e, "d/f", AttrChange{Mode: &mode})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Count("HeadObject") != 2 || srv.Count("CopyObject") != 1 || requests(srv) != 3 {
		t.Errorf("a chmod cost %v, want two HEADs and one copy", srv.Counts())
	}
	if a.Mode != syscall.S_IFREG|0o600 || a.Size != 5 || meta["color"] != "red" || meta["mode"] != "33152" {
		t.Errorf("after the chmod: %+v, metadata %v", a, meta)
	}
	if _, h, _ := srv.GetObject("test", "d/f"); h.Get("x-oss-meta-mode") != "33152" || h.Get("x-oss-meta-color") != "red" || strings.Trim(h.Get("ETag"), `"`) != strings.Trim(a.ETag, `"`) {
		t.Errorf("the object after the chmod: %v; attributes' ETag %s", h, a.ETag)
	}
	if l.SpeaksFor("f") {
		t.Error("the parent's listing still speaks for f")
	}
	srv.ResetCounts()
	if c, ok := n.Cached("d/f"); !ok || c != a {
		t.Errorf("cached after the chmod: %+v, %v; want the new attributes", c, ok)
	}
	wantCost(t, srv, "a stat after a chmod", 0, 0)
	if _, _, err := n.ChangeFileAttrs(ctx, e, "d/gone", AttrChange{Mode: &mode}); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("a chmod of a missing file: %v, want not found", err)
	}
	wantCost(t, srv, "a chmod of a missing file", 0, 1)
}

// TestChangeDirAttrs: a chmod of an implicit directory creates its marker
// (a HEAD and a PUT), a marked directory's is a HEAD and a self-copy; the
// namespace holds the new attributes, and the parent's listing no longer
// speaks for the name.
func TestChangeDirAttrs(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "i/x", 1, nil)
	put(t, srv, "m/", 0, map[string]string{"owner": "team"})
	n, _ := newTestNamespace(t, srv, nil)
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	ctx := context.Background()
	l, err := n.ListDir(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mode := uint32(0o700)
	for _, c := range []struct {
		key, op string
	}{{"i/", "PutObject"}, {"m/", "CopyObject"}} {
		srv.ResetCounts()
		a, err := n.ChangeDirAttrs(ctx, e, c.key, n.ImplicitDir(), AttrChange{Mode: &mode})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Count("HeadObject") != 1 || srv.Count(c.op) != 1 || requests(srv) != 2 {
			t.Errorf("%s: a chmod cost %v, want a HEAD and a %s", c.key, srv.Counts(), c.op)
		}
		name := strings.TrimSuffix(c.key, "/")
		if got, ok := n.Attrs.Get(name); !ok || got != a || a.Mode != syscall.S_IFDIR|0o700 || a.Implicit {
			t.Errorf("%s: cached %+v, %v; answer %+v", c.key, got, ok, a)
		}
		if l.SpeaksFor(name) {
			t.Errorf("the parent's listing still speaks for %s", name)
		}
		if _, h, err := srv.GetObject("test", c.key); err != nil || h.Get("x-oss-meta-mode") != "16832" {
			t.Errorf("%s: the marker after a chmod: %v, %v", c.key, h, err)
		}
	}
	if _, h, _ := srv.GetObject("test", "m/"); h.Get("x-oss-meta-owner") != "team" {
		t.Errorf("the marker's other metadata was lost: %v", h)
	}
}
