package metrics

import (
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// FUSE operations, named as the kernel's FUSE_* requests in lower case.
const (
	opLookup = iota
	opForget
	opGetattr
	opSetattr
	opMknod
	opMkdir
	opUnlink
	opRmdir
	opRename
	opLink
	opSymlink
	opReadlink
	opAccess
	opGetxattr
	opListxattr
	opSetxattr
	opRemovexattr
	opCreate
	opTmpfile
	opOpen
	opRead
	opLseek
	opGetlk
	opSetlk
	opSetlkw
	opRelease
	opWrite
	opCopyFileRange
	opIoctl
	opFlush
	opFsync
	opFallocate
	opOpendir
	opReaddir
	opReaddirplus
	opReleasedir
	opFsyncdir
	opStatfs
	opStatx
	numOps
)

var fuseOpNames = [numOps]string{
	opLookup: "lookup", opForget: "forget", opGetattr: "getattr", opSetattr: "setattr", opMknod: "mknod",
	opMkdir: "mkdir", opUnlink: "unlink", opRmdir: "rmdir", opRename: "rename", opLink: "link",
	opSymlink: "symlink", opReadlink: "readlink", opAccess: "access", opGetxattr: "getxattr",
	opListxattr: "listxattr", opSetxattr: "setxattr", opRemovexattr: "removexattr", opCreate: "create",
	opTmpfile: "tmpfile", opOpen: "open", opRead: "read", opLseek: "lseek", opGetlk: "getlk", opSetlk: "setlk",
	opSetlkw: "setlkw", opRelease: "release", opWrite: "write", opCopyFileRange: "copy_file_range",
	opIoctl: "ioctl", opFlush: "flush", opFsync: "fsync", opFallocate: "fallocate", opOpendir: "opendir",
	opReaddir: "readdir", opReaddirplus: "readdirplus", opReleasedir: "releasedir", opFsyncdir: "fsyncdir",
	opStatfs: "statfs", opStatx: "statx",
}

// fuseMetrics are one mount's FUSE instruments.
type fuseMetrics struct {
	latencyVec    *prometheus.HistogramVec // operation
	interruptsVec *prometheus.CounterVec   // operation
	// ops holds each operation's instruments once it was first seen (no
	// label lookup per request; no series for operations never used).
	ops        [numOps]atomic.Pointer[opInstruments]
	errors     *prometheus.CounterVec // operation, errno
	inFlight   prometheus.Gauge
	readBytes  prometheus.Counter
	wroteBytes prometheus.Counter

	read atomic.Int64 // bytes answered to reads, for GETs per MiB read
}

func newFUSEMetrics(reg prometheus.Registerer) *fuseMetrics {
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ossmount_fuse_request_duration_seconds",
		Help:    "Time ossmount took to answer a FUSE request, by operation (the _count is the number of requests).",
		Buckets: fuseBuckets}, []string{"operation"})
	intr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_fuse_interrupts_total",
		Help: "FUSE requests the kernel interrupted (the caller got a signal) before they were answered."},
		[]string{"operation"})
	m := &fuseMetrics{
		latencyVec:    lat,
		interruptsVec: intr,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ossmount_fuse_errors_total",
			Help: "FUSE requests answered with an error, by operation and errno (ENOENT, EACCES, EIO, ...)."},
			[]string{"operation", "errno"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ossmount_fuse_requests_in_flight",
			Help: "FUSE requests being answered."}),
		readBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ossmount_fuse_read_bytes_total",
			Help: "Bytes answered to FUSE reads."}),
		wroteBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ossmount_fuse_written_bytes_total",
			Help: "Bytes accepted from FUSE writes."}),
	}
	reg.MustRegister(lat, intr, m.errors, m.inFlight, m.readBytes, m.wroteBytes)
	return m
}

// opInstruments are one operation's instruments.
type opInstruments struct {
	latency    prometheus.Observer
	interrupts prometheus.Counter
}

func (m *fuseMetrics) op(op int) *opInstruments {
	if in := m.ops[op].Load(); in != nil {
		return in
	}
	in := &opInstruments{latency: m.latencyVec.WithLabelValues(fuseOpNames[op]),
		interrupts: m.interruptsVec.WithLabelValues(fuseOpNames[op])}
	m.ops[op].Store(in) // a racing Store holds the same children
	return in
}

// begin counts a request in flight and returns its start time.
func (m *fuseMetrics) begin() time.Time {
	m.inFlight.Inc()
	return time.Now()
}

// end records a request of op that began at start and was answered with
// st; cancel is the request's interrupt channel.
func (m *fuseMetrics) end(op int, start time.Time, cancel <-chan struct{}, st fuse.Status) {
	in := m.op(op)
	in.latency.Observe(time.Since(start).Seconds())
	m.inFlight.Dec()
	if st != fuse.OK {
		m.errors.WithLabelValues(fuseOpNames[op], errnoName(st)).Inc()
	}
	select {
	case <-cancel:
		in.interrupts.Inc()
	default:
	}
}

