package e2e

// The persistent data cache (-o data_cache=DIR) and FUSE passthrough:
// validity (a changed object, a corrupted cache file, a daemon killed while
// filling), one mount per directory, eviction, pin/drop, and passthrough on
// and off, each checked by the bytes read and by the requests that reached
// the server.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ossmount/ossmount/ossapi/osstest"
)

// cacheAttr reads the user.oss.cache answer of path as JSON.
func cacheAttr(t testing.TB, path string) map[string]any {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := syscall.Getxattr(path, "user.oss.cache", buf)
	if err != nil {
		t.Fatalf("getxattr %s user.oss.cache: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		t.Fatalf("user.oss.cache of %s: %v: %q", path, err, buf[:n])
	}
	return m
}

func num(m map[string]any, k string) int64 {
	v, _ := m[k].(float64)
	return int64(v)
}

// waitSealed waits until the cache holds path whole and verified (the seal
// runs in the background once the last chunk is written).
func waitSealed(t testing.TB, path string, size int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := cacheAttr(t, path)
		if num(st, "cached_bytes") == size && st["verified_whole"] == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never cached whole: %v", path, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dropPages drops the kernel's cached pages of path (a file in a mount),
// so the next read reaches the daemon (or the passthrough file).
func dropPages(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func TestDataCacheWarmReadAfterRemountPassthrough(t *testing.T) {
	srv := newServer(t)
	data := randBytes(5<<20 + 12345)
	srv.PutObject("test", "big.bin", data, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir)
	if !bytes.Equal(readAll(t, m.path("big.bin")), data) {
		t.Fatal("first read: wrong bytes")
	}
	waitSealed(t, m.path("big.bin"), int64(len(data)))
	m.stop()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data_cache directory: %v %v", st.Mode(), err)
	}

	m = startMount(t, srv, "test", "-o", "data_cache="+dir)
	if !m.waitLog("FUSE passthrough on", 10*time.Second) {
		t.Fatalf("passthrough not available as root on this kernel:\n%s", m.log.String())
	}
	if _, err := os.Stat(m.path("big.bin")); err != nil { // the lookup (HEAD and LIST)
		t.Fatal(err)
	}
	srv.ResetCounts()
	if !bytes.Equal(readAll(t, m.path("big.bin")), data) {
		t.Fatal("warm read after remount: wrong bytes")
	}
	c := srv.Counts()
	if c["GetObject"] != 0 || c["HeadObject"] > 1 {
		t.Fatalf("warm read after remount made requests: %v", c)
	}
	sum := cacheAttr(t, m.dir)
	// Passthrough: the kernel read the cache file itself; no READ reached
	// the daemon (it would have been served from the cache, a hit, or
	// fetched, a GET).
	if num(sum, "PassthroughOpens") < 1 || num(sum, "Hits") != 0 {
		t.Fatalf("warm read not by passthrough: %v", sum)
	}
	// mmap of a passthrough file reads the same bytes.
	f, err := os.Open(m.path("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	mm, err := syscall.Mmap(int(f.Fd()), 0, len(data), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mm, data) {
		t.Fatal("mmap of a passthrough file: wrong bytes")
	}
	syscall.Munmap(mm)
	// While it is open by passthrough, a write open is refused (the kernel
	// cannot mix the two on one inode), with a log line.
	if _, err := os.OpenFile(m.path("big.bin"), os.O_WRONLY, 0); err == nil || !strings.Contains(err.Error(), "text file busy") {
		t.Fatalf("write open beside a passthrough reader: %v", err)
	}
	f.Close()
	// Closed: writing works, and the entry of the old version is gone.
	if err := os.WriteFile(m.path("big.bin"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, m.path("big.bin")); string(got) != "new" {
		t.Fatalf("after a write: %q", got)
	}
	if st := cacheAttr(t, m.path("big.bin")); num(st, "cached_bytes") != 3 && num(st, "cached_bytes") != 0 {
		t.Fatalf("after a write the cache holds %v", st)
	}
}

func TestDataCachePassthroughOff(t *testing.T) {
	srv := newServer(t)
	data := randBytes(3<<20 + 7)
	srv.PutObject("test", "f.bin", data, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",data_cache_passthrough=off")
	readAll(t, m.path("f.bin"))
	waitSealed(t, m.path("f.bin"), int64(len(data)))
	m.stop()
	m = startMount(t, srv, "test", "-o", "data_cache="+dir+",data_cache_passthrough=off")
	srv.ResetCounts()
	if !bytes.Equal(readAll(t, m.path("f.bin")), data) {
		t.Fatal("warm read: wrong bytes")
	}
	if c := srv.Counts(); c["GetObject"] != 0 {
		t.Fatalf("warm read made GETs: %v", c)
	}
	sum := cacheAttr(t, m.dir)
	if num(sum, "PassthroughOpens") != 0 || num(sum, "Hits") == 0 || num(sum, "HitBytes") != int64(len(data)) {
		t.Fatalf("passthrough off: %v", sum)
	}
	// A write open while a reader is open works (no passthrough).
	f, err := os.Open(m.path("f.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := os.OpenFile(m.path("f.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("write open beside a reader: %v", err)
	}
	w.Close()
}

func TestDataCacheChangedObjectNotServed(t *testing.T) {
	srv := newServer(t)
	old := randBytes(2 << 20)
	srv.PutObject("test", "f.bin", old, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",stat_cache_ttl=0")
	readAll(t, m.path("f.bin"))
	waitSealed(t, m.path("f.bin"), int64(len(old)))
	// Replaced behind the mount's back, same size.
	nw := randBytes(2 << 20)
	srv.PutObject("test", "f.bin", nw, nil)
	srv.ResetCounts()
	if got := readAll(t, m.path("f.bin")); !bytes.Equal(got, nw) {
		t.Fatalf("changed object: old bytes served from the cache (%v)", bytes.Equal(got, old))
	}
	if srv.Counts()["GetObject"] == 0 {
		t.Fatal("new version read without a GET")
	}
	waitSealed(t, m.path("f.bin"), int64(len(nw)))
	// And after a remount, the cache holds the new version only.
	m.stop()
	srv.PutObject("test", "f.bin", old, nil)
	m = startMount(t, srv, "test", "-o", "data_cache="+dir)
	if got := readAll(t, m.path("f.bin")); !bytes.Equal(got, old) {
		t.Fatal("changed object while unmounted: stale bytes served")
	}
}

// cacheFiles returns the data files in a data_cache directory.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*.data"))
	return files
}

func TestDataCacheCorruptFileRefetched(t *testing.T) {
	srv := newServer(t)
	data := randBytes(4<<20 + 100)
	srv.PutObject("test", "f.bin", data, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	for _, pt := range []string{"on", "off"} {
		t.Run("passthrough="+pt, func(t *testing.T) {
			m := startMount(t, srv, "test", "-o", "data_cache="+dir+",data_cache_passthrough="+pt)
			readAll(t, m.path("f.bin"))
			waitSealed(t, m.path("f.bin"), int64(len(data)))
			files := cacheFiles(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache files %v", files)
			}
			// Flip bytes in the middle of the cache file, as a disk or a
			// stray program would.
			f, err := os.OpenFile(files[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			bad := bytes.Repeat([]byte{0x5a}, 100)
			f.WriteAt(bad, 2<<20+50)
			f.Close()
			dropPages(t, m.path("f.bin"))
			srv.ResetCounts()
			if got := readAll(t, m.path("f.bin")); !bytes.Equal(got, data) {
				t.Fatal("corrupted cache file served")
			}
			if srv.Counts()["GetObject"] == 0 {
				t.Fatal("corrupted chunk not fetched again")
			}
			if !m.waitLog("failed its checksum", 10*time.Second) {
				t.Fatalf("no log line about the corrupted chunk:\n%s", m.log.String())
			}
			// Refilled: whole and verified again.
			waitSealed(t, m.path("f.bin"), int64(len(data)))
			m.stop()
		})
	}
}

func TestDataCacheKillDuringFill(t *testing.T) {
	srv := newServer(t)
	data := randBytes(24 << 20)
	srv.PutObject("test", "f.bin", data, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",read_part_size=1M,max_read_window=4M")
	// Let a few GETs through, then hold the rest: the daemon is killed
	// with the cache half filled.
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 6, Stall: true})
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 7, Stall: true})
	srv.AddFault(osstest.Fault{Op: "GetObject", Nth: 8, Stall: true})
	reader := exec.Command("dd", "if="+m.path("f.bin"), "of=/dev/null", "bs=1M")
	reader.Start()
	deadline := time.Now().Add(30 * time.Second)
	for srv.Count("GetObject") < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the fills of the first parts land (either way is a valid crash point)
	m.cmd.Process.Kill()
	<-m.exited
	exec.Command("umount", "-l", m.dir).Run()
	reader.Wait()
	srv.ClearFaults()

	m2 := startMount(t, srv, "test", "-o", "data_cache="+dir)
	if got := readAll(t, m2.path("f.bin")); !bytes.Equal(got, data) {
		t.Fatal("after kill -9 during a fill: wrong bytes")
	}
	waitSealed(t, m2.path("f.bin"), int64(len(data)))
	m2.stop()
	m3 := startMount(t, srv, "test", "-o", "data_cache="+dir)
	srv.ResetCounts()
	if got := readAll(t, m3.path("f.bin")); !bytes.Equal(got, data) {
		t.Fatal("warm read after the crash and a refill: wrong bytes")
	}
	if n := srv.Count("GetObject"); n != 0 {
		t.Fatalf("warm read made %d GETs", n)
	}
}

func TestDataCacheTwoMountsOneDir(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "a", []byte("hello"), nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir)
	mnt2 := t.TempDir()
	cmd := exec.Command(ossmountBin, "-f", "test", mnt2, "-o", "endpoint="+srv.URL()+",region="+testRegion+",data_cache="+dir)
	cmd.Env = credEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another mount") {
		exec.Command("umount", "-l", mnt2).Run()
		t.Fatalf("second mount on one data_cache: %v\n%s", err, out)
	}
	if isMounted(mnt2) {
		t.Fatal("second mount mounted")
	}
	if got := readAll(t, m.path("a")); string(got) != "hello" {
		t.Fatalf("first mount after the refusal: %q", got)
	}
	// A symlink is not accepted as the directory.
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	cmd = exec.Command(ossmountBin, "-f", "test", mnt2, "-o", "endpoint="+srv.URL()+",region="+testRegion+",data_cache="+link)
	cmd.Env = credEnv()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "symlink") {
		exec.Command("umount", "-l", mnt2).Run()
		t.Fatalf("data_cache through a symlink: %v\n%s", err, out)
	}
}

