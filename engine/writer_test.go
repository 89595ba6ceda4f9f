package engine

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// Streamed parts in flight cannot leave the staging file: with a small
// disk_budget fewer than upload_concurrency are sent at once, so that a
// write past them finds room (with 8 parts of 1 MiB in flight a 6 MiB
// budget failed writes with ENOSPC).
func TestStreamInFlightWithinDiskBudget(t *testing.T) {
	for _, c := range []struct {
		budget, part int64
		conc, want   int
	}{
		{10 << 30, 8 << 20, 8, 8},
		{6 << 20, 1 << 20, 8, 3},
		{6 << 20, 8 << 20, 8, 1},
		{64 << 20, 8 << 20, 4, 4},
	} {
		w := &Writer{e: &Engine{cfg: Config{DiskBudget: c.budget, UploadConcurrency: c.conc}}}
		if got := w.inflightLimit(c.part); got != c.want {
			t.Errorf("disk_budget %d, parts of %d, upload_concurrency %d: %d in flight, want %d", c.budget, c.part, c.conc, got, c.want)
		}
	}
}

// writerTest is an engine on bucket "test" of its own server, with 1 MiB
// upload parts, and what its writers' uploads reported.
type writerTest struct {
	t   *testing.T
	srv *osstest.Server
	e   *Engine
	log *logBuf

	mu       sync.Mutex
	uploaded map[string]Attr // GUARDED_BY(mu)
}

func newWriterTest(t *testing.T, cfg func(*Config)) *writerTest {
	t.Helper()
	srv := newTestServer(t, "test")
	e, log := newTestEngine(t, srv, "test", t.TempDir(), func(c *Config) {
		c.FileMode, c.UID, c.GID = 0o644, 1000, 1000
		c.UploadPartSize, c.UploadConcurrency = 1<<20, 4
		if cfg != nil {
			cfg(c)
		}
	})
	return &writerTest{t: t, srv: srv, e: e, log: log, uploaded: map[string]Attr{}}
}

// writer opens key for writing (base: the object there, if any) with one
// reference, among the open writers.
func (wt *writerTest) writer(key string, truncate bool) *Writer {
	wt.t.Helper()
	var base *Base
	if h, size, err := wt.srv.StatObject("test", key); err == nil {
		base = &Base{Attr: Attr{Size: size, ETag: h.Get("ETag"), Mode: 0o100644}}
	}
	w, err := wt.e.NewWriter(key, base, truncate, nil, func(key string, a Attr) {
		wt.mu.Lock()
		wt.uploaded[key] = a
		wt.mu.Unlock()
	})
	if err != nil {
		wt.t.Fatal(err)
	}
	w.Ref()
	wt.e.Track(w, true)
	wt.t.Cleanup(func() {
		if w.Release() {
			wt.e.Track(w, false)
		}
	})
	return w
}

func (wt *writerTest) write(w *Writer, data []byte, off int64) {
	wt.t.Helper()
	for len(data) > 0 {
		n := min(len(data), 128<<10)
		if m, err := w.Write(context.Background(), data[:n], off, false); err != nil || int(m) != n {
			wt.t.Fatalf("write at %d: %d, %v", off, m, err)
		}
		data, off = data[n:], off+int64(n)
	}
}

// overwrite puts old at key, then opens key for writing, truncated, and
// writes data: a file being written over an object.
func (wt *writerTest) overwrite(key, old, data string) *Writer {
	wt.t.Helper()
	if err := wt.srv.PutObject("test", key, []byte(old), nil); err != nil {
		wt.t.Fatal(err)
	}
	w := wt.writer(key, true)
	wt.write(w, []byte(data), 0)
	return w
}

// keys lists the bucket's keys, space-separated.
func (wt *writerTest) keys() string { return strings.Join(wt.srv.Keys("test"), " ") }

func (wt *writerTest) object(key string) []byte {
	b, _, _ := wt.srv.GetObject("test", key)
	return b
}

