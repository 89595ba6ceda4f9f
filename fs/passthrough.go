package fs

// FUSE passthrough: a read-only open of a file the data cache holds whole
// and verified is answered with FOPEN_PASSTHROUGH and the cache file as
// its backing file, so the kernel reads the local file itself and no READ
// reaches the daemon.
//
// The kernel (fs/fuse/iomode.c) allows one backing file per inode, and no
// mixing: while a passthrough handle is open on an inode every other open
// must be passthrough to the same file, and a passthrough open fails while
// other (cached I/O) handles are open. So each file node counts its open
// handles of both kinds (ptState) and decides at open:
//
//   - read-only, cached whole and valid, no other handle open, or only
//     passthrough handles of the same version: passthrough;
//   - read-only while passthrough handles of an older version are open:
//     EBUSY (the new version cannot be read beside them; logged);
//   - a write open while passthrough handles are open: ETXTBSY (logged);
//   - anything else: an ordinary handle.
//
// close(2) returns before the kernel sends the RELEASE of the last
// passthrough handle (it is sent asynchronously), so a program that closes
// a file and opens it again at once would see ETXTBSY or EBUSY for a file
// nobody holds any more. Before refusing, an open therefore waits up to
// releaseGrace for the passthrough handles to go (ending early if its
// caller dies); only handles still open after that are refused.
//
// The backing file is registered with the kernel (FUSE_DEV_IOC_BACKING_OPEN,
// which needs CAP_SYS_ADMIN) by a decorator of the raw file system
// (WrapFUSE), after the node's Open and before the reply, and
// unregistered after the last passthrough handle's RELEASE was handled, so
// a backing file can never be reused for another version. (go-fuse's own
// FilePassthroughFder keeps the backing id per inode in a way that would
// let a racing open reuse the old version's file.)
//
// Whether passthrough works is found out once, after the mount: the kernel
// must offer it (CAP_PASSTHROUGH) and the daemon must be allowed to
// register a backing file. If not, it says so once in the log and wholly
// cached files are read through the daemon (still from the cache).

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// ptState is a file node's open handles as the kernel counts them.
type ptState struct {
	mu     sync.Mutex
	cached int      // GUARDED_BY(mu); handles open without passthrough
	pt     int      // GUARDED_BY(mu); passthrough handles (open or being opened)
	etag   string   // GUARDED_BY(mu); the version the passthrough handles read
	id     int32    // GUARDED_BY(mu); backing id registered (0: none yet)
	file   *os.File // GUARDED_BY(mu); the cache file behind id
	// idle is broadcast when pt drops to 0.
	idle engine.Wakeup // GUARDED_BY(mu)
}

// releaseGrace bounds how long an open waits for the RELEASE of
// passthrough handles that were closed just before.
const releaseGrace = 5 * time.Second

// dropLocked uncounts one passthrough handle and wakes the opens waiting
// for the last.
func (np *ptState) dropLocked() {
	np.pt--
	if np.pt == 0 {
		np.idle.Broadcast()
	}
}

// awaitLocked waits, up to releaseGrace, while busy() holds and
// passthrough handles are open; np.mu is held on entry and on return (it
// is released while waiting). It gives up early when ctx ends.
func (np *ptState) awaitLocked(ctx context.Context, busy func() bool) {
	if np.pt == 0 || !busy() {
		return
	}
	deadline := time.NewTimer(releaseGrace)
	defer deadline.Stop()
	for np.pt > 0 && busy() {
		idle := np.idle.Channel()
		np.mu.Unlock()
		select {
		case <-idle:
		case <-deadline.C:
			np.mu.Lock()
			return
		case <-ctx.Done():
			np.mu.Lock()
			return
		}
		np.mu.Lock()
	}
}

// passthrough is the mount's passthrough machinery.
type passthrough struct {
	mu      sync.Mutex
	server  *fuse.Server // set at INIT
	ok      bool         // GUARDED_BY(mu); probed and working
	pending map[<-chan struct{}]*fileHandle
	open    map[ptKey]*fileHandle
}