func TestDataCacheEvictionUnderLimit(t *testing.T) {
	srv := newServer(t)
	files := map[string][]byte{}
	for _, k := range []string{"a", "b", "c"} {
		files[k] = randBytes(1 << 20)
		srv.PutObject("test", k, files[k], nil)
	}
	srv.PutObject("test", "huge", randBytes(3<<20), nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",data_cache_size=2560K")
	for _, k := range []string{"a", "b", "c"} {
		if !bytes.Equal(readAll(t, m.path(k)), files[k]) {
			t.Fatalf("%s: wrong bytes", k)
		}
		waitSealed(t, m.path(k), 1<<20)
	}
	sum := cacheAttr(t, m.dir)
	if num(sum, "Bytes") > 2560<<10 || num(sum, "Evictions") < 1 {
		t.Fatalf("over the limit: %v", sum)
	}
	if st := cacheAttr(t, m.path("a")); num(st, "cached_bytes") != 0 {
		t.Fatalf("least recently used file kept: %v", st)
	}
	// A file larger than the cache is read correctly and not cached.
	readAll(t, m.path("huge"))
	if st := cacheAttr(t, m.path("huge")); num(st, "cached_bytes") != 0 {
		t.Fatalf("file larger than the cache was cached: %v", st)
	}
	if st := cacheAttr(t, m.path("c")); num(st, "cached_bytes") != 1<<20 {
		t.Fatalf("a file larger than the cache evicted others: %v", st)
	}
	// What is on disk matches the index: the evicted file's data is gone.
	if n := len(cacheFiles(t, dir)); n != 2 {
		t.Fatalf("%d data files on disk, want 2", n)
	}
}