// A new file is uploaded at its flush, not before: small with one PUT,
// larger streamed as parts while written and completed at the flush; what
// each upload made is reported, with the mount's owner and mode.
func TestWriterNewFiles(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		key  string
		size int
		op   string
	}{{"small.txt", 1000, "PutObject"}, {"big.bin", 5<<20 + 77, "CompleteMultipartUpload"}} {
		data := randData(c.size, uint64(c.size))
		w := wt.writer(c.key, false)
		wt.write(w, data, 0)
		if b := wt.object(c.key); b != nil {
			t.Fatalf("%s: the object appeared before the flush", c.key)
		}
		if got := make([]byte, 100); true {
			if n, err := w.ReadAt(ctx, got, int64(c.size-100)); err != nil || n != 100 || !bytes.Equal(got, data[c.size-100:]) {
				t.Errorf("%s: read back before the flush: %d, %v", c.key, n, err)
			}
		}
		before := wt.srv.Count(c.op)
		if err := w.Flush(ctx); err != nil {
			t.Fatalf("%s: flush: %v", c.key, err)
		}
		if !bytes.Equal(wt.object(c.key), data) || wt.srv.Count(c.op) != before+1 {
			t.Errorf("%s: object after flush: %d bytes, %d %s", c.key, len(wt.object(c.key)), wt.srv.Count(c.op)-before, c.op)
		}
		wt.mu.Lock()
		a, ok := wt.uploaded[c.key]
		wt.mu.Unlock()
		_, h, _ := wt.srv.GetObject("test", c.key)
		if !ok || a.Size != int64(c.size) || a.ETag != h.Get("ETag") || a.Mode != syscall.S_IFREG|0o644 || a.UID != 1000 {
			t.Errorf("%s: reported upload %+v (ok %v), ETag %s", c.key, a, ok, h.Get("ETag"))
		}
		if !w.IsClean() || w.Untouched() {
			t.Errorf("%s: after the flush: clean %v, untouched %v", c.key, w.IsClean(), w.Untouched())
		}
	}
	if n := wt.srv.Count("UploadPart"); n < 5 {
		t.Errorf("the 5 MiB file was not streamed in 1 MiB parts: %d parts", n)
	}
	if inc, _ := wt.e.MultipartCounts(); inc != 0 {
		t.Errorf("%d multipart uploads left", inc)
	}
}

// An overwrite of a large object sends only what changed: the unchanged
// runs are copied on the server (UploadPartCopy), the base's bytes are
// fetched only where a write covers part of a chunk, and a truncate cuts.
func TestWriterOverwriteCopiesUnchanged(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	old := randData(12<<20, 3)
	wt.srv.PutObject("test", "o.bin", old, nil)
	w := wt.writer("o.bin", false)
	want := append([]byte(nil), old...)
	copy(want[5<<20+10:], "CHANGED")
	wt.write(w, []byte("CHANGED"), 5<<20+10)
	if err := w.Truncate(ctx, 11<<20+5); err != nil {
		t.Fatal(err)
	}
	want = want[:11<<20+5]
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wt.object("o.bin"); !bytes.Equal(got, want) {
		t.Fatalf("object after the overwrite: %d bytes, differs", len(got))
	}
	if n := wt.srv.Count("UploadPartCopy"); n < 2 {
		t.Errorf("%d server-side copies of unchanged runs, want at least 2", n)
	}
	if n := wt.srv.Count("UploadPart"); n > 2 {
		t.Errorf("%d parts uploaded for a 7-byte change and a cut end, want at most 2", n)
	}
}