type ptKey struct{ node, fh uint64 }

// requestID returns what identifies the FUSE request of ctx (its cancel
// channel, unique among requests in flight), before ctx is wrapped.
func requestID(ctx context.Context) <-chan struct{} {
	if c, ok := ctx.(*fuse.Context); ok {
		return c.Cancel
	}
	return nil
}

// openCached counts a handle opened without passthrough; it refuses while
// passthrough handles are open (the kernel would fail the open with EIO).
// A write open first waits for passthrough handles just closed; a read
// open (of a file that has a writer) does not wait, it is called with the
// node's lock held and no passthrough handle can be open beside a writer.
func (n *fileNode) openCached(ctx context.Context, write bool) syscall.Errno {
	np := &n.state().pt
	np.mu.Lock()
	defer np.mu.Unlock()
	if write {
		np.awaitLocked(ctx, func() bool { return true })
	}
	if np.pt > 0 {
		if write {
			n.fsys.log.Warn("open for writing refused: the file is open for reading by FUSE passthrough; close those descriptors first (or mount with data_cache_passthrough=false)", "key", n.key())
			return syscall.ETXTBSY
		}
		return syscall.EBUSY
	}
	np.cached++
	return 0
}

// releaseHandle uncounts h at release (passthrough handles are uncounted by
// the decorator once the kernel's backing reference is gone).
func (n *fileNode) releaseHandle(h *fileHandle) {
	np := &n.state().pt
	np.mu.Lock()
	if !h.pt {
		np.cached--
	}
	np.mu.Unlock()
}

// openReader decides how the read-only handle h of version etag is opened:
// passthrough when it can, else an ordinary handle. req identifies the
// FUSE request (requestID).
func (n *fileNode) openReader(ctx context.Context, h *fileHandle, etag string, req <-chan struct{}) syscall.Errno {
	f := n.fsys
	pt := &f.pt
	pt.mu.Lock()
	usable := pt.ok && req != nil
	pt.mu.Unlock()
	np := &n.state().pt
	np.mu.Lock()
	defer np.mu.Unlock()
	np.awaitLocked(ctx, func() bool { return np.etag != etag || !usable })
	if np.pt > 0 {
		if np.etag != etag || !usable {
			n.fsys.log.Warn("open refused: an older version of the file is open by FUSE passthrough; close those descriptors to read the new one", "key", n.key())
			return syscall.EBUSY
		}
		h.pt = true
	} else if usable && np.cached == 0 && h.reader.DataEntry() != nil && h.reader.DataEntry().Complete() {
		file, ok := h.reader.DataEntry().PassthroughFile()
		if ok {
			if np.file != nil { // left by a failed registration
				np.file.Close()
			}
			np.file, np.etag, np.id = file, etag, 0
			h.pt = true
		}
	}
	if !h.pt {
		np.cached++
		return 0
	}
	np.pt++
	pt.mu.Lock()
	pt.pending[req] = h
	pt.mu.Unlock()
	return 0
}

// attach registers the node's backing file if needed and returns its id;
// on failure h becomes an ordinary handle.
func (n *fileNode) attach(h *fileHandle, server *fuse.Server) (int32, bool) {
	np := &n.state().pt
	np.mu.Lock()
	defer np.mu.Unlock()
	if np.id == 0 && np.file != nil {
		id, errno := server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(np.file.Fd())})
		if errno == 0 {
			np.id = id
		} else {
			n.fsys.log.Warn("passthrough: cannot register the cache file; reading through the daemon", "key", n.key(), "err", errno.Error())
		}
	}
	if np.id == 0 {
		h.pt = false
		np.dropLocked()
		np.cached++
		n.fsys.cfg.DataCache.CountPassthrough(false)
		return 0, false
	}
	n.fsys.cfg.DataCache.CountPassthrough(true)
	return np.id, true
}