func TestDataCachePinAndDrop(t *testing.T) {
	srv := newServer(t)
	data := randBytes(3<<20 + 1)
	srv.PutObject("test", "f.bin", data, nil)
	srv.PutObject("test", "secret", []byte("x"), map[string][]string{"X-Oss-Meta-Mode": {"33152"}}) // 0600, owner root
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",allow_other")
	srv.ResetCounts()
	run(t, "setfattr", "-n", "user.oss.cache", "-v", "pin", m.path("f.bin"))
	if srv.Count("GetObject") == 0 {
		t.Fatal("pin fetched nothing")
	}
	st := cacheAttr(t, m.path("f.bin"))
	if num(st, "cached_bytes") != int64(len(data)) || st["pinned"] != true {
		t.Fatalf("after pin: %v", st)
	}
	srv.ResetCounts()
	if !bytes.Equal(readAll(t, m.path("f.bin")), data) {
		t.Fatal("pinned file: wrong bytes")
	}
	if n := srv.Count("GetObject"); n != 0 {
		t.Fatalf("read of a pinned file made %d GETs", n)
	}
	out := run(t, ossmountBin, "cache", "status", m.path("f.bin"))
	if !strings.Contains(out, `"pinned": true`) {
		t.Fatalf("ossmount cache status: %s", out)
	}
	run(t, ossmountBin, "cache", "drop", m.path("f.bin"))
	if st := cacheAttr(t, m.path("f.bin")); num(st, "cached_bytes") != 0 {
		t.Fatalf("after drop: %v", st)
	}
	if n := len(cacheFiles(t, dir)); n != 0 {
		t.Fatalf("drop left %d data files", n)
	}
	// Another user may not pin, drop or inspect what they may not read.
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ossmountBin, "cache", "pin", m.path("secret"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("pin by another user: %v %s", err, out)
	}
	if out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "getfattr", "-n", "user.oss.cache", m.path("secret")).CombinedOutput(); err == nil {
		t.Fatalf("status by another user: %s", out)
	}
	if st := cacheAttr(t, m.path("secret")); num(st, "cached_bytes") != 0 {
		t.Fatalf("another user's pin cached the file: %v", st)
	}
}

