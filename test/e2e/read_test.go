package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestTreeAndNames(t *testing.T) {
	srv := newServer(t)
	seed := map[string]string{
		"top.txt":                         "top",
		"a/b/c/deep.txt":                  "deep",
		"implicit/child.txt":              "child",
		"marker/":                         "",
		"marker/inside.txt":               "inside",
		"emptymarker/":                    "",
		"same":                            "i am a file",
		"same/x":                          "in the dir",
		"odd//double":                     "bad",
		"odd/./dot":                       "bad",
		"odd/../escape":                   "bad",
		"odd/" + strings.Repeat("n", 256): "too long",
		"odd/fine":                        "fine",
		"sp ace/ü nicode.txt":             "unicode",
	}
	for k, v := range seed {
		if err := srv.PutObject("test", k, []byte(v), nil); err != nil {
			t.Fatalf("seed %q: %v", k, err)
		}
	}
	m := startMount(t, srv, "test")

	mustRead := func(p, want string) {
		t.Helper()
		b, err := os.ReadFile(m.path(p))
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		if string(b) != want {
			t.Fatalf("read %s = %q, want %q", p, b, want)
		}
	}
	mustRead("top.txt", "top")
	mustRead("a/b/c/deep.txt", "deep")
	mustRead("implicit/child.txt", "child")
	mustRead("marker/inside.txt", "inside")
	mustRead("same/x", "in the dir")
	mustRead("odd/fine", "fine")
	mustRead("sp ace/ü nicode.txt", "unicode")

	for _, d := range []string{"a", "a/b", "implicit", "marker", "emptymarker", "same"} {
		st, err := os.Stat(m.path(d))
		if err != nil || !st.IsDir() {
			t.Errorf("%s: want a directory, got %v %v", d, st, err)
		}
	}
	names := func(d string) []string {
		t.Helper()
		ents, err := os.ReadDir(m.path(d))
		if err != nil {
			t.Fatalf("readdir %s: %v", d, err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	if got, want := strings.Join(names(""), ","), "a,emptymarker,implicit,marker,odd,same,sp ace,top.txt"; got != want {
		t.Errorf("root listing = %s, want %s", got, want)
	}
	// Keys that cannot be names are skipped, never shown, never escape.
	if got := strings.Join(names("odd"), ","); got != "fine" {
		t.Errorf("odd listing = %q, want only fine", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(m.dir), "escape")); err == nil {
		t.Errorf("a key with .. escaped the mount")
	}
	if got := names("emptymarker"); len(got) != 0 {
		t.Errorf("empty marker directory lists %v", got)
	}
	// Attributes.
	st, err := os.Stat(m.path("top.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 3 || st.Mode().Perm() != 0o644 || !st.Mode().IsRegular() {
		t.Errorf("top.txt: size %d mode %v", st.Size(), st.Mode())
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != uint32(os.Getuid()) {
		t.Errorf("top.txt uid = %d, want the mounting user %d", sys.Uid, os.Getuid())
	}
	if out, _ := exec.Command("/bin/sh", "-c", "ls -l "+m.dir+" >/dev/null").CombinedOutput(); len(out) != 0 {
		t.Errorf("ls -l complained: %s", out)
	}
}

func TestOssfsMetadataAttributes(t *testing.T) {
	srv := newServer(t)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	srv.PutObject("test", "owned.bin", []byte("x"), hdr("x-oss-meta-mode", "33216", "x-oss-meta-uid", "1234", "x-oss-meta-gid", "5678", "x-oss-meta-mtime", fmt.Sprint(mtime.Unix())))
	srv.PutObject("test", "nomode.bin", []byte("x"), hdr("x-oss-meta-mode", "0"))
	srv.PutObject("test", "d/", nil, hdr("x-oss-meta-mode", fmt.Sprint(syscall.S_IFDIR|0o700), "Content-Type", "application/x-directory"))
	m := startMount(t, srv, "test", "-o", "file_mode=0640,dir_mode=0750")

	st, err := os.Stat(m.path("owned.bin"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o700 || sys.Uid != 1234 || sys.Gid != 5678 {
		t.Errorf("owned.bin: mode %v uid %d gid %d; want 0700 1234 5678 from ossfs metadata", st.Mode(), sys.Uid, sys.Gid)
	}
	if !st.ModTime().Equal(mtime) {
		t.Errorf("owned.bin mtime = %v, want %v", st.ModTime(), mtime)
	}
	st, _ = os.Stat(m.path("nomode.bin"))
	if st.Mode().Perm() != 0o640 {
		t.Errorf("nomode.bin mode = %v, want file_mode 0640 (never 000)", st.Mode())
	}
	st, _ = os.Stat(m.path("d"))
	if !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Errorf("d mode = %v, want dir 0700", st.Mode())
	}
	srv.PutObject("test", "impl/x", []byte("1"), nil)
	st, _ = os.Stat(m.path("impl"))
	if !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("implicit dir mode = %v, want dir_mode 0750", st.Mode())
	}
}

func TestReadSizes(t *testing.T) {
	srv := newServer(t)
	sizes := map[string]int{"zero": 0, "one": 1, "five": 5<<20 + 1, "big": 300 << 20}
	data := map[string][]byte{}
	for name, n := range sizes {
		data[name] = randBytes(n)
		if err := srv.PutObject("test", "sizes/"+name, data[name], nil); err != nil {
			t.Fatal(err)
		}
	}
	m := startMount(t, srv, "test")
	local := t.TempDir()
	for name := range sizes {
		lp := filepath.Join(local, name)
		os.WriteFile(lp, data[name], 0o644)
		if out, err := exec.Command("cmp", lp, m.path("sizes", name)).CombinedOutput(); err != nil {
			t.Errorf("cmp %s: %v %s", name, err, out)
		}
	}

	// Cold sequential reads again and again, as another process (the
	// page cache dropped each time): a reply path that loses data under
	// load shows up as a short or different read, not every time.
	want := strconv.FormatUint(checksum(data["big"]), 10)
	for i := 0; i < 3; i++ {
		if f, err := os.Open(m.path("sizes", "big")); err == nil {
			unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
			f.Close()
		}
		srv.ResetCounts()
		out := child(t, "seqread", m.path("sizes", "big"))
		if out[0] != strconv.Itoa(300<<20) || out[1] != want {
			t.Fatalf("cold sequential read %d: %s bytes, checksum %s, want %d bytes, %s", i, out[0], out[1], 300<<20, want)
		}
		// Parts of up to 8 MiB: about 40 GETs. The kernel's read-ahead
		// arrives out of order; that must not turn into small GETs.
		if n := srv.Counts()["GetObject"]; n > 80 {
			t.Errorf("cold sequential read %d of 300 MiB took %d GETs; want at most 80", i, n)
		}
	}

	// Random-offset reads, byte for byte.
	f, err := os.Open(m.path("sizes", "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	big := data["big"]
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		off := r.Int64N(int64(len(big)))
		n := 1 + r.IntN(256<<10)
		buf := make([]byte, n)
		got, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		want := big[off:min(off+int64(n), int64(len(big)))]
		if !bytes.Equal(buf[:got], want) {
			t.Fatalf("ReadAt(%d, %d): content differs", off, n)
		}
	}

	// mmap.
	mf, err := os.Open(m.path("sizes", "five"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	mm, err := syscall.Mmap(int(mf.Fd()), 0, len(data["five"]), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	if !bytes.Equal(mm, data["five"]) {
		t.Errorf("mmap content differs")
	}
	syscall.Munmap(mm)

	// Concurrent readers of the same and different files.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := []string{"five", "big"}[i%2]
			b, err := os.ReadFile(m.path("sizes", name))
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(b, data[name]) {
				errs <- fmt.Errorf("reader %d: %s differs", i, name)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBigDirectoryListing: with fast_listing, `ls -l` of 10,000 objects on
// a fresh mount costs 11 LISTs and nothing else: one for the directory's
// lookup (no HEAD of a file of the same name) and ten pages of 1,000 (the
// exact mode: TestListingCost).
func TestBigDirectoryListing(t *testing.T) {
	srv := newServer(t)
	const n = 10000
	for i := 0; i < n; i++ {
		srv.PutObject("test", fmt.Sprintf("many/f%05d", i), []byte("x"), nil)
	}
	// fast_listing: the listing's attributes are shown as they are.
	m := startMount(t, srv, "test", "-o", "fast_listing")
	srv.ResetCounts()
	out := run(t, "ls", "-l", m.path("many"))
	lines := strings.Count(out, "\n") - 1 // "total" line
	if lines != n {
		t.Fatalf("ls -l listed %d entries, want %d", lines, n)
	}
	counts := srv.Counts()
	var total int64
	for _, c := range counts {
		total += c
	}
	if counts["ListObjectsV2"] != 11 || total != 11 {
		t.Fatalf("ls -l of %d objects on a fresh mount cost %d requests %v; want 11 LISTs and nothing else", n, total, counts)
	}
}

// TestReplacedObjectSeenByNextOpen: with open_fresh_ttl=0 every open asks
// OSS (strict close-to-open); by default an open within 1 s of what OSS
// last said of the file may still read that version, and a later one reads
// the new version.
func TestReplacedObjectSeenByNextOpen(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "v.txt", []byte("version one"), nil)
	srv.PutObject("test", "w.txt", []byte("version one"), nil)
	m := startMount(t, srv, "test", "-o", "open_fresh_ttl=0")
	if b, _ := os.ReadFile(m.path("v.txt")); string(b) != "version one" {
		t.Fatalf("first read %q", b)
	}
	// An open handle on the old version fails rather than mixing versions.
	old, err := os.Open(m.path("v.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	srv.PutObject("test", "v.txt", []byte("the second version, longer"), nil)
	b, err := os.ReadFile(m.path("v.txt"))
	if err != nil || string(b) != "the second version, longer" {
		t.Fatalf("read after replace = %q, %v; want the new version (close-to-open)", b, err)
	}
	// The old handle either fails with ESTALE or, when the kernel answers
	// from the page cache the newer open just filled, sees one whole
	// version: never a mix of the two.
	buf := make([]byte, 64)
	n, err := old.ReadAt(buf, 0)
	switch got := string(buf[:n]); {
	case err != nil && err != io.EOF:
		if !errorsIs(err, syscall.ESTALE) {
			t.Errorf("old handle read error = %v, want ESTALE", err)
		}
	case got != "version one" && got != "the second version, longer":
		t.Errorf("old handle read %q: mixed versions", got)
	}

	// The default: the new version once open_fresh_ttl (1 s) passed
	// since OSS last said anything of the file, one whole version at
	// every open meanwhile.
	m2 := startMount(t, srv, "test")
	if b, _ := os.ReadFile(m2.path("w.txt")); string(b) != "version one" {
		t.Fatalf("first read %q", b)
	}
	srv.PutObject("test", "w.txt", []byte("the second version, longer"), nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(m2.path("w.txt"))
		if err != nil || string(b) != "version one" && string(b) != "the second version, longer" {
			t.Fatalf("read after replace = %q, %v: neither version", b, err)
		}
		if string(b) == "the second version, longer" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new version never seen by an open")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpenAfterListing: open + read of a file a listing just showed costs
// one GET, no HEAD (the listing's ETag stands for open_fresh_ttl), with
// exact attributes and with fast_listing; and a file replaced between the
// listing and the open is read whole in its new version.
func TestOpenAfterListing(t *testing.T) {
	srv := newServer(t)
	data := randBytes(100 << 10)
	for i := 0; i < 5; i++ {
		srv.PutObject("test", fmt.Sprintf("l/f%d", i), data, nil)
	}
	for _, opt := range []string{"", "fast_listing"} {
		m := startMount(t, srv, "test", mountOpts(opt)...)
		run(t, "ls", "-l", m.path("l"))
		srv.ResetCounts()
		if b, err := os.ReadFile(m.path("l", "f1")); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%s: read: %v", opt, err)
		}
		if c := srv.Counts(); c["GetObject"] != 1 || c["HeadObject"] != 0 || total(c) != 1 {
			t.Errorf("%q: open + read of a file just listed: %v, want one GET", opt, c)
		}
		// Replaced after the listing: the read finds out (If-Match)
		// and reads the new version, whole.
		nw := randBytes(150 << 10)
		srv.PutObject("test", "l/f2", nw, nil)
		if b, err := os.ReadFile(m.path("l", "f2")); err != nil || !bytes.Equal(b, nw) {
			t.Errorf("%q: read of a file replaced after the listing: %d bytes, %v; want the new version's %d (old: %v)", opt, len(b), err, len(nw), bytes.Equal(b, data))
		}
		m.stop()
	}
}

func errorsIs(err error, target syscall.Errno) bool {
	var pe *os.PathError
	if e, ok := err.(*os.PathError); ok {
		pe = e
		return pe.Err == target
	}
	return err == target
}

func TestMountFailsFast(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		env  []string
		want string
		code int // exit status: 2 for a usage error
	}{
		{"missing bucket", []string{"-f", "nosuchbucket", dir, "-o", "endpoint=" + srv.URL() + ",region=" + testRegion}, credEnv(), "does not exist", 1},
		{"wrong secret", []string{"-f", "test", dir, "-o", "endpoint=" + srv.URL() + ",region=" + testRegion},
			append(credEnv(), "ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong"), "denied", 1},
		{"unreachable", []string{"-f", "test", dir, "-o", "endpoint=http://127.0.0.1:1,region=" + testRegion + ",retry_max=1,timeout=2s"}, credEnv(), "cannot reach", 1},
		{"unknown option", []string{"-f", "test", dir, "-o", "endpoint=" + srv.URL() + ",bogus_option=1"}, credEnv(), "bogus_option", 2},
		{"bad option value", []string{"-f", "test", dir, "-o", "endpoint=" + srv.URL() + ",memory_budget=lots"}, credEnv(), "memory_budget", 2},
		{"bad option value, daemon", []string{"test", dir, "-o", "endpoint=" + srv.URL() + ",memory_budget=lots"}, credEnv(), "memory_budget", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(ossmountBin, c.args...)
			cmd.Env = c.env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err == nil {
				exec.Command("umount", "-l", dir).Run()
				t.Fatalf("mount succeeded; want failure")
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("output %q does not mention %q", out, c.want)
			}
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit status %d, want %d", code, c.code)
			}
			if strings.Contains(string(out), testSK) {
				t.Errorf("output leaks the secret")
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}

func TestOptionsAnyOrder(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "p/q/file", []byte("prefixed"), nil)
	dir := t.TempDir()
	// Options before the positionals, as --name value, and a prefix.
	cmd := exec.Command(ossmountBin, "--foreground", "--endpoint", srv.URL(), "--region", testRegion, "--stat_cache_ttl", "1s", "test:/p", dir, "-o", "ro")
	cmd.Env = credEnv()
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	for i := 0; !isMounted(dir); i++ {
		if i > 1500 {
			t.Fatalf("not mounted\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(filepath.Join(dir, "q", "file"))
	if err != nil || string(b) != "prefixed" {
		t.Fatalf("read through prefix mount: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new"), []byte("x"), 0o644); err == nil {
		t.Errorf("write on a ro mount succeeded")
	}
}

// TestRandomReadOneGET: a random pread of 128 KiB through the mount costs
// one GET (the blocks it needs are fetched as one range), and returns the
// object's bytes. The offsets are arbitrary (not aligned to pages or
// blocks) and far apart, so no read finds another's data cached.
func TestRandomReadOneGET(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	const size, readSize, slot = 64 << 20, 128 << 10, 1 << 20
	data := randBytes(size)
	if err := srv.PutObject("test", "random.bin", data, nil); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, srv, "test")
	f, err := os.Open(m.path("random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, readSize)
	var gets []int64
	for _, s := range r.Perm(size / slot)[:24] {
		if s == 0 {
			continue // offset 0 starts a sequential stream, by design
		}
		// Inside its own MiB slot, 64 KiB from either edge.
		off := int64(s)*slot + 64<<10 + r.Int64N(slot-readSize-128<<10)
		before := srv.Count("GetObject")
		n, err := f.ReadAt(buf, off)
		gets = append(gets, srv.Count("GetObject")-before)
		if err != nil || n != readSize || !bytes.Equal(buf, data[off:off+readSize]) {
			t.Fatalf("pread of %d at %d: %d bytes, %v, equal %v", readSize, off, n, err, bytes.Equal(buf[:n], data[off:off+int64(n)]))
		}
	}
	for i, g := range gets {
		if g != 1 {
			t.Errorf("random 128 KiB preads cost %v GETs; want 1 each (read %d)", gets, i)
			break
		}
	}
	t.Logf("GETs per random 128 KiB pread: %v", gets)
}
