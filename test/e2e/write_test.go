package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// serverBytes returns an object's content from the emulator.
func serverBytes(t *testing.T, srv *osstest.Server, key string) []byte {
	t.Helper()
	b, _, err := srv.GetObject("test", key)
	if err != nil {
		t.Fatalf("object %q on the server: %v", key, err)
	}
	return b
}

func TestWriteNewFiles(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	small := randBytes(1000)
	if err := os.WriteFile(m.path("small.txt"), small, 0o640); err != nil {
		t.Fatal(err)
	}
	if got := serverBytes(t, srv, "small.txt"); !bytes.Equal(got, small) {
		t.Fatalf("small file differs on the server")
	}
	_, h, _ := srv.GetObject("test", "small.txt")
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain from the extension", ct)
	}
	mode, _ := strconv.Atoi(h.Get("X-Oss-Meta-Mode"))
	if mode != syscall.S_IFREG|0o640 || h.Get("X-Oss-Meta-Uid") == "" || h.Get("X-Oss-Meta-Mtime") == "" {
		t.Errorf("ossfs metadata missing or wrong: mode=%q uid=%q mtime=%q", h.Get("X-Oss-Meta-Mode"), h.Get("X-Oss-Meta-Uid"), h.Get("X-Oss-Meta-Mtime"))
	}
	if srv.Count("PutObject") != 1 || srv.Count("InitiateMultipartUpload") != 0 {
		t.Errorf("small file: want one PutObject, saw %v", srv.Counts())
	}

	// A large sequential file streams through multipart parts.
	srv.ResetCounts()
	big := randBytes(7<<20 + 12345)
	src := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(src, big, 0o644)
	run(t, "cp", src, m.path("big.bin"))
	if got := serverBytes(t, srv, "big.bin"); !bytes.Equal(got, big) {
		t.Fatalf("big file differs on the server (len %d vs %d)", len(got), len(big))
	}
	if srv.Count("UploadPart") < 7 || srv.Count("CompleteMultipartUpload") != 1 {
		t.Errorf("big file: want a streamed multipart upload, saw %v", srv.Counts())
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
	if out, err := exec.Command("cmp", src, m.path("big.bin")).CombinedOutput(); err != nil {
		t.Errorf("cmp through the mount: %v %s", err, out)
	}
	// Empty file via touch.
	run(t, "touch", m.path("empty"))
	if got := serverBytes(t, srv, "empty"); len(got) != 0 {
		t.Errorf("empty file has %d bytes", len(got))
	}
}