// A failed upload is sticky and keeps the data: the flush returns an
// UploadError, later writes and flushes fail (EIO), the object is
// untouched, and the staging file stays in cache_dir, described.
func TestWriterFailureKept(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	w := wt.overwrite("f.txt", "old", "new data")
	wt.srv.AddFault(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"})
	err := w.Flush(ctx)
	wt.srv.ClearFaults()
	var uerr *UploadError
	if !errors.As(err, &uerr) || ossapi.KindOf(uerr.Err) != ossapi.KindPermission {
		t.Fatalf("flush with a refused PUT: %v, want an UploadError of the refusal", err)
	}
	if _, err := w.Write(ctx, []byte("x"), 0, false); err != syscall.EIO {
		t.Errorf("write after a failed upload: %v, want EIO", err)
	}
	if err := w.Flush(ctx); err != syscall.EIO {
		t.Errorf("flush after a failed upload: %v, want EIO", err)
	}
	if got := wt.object("f.txt"); string(got) != "old" {
		t.Errorf("the failed upload changed the object: %q", got)
	}
	kept := ListKept(wt.e.staging.base, wt.e.Staging().ID())
	if len(kept) != 1 || kept[0].Key != "f.txt" || kept[0].Size != 8 {
		t.Fatalf("kept files: %+v", kept)
	}
	if b, err := os.ReadFile(kept[0].Path); err != nil || string(b) != "new data" {
		t.Errorf("kept data: %q, %v", b, err)
	}
	if !strings.Contains(wt.log.String(), "upload failed; the data is kept") {
		t.Errorf("no log of the kept data:\n%s", wt.log.String())
	}
	if _, failed, _ := wt.e.Uploads(); failed != 1 {
		t.Errorf("%d failed uploads counted, want 1", failed)
	}
}

// A file unlinked while it streams is never uploaded and its parts are
// aborted; a file renamed while it streams is uploaded at its new key
// only, its old key's upload aborted.
func TestWriterUnlinkAndRename(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	data := randData(4<<20, 5)
	gone := wt.writer("gone.bin", false)
	wt.write(gone, data, 0)
	moved := wt.writer("a.bin", false)
	wt.write(moved, data, 0)
	if ids := wt.srv.ListMultipartUploadIDs("test"); len(ids) != 2 {
		t.Fatalf("want two streamed uploads, have %v", ids)
	}
	for _, w := range LockOrder(moved, gone, moved) {
		w.Lock()
	}
	gone.unlinkLocked()
	if err := moved.renameReadyLocked("a.bin", "b.bin"); err != nil {
		t.Fatal(err)
	}
	moved.followRenameLocked("b.bin", "", "")
	gone.Unlock()
	moved.Unlock()
	if err := gone.Flush(ctx); err != nil {
		t.Errorf("flush of an unlinked file: %v", err)
	}
	wt.write(moved, data[:1<<20], 4<<20)
	if err := moved.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if wt.object("gone.bin") != nil || wt.object("a.bin") != nil {
		t.Errorf("an object appeared at the unlinked file's key or at the old name")
	}
	if got := wt.object("b.bin"); !bytes.Equal(got, append(append([]byte(nil), data...), data[:1<<20]...)) {
		t.Errorf("the renamed file at its new key: %d bytes, differs", len(got))
	}
	if ids := wt.srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
	if moved.Key() != "b.bin" {
		t.Errorf("the writer's key after the rename: %s", moved.Key())
	}
}

// FlushAll uploads every open file with changes and counts the failures
// (not the writers that failed earlier).
func TestWriterFlushAll(t *testing.T) {
	wt := newWriterTest(t, nil)
	a, b := wt.writer("a.txt", false), wt.writer("b.txt", false)
	wt.write(a, []byte("a"), 0)
	wt.write(b, []byte("b"), 0)
	wt.srv.AddFault(osstest.Fault{Op: "PutObject", Key: "b.txt", Status: 403, Code: "AccessDenied"})
	if n := wt.e.FlushAll(context.Background()); n != 1 {
		t.Errorf("FlushAll: %d failures, want 1", n)
	}
	if n := wt.e.FlushAll(context.Background()); n != 0 {
		t.Errorf("FlushAll again: %d failures, want 0 (b failed earlier)", n)
	}
	if string(wt.object("a.txt")) != "a" || wt.object("b.txt") != nil {
		t.Errorf("objects: a %q, b %q", wt.object("a.txt"), wt.object("b.txt"))
	}
}

// Past disk_budget the oldest parts already sent leave the staging file:
// reading or rewriting them fails with ENODATA until the file is complete
// (a rename is refused, EBUSY), and the flush completes the whole file.
func TestWriterSentPartsBeyondDiskBudget(t *testing.T) {
	wt := newWriterTest(t, func(c *Config) { c.DiskBudget = 6 << 20 })
	ctx := context.Background()
	data := randData(12<<20, 14)
	w := wt.writer("big.bin", false)
	wt.write(w, data, 0)
	if _, err := w.ReadAt(ctx, make([]byte, 4096), 0); err != syscall.ENODATA {
		t.Errorf("read of a dropped part: %v, want ENODATA", err)
	}
	if _, err := w.Write(ctx, []byte("late"), 10, false); err != syscall.ENODATA {
		t.Errorf("write into a dropped part: %v, want ENODATA", err)
	}
	if err := w.Truncate(ctx, 100); err != syscall.ENODATA {
		t.Errorf("truncate into a dropped part: %v, want ENODATA", err)
	}
	w.Lock()
	err := w.renameReadyLocked("big.bin", "other.bin")
	w.Unlock()
	if err != syscall.EBUSY {
		t.Errorf("rename of a file whose parts only the upload holds: %v, want EBUSY", err)
	}
	got := make([]byte, 4096)
	if n, err := w.ReadAt(ctx, got, 11<<20); err != nil || n != 4096 || !bytes.Equal(got, data[11<<20:11<<20+4096]) {
		t.Errorf("read of a recent range: %d, %v", n, err)
	}
	if !strings.Contains(wt.log.String(), "disk_budget reached") {
		t.Errorf("no log line about the dropped parts:\n%s", wt.log.String())
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("flush: %v\n%s", err, wt.log.String())
	}
	if got := wt.object("big.bin"); !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes, want the file written", len(got))
	}
}

