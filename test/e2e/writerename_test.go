package e2e

// Issue 14 end to end, renames while writing: a file renamed (or whose
// directory is renamed) while it is written publishes nothing before its
// close. A new file only changes its name; an object being overwritten
// moves to the new name intact; the close puts the whole file at the new
// name.

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// noObjects fails the test when srv's bucket "test" holds any of keys.
func noObjects(t *testing.T, srv *osstest.Server, when string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if b, _, err := srv.GetObject("test", k); err == nil {
			t.Errorf("%s: an object at %s (%d bytes)", when, k, len(b))
		}
	}
}

// hasObject fails the test unless srv's bucket "test" holds want at key.
func hasObject(t *testing.T, srv *osstest.Server, when, key string, want []byte) {
	t.Helper()
	if b, _, err := srv.GetObject("test", key); err != nil || !bytes.Equal(b, want) {
		t.Errorf("%s: %s is %d bytes (%v), want %d bytes", when, key, len(b), err, len(want))
	}
}

// writeHalf opens path with flags and writes data's first half through a
// write-only descriptor (straight to the mount), waiting until parts of it
// were uploaded (the file streams).
func writeHalf(t *testing.T, srv *osstest.Server, path string, flags int, data []byte) *os.File {
	t.Helper()
	parts := srv.Count("UploadPart")
	f, err := os.OpenFile(path, os.O_WRONLY|flags, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	if !waitFor(60*time.Second, func() bool { return srv.Count("UploadPart") >= parts+4 }) {
		t.Fatalf("%s did not stream: %v", path, srv.Counts())
	}
	return f
}

// finish writes rest (what is left of the file) and closes f.
func finish(t *testing.T, f *os.File, rest []byte) {
	t.Helper()
	if _, err := f.Write(rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// A file renamed while written: a new one has no object at either name
// until its close (and is found, and read, under its new name meanwhile);
// an object being overwritten moves to the new name intact. The close puts
// the whole file at the new name.
func TestSafeRenameWhileWriting(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")

	// A new file.
	data := genBytes(31, 24<<20)
	f := writeHalf(t, srv, m.path("x.tmp"), os.O_CREATE|os.O_TRUNC, data)
	if err := os.Rename(m.path("x.tmp"), m.path("x.bin")); err != nil {
		t.Fatalf("rename: %v", err)
	}
	noObjects(t, srv, "after the rename", "x.tmp", "x.bin")
	if st, err := os.Stat(m.path("x.bin")); err != nil || st.Size() != int64(len(data)/2) {
		t.Errorf("stat of the new name: %v, %v; want %d bytes", st, err, len(data)/2)
	}
	if _, err := os.Stat(m.path("x.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the old name: %v, want ENOENT", err)
	}
	if r, err := os.Open(m.path("x.bin")); err != nil {
		t.Errorf("open of the new name: %v", err)
	} else {
		got := make([]byte, 4096)
		if _, err := r.ReadAt(got, 5<<20); err != nil || !bytes.Equal(got, data[5<<20:5<<20+4096]) {
			t.Errorf("read under the new name: %v", err)
		}
		r.Close()
	}
	if _, err := f.Write(data[len(data)/2 : len(data)*3/4]); err != nil {
		t.Fatal(err)
	}
	noObjects(t, srv, "before close", "x.tmp", "x.bin")
	finish(t, f, data[len(data)*3/4:])
	hasObject(t, srv, "after close", "x.bin", data)
	noObjects(t, srv, "after close", "x.tmp")

	// An object being overwritten (O_TRUNC).
	old := genBytes(32, 20<<20)
	srv.PutObject("test", "o.bin", old, nil)
	data = genBytes(33, 24<<20)
	f = writeHalf(t, srv, m.path("o.bin"), os.O_TRUNC, data)
	if err := os.Rename(m.path("o.bin"), m.path("moved.bin")); err != nil {
		t.Fatalf("rename: %v", err)
	}
	noObjects(t, srv, "after the rename", "o.bin")
	hasObject(t, srv, "after the rename (the old object, intact)", "moved.bin", old)
	if st, err := os.Stat(m.path("moved.bin")); err != nil || st.Size() != int64(len(data)/2) {
		t.Errorf("stat of the new name: %v, %v; want %d bytes", st, err, len(data)/2)
	}
	finish(t, f, data[len(data)/2:])
	hasObject(t, srv, "after close", "moved.bin", data)
	noObjects(t, srv, "after close", "o.bin")
	if n := srv.Count("CompleteMultipartUpload"); n != 2 {
		t.Errorf("%d completions, want 2 (one per close)", n)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// A directory renamed above files being written: a new file and an
// overwritten object follow to the new names without publishing; the
// object moves with the directory, intact, until the close puts the file.
func TestSafeRenameDirWhileWriting(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	old := genBytes(34, 10<<20)
	srv.PutObject("test", "d/b.bin", old, nil)
	a := genBytes(35, 24<<20)
	b := genBytes(36, 16<<20)
	fa := writeHalf(t, srv, m.path("d", "a.bin"), os.O_CREATE|os.O_TRUNC, a)
	fb := writeHalf(t, srv, m.path("d", "b.bin"), os.O_TRUNC, b)
	if err := os.Rename(m.path("d"), m.path("e")); err != nil {
		t.Fatalf("rename of the directory: %v", err)
	}
	for _, when := range []string{"after the rename", "before close"} {
		noObjects(t, srv, when, "d/a.bin", "d/b.bin", "e/a.bin")
		hasObject(t, srv, when+" (the old object, intact)", "e/b.bin", old)
		if when == "after the rename" {
			if st, err := os.Stat(m.path("e", "a.bin")); err != nil || st.Size() != int64(len(a)/2) {
				t.Errorf("stat of the new name: %v, %v; want %d bytes", st, err, len(a)/2)
			}
			if _, err := fa.Write(a[len(a)/2 : len(a)*3/4]); err != nil {
				t.Fatal(err)
			}
		}
	}
	finish(t, fa, a[len(a)*3/4:])
	finish(t, fb, b[len(b)/2:])
	hasObject(t, srv, "after close", "e/a.bin", a)
	hasObject(t, srv, "after close", "e/b.bin", b)
	noObjects(t, srv, "after close", "d/a.bin", "d/b.bin")
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}
}

// Parts already sent and dropped from cache_dir (disk_budget) exist only
// in the upload at the old key: a rename of the file or its directory is
// refused with EBUSY, nothing moves, and the close completes the file.
func TestSafeRenameRefusedPastDiskBudget(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M,disk_budget=6M")
	if err := os.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := genBytes(37, 16<<20)
	f := writeHalf(t, srv, m.path("d", "big.bin"), os.O_CREATE|os.O_TRUNC, data)
	if _, err := f.Write(data[len(data)/2 : len(data)*3/4]); err != nil { // 12 MiB: past the budget
		t.Fatal(err)
	}
	if !m.waitLog("disk_budget reached", 30*time.Second) {
		t.Fatalf("no part was dropped:\n%s", m.log.String())
	}
	if err := os.Rename(m.path("d", "big.bin"), m.path("d", "other.bin")); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("rename of the file: %v, want EBUSY", err)
	}
	if err := os.Rename(m.path("d"), m.path("e")); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("rename of its directory: %v, want EBUSY", err)
	}
	if !m.waitLog("rename refused (EBUSY)", 30*time.Second) {
		t.Errorf("no log line about the refused rename:\n%s", m.log.String())
	}
	if keys := srv.Keys("test"); len(keys) != 1 || keys[0] != "d/" {
		t.Errorf("keys after the refused renames: %v, want only d/", keys)
	}
	finish(t, f, data[len(data)*3/4:])
	hasObject(t, srv, "after close", "d/big.bin", data)
}

// A file being created is found while it is written, not yet on the
// server, also once the kernel's entry for it expired (here: it keeps
// none), under its name and under the name it is renamed to.
func TestSafeNewFileFoundWhileWriting(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M,stat_cache_ttl=0")
	data := genBytes(38, 12<<20)
	f := writeHalf(t, srv, m.path("n.tmp"), os.O_CREATE|os.O_TRUNC, data)
	if st, err := os.Stat(m.path("n.tmp")); err != nil || st.Size() != int64(len(data)/2) {
		t.Errorf("stat of the file being created: %v, %v; want %d bytes", st, err, len(data)/2)
	}
	if err := os.Rename(m.path("n.tmp"), m.path("n.bin")); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if st, err := os.Stat(m.path("n.bin")); err != nil || st.Size() != int64(len(data)/2) {
		t.Errorf("stat of the new name: %v, %v; want %d bytes", st, err, len(data)/2)
	}
	if _, err := os.Stat(m.path("n.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the old name: %v, want ENOENT", err)
	}
	noObjects(t, srv, "before close", "n.tmp", "n.bin")
	finish(t, f, data[len(data)/2:])
	hasObject(t, srv, "after close", "n.bin", data)
}
