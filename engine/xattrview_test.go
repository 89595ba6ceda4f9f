package engine

// The namespace's side of extended attributes: which reads are served
// from the caches and which ask a HEAD, and what a change tells the
// caches, counted in requests.

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// viewGet is v's value of the xattr name ("" and false when it has none).
func viewGet(t *testing.T, v *MetaView, name string) (string, bool) {
	t.Helper()
	kind, k := ParseXattr(name)
	val, err := v.Get(kind, k)
	if err != nil {
		return "", false
	}
	return val, true
}

// TestFileView: a file's metadata comes from a HEAD, then from the cache
// while fresh; a listing's attributes answer the facts a LIST brings, and
// only those; a file that is gone is an error with one HEAD.
func TestFileView(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "f.txt", 5, map[string]string{"color": "red"})
	put(t, srv, "g.txt", 3, map[string]string{"shape": "round"})
	n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.FastListing = true })
	ctx := context.Background()
	srv.ResetCounts()

	v, headed, err := n.FileView(ctx, "f.txt", "")
	if err != nil || headed == nil || headed.Size != 5 {
		t.Fatalf("first view: headed %+v, %v", headed, err)
	}
	if val, _ := viewGet(t, v, "user.color"); val != "red" {
		t.Errorf("user.color = %q, want red", val)
	}
	wantCost(t, srv, "the first view", 0, 1)
	v, headed, err = n.FileView(ctx, "f.txt", "")
	if err != nil || headed != nil {
		t.Fatalf("second view: headed %+v, %v", headed, err)
	}
	if val, _ := viewGet(t, v, "user.color"); val != "red" {
		t.Errorf("cached user.color = %q, want red", val)
	}
	wantCost(t, srv, "a view while cached", 0, 0)

	if _, err := n.ListDir(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	v, headed, err = n.FileView(ctx, "g.txt", "etag")
	if err != nil || headed != nil {
		t.Fatalf("listed fact: headed %+v, %v", headed, err)
	}
	etag, _ := viewGet(t, v, "user.oss.etag")
	_, h, _ := srv.GetObject("test", "g.txt")
	if etag == "" || etag != strings.Trim(h.Get("ETag"), `"`) {
		t.Errorf("user.oss.etag from the listing = %q, want %q", etag, h.Get("ETag"))
	}
	wantCost(t, srv, "a fact the listing holds", 0, 0)
	v, headed, err = n.FileView(ctx, "g.txt", "")
	if err != nil || headed == nil {
		t.Fatalf("metadata of a listed file: headed %+v, %v", headed, err)
	}
	if val, _ := viewGet(t, v, "user.shape"); val != "round" {
		t.Errorf("user.shape = %q, want round", val)
	}
	wantCost(t, srv, "metadata a listing lacks", 0, 1)

	if _, _, err := n.FileView(ctx, "gone.txt", ""); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("a missing file: %v, want not found", err)
	}
	wantCost(t, srv, "a missing file", 0, 1)
}