// A daemon without CAP_SYS_ADMIN in the initial user namespace (here: root
// of a new user namespace, where FUSE mounts are allowed) cannot register
// backing files: the mount says so once and serves wholly cached files
// through FUSE, from the cache, with no GET. The mount lives in the
// namespace's own mount table, so a script inside it does the reads.
func TestDataCachePassthroughFallbackUnprivileged(t *testing.T) {
	if err := exec.Command("unshare", "-Urm", "true").Run(); err != nil {
		t.Skipf("cannot create a user namespace here (%v): no unprivileged daemon to test with", err)
	}
	srv := newServer(t)
	data := randBytes(2<<20 + 3)
	srv.PutObject("test", "f.bin", data, nil)
	tmp := t.TempDir()
	mnt, dc, logf := filepath.Join(tmp, "mnt"), filepath.Join(tmp, "dc"), filepath.Join(tmp, "log")
	out, ready, goFile := filepath.Join(tmp, "out"), filepath.Join(tmp, "ready"), filepath.Join(tmp, "go")
	os.Mkdir(mnt, 0o755)
	script := `
"$OSSMOUNT" -f test "$MNT" -o endpoint="$EP",region=cn-hangzhou,data_cache="$DC" >"$LOG" 2>&1 &
pid=$!
for i in $(seq 600); do grep -q msg=mounted "$LOG" && break; sleep 0.05; done
cat "$MNT/f.bin" >/dev/null || exit 3
for i in $(seq 1200); do getfattr --only-values -n user.oss.cache "$MNT/f.bin" | grep -q '"verified_whole":true' && break; sleep 0.05; done
dd if="$MNT/f.bin" iflag=nocache count=0 status=none
touch "$READY"
for i in $(seq 1200); do [ -e "$GO" ] && break; sleep 0.05; done
cat "$MNT/f.bin" >"$OUT" || exit 4
getfattr --only-values -n user.oss.cache "$MNT" >"$OUT.sum" || exit 5
kill $pid; wait $pid
`
	cmd := exec.Command("unshare", "-Urm", "sh", "-c", script)
	cmd.Env = append(credEnv(), "OSSMOUNT="+ossmountBin, "MNT="+mnt, "EP="+srv.URL(), "DC="+dc, "LOG="+logf,
		"OUT="+out, "READY="+ready, "GO="+goFile)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(logf)
			t.Fatalf("script ended early: %v %s\n%s", err, stderr.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the mount in the user namespace never cached the file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.ResetCounts()
	os.WriteFile(goFile, nil, 0o644)
	if err := <-done; err != nil {
		log, _ := os.ReadFile(logf)
		t.Fatalf("script: %v %s\n%s", err, stderr.String(), log)
	}
	log, _ := os.ReadFile(logf)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("read through the daemon: wrong bytes\n%s", log)
	}
	if n := srv.Count("GetObject"); n != 0 {
		t.Fatalf("cached file fetched again: %d GETs", n)
	}
	if n := strings.Count(string(log), "FUSE passthrough unavailable"); n != 1 || !strings.Contains(string(log), "CAP_SYS_ADMIN") {
		t.Fatalf("passthrough refusal logged %d times:\n%s", n, log)
	}
	b, _ := os.ReadFile(out + ".sum")
	var sum map[string]any
	json.Unmarshal(b, &sum)
	if num(sum, "PassthroughOpens") != 0 || num(sum, "HitBytes") != int64(len(data)) {
		t.Fatalf("fallback: %s", b)
	}
}

