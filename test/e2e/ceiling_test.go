package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// What FUSE alone costs on this machine: a go-fuse file system that answers
// every read at once from one buffer in memory, mounted with ossmount's FUSE
// settings. Reading a file through it costs what any FUSE mount pays
// (request round trips, the copy into the page cache, the copy out to the
// reader) and nothing else. A mount of OSS pays that on top of the GETs; on
// a machine where both share the CPU, their costs add. make bench prints it
// next to the raw GET limit.

// memFile is one read-only file of a fixed size whose bytes repeat one
// buffer.
type memFile struct {
	gofs.Inode
	size int64
	buf  []byte
}

func (f *memFile) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(f.size)
	return 0
}

func (f *memFile) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

func (f *memFile) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n := max(min(int64(len(dest)), f.size-off), 0)
	// The reply is taken from the buffer itself, wrapping around it.
	var res sliceResult
	for n > 0 {
		start := off % int64(len(f.buf))
		m := min(n, int64(len(f.buf))-start)
		res = append(res, f.buf[start:start+m])
		off, n = off+m, n-m
	}
	return res, 0
}

// sliceResult is written with one writev, as ossmount's replies are.
type sliceResult [][]byte

func (d sliceResult) Slices() ([][]byte, fuse.Status) { return d, fuse.OK }
func (d sliceResult) Done()                           {}
func (d sliceResult) Size() int {
	n := 0
	for _, s := range d {
		n += len(s)
	}
	return n
}
func (d sliceResult) Bytes(b []byte) ([]byte, fuse.Status) {
	b = b[:0]
	for _, s := range d {
		b = append(b, s...)
	}
	return b, fuse.OK
}

type memRoot struct {
	gofs.Inode
	file *memFile
}

func (r *memRoot) OnAdd(ctx context.Context) {
	r.AddChild("data", r.NewPersistentInode(ctx, r.file, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
}

// serveMemFS is the "memfs" helper mode: it mounts a file of size bytes at
// dir/data, prints "ready" and serves until SIGTERM.
func serveMemFS(dir string, size int64) error {
	buf := pseudoRandom(4<<20, 3)
	root := &memRoot{file: &memFile{size: size, buf: buf}}
	// Attributes never expire: no GETATTR between reads.
	forever := time.Hour
	srv, err := gofs.Mount(dir, root, &gofs.Options{AttrTimeout: &forever, EntryTimeout: &forever, MountOptions: fuse.MountOptions{
		FsName: "memfs", Name: "memfs", MaxWrite: 1 << 20, MaxReadAhead: 1 << 20,
		DirectMount: true, MaxBackground: 64,
	}})
	if err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err == nil {
		dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
		os.WriteFile("/sys/class/bdi/"+dev+"/read_ahead_kb", []byte("16384"), 0o644)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		srv.Unmount()
	}()
	fmt.Println("ready")
	srv.Wait()
	return nil
}

// fuseCeiling mounts the memory file system in a child process, has another
// child read size bytes from it cold with 128 KiB reads, and returns MiB/s.
func fuseCeiling(b testing.TB, size int64) float64 {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command(os.Args[0], dir, strconv.FormatInt(size, 10))
	cmd.Env = append(os.Environ(), benchChildEnv+"=memfs")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		b.Fatalf("memfs did not start: %q %v", line, err)
	}
	res := child(b, "seqread", filepath.Join(dir, "data"))
	if n, _ := strconv.ParseInt(res[0], 10, 64); n != size {
		b.Fatalf("memfs read returned %s bytes, want %d", res[0], size)
	}
	secs, _ := strconv.ParseFloat(res[2], 64)
	return float64(size) / (1 << 20) / secs
}