// TestDirView: a directory's metadata comes from its marker, cached while
// fresh; the mount root's is asked each time and not cached; a directory
// known to have no marker costs nothing, and one a listing showed is asked
// once; a failing HEAD is an error.
func TestDirView(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/", 0, map[string]string{"owner": "team"})
	put(t, srv, "r/", 0, map[string]string{"owner": "root"})
	put(t, srv, "i/x", 1, nil)
	put(t, srv, "j/x", 1, nil)
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	srv.ResetCounts()

	for i, heads := range []int64{1, 0} {
		v, err := n.DirView(ctx, "d/", false)
		if err != nil {
			t.Fatal(err)
		}
		if val, _ := viewGet(t, v, "user.owner"); val != "team" {
			t.Errorf("view %d: user.owner = %q, want team", i, val)
		}
		wantCost(t, srv, "a marked directory's view", 0, heads)
	}
	for range 2 {
		v, err := n.DirView(ctx, "r/", true)
		if err != nil {
			t.Fatal(err)
		}
		if val, _ := viewGet(t, v, "user.owner"); val != "root" {
			t.Errorf("the root's user.owner = %q, want root", val)
		}
		wantCost(t, srv, "the mount root's view", 0, 1)
	}
	if _, ok := n.Attrs.Get("r"); ok {
		t.Error("the mount root's attributes were cached")
	}
	if v, err := n.DirView(ctx, "", false); err != nil || len(v.List()) != 0 {
		t.Errorf("the bucket root: %v, %v; want nothing", v.List(), err)
	}
	wantCost(t, srv, "the bucket root's view", 0, 0)

	// A lookup found i without a marker: its view is empty, at no cost.
	if a, err := n.Lookup(ctx, "", "i"); err != nil || !a.Implicit {
		t.Fatalf("lookup of i: %+v, %v", a, err)
	}
	srv.ResetCounts()
	if v, err := n.DirView(ctx, "i/", false); err != nil || len(v.List()) != 0 {
		t.Errorf("an implicit directory: %v, %v; want nothing", v.List(), err)
	}
	wantCost(t, srv, "a known implicit directory's view", 0, 0)

	// A listing showed j (marker or not, unknown): one HEAD, remembered.
	n.Attrs.Put("j", n.listedDir())
	for _, heads := range []int64{1, 0} {
		if v, err := n.DirView(ctx, "j/", false); err != nil || len(v.List()) != 0 {
			t.Errorf("a listed implicit directory: %v, %v; want nothing", v.List(), err)
		}
		wantCost(t, srv, "a listed implicit directory's view", 0, heads)
	}
	if a, ok := n.Attrs.Get("j"); !ok || !a.Known || a.Listed || !a.Implicit {
		t.Errorf("j after its HEAD: %+v, %v; want known implicit", a, ok)
	}

	n.Invalidate("d")
	srv.AddFault(osstest.Fault{Op: "HeadObject", Status: 403, Code: "AccessDenied"})
	if _, err := n.DirView(ctx, "d/", false); ossapi.KindOf(err) != ossapi.KindPermission {
		t.Errorf("a refused HEAD: %v, want denied", err)
	}
}

// TestChangeDirXattr: the first attribute of an implicit directory
// creates its marker with the attributes it shows (asked only then); a
// marked directory's is a HEAD and a self-copy. Either way the cache
// holds the new attributes and the parent's listing no longer speaks for
// the name; a getxattr after still asks a HEAD for the server's facts.
func TestChangeDirXattr(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "i/x", 1, nil)
	put(t, srv, "d/", 0, map[string]string{"owner": "team"})
	n, _ := newTestNamespace(t, srv, nil)
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	ctx := context.Background()
	l, err := n.ListDir(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	shown := &Stat{Dir: true, Implicit: true, Known: true, Mode: syscall.S_IFDIR | 0o750, UID: 10, GID: 20}
	shown.SetMtime(time.Unix(1700000000, 0))
	current := func(context.Context) (*Stat, error) { asked++; return shown, nil }
	srv.ResetCounts()

	if err := n.ChangeDirXattr(ctx, e, "i/", current, change(t, "user.color", "blue", XattrCreate)); err != nil {
		t.Fatal(err)
	}
	if asked != 1 || srv.Count("HeadObject") != 1 || srv.Count("PutObject") != 1 || requests(srv) != 2 {
		t.Errorf("creating the marker: current asked %d times, requests %v; want once, one HEAD and one PUT", asked, srv.Counts())
	}
	_, h, err := srv.GetObject("test", "i/")
	if err != nil || h.Get("x-oss-meta-color") != "blue" || h.Get("x-oss-meta-mode") != "16872" || h.Get("x-oss-meta-uid") != "10" {
		t.Errorf("the new marker: %v, %v", h, err)
	}
	a, ok := n.Attrs.Get("i")
	if !ok || !a.Known || a.Implicit || a.Mode != syscall.S_IFDIR|0o750 || a.Full() || a.Info.Meta["color"] != "blue" {
		t.Errorf("i's cached attributes: %+v, %v", a, ok)
	}
	if l.SpeaksFor("i") {
		t.Error("the parent's listing still speaks for i")
	}
	srv.ResetCounts()
	v, err := n.DirView(ctx, "i/", false)
	if err != nil {
		t.Fatal(err)
	}
	if val, _ := viewGet(t, v, "user.color"); val != "blue" {
		t.Errorf("user.color after the change = %q", val)
	}
	wantCost(t, srv, "a view after a change", 0, 1)

	if err := n.ChangeDirXattr(ctx, e, "d/", current, change(t, "user.color", "green", 0)); err != nil {
		t.Fatal(err)
	}
	if asked != 1 || srv.Count("HeadObject") != 1 || srv.Count("CopyObject") != 1 || requests(srv) != 2 {
		t.Errorf("changing a marker: current asked %d times, requests %v; want once in all, one HEAD and one copy", asked, srv.Counts())
	}
	if _, h, err := srv.GetObject("test", "d/"); err != nil || h.Get("x-oss-meta-color") != "green" || h.Get("x-oss-meta-owner") != "team" {
		t.Errorf("the changed marker: %v, %v", h, err)
	}
	if a, ok := n.Attrs.Get("d"); !ok || !a.Known || a.Info.Meta["color"] != "green" {
		t.Errorf("d's cached attributes: %+v, %v", a, ok)
	}

	// What the directory shows cannot be had: no marker is made.
	put(t, srv, "k/x", 1, nil)
	srv.ResetCounts()
	refuse := func(context.Context) (*Stat, error) { return nil, syscall.EIO }
	if err := n.ChangeDirXattr(ctx, e, "k/", refuse, change(t, "user.color", "red", 0)); !errors.Is(err, syscall.EIO) {
		t.Errorf("with no attributes to show: %v, want EIO", err)
	}
	if srv.Count("PutObject") != 0 {
		t.Error("a marker was made without the directory's attributes")
	}
}

