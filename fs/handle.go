package fs

// fileHandle, one open file: its reads (through an engine.Reader, handed
// to go-fuse as a fuseResult), writes, flushes, fsyncs and release (through
// the file's engine.Writer).

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// fileHandle is one open file: a reader for read-only opens of a file
// nobody writes, else a reference to the node's shared write state.
type fileHandle struct {
	node       *fileNode
	w          *engine.Writer // writing handle (or reading a file being written)
	appendMode bool
	readOnly   bool
	pt         bool  // read by the kernel from the cache file (GUARDED_BY(node.st.pt.mu))
	opener     int32 // the process (thread group) that opened it for writing; 0 if unknown

	// Read-only handles: the reader of the version the handle reads.
	vmu    sync.Mutex
	reader *engine.Reader // GUARDED_BY(vmu) once the handle is open
	attr   *engine.Stat   // the version it reads (as opened)
	// trusted: opened on what OSS said within open_fresh_ttl, without a
	// HEAD. Should its first reads find the object replaced since
	// (If-Match fails), the handle moves to the current version, as if
	// the open had asked, provided nothing of the old one was handed out
	// (delivered; with FOPEN_KEEP_CACHE the kernel may hand out its
	// pages) and no other read is under way (active).
	trusted   bool // GUARDED_BY(vmu)
	delivered bool // GUARDED_BY(vmu)
	active    int  // GUARDED_BY(vmu)
}

var _ = (gofs.FileReader)((*fileHandle)(nil))

func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	// Reads honour any interrupt (see interrupt.go).
	if h.w != nil {
		n, err := h.w.ReadAt(ctx, dest, off)
		return fuseResult{engine.BytesResult(dest[:n])}, h.node.fsys.toErrno("read", err)
	}
	h.vmu.Lock()
	r := h.reader
	h.active++
	h.vmu.Unlock()
	res, errno := h.node.fsys.read(ctx, r, dest, off)
	h.vmu.Lock()
	defer h.vmu.Unlock()
	h.active--
	if errno == syscall.ESTALE && h.trusted && !h.delivered && h.active == 0 && h.reader == r {
		// The version trusted at open was replaced before the handle
		// read a byte of it: read the current one. (Other reads wait.)
		if nr := h.node.currentReader(ctx, r); nr != nil {
			r.Close()
			h.reader, h.trusted = nr, false
			res, errno = h.node.fsys.read(ctx, nr, dest, off)
		}
	}
	if errno == 0 && res.Size() > 0 {
		h.delivered = true
	}
	return fuseResult{res}, errno
}

// read reads through r, its error as an errno.
func (f *FS) read(ctx context.Context, r *engine.Reader, dest []byte, off int64) (*engine.ReadResult, syscall.Errno) {
	res, err := r.Read(ctx, dest, off)
	return res, f.toErrno("read", err)
}

// fuseResult is the engine's answer to a read as go-fuse takes it: written
// as a vector (Slices, one writev: go-fuse would first try to splice a
// plain buffer, and log a failure for every reply larger than a pipe), and
// Done once written.
type fuseResult struct{ r *engine.ReadResult }

func (f fuseResult) Slices() ([][]byte, fuse.Status) { return f.r.Slices(), fuse.OK }
func (f fuseResult) Size() int                       { return f.r.Size() }
func (f fuseResult) Done()                           { f.r.Done() }
func (f fuseResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	return f.r.Bytes(buf), fuse.OK
}

var _ = (gofs.FileWriter)((*fileHandle)(nil))

func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.w == nil || h.readOnly {
		return 0, syscall.EBADF
	}
	ctx, done := requestContext(ctx)
	defer done()
	if h.appendMode {
		off = h.w.Attr().Size
	}
	if errno := sizeErrno(uint64(off) + uint64(len(data))); errno != 0 {
		return 0, errno
	}
	c := callerOf(ctx)
	n, err := h.w.Write(ctx, data, off, c != nil && c.UID != 0)
	return n, h.node.fsys.toErrno("write", err)
}

var _ = (gofs.FileFlusher)((*fileHandle)(nil))

// Flush runs at every close(2): it uploads the file and returns the result.
//
// Two closes upload nothing. A read-only descriptor's close does not
// publish what others are writing. And a close before anything was written
// (a truncate to 0 is not enough) is left to the last close (release):
// shells and dd open the file (emptying it), dup the descriptor and close
// the original before writing a byte, and uploading then would show an
// empty object while the file is being written (and leave it in place of
// the old one if the writer is killed). A file created and closed
// without a write (no chmod or utimes either) is therefore uploaded at
// release, just after close returns; an error there can only be logged.
// Nor does the close of a descriptor that another process inherited (fork)
// while the one that opened it lives: a writer that starts a program gives
// it a copy of every descriptor, which its exec or exit closes; uploading
// then would publish a half-written file and hold up the child (as
// mountpoint-s3 does, the opener's close, or the release, uploads).
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	if h.w == nil || h.readOnly || h.w.Untouched() {
		return 0
	}
	if closedByOther(ctx, h.opener) {
		// The close of a descriptor another process inherited (after
		// fork; its exec or exit closes it): not the application
		// finishing the file. The opener's close, or the release after
		// the last close, uploads it.
		return 0
	}
	ctx, done := flushContext(ctx)
	defer done()
	return h.node.fsys.toErrno("flush", h.w.Flush(ctx))
}

var _ = (gofs.FileFsyncer)((*fileHandle)(nil))

// Fsync of a handle that may write uploads the file (the object changes);
// fsync of a read-only descriptor does not publish what others write.
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if h.w == nil || h.readOnly {
		return 0
	}
	ctx, done := requestContext(ctx)
	defer done()
	return h.node.fsys.toErrno("fsync", h.w.Flush(ctx))
}

var _ = (gofs.FileReleaser)((*fileHandle)(nil))

func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	// Nobody waits for a release (the kernel sends it after the last
	// close): its upload is never canceled.
	ctx = detachedContext(ctx)
	h.node.releaseHandle(h)
	h.vmu.Lock()
	if h.reader != nil {
		h.reader.Close()
	}
	h.vmu.Unlock()
	if h.w != nil {
		h.node.releaseWrite(ctx, h.w)
	}
	return 0
}

var _ = (gofs.FileGetattrer)((*fileHandle)(nil))

func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.node.Getattr(ctx, h, out)
}