// detach uncounts a released passthrough handle; the last one unregisters
// the backing file.
func (n *fileNode) detach(server *fuse.Server) {
	np := &n.state().pt
	np.mu.Lock()
	defer np.mu.Unlock()
	np.dropLocked()
	if np.pt > 0 {
		return
	}
	if np.id != 0 {
		if errno := server.UnregisterBackingFd(np.id); errno != 0 {
			n.fsys.log.Warn("passthrough: unregistering the cache file failed", "err", errno.Error())
		}
	}
	if np.file != nil {
		np.file.Close()
	}
	np.id, np.file, np.etag = 0, nil, ""
}

// WrapFUSE returns raw with passthrough opens added when the mount has a
// data cache with passthrough on; else raw itself. Call ProbePassthrough
// once the mount is up.
func (f *FS) WrapFUSE(raw fuse.RawFileSystem) fuse.RawFileSystem {
	if f.cfg.DataCache == nil || !f.cfg.Passthrough {
		return raw
	}
	return &ptRaw{RawFileSystem: raw, f: f}
}

// ProbePassthrough finds out, once the mount is up, whether the kernel and
// the daemon's privileges allow passthrough, and says so in the log.
func (f *FS) ProbePassthrough() bool {
	pt := &f.pt
	pt.mu.Lock()
	server := pt.server
	pt.mu.Unlock()
	if server == nil {
		return false
	}
	why := ""
	if server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		why = "the kernel does not offer it (Linux 6.9 or later with CONFIG_FUSE_PASSTHROUGH)"
	} else if tmp, err := os.CreateTemp(f.cfg.DataCacheDir, ".probe-*"); err != nil {
		why = "cannot create a probe file: " + err.Error()
	} else {
		id, errno := server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(tmp.Fd())})
		if errno == 0 {
			server.UnregisterBackingFd(id)
		} else if errno == syscall.EPERM {
			why = "the daemon lacks CAP_SYS_ADMIN in the initial user namespace (run the mount as root)"
		} else {
			why = "the kernel refused a backing file: " + errno.Error()
		}
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if why != "" {
		f.log.Warn("FUSE passthrough unavailable: wholly cached files are read through the daemon (from the data cache)", "reason", why)
		return false
	}
	pt.mu.Lock()
	pt.ok = true
	pt.mu.Unlock()
	f.log.Info("FUSE passthrough on: wholly cached files opened read-only are read by the kernel from the data cache")
	return true
}

// ptRaw adds passthrough to Open and Release.
type ptRaw struct {
	fuse.RawFileSystem
	f *FS
}

func (p *ptRaw) Init(s *fuse.Server) {
	p.f.pt.mu.Lock()
	p.f.pt.server = s
	p.f.pt.mu.Unlock()
	p.RawFileSystem.Init(s)
}

// passthroughFlags are the open flags the kernel accepts with
// FOPEN_PASSTHROUGH (FOPEN_PASSTHROUGH_MASK).
const passthroughFlags = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES | fuse.FOPEN_PASSTHROUGH | fuse.FOPEN_NOFLUSH

func (p *ptRaw) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	st := p.RawFileSystem.Open(cancel, in, out)
	pt := &p.f.pt
	pt.mu.Lock()
	h := pt.pending[cancel]
	delete(pt.pending, cancel)
	server := pt.server
	pt.mu.Unlock()
	if h == nil {
		return st
	}
	if st != fuse.OK { // not given out (cannot happen once our Open succeeded)
		h.node.detach(server)
		return st
	}
	id, ok := h.node.attach(h, server)
	if !ok {
		return st
	}
	out.BackingID = id
	out.OpenFlags = out.OpenFlags&passthroughFlags | fuse.FOPEN_PASSTHROUGH
	pt.mu.Lock()
	pt.open[ptKey{in.NodeId, out.Fh}] = h
	pt.mu.Unlock()
	return st
}

func (p *ptRaw) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	pt := &p.f.pt
	k := ptKey{in.NodeId, in.Fh}
	pt.mu.Lock()
	h := pt.open[k]
	delete(pt.open, k) // before the handle number can be reused
	server := pt.server
	pt.mu.Unlock()
	p.RawFileSystem.Release(cancel, in)
	if h != nil {
		h.node.detach(server)
	}
}
