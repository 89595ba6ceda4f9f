package engine

// What the namespace operations of package fs tell the namespace: a
// removal, and a directory rename's caches.

import (
	"context"
	"testing"

	"github.com/ossmount/ossmount/ossapi"
)

// TestRemoved: a name this mount removed is known absent at once (no
// request), its attributes are forgotten and the parent's listing no
// longer speaks for it; a directory's own listing goes with it.
func TestRemoved(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/f", 1, nil)
	put(t, srv, "d/sub/x", 1, nil)
	n, _ := newTestNamespace(t, srv, func(c *NamespaceConfig) { c.FastListing = true })
	ctx := context.Background()
	l, err := n.ListDir(ctx, "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.ListDir(ctx, "d/sub/", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.HeadFile(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	n.Removed("d/f", false)
	n.Removed("d/sub", true)
	if _, ok := n.Attrs.Get("d/f"); ok {
		t.Error("d/f: attributes kept after its removal")
	}
	if l.SpeaksFor("f") || l.SpeaksFor("sub") {
		t.Error("the parent's listing still speaks for removed names")
	}
	if _, _, ok := n.Lists.Peek("d/sub/"); ok {
		t.Error("a removed directory's listing is kept")
	}
	srv.ResetCounts()
	for _, name := range []string{"f", "sub"} {
		if _, err := n.Lookup(ctx, "d/", name); !isNotExist(err) {
			t.Errorf("%s after its removal: %v, want ENOENT", name, err)
		}
	}
	wantCost(t, srv, "lookups of removed names", 0, 0)
}

// TestTreeCaches: a directory rename forgets what was cached under its
// source and destination, and carries what was known of the directory
// and of the files whose copies keep their metadata to their new names.
func TestTreeCaches(t *testing.T) {
	srv := newTestServer(t)
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	put(t, srv, "a/f", 1, map[string]string{"mtime": "1700000000"})
	put(t, srv, "a/g", 1, nil)
	put(t, srv, "b/old", 1, nil)
	root, err := n.ListDir(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := n.Lookup(ctx, "", "a")
	if err != nil || !dir.Implicit {
		t.Fatalf("a: %+v, %v", dir, err)
	}
	f, err := n.HeadFile(ctx, "a/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.HeadFile(ctx, "a/g"); err != nil { // no mtime: the copy's Last-Modified is its mtime
		t.Fatal(err)
	}
	if _, err := n.ListDir(ctx, "a/", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.ListDir(ctx, "b/", nil); err != nil {
		t.Fatal(err)
	}
	n.Neg.Put("b/gone", struct{}{})

	c := n.TreeCaches("a/", "b/")
	objs := []ossapi.ObjectInfo{{Key: "a/f"}, {Key: "a/g"}}
	c.Carry(objs, false, map[string]string{"a/f": `"new-f"`, "a/g": `"new-g"`})
	for _, k := range []string{"a/", "b/"} {
		if _, _, ok := n.Lists.Peek(k); ok {
			t.Errorf("listing %q kept", k)
		}
	}
	if _, ok := n.Neg.Get("b/gone"); ok {
		t.Error("a negative entry under the destination kept")
	}
	if root.SpeaksFor("a") || root.SpeaksFor("b") {
		t.Error("the parent's listing still speaks for the source or the destination")
	}
	for _, k := range []string{"a", "a/f", "a/g", "b/g"} {
		if _, _, ok := n.Attrs.Peek(k); ok {
			t.Errorf("%s: attributes kept", k)
		}
	}
	if a, _, ok := n.Attrs.Peek("b"); !ok || a != dir {
		t.Errorf("b: %+v, want a's attributes carried", a)
	}
	if a, _, ok := n.Attrs.Peek("b/f"); !ok || a.ETag != `"new-f"` || a.Mode != f.Mode || a.Mtime() != f.Mtime() {
		t.Errorf("b/f: %+v, want a/f's attributes with the copy's ETag", a)
	}

	// Forget alone (a failed rename) keeps nothing.
	n.Attrs.Put("a/f", f)
	n.TreeCaches("a/", "b/").Forget()
	for _, k := range []string{"a/f", "b", "b/f"} {
		if _, _, ok := n.Attrs.Peek(k); ok {
			t.Errorf("%s: attributes kept after Forget", k)
		}
	}
}

// TestMade: what this mount made is what the namespace answers at once,
// however its parent's listing or the negative cache had it.
func TestMade(t *testing.T) {
	srv := newTestServer(t)
	put(t, srv, "d/a", 1, nil)
	n, _ := newTestNamespace(t, srv, nil)
	ctx := context.Background()
	l, err := n.ListDir(ctx, "d/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Lookup(ctx, "d/", "new"); !isNotExist(err) {
		t.Fatalf("new before it is made: %v", err)
	}
	a := &Stat{Known: true, Size: 3, ETag: `"e"`, Mode: 0o100600}
	n.Made("d/new", a)
	if l.SpeaksFor("new") {
		t.Error("the listing still speaks for a name this mount made")
	}
	srv.ResetCounts()
	if got, err := n.Lookup(ctx, "d/", "new"); err != nil || got != a {
		t.Errorf("new after Made: %+v, %v; want what was made", got, err)
	}
	wantCost(t, srv, "a lookup of what this mount made", 0, 0)
}