// TestDataCacheSequentialReadFillsWhole: one sequential pass over a file
// (128 KiB reads from another process, as a program reads) leaves it whole
// in the cache, on a network with a round trip, where the read-ahead sizes
// its parts from the measured bandwidth-delay product (parts of any size
// once used to split chunks that neither part then stored), the parts
// still in flight when the file is closed included; a read after a remount
// and a listing then makes no request at all.
func TestDataCacheSequentialReadFillsWhole(t *testing.T) {
	srv := newServer(t)
	data := randBytes(40<<20 + 4321)
	srv.PutObject("test", "d/seq.bin", data, nil)
	dir := filepath.Join(t.TempDir(), "dc")
	m := startMount(t, srv, "test", "-o", "data_cache="+dir)
	srv.SetNetwork(osstest.Network{Latency: 500 * time.Microsecond})
	out := child(t, "seqread", m.path("d", "seq.bin"))
	if out[0] != strconv.Itoa(len(data)) || out[1] != strconv.FormatUint(checksum(data), 10) {
		t.Fatalf("first read: %s bytes, checksum %s", out[0], out[1])
	}
	srv.SetNetwork(osstest.Network{})
	waitSealed(t, m.path("d", "seq.bin"), int64(len(data)))
	m.stop()

	m = startMount(t, srv, "test", "-o", "data_cache="+dir)
	run(t, "ls", "-l", m.path("d"))
	srv.ResetCounts()
	if !bytes.Equal(readAll(t, m.path("d", "seq.bin")), data) {
		t.Fatal("read after remount: wrong bytes")
	}
	if c := srv.Counts(); c["GetObject"] != 0 || c["HeadObject"] != 0 {
		t.Fatalf("read after a remount and a listing made requests: %v", c)
	}
}