// TestChangeFileXattr: a file's change forgets its cached attributes, as
// does finding it gone; a refused change keeps them.
func TestChangeFileXattr(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "f.txt", 5, map[string]string{"color": "red"})
	n, _ := newTestNamespace(t, srv, nil)
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	ctx := context.Background()
	if _, err := n.HeadFile(ctx, "f.txt"); err != nil {
		t.Fatal(err)
	}
	if err := n.ChangeFileXattr(ctx, e, "f.txt", change(t, "user.color", "red", XattrCreate)); err != syscall.EEXIST {
		t.Errorf("XATTR_CREATE of an existing attribute: %v, want EEXIST", err)
	}
	if _, ok := n.Attrs.Get("f.txt"); !ok {
		t.Error("a refused change forgot the cached attributes")
	}
	if err := n.ChangeFileXattr(ctx, e, "f.txt", change(t, "user.color", "blue", 0)); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Attrs.Get("f.txt"); ok {
		t.Error("the cached attributes outlived the change")
	}
	if _, h, err := srv.GetObject("test", "f.txt"); err != nil || h.Get("x-oss-meta-color") != "blue" {
		t.Errorf("after the change: %v, %v", h, err)
	}
	if _, err := n.HeadFile(ctx, "f.txt"); err != nil {
		t.Fatal(err)
	}
	if err := srv.DeleteObject("test", "f.txt"); err != nil {
		t.Fatal(err)
	}
	if err := n.ChangeFileXattr(ctx, e, "f.txt", change(t, "user.color", "green", 0)); ossapi.KindOf(err) != ossapi.KindNotExist {
		t.Errorf("a change of a file that is gone: %v, want not found", err)
	}
	if _, ok := n.Attrs.Get("f.txt"); ok {
		t.Error("the cached attributes of a file found gone were kept")
	}
}

// TestChangeWriterFileXattr: a change of a file being written that is
// made on the object now (nothing to upload) forgets its cached
// attributes; one carried by the upload to come leaves them.
func TestChangeWriterFileXattr(t *testing.T) {
	wt := newWriterTest(t, nil)
	n, _ := newTestNamespace(t, wt.srv, nil)
	ctx := context.Background()
	put(t, wt.srv, "clean.txt", 3, map[string]string{"color": "red"})
	a, err := n.HeadFile(ctx, "clean.txt")
	if err != nil {
		t.Fatal(err)
	}
	clean, err := wt.e.NewWriter("clean.txt", a.Base(), false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clean.Ref()
	defer clean.Release()
	clean.Lock()
	err = n.ChangeWriterFileXattr(ctx, wt.e, clean, change(t, "user.shape", "round", 0))
	clean.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Attrs.Get("clean.txt"); ok {
		t.Error("the cached attributes outlived a change made on the object")
	}
	if _, h, _ := wt.srv.GetObject("test", "clean.txt"); h.Get("x-oss-meta-shape") != "round" {
		t.Errorf("the object after the change: %v", h)
	}

	w := wt.writer("new.txt", true)
	wt.write(w, []byte("data"), 0)
	n.Attrs.Put("new.txt", &Stat{Known: true, Size: 4, Mode: 0o100644})
	w.Lock()
	err = n.ChangeWriterFileXattr(ctx, wt.e, w, change(t, "user.shape", "round", 0))
	w.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Attrs.Get("new.txt"); !ok {
		t.Error("a change the upload carries forgot the cached attributes")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, h, _ := wt.srv.GetObject("test", "new.txt"); h.Get("x-oss-meta-shape") != "round" {
		t.Errorf("the upload did not carry the change: %v", h)
	}
}
