package fs

import (
	"bytes"
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// An open takes what OSS said of the file less than open_fresh_ttl ago (a
// listing's entry, a lookup's HEAD) as its current version: no HEAD of its
// own, one GET for the read. Exact mode trusts a listing's entry only once
// verified; the HEAD of a lookup counts. With open_fresh_ttl=0 every open
// asks.
func TestOpenTrustsFreshAnswer(t *testing.T) {
	for _, c := range []struct {
		name      string
		cfg       func(*Config)
		listed    bool  // the directory was listed before the lookup
		openHeads int64 // HEADs of the open + read alone
	}{
		{"lookup's HEAD", nil, false, 0},
		{"listing, exact (the lookup verifies)", nil, true, 0},
		{"listing, fast_listing", func(c *Config) { c.FastListing = true }, true, 0},
		{"open_fresh_ttl=0", func(c *Config) { c.OpenFreshTTL = -1 }, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tf := newTestFS(t, nil, c.cfg)
			data := randData(100<<10, 3)
			tf.srv.PutObject("test", "d/f", data, nil)
			dir := tf.mkdirLookup("d")
			if c.listed {
				if _, errno := tf.fs.listDir(context.Background(), "d/", nil); errno != 0 {
					t.Fatal(errno)
				}
			}
			e, errno := tf.lookupIn(dir, "f")
			if errno != 0 {
				t.Fatal(errno)
			}
			tf.srv.ResetCounts()
			h := tf.openNode(e.NodeId, syscall.O_RDONLY)
			if got := h.mustRead(0, 200<<10); !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, differs", len(got))
			}
			h.close()
			if n := tf.srv.Count("HeadObject"); n != c.openHeads {
				t.Errorf("open + read: %d HEADs, want %d", n, c.openHeads)
			}
			if n := tf.srv.Count("GetObject"); n != 1 {
				t.Errorf("open + read: %d GETs, want 1", n)
			}
		})
	}
}

// A handle opened on a listing's ETag of an object replaced since (within
// open_fresh_ttl) reads the current version, whole, as if the open had
// asked: its first read finds the old version gone (If-Match) before it
// handed out a byte, and moves to the new one.
func TestOpenTrustedVersionReplaced(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.FastListing = true })
	old, nw := randData(300<<10, 4), randData(200<<10, 5)
	tf.srv.PutObject("test", "d/f", old, nil)
	tf.srv.PutObject("test", "d/g", randData(8<<20, 6), nil)
	dir := tf.mkdirLookup("d")
	if _, errno := tf.fs.listDir(context.Background(), "d/", nil); errno != 0 {
		t.Fatal(errno)
	}
	e, errno := tf.lookupIn(dir, "f")
	if errno != 0 || e.Attr.Size != uint64(len(old)) {
		t.Fatalf("lookup: %v, size %d", errno, e.Attr.Size)
	}
	tf.srv.PutObject("test", "d/f", nw, nil)
	tf.srv.ResetCounts()
	h := tf.openNode(e.NodeId, syscall.O_RDONLY)
	if tf.srv.Count("HeadObject") != 0 {
		t.Fatal("the open asked OSS: the listing was fresh")
	}
	got := h.mustRead(0, 512<<10)
	if !bytes.Equal(got, nw) {
		t.Fatalf("read %d bytes: want the new version's %d (old: %v)", len(got), len(nw), bytes.Equal(got, old))
	}
	h.close()
	// Once a byte was handed out, a replacement fails the reads (ESTALE),
	// never mixes versions.
	e, errno = tf.lookupIn(dir, "g")
	if errno != 0 {
		t.Fatal(errno)
	}
	h = tf.openNode(e.NodeId, syscall.O_RDONLY)
	h.mustRead(0, 4096)
	tf.srv.PutObject("test", "d/g", randData(8<<20, 7), nil)
	if _, errno := h.read(6<<20, 4096); errno != syscall.ESTALE {
		t.Errorf("read after the object was replaced under a handle that read: %v, want ESTALE", errno)
	}
	h.close()
}

// With the mount checking permissions, an open by another user takes the
// file's exact attributes: a listing's guess (fast_listing) is verified
// with a HEAD first, however fresh.
func TestOpenChecksExactAttributes(t *testing.T) {
	tf := newTestFS(t, nil, func(c *Config) { c.FastListing = true; c.CheckPermissions = true })
	tf.srv.PutObject("test", "d/f", []byte("secret"), hdr("x-oss-meta-mode", "33152", "x-oss-meta-uid", "0", "x-oss-meta-gid", "0")) // 0100600
	dir := tf.mkdirLookup("d")
	if _, errno := tf.fs.listDir(context.Background(), "d/", nil); errno != 0 {
		t.Fatal(errno)
	}
	e, errno := tf.lookupIn(dir, "f")
	if errno != 0 {
		t.Fatal(errno)
	}
	tf.srv.ResetCounts()
	var out fuse.OpenOut
	in := &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: e.NodeId, Caller: fuse.Caller{Owner: fuse.Owner{Uid: 1000, Gid: 1000}, Pid: 1}}, Flags: syscall.O_RDONLY}
	if st := tf.raw.Open(nil, in, &out); st != fuse.Status(syscall.EACCES) {
		t.Errorf("open of a 0600 root file by uid 1000: %v, want EACCES", st)
	}
	if n := tf.srv.Count("HeadObject"); n != 1 {
		t.Errorf("%d HEADs: want 1 (the guess verified before the decision)", n)
	}
}

// mkdirLookup looks up the top-level directory name (made by the test on
// the server) and returns its node.
func (tf *testFS) mkdirLookup(name string) uint64 {
	tf.t.Helper()
	e, errno := tf.lookupIn(fuse.FUSE_ROOT_ID, name)
	if errno != 0 || e.NodeId == 0 {
		tf.t.Fatalf("lookup %s: %v", name, errno)
	}
	return e.NodeId
}

// openNode opens a looked-up node as root.
func (tf *testFS) openNode(node uint64, flags uint32) *handle {
	tf.t.Helper()
	var out fuse.OpenOut
	if st := tf.raw.Open(nil, &fuse.OpenIn{InHeader: header(node), Flags: flags}, &out); st != fuse.OK {
		tf.t.Fatalf("open: %v", st)
	}
	return &handle{tf: tf, node: node, fh: out.Fh}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// staleOpens forgets what it no longer needs: a key found stale more than
// a second ago is dropped when another is noted (the package-level map it
// replaces kept every key ever found stale, for the life of the process).
func TestStaleOpensPruned(t *testing.T) {
	var s staleOpens
	if s.again("a") {
		t.Fatal("first stale open of a: again")
	}
	if !s.again("a") {
		t.Fatal("second stale open of a within a second: not again")
	}
	if s.again("a") {
		t.Fatal("third stale open of a: again (the second should have forgotten it)")
	}
	s.mu.Lock()
	s.seen["old"] = time.Now().Add(-2 * time.Second)
	s.mu.Unlock()
	s.again("b")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen["old"]; ok {
		t.Error("a key found stale 2 s ago is still held after another was noted")
	}
	if len(s.seen) != 2 { // "a" (noted again by the third call) and "b"
		t.Errorf("held %d keys, want 2: %v", len(s.seen), s.seen)
	}
}