// errnoName names a FUSE status as its errno: ENOENT, EIO...
func errnoName(st fuse.Status) string {
	if n := unix.ErrnoName(syscall.Errno(st)); n != "" {
		return n
	}
	return "errno_" + st.String()
}

// instrumentedFS is a go-fuse RawFileSystem that times every request of
// the file system it wraps and records its outcome.
type instrumentedFS struct {
	fuse.RawFileSystem
	m *fuseMetrics
}

// WrapFUSE returns raw (from fs.NewNodeFS) instrumented: pass the result
// to fuse.NewServer.
func (mx *Metrics) WrapFUSE(raw fuse.RawFileSystem) fuse.RawFileSystem {
	return &instrumentedFS{RawFileSystem: raw, m: mx.fuse}
}

// timed runs call, one request of operation op, and records its time and
// outcome.
func (f *instrumentedFS) timed(op int, cancel <-chan struct{}, call func() fuse.Status) fuse.Status {
	start := f.m.begin()
	st := call()
	f.m.end(op, start, cancel, st)
	return st
}

// timedValue is timed for a request that answers a value too.
func timedValue[T any](f *instrumentedFS, op int, cancel <-chan struct{}, call func() (T, fuse.Status)) (T, fuse.Status) {
	start := f.m.begin()
	v, st := call()
	f.m.end(op, start, cancel, st)
	return v, st
}

func (f *instrumentedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	return f.timed(opLookup, cancel, func() fuse.Status { return f.RawFileSystem.Lookup(cancel, header, name, out) })
}

func (f *instrumentedFS) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	return f.timed(opGetattr, cancel, func() fuse.Status { return f.RawFileSystem.GetAttr(cancel, input, out) })
}

func (f *instrumentedFS) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	return f.timed(opSetattr, cancel, func() fuse.Status { return f.RawFileSystem.SetAttr(cancel, input, out) })
}

func (f *instrumentedFS) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	return f.timed(opMknod, cancel, func() fuse.Status { return f.RawFileSystem.Mknod(cancel, input, name, out) })
}

func (f *instrumentedFS) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	return f.timed(opMkdir, cancel, func() fuse.Status { return f.RawFileSystem.Mkdir(cancel, input, name, out) })
}

func (f *instrumentedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	return f.timed(opUnlink, cancel, func() fuse.Status { return f.RawFileSystem.Unlink(cancel, header, name) })
}

func (f *instrumentedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	return f.timed(opRmdir, cancel, func() fuse.Status { return f.RawFileSystem.Rmdir(cancel, header, name) })
}

func (f *instrumentedFS) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) fuse.Status {
	return f.timed(opRename, cancel, func() fuse.Status { return f.RawFileSystem.Rename(cancel, input, oldName, newName) })
}

func (f *instrumentedFS) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) fuse.Status {
	return f.timed(opLink, cancel, func() fuse.Status { return f.RawFileSystem.Link(cancel, input, filename, out) })
}

func (f *instrumentedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) fuse.Status {
	return f.timed(opSymlink, cancel, func() fuse.Status { return f.RawFileSystem.Symlink(cancel, header, pointedTo, linkName, out) })
}

func (f *instrumentedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	return timedValue(f, opReadlink, cancel, func() ([]byte, fuse.Status) { return f.RawFileSystem.Readlink(cancel, header) })
}

func (f *instrumentedFS) Access(cancel <-chan struct{}, input *fuse.AccessIn) fuse.Status {
	return f.timed(opAccess, cancel, func() fuse.Status { return f.RawFileSystem.Access(cancel, input) })
}

func (f *instrumentedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	return timedValue(f, opGetxattr, cancel, func() (uint32, fuse.Status) { return f.RawFileSystem.GetXAttr(cancel, header, attr, dest) })
}

func (f *instrumentedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	return timedValue(f, opListxattr, cancel, func() (uint32, fuse.Status) { return f.RawFileSystem.ListXAttr(cancel, header, dest) })
}

func (f *instrumentedFS) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	return f.timed(opSetxattr, cancel, func() fuse.Status { return f.RawFileSystem.SetXAttr(cancel, input, attr, data) })
}

func (f *instrumentedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	return f.timed(opRemovexattr, cancel, func() fuse.Status { return f.RawFileSystem.RemoveXAttr(cancel, header, attr) })
}

func (f *instrumentedFS) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	return f.timed(opCreate, cancel, func() fuse.Status { return f.RawFileSystem.Create(cancel, input, name, out) })
}

func (f *instrumentedFS) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	return f.timed(opTmpfile, cancel, func() fuse.Status { return f.RawFileSystem.Tmpfile(cancel, input, out) })
}