func TestRandomWritesAndTruncate(t *testing.T) {
	srv := newServer(t)
	orig := randBytes(5<<20 + 777)
	srv.PutObject("test", "edit.bin", orig, hdr("x-oss-meta-color", "blue", "Cache-Control", "no-cache"))
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	want := append([]byte(nil), orig...)

	f, err := os.OpenFile(m.path("edit.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte("PATCHED-IN-THE-MIDDLE")
	if _, err := f.WriteAt(patch, 3<<20+5); err != nil {
		t.Fatal(err)
	}
	copy(want[3<<20+5:], patch)
	// Write past EOF leaves a zero-filled gap.
	tail := []byte("tail")
	if _, err := f.WriteAt(tail, int64(len(orig))+100); err != nil {
		t.Fatal(err)
	}
	want = append(want, make([]byte, 100)...)
	want = append(want, tail...)
	// Read back through the same handle before close.
	buf := make([]byte, len(patch))
	if _, err := f.ReadAt(buf, 3<<20+5); err != nil || !bytes.Equal(buf, patch) {
		t.Fatalf("read back before close: %q %v", buf, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got := serverBytes(t, srv, "edit.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after fsync the server copy differs")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, h, _ := srv.GetObject("test", "edit.bin")
	if h.Get("X-Oss-Meta-Color") != "blue" || h.Get("Cache-Control") != "no-cache" {
		t.Errorf("rewrite lost metadata/headers: color=%q cache-control=%q", h.Get("X-Oss-Meta-Color"), h.Get("Cache-Control"))
	}
	if srv.Count("UploadPartCopy") == 0 {
		t.Errorf("unchanged ranges of a large object should be kept with UploadPartCopy: %v", srv.Counts())
	}

	// Truncate shorter, then longer.
	if err := os.Truncate(m.path("edit.bin"), 1000); err != nil {
		t.Fatal(err)
	}
	if got := serverBytes(t, srv, "edit.bin"); !bytes.Equal(got, want[:1000]) {
		t.Fatalf("truncate to 1000: server has %d bytes", len(got))
	}
	if err := os.Truncate(m.path("edit.bin"), 3000); err != nil {
		t.Fatal(err)
	}
	w2 := append(append([]byte(nil), want[:1000]...), make([]byte, 2000)...)
	if got := serverBytes(t, srv, "edit.bin"); !bytes.Equal(got, w2) {
		t.Fatalf("truncate to 3000: wrong content")
	}
	// O_APPEND on an existing object.
	af, err := os.OpenFile(m.path("edit.bin"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	af.Write([]byte("appended"))
	if err := af.Close(); err != nil {
		t.Fatal(err)
	}
	w2 = append(w2, "appended"...)
	if got := serverBytes(t, srv, "edit.bin"); !bytes.Equal(got, w2) {
		t.Fatalf("append: server has %q... (%d bytes)", got[max(0, len(got)-10):], len(got))
	}
	if b, _ := os.ReadFile(m.path("edit.bin")); !bytes.Equal(b, w2) {
		t.Fatalf("read after append differs")
	}
}

func TestFailedUploadIsReported(t *testing.T) {
	srv := newServer(t)
	cache := t.TempDir()
	m := startMount(t, srv, "test", "-o", "retry_max=1,cache_dir="+cache)
	srv.AddFault(osstest.Fault{Op: "PutObject", Status: 500, Code: "InternalError"})
	f, err := os.Create(m.path("doomed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("precious data that must not be lost")
	f.Write(data)
	err = f.Close()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("close = %v, want EIO from the failed upload", err)
	}
	srv.ClearFaults()
	// The data is kept in the cache directory and its path logged.
	if !m.waitLog("kept", 5*time.Second) {
		t.Errorf("no log line naming the kept staging file:\n%s", m.log.String())
	}
	found := false
	filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Equal(b, data) {
				found = true
			}
		}
		return nil
	})
	if !found {
		t.Errorf("the failed upload's data is not kept under %s", cache)
	}
	if _, _, err := srv.GetObject("test", "doomed.txt"); err == nil {
		t.Errorf("a failed upload left an object visible")
	}
}

func TestNamespace(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "tree/a.txt", []byte("A"), nil)
	srv.PutObject("test", "tree/sub/b.txt", []byte("B"), nil)
	m := startMount(t, srv, "test")

	// mkdir / rmdir.
	if err := os.Mkdir(m.path("newdir"), 0o750); err != nil {
		t.Fatal(err)
	}
	_, h, err := srv.GetObject("test", "newdir/")
	if err != nil || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFDIR|0o750) {
		t.Fatalf("mkdir marker: %v mode=%q", err, h.Get("X-Oss-Meta-Mode"))
	}
	if err := os.Remove(m.path("tree")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir of a non-empty implicit dir = %v, want ENOTEMPTY", err)
	}
	if err := os.Remove(m.path("newdir")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.GetObject("test", "newdir/"); err == nil {
		t.Errorf("rmdir left the marker")
	}
	// Rename a file, over an existing one, and a directory.
	os.WriteFile(m.path("x.txt"), []byte("xx"), 0o644)
	os.WriteFile(m.path("y.txt"), []byte("yy"), 0o644)
	if err := os.Rename(m.path("x.txt"), m.path("y.txt")); err != nil {
		t.Fatal(err)
	}
	if b := serverBytes(t, srv, "y.txt"); string(b) != "xx" {
		t.Errorf("rename over: y.txt = %q", b)
	}
	if _, _, err := srv.GetObject("test", "x.txt"); err == nil {
		t.Errorf("rename left the source")
	}
	if err := os.Rename(m.path("tree"), m.path("moved")); err != nil {
		t.Fatal(err)
	}
	if b := serverBytes(t, srv, "moved/sub/b.txt"); string(b) != "B" {
		t.Errorf("directory rename: moved/sub/b.txt = %q", b)
	}
	if b, err := os.ReadFile(m.path("moved", "sub", "b.txt")); err != nil || string(b) != "B" {
		t.Errorf("read after directory rename: %q %v", b, err)
	}
	for _, k := range srv.Keys("test") {
		if strings.HasPrefix(k, "tree/") {
			t.Errorf("directory rename left %s", k)
		}
	}
	// Symlinks in the ossfs format.
	if err := os.Symlink("moved/a.txt", m.path("link")); err != nil {
		t.Fatal(err)
	}
	b, h, _ := srv.GetObject("test", "link")
	if string(b) != "moved/a.txt" || h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFLNK|0o777) {
		t.Errorf("symlink object: body %q mode %q", b, h.Get("X-Oss-Meta-Mode"))
	}
	if target, err := os.Readlink(m.path("link")); err != nil || target != "moved/a.txt" {
		t.Errorf("readlink = %q %v", target, err)
	}
	if b, err := os.ReadFile(m.path("link")); err != nil || string(b) != "A" {
		t.Errorf("read through symlink = %q %v", b, err)
	}
	// chmod, chown, utimes persist in ossfs metadata.
	if err := os.Chmod(m.path("y.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(m.path("y.txt"), 4321, 8765); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(m.path("y.txt"), mt, mt); err != nil {
		t.Fatal(err)
	}
	_, h, _ = srv.GetObject("test", "y.txt")
	if h.Get("X-Oss-Meta-Mode") != strconv.Itoa(syscall.S_IFREG|0o600) || h.Get("X-Oss-Meta-Uid") != "4321" ||
		h.Get("X-Oss-Meta-Gid") != "8765" || h.Get("X-Oss-Meta-Mtime") != strconv.FormatInt(mt.Unix(), 10) {
		t.Errorf("metadata after chmod/chown/utimes: %v", h)
	}
	if b := serverBytes(t, srv, "y.txt"); string(b) != "xx" {
		t.Errorf("metadata change altered the content: %q", b)
	}
	// Hard links are refused with a clear errno.
	if err := os.Link(m.path("y.txt"), m.path("hard")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("link = %v, want EPERM", err)
	}
	// Unlink.
	if err := os.Remove(m.path("y.txt")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.GetObject("test", "y.txt"); err == nil {
		t.Errorf("unlink left the object")
	}
	if _, err := os.Stat(m.path("y.txt")); !os.IsNotExist(err) {
		t.Errorf("stat after unlink = %v", err)
	}
}

func TestCopyTreeIn(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	src := t.TempDir()
	for i := 0; i < 20; i++ {
		d := filepath.Join(src, fmt.Sprintf("d%d", i%4))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), randBytes(i*1000), 0o644)
	}
	run(t, "cp", "-a", src, m.path("copied"))
	run(t, "diff", "-r", src, m.path("copied"))
}