// close(2) returns before the kernel's RELEASE of the handle reaches the
// daemon (the kernel sends it in the background, behind other background
// requests). A write open right after the last passthrough reader closed
// must not be refused as if the reader were still there (ETXTBSY), nor a
// read of a newer version right after the old one's reader closed (EBUSY).
// max_background=1 and a slow read of another file hold the RELEASE back
// for a moment, as a loaded machine does by chance.
func TestDataCacheOpenRightAfterPassthroughClose(t *testing.T) {
	srv := newServer(t)
	data := randBytes(256 << 10)
	srv.PutObject("test", "f", data, nil)
	for _, k := range []string{"slow0", "slow1"} {
		srv.PutObject("test", k, randBytes(1<<20), nil)
	}
	dir := filepath.Join(t.TempDir(), "dc")
	// open_fresh_ttl=0: every open asks OSS, so it sees a new version.
	m := startMount(t, srv, "test", "-o", "data_cache="+dir+",open_fresh_ttl=0,max_background=1")
	if !m.waitLog("FUSE passthrough on", 10*time.Second) {
		t.Fatalf("passthrough not available as root on this kernel:\n%s", m.log.String())
	}
	p := m.path("f")
	readAll(t, p)
	waitSealed(t, p, int64(len(data)))
	for round, slow := range []string{"slow0", "slow1"} {
		// A read of another file whose GET takes 1.5 s holds the one
		// background slot.
		srv.AddFault(osstest.Fault{Op: "GetObject", Key: slow, Latency: 1500 * time.Millisecond, Times: 1})
		before := srv.Count("GetObject")
		slowDone := make(chan error, 1)
		go func() {
			_, err := os.ReadFile(m.path(slow))
			slowDone <- err
		}()
		if !waitFor(30*time.Second, func() bool { return srv.Count("GetObject") > before }) {
			t.Fatalf("round %d: the read of %s made no GET", round, slow)
		}
		opens := num(cacheAttr(t, m.dir), "PassthroughOpens")
		got := readAll(t, p)
		if after := num(cacheAttr(t, m.dir), "PassthroughOpens"); after != opens+1 {
			t.Fatalf("round %d: the read was not by passthrough (%d -> %d opens)", round, opens, after)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: passthrough read %d bytes, not the object", round, len(got))
		}
		if round == 0 {
			// A writer right after the passthrough reader's close.
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatalf("write open right after the passthrough reader closed: %v", err)
			}
			f.Write([]byte("x"))
			if err := f.Close(); err != nil {
				t.Fatalf("close after append: %v", err)
			}
			data = append(data, 'x')
			if got := readAll(t, p); !bytes.Equal(got, data) {
				t.Fatalf("after append: %d bytes, want %d", len(got), len(data))
			}
			readAll(t, p)
			waitSealed(t, p, int64(len(data)))
		} else {
			// A new version behind the mount's back, read right after
			// the old version's passthrough reader closed.
			next := randBytes(1000)
			srv.PutObject("test", "f", next, nil)
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read of a new version right after the old one's passthrough reader closed: %v", err)
			}
			if !bytes.Equal(got, next) {
				t.Fatalf("new version read back as %d bytes, want %d", len(got), len(next))
			}
		}
		if err := <-slowDone; err != nil {
			t.Fatalf("slow read: %v", err)
		}
	}
}
