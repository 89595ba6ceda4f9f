package e2e

// Special files (FIFOs, devices, sockets) stored as ossfs stores them, and
// the limits on names, keys and sizes.

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSpecialFiles: mkfifo, mknod (character, block) and unix sockets
// create zero-byte objects with ossfs's mode (and rdev), shown back with
// their type on this mount and on a fresh one; special files ossfs wrote
// show too; FIFOs work; device nodes do not open (nodev).
func TestSpecialFiles(t *testing.T) {
	srv := newServer(t)
	srv.PutObject("test", "ossfs-fifo", nil, hdr("x-oss-meta-mode", strconv.Itoa(syscall.S_IFIFO|0o640)))
	m := startMount(t, srv, "test")
	if err := unix.Mkfifo(m.path("fifo"), 0o640); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	if err := unix.Mknod(m.path("null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod c 1 3: %v", err)
	}
	if err := unix.Mknod(m.path("disk"), syscall.S_IFBLK|0o600, int(unix.Mkdev(8, 1))); err != nil {
		t.Fatalf("mknod b 8 1: %v", err)
	}
	l, err := net.Listen("unix", m.path("sock"))
	if err != nil {
		t.Fatalf("bind a unix socket: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	want := map[string]struct {
		mode uint32
		rdev uint64
	}{
		"fifo":       {syscall.S_IFIFO | 0o640, 0},
		"null":       {syscall.S_IFCHR | 0o644, unix.Mkdev(1, 3)}, // 0666 less the umask
		"disk":       {syscall.S_IFBLK | 0o600, unix.Mkdev(8, 1)},
		"sock":       {syscall.S_IFSOCK | 0o755, 0},
		"ossfs-fifo": {syscall.S_IFIFO | 0o640, 0},
	}
	check := func(dir, when string) {
		t.Helper()
		for name, w := range want {
			var st unix.Stat_t
			if err := unix.Lstat(dir+"/"+name, &st); err != nil {
				t.Errorf("%s: stat %s: %v", when, name, err)
				continue
			}
			wantMode := w.mode
			if name == "sock" {
				wantMode = syscall.S_IFSOCK | st.Mode&0o777 // the bind's mode follows the umask
			}
			if st.Mode != wantMode || st.Rdev != w.rdev || st.Size != 0 {
				t.Errorf("%s: %s: mode %o rdev %d size %d; want %o %d 0", when, name, st.Mode, st.Rdev, st.Size, wantMode, w.rdev)
			}
		}
	}
	check(m.dir, "this mount")
	for name, w := range want {
		data, h, err := srv.GetObject("test", name)
		if err != nil || len(data) != 0 {
			t.Errorf("%s on the server: %d bytes, %v", name, len(data), err)
			continue
		}
		mode, _ := strconv.ParseUint(h.Get("X-Oss-Meta-Mode"), 10, 32)
		if uint32(mode)&syscall.S_IFMT != w.mode&syscall.S_IFMT {
			t.Errorf("%s on the server: x-oss-meta-mode %s, want type %o", name, h.Get("X-Oss-Meta-Mode"), w.mode&syscall.S_IFMT)
		}
		if w.rdev != 0 && h.Get("X-Oss-Meta-Rdev") != strconv.FormatUint(w.rdev, 10) {
			t.Errorf("%s on the server: x-oss-meta-rdev %q, want %d", name, h.Get("X-Oss-Meta-Rdev"), w.rdev)
		}
	}
	out := run(t, "ls", "-l", m.dir)
	for _, c := range []string{"prw-r-----", "crw-r--r--", "brw-------", "srwx"} {
		if !strings.Contains(out, c) {
			t.Errorf("ls -l shows no %s entry:\n%s", c, out)
		}
	}
	// The mount is nodev: a device node does not open.
	if _, err := os.Open(m.path("null")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("open of a character device on the mount: %v, want EACCES (nodev)", err)
	}
	// A FIFO is a pipe.
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(m.path("fifo"), os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write([]byte("through the fifo"))
			f.Close()
		}
		done <- err
	}()
	r, err := os.Open(m.path("fifo"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if err := <-done; err != nil || string(got) != "through the fifo" {
		t.Errorf("fifo: read %q, writer %v", got, err)
	}
	// chmod and rename keep the type; unlink removes the object.
	if err := os.Chmod(m.path("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("fifo"), m.path("fifo2")); err != nil {
		t.Fatal(err)
	}
	want["fifo2"] = struct {
		mode uint32
		rdev uint64
	}{syscall.S_IFIFO | 0o600, 0}
	delete(want, "fifo")
	if err := os.Remove(m.path("disk")); err != nil {
		t.Fatal(err)
	}
	delete(want, "disk")
	m.stop()
	m2 := startMount(t, srv, "test")
	check(m2.dir, "a fresh mount")
}

// TestNameAndSizeLimits: a name over 255 bytes or a key over 1,023 bytes is
// ENAMETOOLONG in every operation; an impossible size is EFBIG at once.
func TestNameAndSizeLimits(t *testing.T) {
	srv := newServer(t)
	m := startMount(t, srv, "test")
	long := strings.Repeat("n", 256)
	os.WriteFile(m.path("short"), []byte("x"), 0o644)
	wantErr := func(what string, err error, want syscall.Errno) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	wantErr("mkdir", os.Mkdir(m.path(long), 0o755), syscall.ENAMETOOLONG)
	wantErr("symlink", os.Symlink("short", m.path(long)), syscall.ENAMETOOLONG)
	_, err := os.Create(m.path(long))
	wantErr("create", err, syscall.ENAMETOOLONG)
	wantErr("rename", os.Rename(m.path("short"), m.path(long)), syscall.ENAMETOOLONG)
	_, err = os.Stat(m.path(long))
	wantErr("stat", err, syscall.ENAMETOOLONG)
	wantErr("mkfifo", unix.Mkfifo(m.path(long), 0o644), syscall.ENAMETOOLONG)
	// Keys: 5 levels of 200-byte names make a 1,004-byte key; one more
	// level of 30 bytes does not fit in 1,023.
	deep := m.path()
	for i := 0; i < 5; i++ {
		deep += "/" + strings.Repeat(strconv.Itoa(i), 200)
		if err := os.Mkdir(deep, 0o755); err != nil {
			t.Fatalf("mkdir level %d: %v", i, err)
		}
	}
	tail := strings.Repeat("t", 30)
	wantErr("mkdir of a key over 1,023 bytes", os.Mkdir(deep+"/"+tail, 0o755), syscall.ENAMETOOLONG)
	_, err = os.Create(deep + "/" + tail)
	wantErr("create of a key over 1,023 bytes", err, syscall.ENAMETOOLONG)
	wantErr("symlink of a key over 1,023 bytes", os.Symlink("x", deep+"/"+tail), syscall.ENAMETOOLONG)
	_, err = os.Stat(deep + "/" + tail)
	wantErr("stat of a key over 1,023 bytes", err, syscall.ENAMETOOLONG)
	if err := os.WriteFile(deep+"/ok", []byte("fits"), 0o644); err != nil {
		t.Errorf("a key that fits: %v", err)
	}
	for _, k := range srv.Keys("test") {
		if len(k) > 1023 {
			t.Errorf("key of %d bytes on the server", len(k))
		}
	}

	// Sizes: OSS keeps at most 48.8 TiB.
	start := time.Now()
	wantErr("truncate to 999999999999999 bytes", os.Truncate(m.path("short"), 999999999999999), syscall.EFBIG)
	f, err := os.OpenFile(m.path("short"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantErr("ftruncate to 999999999999999 bytes", f.Truncate(999999999999999), syscall.EFBIG)
	_, err = f.WriteAt([]byte("x"), 60<<40)
	wantErr("write at 60 TiB", err, syscall.EFBIG)
	if err := f.Close(); err != nil {
		t.Errorf("close after refused calls: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("impossible sizes took %v to fail", d)
	}
	if b, _, _ := srv.GetObject("test", "short"); string(b) != "x" {
		t.Errorf("short on the server: %q", b)
	}
	if strings.Contains(m.log.String(), "data is kept") {
		t.Errorf("refused sizes logged a kept upload:\n%s", m.log.String())
	}
}
