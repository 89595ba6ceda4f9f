package e2e

// End-to-end tests of the write path and the namespace operations (issue
// "Writes"): large streamed writes with bounded memory, staged rewrites,
// renames, concurrent writers, metadata preserved across remounts, injected
// failures, a killed ossmount, and go-fuse's posixtest suite.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"
	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/internal/testenv"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// genReader returns n pseudo-random bytes (ChaCha8, fast enough to feed a
// 1 GiB write without becoming the bottleneck), seeded by seed.
func genReader(seed uint64, n int64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// genBytes returns n pseudo-random bytes from genReader.
func genBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(genReader(seed, int64(n)), b)
	return b
}

// vmHWM is a process's peak resident set in bytes; it fails the test when
// /proc does not say.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	n := peakRSS(pid)
	if n < 0 {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	return n
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	return testenv.Poll(timeout, 20*time.Millisecond, cond)
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// keysUnder lists the server's keys starting with prefix.
func keysUnder(srv *osstest.Server, prefix string) []string {
	var out []string
	for _, k := range srv.Keys("test") {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// TestWriteCopyTreeRandomSizes copies a tree of random-sized files (empty,
// small, and several parts long) in with `cp -r` and compares it with
// `diff -r`, through the mount and on the server.
func TestWriteCopyTreeRandomSizes(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	src := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{}
	for i := range 40 {
		rel := filepath.Join(fmt.Sprintf("d%d", i%5), fmt.Sprintf("s%d", i%3), fmt.Sprintf("f%02d.bin", i))
		var n int
		switch i % 4 {
		case 0:
			n = r.IntN(100)
		case 1:
			n = r.IntN(64 << 10)
		case 2:
			n = r.IntN(1 << 20)
		default:
			n = 1<<20 + r.IntN(3<<20) // one to four parts, streamed
		}
		data := genBytes(uint64(i), n)
		files[rel] = data
		os.MkdirAll(filepath.Join(src, filepath.Dir(rel)), 0o755)
		if err := os.WriteFile(filepath.Join(src, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(src, "emptydir"), 0o755)
	run(t, "cp", "-r", src, m.path("tree"))
	run(t, "diff", "-r", src, m.path("tree"))
	for rel, data := range files {
		if got := serverBytes(t, srv, "tree/"+rel); !bytes.Equal(got, data) {
			t.Errorf("%s: server has %d bytes, want %d (or content differs)", rel, len(got), len(data))
		}
	}
	if _, _, err := srv.GetObject("test", "tree/emptydir/"); err != nil {
		t.Errorf("empty directory has no marker: %v", err)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
}

// TestWriteDd1GiB writes 1 GiB with dd (bs=1M, close included), checks the
// object's checksum, that it was streamed as a multipart upload, and that
// ossmount's peak RSS stayed bounded.
func TestWriteDd1GiB(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	const size = 1 << 30
	h := sha256.New()
	cmd := exec.Command("dd", "of="+m.path("big.bin"), "bs=1M", "count=1024", "iflag=fullblock", "status=none")
	cmd.Stdin = io.TeeReader(genReader(42, size), h)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	hwm := vmHWM(t, m.cmd.Process.Pid)
	t.Logf("1 GiB dd: %.1f s (%.0f MiB/s); ossmount VmHWM %d MiB; requests %v",
		elapsed.Seconds(), 1024/elapsed.Seconds(), hwm>>20, srv.Counts())
	var want [32]byte
	copy(want[:], h.Sum(nil))
	got := serverBytes(t, srv, "big.bin")
	if len(got) != size || sha(got) != want {
		t.Fatalf("server object: %d bytes, checksum match %v", len(got), sha(got) == want)
	}
	got = nil
	if srv.Count("UploadPart") < 128 || srv.Count("CompleteMultipartUpload") != 1 || srv.Count("PutObject") != 0 || srv.Count("UploadPartCopy") != 0 {
		t.Errorf("want one streamed multipart upload of >= 128 parts, saw %v", srv.Counts())
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
	if hwm > 300<<20 {
		t.Errorf("ossmount VmHWM %d MiB after a 1 GiB write, want <= 300 MiB", hwm>>20)
	}
	if st, err := os.Stat(m.path("big.bin")); err != nil || st.Size() != size {
		t.Errorf("stat through the mount: %v %v", st, err)
	}
}

// TestWriteOverwriteMiddle rewrites a few bytes in the middle of a 20 MiB
// object (the unchanged parts are copied on the server), then appends and
// truncates up and down.
func TestWriteOverwriteMiddle(t *testing.T) {
	srv := newServer(t)
	orig := genBytes(7, 20<<20)
	srv.PutObject("test", "mid.bin", orig, hdr("x-oss-meta-keep", "me"))
	m := startMount(t, srv, "test")
	want := append([]byte(nil), orig...)
	srv.ResetCounts()

	f, err := os.OpenFile(m.path("mid.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // if the test stops early; an open descriptor keeps the mount busy
	patch := bytes.Repeat([]byte("MIDDLE"), 1000)
	off := int64(10<<20 - 3000) // straddles a 1 MiB chunk boundary
	if _, err := f.WriteAt(patch, off); err != nil {
		t.Fatal(err)
	}
	copy(want[off:], patch)
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := serverBytes(t, srv, "mid.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after the overwrite the server copy differs")
	}
	// 20 MiB in 8 MiB parts: the middle part is uploaded, the others copied.
	if c := srv.Counts(); c["UploadPartCopy"] != 2 || c["UploadPart"] != 1 || c["CompleteMultipartUpload"] != 1 {
		t.Errorf("want 2 UploadPartCopy + 1 UploadPart, saw %v", c)
	}
	// Only the two 1 MiB chunks the partial write touched were fetched.
	if g := srv.Count("GetObject"); g > 2 {
		t.Errorf("%d GETs for a small overwrite, want at most 2", g)
	}
	_, h, _ := srv.GetObject("test", "mid.bin")
	if h.Get("X-Oss-Meta-Keep") != "me" {
		t.Errorf("the rewrite lost user metadata: %v", h)
	}

	// Append.
	srv.ResetCounts()
	af, err := os.OpenFile(m.path("mid.bin"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close() // if the test stops early; an open descriptor keeps the mount busy
	tail := genBytes(8, 300<<10)
	if _, err := af.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := af.Close(); err != nil {
		t.Fatalf("close after append: %v", err)
	}
	want = append(want, tail...)
	if got := serverBytes(t, srv, "mid.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after append: server has %d bytes, want %d", len(got), len(want))
	}
	if srv.Count("UploadPartCopy") == 0 {
		t.Errorf("append re-uploaded unchanged data: %v", srv.Counts())
	}

	// Truncate up: zeros are added.
	if err := os.Truncate(m.path("mid.bin"), 25<<20); err != nil {
		t.Fatal(err)
	}
	want = append(want, make([]byte, 25<<20-len(want))...)
	if got := serverBytes(t, srv, "mid.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after truncate up: server has %d bytes, want %d", len(got), len(want))
	}
	// Truncate down to an odd size.
	if err := os.Truncate(m.path("mid.bin"), 9<<20+5); err != nil {
		t.Fatal(err)
	}
	want = want[:9<<20+5]
	if got := serverBytes(t, srv, "mid.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after truncate down: server has %d bytes, want %d", len(got), len(want))
	}
	if b, err := os.ReadFile(m.path("mid.bin")); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("read through the mount after truncate: %d bytes, %v", len(b), err)
	}
	// ftruncate on an open handle, then write past the new end.
	f, err = os.OpenFile(m.path("mid.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // if the test stops early; an open descriptor keeps the mount busy
	if err := f.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), 200); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(append(want[:100:100], make([]byte, 100)...), "end"...)
	if got := serverBytes(t, srv, "mid.bin"); !bytes.Equal(got, want) {
		t.Fatalf("after ftruncate+write: server has %q", got)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
}

// TestRenameFileAndDirectory renames a file and a directory of 500 objects:
// every key moves, none is left under the old prefix, and a file open for
// writing inside the directory lands under the new name.
func TestRenameFileAndDirectory(t *testing.T) {
	srv := newServer(t)
	want := map[string][]byte{}
	for i := range 500 {
		rel := fmt.Sprintf("c%03d", i)
		if i%50 == 0 {
			rel = fmt.Sprintf("sub%d/c%03d", i/100, i)
		}
		data := []byte(fmt.Sprintf("child %d", i))
		want[rel] = data
		srv.PutObject("test", "dir/"+rel, data, hdr("x-oss-meta-n", strconv.Itoa(i)))
	}
	srv.PutObject("test", "file.txt", []byte("file body"), hdr("x-oss-meta-color", "red"))
	m := startMount(t, srv, "test")

	// File.
	if err := os.Rename(m.path("file.txt"), m.path("renamed.txt")); err != nil {
		t.Fatal(err)
	}
	b, h, err := srv.GetObject("test", "renamed.txt")
	if err != nil || string(b) != "file body" || h.Get("X-Oss-Meta-Color") != "red" {
		t.Errorf("renamed file: %q color=%q %v", b, h.Get("X-Oss-Meta-Color"), err)
	}
	if _, _, err := srv.GetObject("test", "file.txt"); err == nil {
		t.Errorf("file rename left the source")
	}
	if _, err := os.Stat(m.path("file.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the old name = %v", err)
	}

	// A file open for writing that another file is renamed over is not
	// uploaded afterwards: the name holds the renamed file.
	os.WriteFile(m.path("other.txt"), []byte("the winner"), 0o644)
	victim, err := os.Create(m.path("victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close() // if the test stops early; an open descriptor keeps the mount busy
	victim.Write([]byte("loser, part 1;"))
	if err := os.Rename(m.path("other.txt"), m.path("victim.txt")); err != nil {
		t.Fatal(err)
	}
	victim.Write([]byte("loser, part 2"))
	var st syscall.Stat_t
	if err := syscall.Fstat(int(victim.Fd()), &st); err != nil || st.Nlink != 0 {
		t.Errorf("fstat of the replaced open file: nlink %d, %v; want 0", st.Nlink, err)
	}
	if err := victim.Close(); err != nil {
		t.Errorf("close of the replaced file: %v", err)
	}
	if b := serverBytes(t, srv, "victim.txt"); string(b) != "the winner" {
		t.Errorf("victim.txt on the server = %q, want the renamed file", b)
	}
	if b, err := os.ReadFile(m.path("victim.txt")); err != nil || string(b) != "the winner" {
		t.Errorf("victim.txt through the mount = %q %v", b, err)
	}

	// A file being written inside the directory follows the rename.
	f, err := os.Create(m.path("dir", "open.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // if the test stops early; an open descriptor keeps the mount busy
	f.Write([]byte("first half,"))
	if err := os.Rename(m.path("dir"), m.path("moved")); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("second half"))
	if err := f.Close(); err != nil {
		t.Fatalf("close after the rename: %v", err)
	}
	want["open.txt"] = []byte("first half,second half")

	if left := keysUnder(srv, "dir/"); len(left) != 0 {
		t.Errorf("%d keys left under the old prefix, e.g. %v", len(left), left[:min(5, len(left))])
	}
	moved := keysUnder(srv, "moved/")
	if len(moved) != len(want) {
		t.Errorf("%d keys under the new prefix, want %d", len(moved), len(want))
	}
	for rel, data := range want {
		b, h, err := srv.GetObject("test", "moved/"+rel)
		if err != nil || !bytes.Equal(b, data) {
			t.Errorf("moved/%s: %q %v", rel, b, err)
			continue
		}
		if rel != "open.txt" && h.Get("X-Oss-Meta-N") == "" {
			t.Errorf("moved/%s lost its metadata", rel)
		}
	}
	entries, err := os.ReadDir(m.path("moved"))
	if err != nil || len(entries) != 490+5+1 { // files, sub0..sub4, open.txt
		t.Errorf("readdir of the renamed directory: %d entries, %v", len(entries), err)
	}
	if b, err := os.ReadFile(m.path("moved", "sub3", "c300")); err != nil || string(b) != "child 300" {
		t.Errorf("read after the rename: %q %v", b, err)
	}
	if _, err := os.Stat(m.path("dir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the old directory = %v", err)
	}
	// Renaming onto a non-empty directory is refused.
	os.Mkdir(m.path("other"), 0o755)
	os.WriteFile(m.path("other", "x"), []byte("x"), 0o644)
	if err := os.Rename(m.path("moved"), m.path("other")); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Errorf("rename onto a non-empty directory = %v, want ENOTEMPTY", err)
	}
}

// TestConcurrentWriters writes 8 files at once, each in small writes and
// several parts long.
func TestConcurrentWriters(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	const writers = 8
	datas := make([][]byte, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		datas[i] = genBytes(uint64(100+i), 2<<20+i*300<<10+i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(m.path(fmt.Sprintf("w%d.bin", i)))
			if err != nil {
				errs <- err
				return
			}
			d := datas[i]
			for off := 0; off < len(d); off += 100 << 10 {
				if _, err := f.Write(d[off:min(off+100<<10, len(d))]); err != nil {
					f.Close()
					errs <- fmt.Errorf("writer %d: %w", i, err)
					return
				}
			}
			if err := f.Close(); err != nil {
				errs <- fmt.Errorf("writer %d close: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range writers {
		name := fmt.Sprintf("w%d.bin", i)
		if got := serverBytes(t, srv, name); !bytes.Equal(got, datas[i]) {
			t.Errorf("%s: server has %d bytes, want %d", name, len(got), len(datas[i]))
		}
		if b, err := os.ReadFile(m.path(name)); err != nil || !bytes.Equal(b, datas[i]) {
			t.Errorf("%s through the mount: %d bytes %v", name, len(b), err)
		}
	}
	if n := srv.Count("CompleteMultipartUpload"); n != writers {
		t.Errorf("want %d streamed uploads, saw %v", writers, srv.Counts())
	}
}

// TestWritePreserveAcrossRemount copies files with `cp -a` and Python's
// shutil.copy2 and checks mode, owner and mtime after a remount.
func TestWritePreserveAcrossRemount(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed")
	}
	srv := newServer(t)
	src := t.TempDir()
	type file struct {
		rel   string
		mode  os.FileMode
		mtime time.Time
		data  []byte
	}
	files := []file{
		{"a/small.txt", 0o640, time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC), []byte("small")},
		{"a/exec.sh", 0o755, time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC), []byte("#!/bin/sh\n")},
		{"a/big.bin", 0o600, time.Date(2020, 6, 7, 8, 9, 10, 500000000, time.UTC), genBytes(9, 3<<20+17)},
	}
	for _, f := range files {
		p := filepath.Join(src, f.rel)
		os.MkdirAll(filepath.Dir(p), 0o750)
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
		os.Chown(p, 1234, 5678)
		os.Chtimes(p, f.mtime, f.mtime)
	}
	dirTime := time.Date(2015, 5, 5, 5, 5, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "a"), dirTime, dirTime)

	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	run(t, "cp", "-a", filepath.Join(src, "a"), m.path("cpa"))
	run(t, "python3", "-c", "import shutil, sys; shutil.copy2(sys.argv[1], sys.argv[2])", filepath.Join(src, files[0].rel), m.path("py.txt"))
	m.stop()

	m = startMount(t, srv, "test")
	check := func(path string, f file, owner bool) {
		t.Helper()
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("stat %s: %v", path, err)
			return
		}
		if st.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", path, st.Mode(), f.mode)
		}
		if !st.ModTime().Equal(f.mtime) {
			t.Errorf("%s: mtime %v, want %v", path, st.ModTime().UTC(), f.mtime)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if owner && (sys.Uid != 1234 || sys.Gid != 5678) {
			t.Errorf("%s: owner %d:%d, want 1234:5678", path, sys.Uid, sys.Gid)
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, f.data) {
			t.Errorf("%s: content differs (%d bytes, %v)", path, len(b), err)
		}
	}
	for _, f := range files {
		check(m.path("cpa", strings.TrimPrefix(f.rel, "a/")), f, true)
	}
	check(m.path("py.txt"), files[0], false)
	st, err := os.Stat(m.path("cpa"))
	if err != nil || st.Mode() != os.ModeDir|0o750 || !st.ModTime().Equal(dirTime) {
		t.Errorf("directory after cp -a: %v %v (want mode drwxr-x--- mtime %v)", st, err, dirTime)
	}
}

// TestWriteFailedUploadsKeepServerObject injects failures into UploadPart
// (a staged 20 MiB rewrite and a streamed O_TRUNC rewrite) and PutObject (a
// small file): fsync and close report EIO and the object on the server stays
// as it was.
func TestWriteFailedUploadsKeepServerObject(t *testing.T) {
	srv := newServer(t)
	big := genBytes(11, 20<<20)
	small := []byte("original small content")
	srv.PutObject("test", "big.bin", big, nil)
	srv.PutObject("test", "stream.bin", big[:3<<20], nil)
	srv.PutObject("test", "small.txt", small, nil)
	cache := t.TempDir()
	m := startMount(t, srv, "test", "-o", "retry_max=1,upload_part_size=1M,cache_dir="+cache)

	// Staged rewrite of a big object: fsync and close fail.
	srv.AddFault(osstest.Fault{Op: "UploadPart", Status: 500, Code: "InternalError"})
	f, err := os.OpenFile(m.path("big.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // if the test stops early; an open descriptor keeps the mount busy
	if _, err := f.WriteAt([]byte("CHANGED"), 5<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync = %v, want EIO", err)
	}
	if _, err := f.WriteAt([]byte("more"), 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("write after a failed upload = %v, want EIO (sticky)", err)
	}
	if err := f.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("close = %v, want EIO", err)
	}
	if got := serverBytes(t, srv, "big.bin"); sha(got) != sha(big) {
		t.Errorf("a failed rewrite changed the server object")
	}

	// Streamed rewrite (O_TRUNC, sequential): some write or the close fails.
	fs, err := os.OpenFile(m.path("stream.bin"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close() // if the test stops early; an open descriptor keeps the mount busy
	data := genBytes(12, 6<<20)
	var werr error
	for off := 0; off < len(data) && werr == nil; off += 128 << 10 {
		_, werr = fs.Write(data[off : off+128<<10])
	}
	cerr := fs.Close()
	if !errors.Is(cerr, syscall.EIO) {
		t.Errorf("close of a failed streamed write = %v (write error %v), want EIO", cerr, werr)
	}
	if got := serverBytes(t, srv, "stream.bin"); !bytes.Equal(got, big[:3<<20]) {
		t.Errorf("a failed streamed rewrite changed the server object (%d bytes)", len(got))
	}
	// Every byte written is in the kept file (the parts sent stay in
	// cache_dir within disk_budget): the streamed upload is aborted.
	if !m.waitLog("key=stream.bin", 5*time.Second) || !m.waitLog("not_on_oss=0-", 5*time.Second) {
		t.Errorf("the failure log does not name the key and the ranges kept:\n%s", m.log.String())
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("the failed streamed upload was left behind: %v", ids)
	}
	srv.ClearFaults()

	// Small file: the PUT fails. Another descriptor stays open on the
	// failed file throughout (its state stays attached to the file).
	srv.AddFault(osstest.Fault{Op: "PutObject", Status: 500, Code: "InternalError"})
	hold, err := os.OpenFile(m.path("small.txt"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close() // if the test stops early; an open descriptor keeps the mount busy
	fsm, err := os.OpenFile(m.path("small.txt"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fsm.Close() // if the test stops early; an open descriptor keeps the mount busy
	if _, err := fsm.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := fsm.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync of a small file = %v, want EIO", err)
	}
	if err := fsm.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("close of a small file = %v, want EIO", err)
	}
	if err := os.WriteFile(m.path("small.txt"), []byte("again"), 0o644); !errors.Is(err, syscall.EIO) {
		t.Errorf("WriteFile with a failing PUT = %v, want EIO", err)
	}
	srv.ClearFaults()
	if got := serverBytes(t, srv, "small.txt"); !bytes.Equal(got, small) {
		t.Errorf("a failed PUT changed the server object: %q", got)
	}
	// Once the server works again, the file can be written and reads the
	// server's current content meanwhile.
	if b, err := os.ReadFile(m.path("small.txt")); err != nil || !bytes.Equal(b, small) {
		t.Errorf("read after failed writes: %q %v", b, err)
	}
	if err := os.WriteFile(m.path("small.txt"), []byte("fine"), 0o644); err != nil {
		t.Errorf("write after the faults cleared: %v", err)
	}
	if got := serverBytes(t, srv, "small.txt"); string(got) != "fine" {
		t.Errorf("server after recovery: %q", got)
	}
	// The descriptor of the failed upload still fails, and uploads nothing.
	if _, err := hold.Write([]byte("late")); !errors.Is(err, syscall.EIO) {
		t.Errorf("write on the failed descriptor = %v, want EIO", err)
	}
	if err := hold.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("close of the failed descriptor = %v, want EIO", err)
	}
	if got := serverBytes(t, srv, "small.txt"); string(got) != "fine" {
		t.Errorf("server after closing the failed descriptor: %q", got)
	}
}

// TestKillDuringUpload kills ossmount with SIGKILL in the middle of a
// 200 MiB streamed upload: no object (partial or complete) appears, and the
// next mount with the same cache_dir aborts the abandoned multipart upload.
func TestKillDuringUpload(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "other.txt", []byte("unrelated"), nil)
	cache := t.TempDir()
	m := startMount(t, srv, "test", "-o", "cache_dir="+cache)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dd", "of="+m.path("big.bin"), "bs=1M", "count=200", "iflag=fullblock", "status=none")
	cmd.Stdin = pr
	var ddOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &ddOut, &ddOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	ddDone := make(chan error, 1)
	go func() { ddDone <- cmd.Wait() }()
	t.Cleanup(func() {
		pw.Close()
		cmd.Process.Kill()
	})
	// Feed 100 MiB, then hold the pipe open: dd is blocked mid-file.
	go io.Copy(pw, genReader(5, 100<<20))
	if !waitFor(60*time.Second, func() bool { return srv.Count("UploadPart") >= 4 }) {
		t.Fatalf("no parts uploaded: %v\n%s", srv.Counts(), m.log.String())
	}
	m.cmd.Process.Kill()
	<-m.exited
	pw.Close()
	select {
	case err := <-ddDone:
		if err == nil {
			t.Errorf("dd succeeded although ossmount was killed")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Errorf("dd did not fail within 30 s of the kill")
	}
	run(t, "umount", "-l", m.dir)

	if _, _, err := srv.GetObject("test", "big.bin"); err == nil {
		t.Errorf("a killed upload left an object")
	}
	if keys := srv.Keys("test"); len(keys) != 1 || keys[0] != "other.txt" {
		t.Errorf("keys after the kill: %v", keys)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 1 {
		t.Errorf("want the one streamed upload unfinished after the kill, have %v", ids)
	}

	if recs, _ := filepath.Glob(filepath.Join(cache, "ossmount-*", "upload-*")); len(recs) != 1 {
		t.Errorf("want the killed mount's record of its upload in cache_dir, have %v", recs)
	}

	// The next mount with the same cache_dir aborts it.
	m2 := startMount(t, srv, "test", "-o", "cache_dir="+cache)
	if !waitFor(20*time.Second, func() bool { return len(srv.ListMultipartUploadIDs("test")) == 0 }) {
		t.Errorf("the abandoned upload was not aborted by the next mount: %v\n%s", srv.ListMultipartUploadIDs("test"), m2.log.String())
	}
	if !m2.waitLog("abandoned", 5*time.Second) {
		t.Errorf("no log line about the abandoned upload:\n%s", m2.log.String())
	}
	if _, err := os.Stat(m2.path("big.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat of the killed file on the next mount = %v", err)
	}
	// The dead mount's directory (its staging file, its upload record) is
	// removed; after a clean unmount nothing of either mount is left.
	entries := func() []string { e, _ := filepath.Glob(filepath.Join(cache, "*")); return e }
	if !waitFor(10*time.Second, func() bool { return len(entries()) == 1 }) {
		t.Errorf("the killed mount's directory is still in cache_dir: %v", entries())
	}
	m2.stop()
	if left := entries(); len(left) != 0 {
		t.Errorf("cache_dir not cleaned up: %v", left)
	}
}

// posixNotRun are the posixtest tests that cannot pass by design; each is
// listed with its reason in docs/SEMANTICS.md.
var posixNotRun = map[string]bool{
	"Link":                true, // hard links: EPERM
	"LinkUnlinkRename":    true, // hard links: EPERM
	"FcntlFlockLocksFile": true, // wants two descriptors of one process to conflict
	"Fallocate":           true, // fallocate: EOPNOTSUPP
	"FallocateKeepSize":   true,
	"Tmpfile":             true, // O_TMPFILE: EOPNOTSUPP
	"XAttr":               true, // extended attributes are tested in xattr_test.go
	"XAttrLarge":          true,
}

// TestPosix runs go-fuse's posixtest suite, each test on a fresh mount.
func TestPosix(t *testing.T) {
	srv := newServer(t)
	var names []string
	for name := range posixtest.All {
		if !posixNotRun[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			m := startMount(t, srv, fmt.Sprintf("test:/posix%d", i))
			defer func() {
				if t.Skipped() {
					t.Errorf("%s skipped itself: list it in posixNotRun and SEMANTICS.md instead", name)
				}
			}()
			posixtest.All[name](t, m.path())
		})
	}
}

// TestWriteClearsSetuid: a write or truncate by an unprivileged user clears
// set-user-ID (and set-group-ID on a group-executable file), on the mount and
// on the server; root's writes keep them. The mount does this itself: the
// kernel hands it over (FUSE_HANDLE_KILLPRIV_V2).
func TestWriteClearsSetuid(t *testing.T) {
	srv := newServer(t)
	m := shareMount(t, srv, "-o", "default_permissions")
	cases := []struct {
		name       string
		mode, want os.FileMode
		cmd        string // run as nobody, %s is the path
	}{
		{"suid-write", 0o4777, 0o777, "printf x >> %s"},
		{"sgid-exec-write", 0o2777, 0o777, "printf x >> %s"},
		{"sgid-noexec-write", 0o2766, 0o2766, "printf x >> %s"}, // mandatory-locking style sgid stays
		{"suid-truncate", 0o4777, 0o777, "truncate -s 1 %s"},
		{"suid-otrunc", 0o4777, 0o777, "printf y > %s"},
	}
	nobodyCred := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	for _, c := range cases {
		p := m.path(c.name)
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(p, uint32(c.mode)); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", fmt.Sprintf(c.cmd, p))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobodyCred}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s as nobody: %v %s", c.name, err, out)
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if got := os.FileMode(st.Mode & 0o7777); got != c.want {
			t.Errorf("%s: mode %o after nobody's change, want %o", c.name, got, c.want)
		}
		_, h, err := srv.GetObject("test", c.name)
		if err != nil {
			t.Fatal(err)
		}
		mode, _ := strconv.ParseUint(h.Get("X-Oss-Meta-Mode"), 10, 32)
		if got := os.FileMode(mode & 0o7777); got != c.want {
			t.Errorf("%s: server mode %o, want %o", c.name, got, c.want)
		}
	}
	// Root keeps the bits.
	p := m.path("root-write")
	os.WriteFile(p, []byte("data"), 0o644)
	if err := unix.Chmod(p, 0o4755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("more"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Stat(p, &st)
	if st.Mode&0o7777 != 0o4755 {
		t.Errorf("root's write changed mode 4755 to %o", st.Mode&0o7777)
	}
}

// TestRequestCountersOnSIGUSR1: SIGUSR1 makes a running mount log its
// request counters (the summary ossmount stats prints: see
// metrics_test.go), and the mount keeps running.
func TestRequestCountersOnSIGUSR1(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	for i := range 3 {
		if err := os.WriteFile(m.path(fmt.Sprintf("c%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.cmd.Process.Signal(syscall.SIGUSR1)
	// PutObject: 3 requests, none retried or failed, no retries, none in
	// flight; 3 bytes sent.
	counters := regexp.MustCompile(`msg="stats:\s+PutObject\s+3\s+0\s+0\s+0\s+0\s+\S+\s+\S+\s+3 B\s`)
	deadline := time.Now().Add(30 * time.Second)
	for !counters.MatchString(m.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no PutObject counters after SIGUSR1:\n%s", m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !m.waitLog("stats: Credentials: env", 30*time.Second) || !strings.Contains(m.log.String(), "stats: FUSE operations") {
		t.Errorf("the whole summary was not logged:\n%s", m.log.String())
	}
	if _, err := os.ReadFile(m.path("c1")); err != nil {
		t.Fatalf("the mount stopped answering after SIGUSR1: %v", err)
	}
}

// TestWriteOnlyHandleAndCachedPages: write-only handles bypass the page
// cache; pages cached by an earlier read must not survive the write into the
// next open, whether the reader opened before or after it.
func TestWriteOnlyHandleAndCachedPages(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	p := m.path("cached.bin")
	orig := genBytes(21, 3<<20)
	if err := os.WriteFile(p, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, orig) {
		t.Fatalf("first read: %v", err)
	}
	// An old reader stays open over the write, with pages cached.
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	buf := make([]byte, 1<<20)
	old.ReadAt(buf, 1<<20)
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := bytes.Repeat([]byte("N"), 100000)
	if _, err := w.WriteAt(patch, 1<<20+5); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), orig...)
	copy(want[1<<20+5:], patch)
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read after a write-only overwrite shows old bytes")
	}
	if b, _, err := srv.GetObject("test", "cached.bin"); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("server object differs: %v", err)
	}
}

// TestReadFollowsRename: a descriptor opened for reading keeps reading the
// same bytes after its file, or a directory above it, is renamed; once the
// object is replaced under the new name, reads that need the server fail
// with ESTALE instead of mixing versions.
func TestReadFollowsRename(t *testing.T) {
	srv := newServer(t)
	data := genBytes(31, 24<<20)
	if err := srv.PutObject("test", "d1/log.bin", data, nil); err != nil {
		t.Fatal(err)
	}
	// No read-ahead beyond what is asked, no pages kept: every read below
	// goes to the server.
	m := startMount(t, srv, "test", "-o", "read_ahead_kb=0,max_read_window=1M,read_part_size=1M,first_read_size=64K")
	f, err := os.Open(m.path("d1", "log.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	buf := make([]byte, 64<<10)
	check := func(off int64, what string) {
		t.Helper()
		n, err := f.ReadAt(buf, off)
		if err != nil || !bytes.Equal(buf[:n], data[off:off+int64(len(buf))]) {
			t.Fatalf("read at %d %s: %d bytes, %v", off, what, n, err)
		}
	}
	check(0, "before the rename")
	if err := os.Rename(m.path("d1", "log.bin"), m.path("d1", "log.1")); err != nil {
		t.Fatal(err)
	}
	check(8<<20, "after the file's rename")
	if err := os.Rename(m.path("d1"), m.path("d2")); err != nil {
		t.Fatal(err)
	}
	check(16<<20, "after the directory's rename")
	// Another client replaces the object: the old version is gone.
	if err := srv.PutObject("test", "d2/log.1", genBytes(32, 24<<20), nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(buf, 20<<20)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read after the object was replaced: %v, want ESTALE", err)
	}
}
