package engine

import (
	"context"
	"net/http"
	"testing"

	"github.com/ossmount/ossmount/ossapi"
)

// A server-side copy keeps the object's bytes and, with COPY, its metadata
// and headers; a rewrite in place replaces them; both are refused when the
// source is no longer the version named (If-Match).
func TestCopyAndRewriteMeta(t *testing.T) {
	srv := newTestServer(t, "test")
	e, _ := newTestEngine(t, srv, "test", t.TempDir(), nil)
	ctx := context.Background()
	h := http.Header{}
	h.Set("x-oss-meta-mode", "33188")
	h.Set("x-oss-meta-mtime", "1700000000")
	h.Set("Content-Type", "text/plain")
	srv.PutObject("test", "a.txt", []byte("hello"), h)
	info, err := e.store.Head(ctx, "a.txt", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !CarriesMtime(info) || !CarriesMtime(nil) || CarriesMtime(&ossapi.ObjectInfo{}) {
		t.Errorf("CarriesMtime: an object with x-oss-meta-mtime and this mount's uploads do, others not")
	}
	etag, err := e.CopyObject(ctx, info, "b.txt", ossapi.MetadataCopy, nil, info.Headers)
	if err != nil {
		t.Fatal(err)
	}
	got, gh, _ := srv.GetObject("test", "b.txt")
	if string(got) != "hello" || gh.Get("x-oss-meta-mtime") != "1700000000" || gh.Get("Content-Type") != "text/plain" || gh.Get("ETag") != etag {
		t.Errorf("copy: %q, mtime %q, type %q, ETag %s (said %s)", got, gh.Get("x-oss-meta-mtime"), gh.Get("Content-Type"), gh.Get("ETag"), etag)
	}
	hdr := info.Headers
	hdr.ContentType = "application/json"
	netag, err := e.RewriteMeta(ctx, "a.txt", info.Size, info.ETag, map[string]string{"mode": "33261"}, hdr)
	if err != nil {
		t.Fatal(err)
	}
	got, gh, _ = srv.GetObject("test", "a.txt")
	if string(got) != "hello" || gh.Get("x-oss-meta-mode") != "33261" || gh.Get("x-oss-meta-mtime") != "" || gh.Get("Content-Type") != "application/json" || gh.Get("ETag") != netag {
		t.Errorf("rewrite: %q, mode %q, mtime %q, type %q", got, gh.Get("x-oss-meta-mode"), gh.Get("x-oss-meta-mtime"), gh.Get("Content-Type"))
	}
	srv.PutObject("test", "b.txt", []byte("replaced"), nil)
	stale := &ossapi.ObjectInfo{Key: "b.txt", Size: 5, ETag: etag}
	if _, err := e.CopyObject(ctx, stale, "c.txt", ossapi.MetadataCopy, nil, ossapi.StdHeaders{}); ossapi.KindOf(err) != ossapi.KindPrecondition {
		t.Errorf("a copy of a replaced version: %v, want a precondition failure", err)
	}
	if _, err := e.RewriteMeta(ctx, "b.txt", 5, etag, nil, ossapi.StdHeaders{}); ossapi.KindOf(err) != ossapi.KindPrecondition {
		t.Errorf("a rewrite of a replaced version: %v, want a precondition failure", err)
	}
	if b, _, _ := srv.GetObject("test", "c.txt"); b != nil {
		t.Errorf("the refused copy made an object: %q", b)
	}
}