// Changes to a streamed file before its frontier send the parts again; a
// truncate cuts the parts past it; a chmod while streaming is applied
// after the completion (multipart metadata is fixed at initiation); a
// write by an unprivileged caller clears set-user-ID.
func TestWriterStreamChanges(t *testing.T) {
	wt := newWriterTest(t, nil)
	ctx := context.Background()
	data := randData(6<<20, 21)
	w := wt.writer("s.bin", false)
	mode := uint32(0o4755)
	w.SetMeta(AttrChange{Mode: &mode})
	wt.write(w, data, 0)
	// The parts go in the background: wait for them.
	if !waitFor(30*time.Second, func() bool { return wt.srv.Count("UploadPart") >= 4 }) {
		t.Fatalf("not streamed: %d parts", wt.srv.Count("UploadPart"))
	}
	copy(data[1<<20+5:], "rewritten")
	wt.write(w, []byte("rewritten"), 1<<20+5)
	if err := w.Truncate(ctx, 4<<20+3); err != nil {
		t.Fatal(err)
	}
	data = data[:4<<20+3]
	if a := w.Attr(); a.Mode != syscall.S_IFREG|0o4755 || a.Size != 4<<20+3 {
		t.Errorf("attributes while written: mode %o, size %d", a.Mode, a.Size)
	}
	if _, err := w.Write(ctx, data[:1], 0, true); err != nil {
		t.Fatal(err)
	}
	if a := w.Attr(); a.Mode != syscall.S_IFREG|0o755 {
		t.Errorf("mode after an unprivileged write: %o, want set-user-ID cleared", a.Mode)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, h, _ := wt.srv.GetObject("test", "s.bin")
	if !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes, differs", len(got))
	}
	if m := h.Get("x-oss-meta-mode"); m != "33261" {
		t.Errorf("x-oss-meta-mode %q, want 33261 (0100755)", m)
	}
	if n := wt.srv.Count("CopyObject"); n != 1 {
		t.Errorf("%d self-copies for the metadata changed while streaming, want 1", n)
	}
}

