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

func (f *instrumentedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Lookup(cancel, header, name, out)
	f.m.end(opLookup, start, cancel, st)
	return st
}

func (f *instrumentedFS) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.GetAttr(cancel, input, out)
	f.m.end(opGetattr, start, cancel, st)
	return st
}

func (f *instrumentedFS) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.SetAttr(cancel, input, out)
	f.m.end(opSetattr, start, cancel, st)
	return st
}

func (f *instrumentedFS) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Mknod(cancel, input, name, out)
	f.m.end(opMknod, start, cancel, st)
	return st
}

func (f *instrumentedFS) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Mkdir(cancel, input, name, out)
	f.m.end(opMkdir, start, cancel, st)
	return st
}

func (f *instrumentedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Unlink(cancel, header, name)
	f.m.end(opUnlink, start, cancel, st)
	return st
}

func (f *instrumentedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Rmdir(cancel, header, name)
	f.m.end(opRmdir, start, cancel, st)
	return st
}

func (f *instrumentedFS) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Rename(cancel, input, oldName, newName)
	f.m.end(opRename, start, cancel, st)
	return st
}

func (f *instrumentedFS) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Link(cancel, input, filename, out)
	f.m.end(opLink, start, cancel, st)
	return st
}

func (f *instrumentedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Symlink(cancel, header, pointedTo, linkName, out)
	f.m.end(opSymlink, start, cancel, st)
	return st
}

func (f *instrumentedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	start := f.m.begin()
	b, st := f.RawFileSystem.Readlink(cancel, header)
	f.m.end(opReadlink, start, cancel, st)
	return b, st
}

func (f *instrumentedFS) Access(cancel <-chan struct{}, input *fuse.AccessIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Access(cancel, input)
	f.m.end(opAccess, start, cancel, st)
	return st
}

func (f *instrumentedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	start := f.m.begin()
	n, st := f.RawFileSystem.GetXAttr(cancel, header, attr, dest)
	f.m.end(opGetxattr, start, cancel, st)
	return n, st
}

func (f *instrumentedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	start := f.m.begin()
	n, st := f.RawFileSystem.ListXAttr(cancel, header, dest)
	f.m.end(opListxattr, start, cancel, st)
	return n, st
}

func (f *instrumentedFS) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.SetXAttr(cancel, input, attr, data)
	f.m.end(opSetxattr, start, cancel, st)
	return st
}

func (f *instrumentedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.RemoveXAttr(cancel, header, attr)
	f.m.end(opRemovexattr, start, cancel, st)
	return st
}

func (f *instrumentedFS) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Create(cancel, input, name, out)
	f.m.end(opCreate, start, cancel, st)
	return st
}

func (f *instrumentedFS) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Tmpfile(cancel, input, out)
	f.m.end(opTmpfile, start, cancel, st)
	return st
}

func (f *instrumentedFS) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Open(cancel, input, out)
	f.m.end(opOpen, start, cancel, st)
	return st
}

func (f *instrumentedFS) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	start := f.m.begin()
	res, st := f.RawFileSystem.Read(cancel, input, buf)
	f.m.end(opRead, start, cancel, st)
	if st == fuse.OK && res != nil {
		f.m.readBytes.Add(float64(res.Size()))
		f.m.read.Add(int64(res.Size()))
	}
	return res, st
}

func (f *instrumentedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Lseek(cancel, in, out)
	f.m.end(opLseek, start, cancel, st)
	return st
}

func (f *instrumentedFS) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.GetLk(cancel, input, out)
	f.m.end(opGetlk, start, cancel, st)
	return st
}

func (f *instrumentedFS) SetLk(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.SetLk(cancel, input)
	f.m.end(opSetlk, start, cancel, st)
	return st
}

func (f *instrumentedFS) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.SetLkw(cancel, input)
	f.m.end(opSetlkw, start, cancel, st)
	return st
}

func (f *instrumentedFS) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	start := f.m.begin()
	f.RawFileSystem.Release(cancel, input)
	f.m.end(opRelease, start, cancel, fuse.OK)
}

func (f *instrumentedFS) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	start := f.m.begin()
	n, st := f.RawFileSystem.Write(cancel, input, data)
	f.m.end(opWrite, start, cancel, st)
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
	start := f.m.begin()
	n, st := f.RawFileSystem.CopyFileRange(cancel, input)
	f.m.end(opCopyFileRange, start, cancel, st)
	return n, st
}

func (f *instrumentedFS) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Ioctl(cancel, input, inbuf, output, outbuf)
	f.m.end(opIoctl, start, cancel, st)
	return st
}

func (f *instrumentedFS) Flush(cancel <-chan struct{}, input *fuse.FlushIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Flush(cancel, input)
	f.m.end(opFlush, start, cancel, st)
	return st
}

func (f *instrumentedFS) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Fsync(cancel, input)
	f.m.end(opFsync, start, cancel, st)
	return st
}

func (f *instrumentedFS) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Fallocate(cancel, input)
	f.m.end(opFallocate, start, cancel, st)
	return st
}

func (f *instrumentedFS) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.OpenDir(cancel, input, out)
	f.m.end(opOpendir, start, cancel, st)
	return st
}

func (f *instrumentedFS) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.ReadDir(cancel, input, out)
	f.m.end(opReaddir, start, cancel, st)
	return st
}

func (f *instrumentedFS) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.ReadDirPlus(cancel, input, out)
	f.m.end(opReaddirplus, start, cancel, st)
	return st
}

func (f *instrumentedFS) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.FsyncDir(cancel, input)
	f.m.end(opFsyncdir, start, cancel, st)
	return st
}

func (f *instrumentedFS) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.StatFs(cancel, input, out)
	f.m.end(opStatfs, start, cancel, st)
	return st
}

func (f *instrumentedFS) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	start := f.m.begin()
	st := f.RawFileSystem.Statx(cancel, input, out)
	f.m.end(opStatx, start, cancel, st)
	return st
}

// Forget and ReleaseDir have no interrupt channel and no answer.

func (f *instrumentedFS) Forget(nodeid, nlookup uint64) {
	start := f.m.begin()
	f.RawFileSystem.Forget(nodeid, nlookup)
	f.m.end(opForget, start, nil, fuse.OK)
}

func (f *instrumentedFS) ReleaseDir(input *fuse.ReleaseIn) {
	start := f.m.begin()
	f.RawFileSystem.ReleaseDir(input)
	f.m.end(opReleasedir, start, nil, fuse.OK)
}
