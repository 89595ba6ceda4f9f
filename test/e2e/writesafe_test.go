package e2e

// Issue 14 end to end: the object changes only when the application's data
// is complete (close, fsync), whatever readers, unlinks, renames, crashes
// and lost answers happen meanwhile.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// streamInto starts dd writing into path from a pipe and feeds it n bytes
// of seed's data; dd then waits for more (the file is mid-write). stop
// ends dd.
func streamInto(t *testing.T, path string, seed uint64, n int64, flags string) (stop func()) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"of=" + path, "bs=1M", "iflag=fullblock", "status=none"}
	if flags != "" {
		args = append(args, flags)
	}
	cmd := exec.Command("dd", args...)
	cmd.Stdin = pr
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	go io.Copy(pw, genReader(seed, n))
	done := make(chan struct{})
	go func() {
		if err := cmd.Wait(); err != nil && stderr.String() != "" {
			t.Logf("dd of=%s: %v: %s", path, err, stderr.String())
		}
		close(done)
	}()
	stop = func() {
		pw.Close()
		cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// Case 1: a file unlinked while written and read back through its
// descriptor, and one renamed over while written, are never uploaded.
func TestSafeUnlinkedAndRenamedOver(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	data := genBytes(21, 24<<20)
	f, err := os.Create(m.path("doomed.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m.path("doomed.bin")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4096)
	if _, err := f.ReadAt(got, 10<<20); err != nil || !bytes.Equal(got, data[10<<20:10<<20+4096]) {
		t.Errorf("read back through the descriptor after unlink: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of the unlinked file: %v", err)
	}
	if _, _, err := srv.GetObject("test", "doomed.bin"); err == nil {
		t.Errorf("the unlinked file was uploaded")
	}

	// Renamed over while written.
	g, err := os.Create(m.path("target.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.path("new.bin"), []byte("renamed in"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("new.bin"), m.path("target.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.ReadAt(got, 5<<20); err != nil || !bytes.Equal(got, data[5<<20:5<<20+4096]) {
		t.Errorf("read back through the descriptor of the replaced file: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("close of the replaced file: %v", err)
	}
	if b, _, err := srv.GetObject("test", "target.bin"); err != nil || string(b) != "renamed in" {
		t.Errorf("target.bin after the replaced file's close: %d bytes, %v; want the file renamed in", len(b), err)
	}
	if n := srv.Count("CompleteMultipartUpload"); n != 0 {
		t.Errorf("%d CompleteMultipartUpload for files that lost their names", n)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 0 {
		t.Errorf("parts left behind: %v", ids)
	}
}

// Case 2 and the crash guarantee: during a streamed overwrite another
// process reads the new bytes (from local state), the object stays the old
// one, whole; a kill -9 of ossmount then (a reader still open) leaves the
// old object intact, and the next mount aborts the parts.
func TestSafeOverwriteReaderAndKill(t *testing.T) {
	srv := newServer(t)
	old := genBytes(22, 40<<20)
	srv.PutObject("test", "big.bin", old, nil)
	cache := t.TempDir()
	m := startMount(t, srv, "test", "-o", "cache_dir="+cache)
	reader, err := os.Open(m.path("big.bin")) // opened before the write: the old version
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	streamInto(t, m.path("big.bin"), 23, 30<<20, "")
	if !waitFor(60*time.Second, func() bool { return srv.Count("UploadPart") >= 3 }) {
		t.Fatalf("the overwrite did not stream: %v\n%s", srv.Counts(), m.log.String())
	}
	newData := genBytes(23, 30<<20)
	out, err := exec.Command("head", "-c", "4", m.path("big.bin")).Output()
	if err != nil || !bytes.Equal(out, newData[:4]) {
		t.Errorf("head -c 4 during the overwrite: %x %v, want %x (the bytes written)", out, err, newData[:4])
	}
	out, err = exec.Command("dd", "if="+m.path("big.bin"), "bs=1M", "skip=12", "count=1", "status=none").Output()
	if err != nil || !bytes.Equal(out, newData[12<<20:13<<20]) {
		t.Errorf("read of a streamed part during the overwrite differs: %d bytes, %v", len(out), err)
	}
	if got, _, err := srv.GetObject("test", "big.bin"); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("the object changed during the write: %d bytes, %v", len(got), err)
	}
	buf := make([]byte, 1<<20)
	if _, err := reader.ReadAt(buf, 20<<20); err != nil || !bytes.Equal(buf, old[20<<20:21<<20]) {
		t.Errorf("a descriptor opened before the write does not read the old version: %v", err)
	}
	m.cmd.Process.Kill()
	<-m.exited
	reader.Close()
	run(t, "umount", "-l", m.dir)
	if got, _, err := srv.GetObject("test", "big.bin"); err != nil || !bytes.Equal(got, old) {
		t.Errorf("after kill -9 the old object is not intact: %d bytes, %v", len(got), err)
	}
	if n := srv.Count("CompleteMultipartUpload") + srv.Count("PutObject"); n != 0 {
		t.Errorf("%d completions or PUTs before any close", n)
	}
	m2 := startMount(t, srv, "test", "-o", "cache_dir="+cache)
	if !waitFor(30*time.Second, func() bool { return len(srv.ListMultipartUploadIDs("test")) == 0 }) {
		t.Errorf("the killed mount's parts were not aborted: %v\n%s", srv.ListMultipartUploadIDs("test"), m2.log.String())
	}
	if b, err := os.ReadFile(m2.path("big.bin")); err != nil || !bytes.Equal(b, old) {
		t.Errorf("the next mount reads %d bytes, %v; want the old object", len(b), err)
	}
}

// Case 3: the answer to CompleteMultipartUpload is lost; close succeeds
// (the object is checked), and the object is the file written.
func TestSafeLostCompleteAnswer(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test", "-o", "upload_part_size=1M")
	data := genBytes(24, 5<<20+77)
	srv.AddFault(osstest.Fault{Op: "CompleteMultipartUpload", LoseResponse: true, Times: 1})
	if err := os.WriteFile(m.path("lost.bin"), data, 0o644); err != nil {
		t.Fatalf("write with a lost completion answer: %v (want success, never ENOENT)\n%s", err, m.log.String())
	}
	if got, _, err := srv.GetObject("test", "lost.bin"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("object: %d bytes, %v", len(got), err)
	}
	if n := srv.Count("CompleteMultipartUpload"); n < 2 {
		t.Errorf("the fault did not fire (%d completions)", n)
	}
	if !m.waitLog("answer to CompleteMultipartUpload was lost", 5*time.Second) {
		t.Errorf("no log line about the lost answer:\n%s", m.log.String())
	}
	if b, err := os.ReadFile(m.path("lost.bin")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("read back: %d bytes, %v", len(b), err)
	}
}

var cacheDirRE = regexp.MustCompile(`cache_dir=(\S+)`)

// Case 4: the default cache_dir is private to the user and the bucket, and
// a mount only recovers the uploads of its own endpoint and bucket.
func TestSafeCacheDirPerBucket(t *testing.T) {
	srv := newServer(t, "test", "other")
	m := startMount(t, srv, "test", "-o", "cache_dir=") // empty: the default
	if match := cacheDirRE.FindStringSubmatch(m.log.String()); match == nil {
		t.Errorf("the mount does not log its cache_dir:\n%s", m.log.String())
	} else {
		def := match[1]
		st, err := os.Lstat(def)
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 || !strings.Contains(filepath.Base(def), "test-") {
			t.Errorf("default cache_dir %s: %v %v; want a directory, mode 0700, named for the bucket", def, st, err)
		}
		m.stop()
		if _, err := os.Stat(def); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the empty default cache_dir is left after a clean unmount: %v", err)
		}
	}

	// One cache_dir shared by mounts of two buckets.
	cache := t.TempDir()
	a := startMount(t, srv, "other", "-o", "cache_dir="+cache)
	streamInto(t, a.path("big.bin"), 25, 20<<20, "")
	if !waitFor(60*time.Second, func() bool { return srv.Count("UploadPart") >= 2 }) {
		t.Fatalf("no parts: %v", srv.Counts())
	}
	a.cmd.Process.Kill()
	<-a.exited
	run(t, "umount", "-l", a.dir)
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 1 {
		t.Fatalf("want the killed mount's upload, have %v", ids)
	}
	b := startMount(t, srv, "test", "-o", "cache_dir="+cache)
	if !b.waitLog("left_to_other_buckets=1", 30*time.Second) {
		t.Errorf("the mount of bucket test did not leave bucket other's record alone:\n%s", b.log.String())
	}
	if ids := srv.ListMultipartUploadIDs("other"); len(ids) != 1 {
		t.Errorf("a mount of another bucket aborted the upload: %v", ids)
	}
	c := startMount(t, srv, "other", "-o", "cache_dir="+cache)
	if !waitFor(30*time.Second, func() bool { return len(srv.ListMultipartUploadIDs("other")) == 0 }) {
		t.Errorf("the next mount of bucket other did not abort its upload:\n%s", c.log.String())
	}
}

// Case 5: readers and writers at once stay within memory_budget + 64 MiB.
func TestSafeMemoryBudget(t *testing.T) {
	const readers, writers, size = 8, 4, 24 << 20
	srv := newServer(t)
	for i := range readers {
		srv.PutObject("test", fmt.Sprintf("r%d.bin", i), genBytes(uint64(30+i), size), nil)
	}
	m := startMount(t, srv, "test", "-o", "memory_budget=64M")
	errs := make(chan error, readers+writers)
	var cmds []*exec.Cmd
	for i := range readers {
		cmds = append(cmds, exec.Command("cat", m.path(fmt.Sprintf("r%d.bin", i))))
	}
	for i := range writers {
		cmd := exec.Command("dd", "of="+m.path(fmt.Sprintf("w%d.bin", i)), "bs=1M", "iflag=fullblock", "status=none")
		cmd.Stdin = genReader(uint64(40+i), size)
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		go func() {
			out, err := cmd.Output()
			if err == nil && i < readers && !bytes.Equal(out, genBytes(uint64(30+i), size)) {
				err = fmt.Errorf("reader %d: %d bytes, content differs", i, len(out))
			}
			errs <- err
		}()
	}
	for range cmds {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	hwm := vmHWM(t, m.cmd.Process.Pid)
	t.Logf("8 readers + 4 writers, memory_budget=64M: ossmount VmHWM %d MiB", hwm>>20)
	if hwm > (64+64)<<20 {
		t.Errorf("ossmount VmHWM %d MiB, want <= memory_budget + 64 MiB = 128 MiB", hwm>>20)
	}
	for i := range writers {
		if got := serverBytes(t, srv, fmt.Sprintf("w%d.bin", i)); !bytes.Equal(got, genBytes(uint64(40+i), size)) {
			t.Errorf("w%d.bin on the server differs (%d bytes)", i, len(got))
		}
	}
}

// Case 7: `ossmount uploads list` names the kept data of a failed upload
// (key, size, reason, ranges) and the bucket's incomplete uploads; `abort`
// aborts them (never one a running mount is writing); the failure log
// names the key and ranges.
func TestSafeUploadsCommand(t *testing.T) {
	srv := newServer(t)
	cache := t.TempDir()
	m := startMount(t, srv, "test", "-o", "retry_max=1,cache_dir="+cache)
	srv.AddFault(osstest.Fault{Op: "PutObject", Status: 500, Code: "InternalError"})
	err := os.WriteFile(m.path("failed.txt"), []byte("precious bytes"), 0o644)
	srv.ClearFaults()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("write with a failing PUT: %v, want EIO", err)
	}
	if !m.waitLog("key=failed.txt", 5*time.Second) || !m.waitLog("not_on_oss=0-14", 5*time.Second) {
		t.Errorf("the failure log does not name the key and the ranges:\n%s", m.log.String())
	}
	// An upload abandoned by some other client, and one a running mount
	// is writing.
	c := rawClient(srv.URL())
	if _, err := c.InitiateMultipart(t.Context(), ossapi.InitiateRequest{Key: "stray.bin"}); err != nil {
		t.Fatal(err)
	}
	streamInto(t, m.path("live.bin"), 26, 10<<20, "")
	if !waitFor(60*time.Second, func() bool { return len(srv.ListMultipartUploadIDs("test")) == 2 }) {
		t.Fatalf("want two uploads, have %v", srv.ListMultipartUploadIDs("test"))
	}
	args := []string{"--endpoint", srv.URL(), "--region", testRegion, "-o", "cache_dir=" + cache, "test"}
	uploads := func(sub string) string {
		cmd := exec.Command(ossmountBin, append([]string{"uploads", sub}, args...)...)
		cmd.Env = credEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ossmount uploads %s: %v\n%s", sub, err, out)
		}
		return string(out)
	}
	list := uploads("list")
	for _, want := range []string{"stray.bin", "live.bin", "being written by a running mount", "failed.txt", "14", "0-14", "InternalError"} {
		if !strings.Contains(list, want) {
			t.Errorf("uploads list lacks %q:\n%s", want, list)
		}
	}
	out := uploads("abort")
	if !strings.Contains(out, "aborted") {
		t.Errorf("uploads abort:\n%s", out)
	}
	if ids := srv.ListMultipartUploadIDs("test"); len(ids) != 1 {
		t.Errorf("after abort: %v; want only the running mount's upload", ids)
	}
	if !strings.Contains(uploads("list"), "failed.txt") {
		t.Errorf("kept data is no longer listed after abort")
	}
}