// Under its lock a writer shows fs the metadata it will upload, takes
// changes to it, and takes the object a change made in place.
func TestWriterMetaUnderLock(t *testing.T) {
	wt := newWriterTest(t, nil)
	h := http.Header{}
	h.Set("x-oss-meta-color", "red")
	wt.srv.PutObject("test", "m.txt", []byte("abc"), h)
	info, err := wt.e.store.Head(context.Background(), "m.txt", ossapi.HeadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wt.e.NewWriter("m.txt", &Base{Attr: Attr{Size: 3, ETag: info.ETag, Mode: 0o100600, UID: 7}, Info: info}, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Ref()
	defer w.Release()
	w.Lock()
	defer w.Unlock()
	if !w.cleanLocked() || w.uploadPendingLocked() || w.DirtyLocked() || w.publishedLocked() || w.FailedLocked() {
		t.Errorf("a writer opened over an object, untouched: clean %v, pending %v", w.cleanLocked(), w.uploadPendingLocked())
	}
	meta, hdr := w.uploadMetaLocked()
	if meta["color"] != "red" || w.keyLocked() != "m.txt" || w.baseETagLocked() != info.ETag {
		t.Errorf("upload metadata %v, key %s, base %s", meta, w.keyLocked(), w.baseETagLocked())
	}
	meta["color"] = "blue"
	if m, _ := w.uploadMetaLocked(); m["color"] != "red" {
		t.Errorf("UploadMetaLocked returned the writer's own map")
	}
	w.setUploadMetaLocked(meta, hdr)
	if !w.uploadPendingLocked() || !w.DirtyLocked() {
		t.Errorf("a metadata change is not pending")
	}
	w.rebaseMetaLocked(map[string]string{"color": "green"}, hdr, `"new"`)
	if m, _ := w.uploadMetaLocked(); m["color"] != "green" || w.baseETagLocked() != `"new"` {
		t.Errorf("after RebaseMetaLocked: %v, %s", m, w.baseETagLocked())
	}
	mt := time.Unix(1700000000, 0)
	w.rebaseLocked(Base{Attr: Attr{ETag: `"newer"`, Mode: 0o100640, UID: 8, GID: 9, Mtime: mt}},
		map[string]string{"mode": "1", "uid": "2", "color": "pink"}, true)
	a, ok := w.liveAttrLocked()
	m, _ := w.uploadMetaLocked()
	if !ok || a.Mode != 0o100640 || a.UID != 8 || a.GID != 9 || !a.Mtime.Equal(mt) || a.ETag != `"newer"` || m["color"] != "pink" || m["mode"] != "" {
		t.Errorf("after RebaseLocked: %+v (live %v), meta %v", a, ok, m)
	}
	w.unlinkLocked()
	if _, ok := w.liveAttrLocked(); ok {
		t.Errorf("an unlinked writer's attributes are live")
	}
}

// ossfs's metadata as written and read back, and what chmod, chown and
// utimes change.
func TestMeta(t *testing.T) {
	for _, mt := range []time.Time{time.Unix(1700000000, 0), time.Unix(1700000000, 5), time.Unix(1, 123456789)} {
		if got, ok := ParseMtime(FormatMtime(mt)); !ok || !got.Equal(mt) {
			t.Errorf("mtime %v written as %q, read back as %v", mt, FormatMtime(mt), got)
		}
	}
	if got, ok := ParseMtime("1700000000.5"); !ok || got.Nanosecond() != 500000000 {
		t.Errorf("ParseMtime(1700000000.5) = %v", got)
	}
	for _, bad := range []string{"", "x", "1.x"} {
		if _, ok := ParseMtime(bad); ok {
			t.Errorf("ParseMtime(%q) accepted", bad)
		}
	}
	m := OssfsMeta(0o100644, 1, 2, time.Unix(3, 0))
	if m["mode"] != "33188" || m["uid"] != "1" || m["gid"] != "2" || m["mtime"] != "3" {
		t.Errorf("OssfsMeta: %v", m)
	}
	if !(AttrChange{}).None() {
		t.Errorf("an empty change changes something")
	}
	perm, uid := uint32(0o600), uint32(5)
	mode, u, g, mtime := uint32(0o100755), uint32(1), uint32(1), time.Time{}
	c := AttrChange{Mode: &perm, UID: &uid}
	c.Apply(&mode, &u, &g, &mtime)
	if c.None() || mode != 0o100600 || u != 5 || g != 1 || !mtime.IsZero() {
		t.Errorf("chmod 600, chown 5: mode %o, uid %d, gid %d", mode, u, g)
	}
	if m, ok := SUIDKilled(0o6755); !ok || m != 0o755 {
		t.Errorf("SUIDKilled(6755) = %o, %v", m, ok)
	}
	if m, ok := SUIDKilled(0o2745); ok || m != 0o2745 {
		t.Errorf("SUIDKilled(2745) = %o, %v: set-group-ID stays on a file not group-executable", m, ok)
	}
}