func (f *instrumentedFS) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return f.timed(opOpen, cancel, func() fuse.Status { return f.RawFileSystem.Open(cancel, input, out) })
}

func (f *instrumentedFS) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	res, st := timedValue(f, opRead, cancel, func() (fuse.ReadResult, fuse.Status) { return f.RawFileSystem.Read(cancel, input, buf) })
	if st == fuse.OK && res != nil {
		f.m.readBytes.Add(float64(res.Size()))
		f.m.read.Add(int64(res.Size()))
	}
	return res, st
}

func (f *instrumentedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	return f.timed(opLseek, cancel, func() fuse.Status { return f.RawFileSystem.Lseek(cancel, in, out) })
}

func (f *instrumentedFS) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	return f.timed(opGetlk, cancel, func() fuse.Status { return f.RawFileSystem.GetLk(cancel, input, out) })
}

func (f *instrumentedFS) SetLk(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	return f.timed(opSetlk, cancel, func() fuse.Status { return f.RawFileSystem.SetLk(cancel, input) })
}

func (f *instrumentedFS) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	return f.timed(opSetlkw, cancel, func() fuse.Status { return f.RawFileSystem.SetLkw(cancel, input) })
}

func (f *instrumentedFS) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	f.timed(opRelease, cancel, func() fuse.Status { f.RawFileSystem.Release(cancel, input); return fuse.OK })
}

func (f *instrumentedFS) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	n, st := timedValue(f, opWrite, cancel, func() (uint32, fuse.Status) { return f.RawFileSystem.Write(cancel, input, data) })
	f.m.wroteBytes.Add(float64(n))
	return n, st
}

// Writev answers WRITE; when it is not implemented (ENOSYS) go-fuse calls
// Write, which records the request.
func (f *instrumentedFS) Writev(cancel <-chan struct{}, input *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	start := f.m.begin()
	n, st := f.RawFileSystem.Writev(cancel, input, data)
	if st == fuse.ENOSYS {
		f.m.inFlight.Dec()
		return n, st
	}
	f.m.end(opWrite, start, cancel, st)
	f.m.wroteBytes.Add(float64(n))
	return n, st
}

func (f *instrumentedFS) CopyFileRange(cancel <-chan struct{}, input *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	return timedValue(f, opCopyFileRange, cancel, func() (uint32, fuse.Status) { return f.RawFileSystem.CopyFileRange(cancel, input) })
}

func (f *instrumentedFS) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) fuse.Status {
	return f.timed(opIoctl, cancel, func() fuse.Status { return f.RawFileSystem.Ioctl(cancel, input, inbuf, output, outbuf) })
}

func (f *instrumentedFS) Flush(cancel <-chan struct{}, input *fuse.FlushIn) fuse.Status {
	return f.timed(opFlush, cancel, func() fuse.Status { return f.RawFileSystem.Flush(cancel, input) })
}

func (f *instrumentedFS) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	return f.timed(opFsync, cancel, func() fuse.Status { return f.RawFileSystem.Fsync(cancel, input) })
}

func (f *instrumentedFS) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) fuse.Status {
	return f.timed(opFallocate, cancel, func() fuse.Status { return f.RawFileSystem.Fallocate(cancel, input) })
}

func (f *instrumentedFS) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return f.timed(opOpendir, cancel, func() fuse.Status { return f.RawFileSystem.OpenDir(cancel, input, out) })
}

func (f *instrumentedFS) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return f.timed(opReaddir, cancel, func() fuse.Status { return f.RawFileSystem.ReadDir(cancel, input, out) })
}

func (f *instrumentedFS) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return f.timed(opReaddirplus, cancel, func() fuse.Status { return f.RawFileSystem.ReadDirPlus(cancel, input, out) })
}

func (f *instrumentedFS) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	return f.timed(opFsyncdir, cancel, func() fuse.Status { return f.RawFileSystem.FsyncDir(cancel, input) })
}

func (f *instrumentedFS) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	return f.timed(opStatfs, cancel, func() fuse.Status { return f.RawFileSystem.StatFs(cancel, input, out) })
}

func (f *instrumentedFS) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	return f.timed(opStatx, cancel, func() fuse.Status { return f.RawFileSystem.Statx(cancel, input, out) })
}

// Forget and ReleaseDir have no interrupt channel and no answer.

func (f *instrumentedFS) Forget(nodeid, nlookup uint64) {
	f.timed(opForget, nil, func() fuse.Status { f.RawFileSystem.Forget(nodeid, nlookup); return fuse.OK })
}

func (f *instrumentedFS) ReleaseDir(input *fuse.ReleaseIn) {
	f.timed(opReleasedir, nil, func() fuse.Status { f.RawFileSystem.ReleaseDir(input); return fuse.OK })
}
