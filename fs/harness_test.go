package fs

// The file system driven without FUSE: go-fuse's node bridge
// (gofs.NewNodeFS) gets the calls the kernel would send, and the store is
// the osstest emulator over real HTTP with signatures checked. No mount,
// no kernel: these tests run anywhere, under -race.

import (
	"log/slog"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/internal/testenv"
	"github.com/ossmount/ossmount/ossapi"
	"github.com/ossmount/ossmount/ossapi/osstest"
)

// logBuf collects a log (internal/testenv).
type logBuf = testenv.LogBuf

// testFS is a file system on an emulated bucket, driven like the kernel.
type testFS struct {
	t     *testing.T
	srv   *osstest.Server
	fs    *FS
	raw   fuse.RawFileSystem
	log   *logBuf
	cache string
}

func newTestServer(t *testing.T, buckets ...string) *osstest.Server {
	return testenv.Server(t, buckets...)
}

func testStore(t *testing.T, srv *osstest.Server, bucket string, attempts int) ossapi.ObjectStore {
	return testenv.Store(t, srv, bucket, attempts)
}

// newTestFS makes a file system on bucket "test" of srv (a new server when
// nil) with 1 MiB upload parts; cfg changes the configuration.
func newTestFS(t *testing.T, srv *osstest.Server, cfg func(*Config)) *testFS {
	t.Helper()
	if srv == nil {
		srv = newTestServer(t)
	}
	tf := &testFS{t: t, srv: srv, log: &logBuf{}}
	c := Config{Store: testStore(t, srv, "test", 2), Endpoint: srv.URL(), CacheDir: t.TempDir(), UploadPartSize: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(tf.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg != nil {
		cfg(&c)
	}
	f, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	tf.fs, tf.cache = f, c.CacheDir
	tf.raw = gofs.NewNodeFS(f.Root(), f.Options())
	t.Cleanup(func() {
		<-f.eng.Recovered()
		f.Close()
	})
	return tf
}

func header(node uint64) fuse.InHeader {
	return fuse.InHeader{NodeId: node, Caller: fuse.Caller{Owner: fuse.Owner{Uid: 0, Gid: 0}, Pid: 1}}
}

func (tf *testFS) lookup(name string) (uint64, syscall.Errno) {
	out, errno := tf.lookupIn(fuse.FUSE_ROOT_ID, name)
	return out.NodeId, errno
}

// lookupIn looks name up in directory dir, as the kernel does when its
// entry expired. A name that does not exist comes back with NodeId 0
// (go-fuse turns ENOENT into a negative entry).
func (tf *testFS) lookupIn(dir uint64, name string) (fuse.EntryOut, syscall.Errno) {
	var out fuse.EntryOut
	st := tf.raw.Lookup(nil, &fuse.InHeader{NodeId: dir}, name, &out)
	return out, syscall.Errno(st)
}

// mkdir makes directory name at the top and returns its node.
func (tf *testFS) mkdir(name string) uint64 {
	tf.t.Helper()
	var out fuse.EntryOut
	if st := tf.raw.Mkdir(nil, &fuse.MkdirIn{InHeader: header(fuse.FUSE_ROOT_ID), Mode: 0o755}, name, &out); st != fuse.OK {
		tf.t.Fatalf("mkdir %s: %v", name, st)
	}
	return out.NodeId
}

// handle is an open file, like a descriptor.
type handle struct {
	tf   *testFS
	node uint64
	fh   uint64
}

func (tf *testFS) create(name string) *handle {
	tf.t.Helper()
	return tf.createIn(fuse.FUSE_ROOT_ID, name)
}

// writeFile creates name holding data (uploaded at the close) and
// returns its node.
func (tf *testFS) writeFile(name string, data []byte) uint64 {
	tf.t.Helper()
	h := tf.create(name)
	h.writeAll(data, 0)
	if errno := h.close(); errno != 0 {
		tf.t.Fatalf("close %s: %v", name, errno)
	}
	node, errno := tf.lookup(name)
	if errno != 0 {
		tf.t.Fatalf("lookup %s: %v", name, errno)
	}
	return node
}

// createIn creates name in directory dir, open for reading and writing.
func (tf *testFS) createIn(dir uint64, name string) *handle {
	tf.t.Helper()
	var out fuse.CreateOut
	st := tf.raw.Create(nil, &fuse.CreateIn{InHeader: header(dir), Flags: syscall.O_RDWR | syscall.O_CREAT, Mode: 0o644}, name, &out)
	if st != fuse.OK {
		tf.t.Fatalf("create %s: %v", name, st)
	}
	return &handle{tf: tf, node: out.NodeId, fh: out.Fh}
}

func (tf *testFS) open(name string, flags uint32) (*handle, syscall.Errno) {
	return tf.openIn(fuse.FUSE_ROOT_ID, name, flags)
}

// openIn opens name in directory dir.
func (tf *testFS) openIn(dir uint64, name string, flags uint32) (*handle, syscall.Errno) {
	e, errno := tf.lookupIn(dir, name)
	node := e.NodeId
	if errno == 0 && node == 0 {
		errno = syscall.ENOENT
	}
	if errno != 0 {
		return nil, errno
	}
	var out fuse.OpenOut
	st := tf.raw.Open(nil, &fuse.OpenIn{InHeader: header(node), Flags: flags}, &out)
	if st != fuse.OK {
		return nil, syscall.Errno(st)
	}
	return &handle{tf: tf, node: node, fh: out.Fh}, 0
}

func (tf *testFS) mustOpen(name string, flags uint32) *handle {
	tf.t.Helper()
	h, errno := tf.open(name, flags)
	if errno != 0 {
		tf.t.Fatalf("open %s: %v", name, errno)
	}
	return h
}

func (h *handle) write(data []byte, off int64) syscall.Errno {
	n, st := h.tf.raw.Write(nil, &fuse.WriteIn{InHeader: header(h.node), Fh: h.fh, Offset: uint64(off), Size: uint32(len(data))}, data)
	if st == fuse.OK && int(n) != len(data) {
		h.tf.t.Fatalf("short write %d of %d", n, len(data))
	}
	return syscall.Errno(st)
}

// writeAll writes data at off in 1 MiB writes.
func (h *handle) writeAll(data []byte, off int64) {
	h.tf.t.Helper()
	for pos := 0; pos < len(data); pos += 1 << 20 {
		if errno := h.write(data[pos:min(pos+1<<20, len(data))], off+int64(pos)); errno != 0 {
			h.tf.t.Fatalf("write at %d: %v", off+int64(pos), errno)
		}
	}
}

func (h *handle) read(off int64, n int) ([]byte, syscall.Errno) {
	buf := make([]byte, n)
	res, st := h.tf.raw.Read(nil, &fuse.ReadIn{InHeader: header(h.node), Fh: h.fh, Offset: uint64(off), Size: uint32(n)}, buf)
	if st != fuse.OK {
		return nil, syscall.Errno(st)
	}
	b, _ := res.Bytes(buf)
	out := append([]byte(nil), b...)
	res.Done()
	return out, 0
}

func (h *handle) mustRead(off int64, n int) []byte {
	h.tf.t.Helper()
	b, errno := h.read(off, n)
	if errno != 0 {
		h.tf.t.Fatalf("read at %d: %v", off, errno)
	}
	return b
}

func (h *handle) fsync() syscall.Errno {
	return syscall.Errno(h.tf.raw.Fsync(nil, &fuse.FsyncIn{InHeader: header(h.node), Fh: h.fh}))
}

func (h *handle) truncate(size int64) syscall.Errno {
	in := &fuse.SetAttrIn{}
	in.InHeader = header(h.node)
	in.Valid = fuse.FATTR_SIZE | fuse.FATTR_FH
	in.Fh, in.Size = h.fh, uint64(size)
	var out fuse.AttrOut
	return syscall.Errno(h.tf.raw.SetAttr(nil, in, &out))
}

// close is close(2) of the last descriptor: flush, then release.
func (h *handle) close() syscall.Errno {
	st := h.tf.raw.Flush(nil, &fuse.FlushIn{InHeader: header(h.node), Fh: h.fh})
	h.tf.raw.Release(nil, &fuse.ReleaseIn{InHeader: header(h.node), Fh: h.fh})
	return syscall.Errno(st)
}

func (tf *testFS) unlink(name string) syscall.Errno {
	return syscall.Errno(tf.raw.Unlink(nil, &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID}, name))
}

func (tf *testFS) rename(from, to string) syscall.Errno {
	return tf.renameAt(fuse.FUSE_ROOT_ID, from, fuse.FUSE_ROOT_ID, to, 0)
}

// renameAt is renameat2(2): from in directory dir to to in newDir.
func (tf *testFS) renameAt(dir uint64, from string, newDir uint64, to string, flags uint32) syscall.Errno {
	return syscall.Errno(tf.raw.Rename(nil, &fuse.RenameIn{InHeader: header(dir), Newdir: newDir, Flags: flags}, from, to))
}

// object returns what the server holds at key (nil when nothing).
func (tf *testFS) object(key string) []byte {
	b, _, err := tf.srv.GetObject("test", key)
	if err != nil {
		return nil
	}
	return b
}

// onlyWriter returns the file system's one open write state.
func (tf *testFS) onlyWriter() *engine.Writer {
	tf.t.Helper()
	ws := tf.fs.eng.OpenWriters()
	if len(ws) != 1 {
		tf.t.Fatalf("%d open writers, want 1", len(ws))
	}
	return ws[0]
}

func randData(n int, seed uint64) []byte { return testenv.RandData(n, seed) }

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(timeout time.Duration, cond func() bool) bool { return testenv.WaitFor(timeout, cond) }
