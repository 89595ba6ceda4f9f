package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/engine"
)

// fileNode is a regular file or a symlink: one object. The kernel may hold
// millions of them (ls -l of a large directory), most never opened: what
// only an opened file needs is in its fileState, made at the first open.
type fileNode struct {
	gofs.Inode
	fsys *FS

	mu   sync.Mutex
	attr *engine.Stat              // GUARDED_BY(mu)
	st   atomic.Pointer[fileState] // nil until the file is opened or created here
}

// fileState is the state of a file that has been opened.
type fileState struct {
	keepETag string         // GUARDED_BY(fileNode.mu); version the kernel page cache may hold, or writtenHere
	ws       *engine.Writer // GUARDED_BY(fileNode.mu); shared state of the writing handles, if any
	pending  bool           // GUARDED_BY(fileNode.mu); created here (see pendingLocked)
	pt       ptState        // open handles, passthrough or not (passthrough.go)

	// onServer is set by the first upload of a file created here: from
	// then on the object exists, even before the release detaches the
	// writer (the kernel sends RELEASE after close returns, on its own
	// time: an unlink or a presign may come first).
	onServer atomic.Bool
}

var _ = (gofs.NodeOnForgetter)((*fileNode)(nil))

// OnForget uncounts the inode the kernel forgot.
func (n *fileNode) OnForget() { n.fsys.mem.inodes.Add(-1) }

// state returns the node's fileState, making it at the first call.
func (n *fileNode) state() *fileState {
	if s := n.st.Load(); s != nil {
		return s
	}
	n.st.CompareAndSwap(nil, &fileState{})
	return n.st.Load()
}

// writerLocked is the write state attached to the node, if any.
func (n *fileNode) writerLocked() *engine.Writer {
	if s := n.st.Load(); s != nil {
		return s.ws
	}
	return nil
}

// pendingLocked reports whether the node is a file created here that has
// not reached the server yet.
func (n *fileNode) pendingLocked() bool {
	s := n.st.Load()
	return s != nil && s.pending && !s.onServer.Load()
}

func (n *fileNode) key() string { return n.fsys.cfg.Prefix + n.Path(nil) }

// sameType reports whether a (the object at the node's key) is of the
// node's kind (file or symlink).
func (n *fileNode) sameType(a *engine.Stat) bool {
	return !a.Dir && a.Mode&syscall.S_IFMT == n.StableAttr().Mode&syscall.S_IFMT
}

// staleOpens remembers when an open last found a key holding another kind
// of object than its inode (see typeChanged), for a second: entries older
// are pruned as new ones come.
type staleOpens struct {
	mu   sync.Mutex
	seen map[string]time.Time // GUARDED_BY(mu)
}

// again reports whether key was found stale less than a second ago (and
// forgets it); otherwise it remembers key as found stale now.
func (s *staleOpens) again(key string) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.seen[key]; ok && now.Sub(t) < time.Second {
		delete(s.seen, key)
		return true
	}
	for k, t := range s.seen {
		if now.Sub(t) >= time.Second {
			delete(s.seen, k)
		}
	}
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	s.seen[key] = now
	return false
}

// typeChanged checks, at open, that the object found at the node's key
// is still of the node's kind. If it is not (a symlink was renamed over the
// file), the answer is ESTALE, which makes the kernel look the name up
// again and retry the open once on what is there now. Should the retry
// find the name changed again (it is being replaced over and over), the
// answer is ENOENT rather than an ESTALE the caller would not expect.
func (n *fileNode) typeChanged(key string, a *engine.Stat) syscall.Errno {
	if n.sameType(a) {
		return 0
	}
	n.fsys.invalidate(key)
	if n.fsys.staleOpens.again(key) {
		return syscall.ENOENT
	}
	return syscall.ESTALE
}

// orphaned reports whether the node has no name any more: it was unlinked,
// or another file was renamed over it, while the kernel still holds it
// (an open descriptor). Its key() would then be the mount prefix: it must
// not be used for requests.
func (n *fileNode) orphaned() bool { return n.Path(nil) == "" }

// liveWriterLocked is the node's write state unless its upload failed: the
// handles of a failed upload keep their sticky state, but the file is
// otherwise the server's version again (unless it never got there).
func (n *fileNode) liveWriterLocked() *engine.Writer {
	if w := n.writerLocked(); w != nil && (n.pendingLocked() || !w.IsFailed()) {
		return w
	}
	return nil
}

func (n *fileNode) setAttr(a *engine.Stat) {
	n.mu.Lock()
	if n.liveWriterLocked() == nil && !n.pendingLocked() {
		n.attr = a
	}
	n.mu.Unlock()
}

func (n *fileNode) isPending() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pendingLocked()
}

// currentAttr returns the attributes to show: the writer's view while a
// write handle is open, else the cache's, refreshed with a HEAD when stale.
func (n *fileNode) currentAttr(ctx context.Context) (*engine.Stat, syscall.Errno) {
	n.mu.Lock()
	w, a := n.liveWriterLocked(), n.attr
	pending := n.pendingLocked()
	n.mu.Unlock()
	if w != nil {
		return attrOf(w.Attr()), 0
	}
	if pending {
		return a, 0
	}
	if n.orphaned() {
		if a == nil {
			return nil, syscall.ENOENT
		}
		return a, 0
	}
	key := n.key()
	if c, ok := n.fsys.cachedAttr(key); ok && !c.Dir && n.fsys.ns.Showable(c) {
		n.setAttr(c)
		return c, 0
	}
	fresh, errno := n.fsys.headFile(ctx, key)
	if errno != 0 {
		return nil, errno
	}
	n.setAttr(fresh)
	return fresh, 0
}

// exactAttr is currentAttr, verified with a HEAD when it is a listing's
// guess (fast_listing): what permission decisions use.
func (n *fileNode) exactAttr(ctx context.Context) (*engine.Stat, syscall.Errno) {
	a, errno := n.currentAttr(ctx)
	if errno != 0 || a.Known || n.orphaned() {
		return a, errno
	}
	fresh, errno := n.fsys.headFile(ctx, n.key())
	if errno != 0 {
		return nil, errno
	}
	n.setAttr(fresh)
	return fresh, 0
}

var _ = (gofs.NodeAccesser)((*fileNode)(nil))

// Access answers access(2) (sent only without default_permissions).
func (n *fileNode) Access(ctx context.Context, mask uint32) syscall.Errno {
	return n.fsys.access(ctx, n, mask)
}

var _ = (gofs.NodeGetattrer)((*fileNode)(nil))

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx, done := requestContext(ctx)
	defer done()
	h, _ := fh.(*fileHandle)
	if h != nil && h.w != nil {
		// go-fuse hands any open handle of the node to a GETATTR that
		// came without one: a handle of a failed upload is not the file.
		n.mu.Lock()
		live := n.liveWriterLocked() == h.w
		n.mu.Unlock()
		if orphaned := n.orphaned(); live || orphaned {
			fillAttr(&out.Attr, attrOf(h.w.Attr()))
			if orphaned {
				out.Nlink = 0
			}
			return 0
		}
	}
	if n.orphaned() {
		// fstat of an unlinked (or replaced) file that is still open: the
		// last attributes known (the version it was opened on), with no
		// link left. Never a request: the node has no key any more.
		n.mu.Lock()
		a, w := n.attr, n.writerLocked()
		n.mu.Unlock()
		if w != nil {
			a = attrOf(w.Attr())
		} else if a == nil && h != nil {
			a = h.attr
		}
		if a == nil {
			return syscall.ENOENT
		}
		fillAttr(&out.Attr, a)
		out.Nlink = 0
		return 0
	}
	if h == nil {
		if errno := n.fsys.pathErrno(ctx, &n.Inode); errno != 0 {
			return errno
		}
	}
	a, errno := n.currentAttr(ctx)
	if h != nil && h.attr != nil && (errno == syscall.ENOENT ||
		errno == 0 && a.Mode&syscall.S_IFMT != h.attr.Mode&syscall.S_IFMT) {
		// The object went away (or became something else) on the server
		// while this handle is open: fstat shows the version it reads.
		a, errno = h.attr, 0
	}
	if errno != 0 {
		return errno
	}
	fillAttr(&out.Attr, a)
	if !a.Known {
		out.SetTimeout(n.fsys.guessTimeout())
	}
	return 0
}

var _ = (gofs.NodeOpener)((*fileNode)(nil))

func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	req := requestID(ctx)
	ctx, done := requestContext(ctx)
	defer done()
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		if n.fsys.cfg.ReadOnly {
			return nil, 0, syscall.EROFS
		}
		if errno := n.openAllowed(ctx, flags, nil); errno != 0 {
			return nil, 0, errno
		}
		return n.openWrite(ctx, flags)
	}
	if h, errno := n.openWriting(ctx, flags); errno != 0 {
		return nil, 0, errno
	} else if h != nil {
		return h, 0, 0
	}
	if n.orphaned() {
		return nil, 0, syscall.ENOENT
	}
	// Close-to-open: an open asks OSS which version is current, unless
	// OSS said so less than open_fresh_ttl ago (a listing, a HEAD, an
	// upload). Permission decisions take exact attributes only.
	key := n.key()
	a, trusted := n.fsys.ns.Fresh(key)
	if !trusted || !a.Known && n.fsys.checksOpen(ctx, flags) {
		var errno syscall.Errno
		if a, errno = n.fsys.headFile(ctx, key); errno != 0 {
			return nil, 0, errno
		}
		trusted = false
	}
	if errno := n.typeChanged(key, a); errno != 0 {
		return nil, 0, errno
	}
	if errno := n.openAllowed(ctx, flags, a); errno != 0 {
		return nil, 0, errno
	}
	n.mu.Lock()
	if old := n.attr; old != nil && (old.Mode != a.Mode || old.UID != a.UID || old.GID != a.GID || !old.Mtime().Equal(a.Mtime())) {
		// The kernel may hold other attributes (a guess shown with
		// fast_listing, or a change by another client): drop them.
		defer n.NotifyContent(-1, 0)
	}
	n.attr = a
	var fl uint32
	st := n.state()
	changed := st.keepETag != "" && st.keepETag != a.ETag
	if st.keepETag == a.ETag {
		fl |= fuse.FOPEN_KEEP_CACHE
	}
	st.keepETag = a.ETag
	n.mu.Unlock()
	if changed {
		// Someone replaced the object (or wrote it here): drop the
		// kernel's cached size so reads see the new length (pages go
		// because KEEP_CACHE is off).
		n.NotifyContent(-1, 0)
	}
	h := &fileHandle{node: n, reader: n.fsys.eng.NewReader(n, key, a.ETag, a.Size), attr: a,
		trusted: trusted, delivered: fl&fuse.FOPEN_KEEP_CACHE != 0}
	if errno := n.openReader(ctx, h, a.ETag, req); errno != 0 {
		h.reader.Close()
		return nil, 0, errno
	}
	return h, fl, 0
}

// openWriting opens for reading a file another handle is writing: the
// handle reads through the shared write state, so it sees the same bytes.
// (After a failed upload the server's version is read instead, unless
// there is none.) nil, 0: nobody is writing the file.
func (n *fileNode) openWriting(ctx context.Context, flags uint32) (*fileHandle, syscall.Errno) {
	n.mu.Lock()
	if w := n.liveWriterLocked(); w != nil {
		n.mu.Unlock()
		if errno := n.openAllowed(ctx, flags, attrOf(w.Attr())); errno != 0 {
			return nil, errno
		}
		n.mu.Lock()
	}
	defer n.mu.Unlock()
	w := n.liveWriterLocked()
	if w == nil {
		return nil, 0
	}
	if errno := n.openCached(ctx, false); errno != 0 {
		return nil, errno
	}
	w.Ref()
	return &fileHandle{node: n, w: w, readOnly: true}, 0
}

// checksOpen reports whether the mount decides itself if the caller may
// open a file with flags (root may open any file, except to execute it).
func (f *FS) checksOpen(ctx context.Context, flags uint32) bool {
	return f.enforcing() && !(callerOf(ctx).Root() && flags&engine.FmodeExec == 0)
}

// openAllowed checks, when the mount enforces permissions, that the caller
// may search the path to the file and open it with flags. a is the file's
// exact attributes (nil: learn them).
func (n *fileNode) openAllowed(ctx context.Context, flags uint32, a *engine.Stat) syscall.Errno {
	f := n.fsys
	if !f.checksOpen(ctx, flags) {
		return 0
	}
	if a == nil {
		var errno syscall.Errno
		if a, errno = n.exactAttr(ctx); errno != 0 {
			return errno
		}
	}
	return f.nodeErrno(ctx, &n.Inode, a, engine.OpenWant(flags))
}

var _ = (gofs.NodeReadlinker)((*fileNode)(nil))

func (n *fileNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ctx, done := requestContext(ctx)
	defer done()
	if n.orphaned() {
		return nil, syscall.ENOENT
	}
	if errno := n.fsys.pathErrno(ctx, &n.Inode); errno != 0 {
		return nil, errno
	}
	a, errno := n.currentAttr(ctx)
	if errno != 0 {
		return nil, errno
	}
	b, fresh, err := n.fsys.ns.ReadLink(ctx, n.key(), a)
	if fresh != nil {
		n.setAttr(fresh)
	}
	return b, n.fsys.toErrno("readlink", err)
}

// openWrite opens the file for writing, sharing the node's write state
// with its other writing handles.
func (n *fileNode) openWrite(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if errno := n.openCached(ctx, true); errno != 0 {
		return nil, 0, errno
	}
	w, errno := n.acquireWriter(ctx, flags&syscall.O_TRUNC != 0)
	if errno != 0 {
		n.releaseHandle(&fileHandle{})
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.fsys.toErrno("truncate", w.Truncate(ctx, 0)); errno != 0 {
			n.releaseWrite(ctx, w)
			n.releaseHandle(&fileHandle{})
			return nil, 0, errno
		}
	}
	n.mu.Lock()
	n.state().keepETag = writtenHere
	n.mu.Unlock()
	return &fileHandle{node: n, w: w, appendMode: flags&syscall.O_APPEND != 0, readOnly: flags&syscall.O_ACCMODE == syscall.O_RDONLY,
		opener: callerProcess(ctx)}, writeOpenFlags(flags), 0
}

// writeOpenFlags are the FOPEN flags of a handle opened for writing. A
// write-only handle bypasses the kernel's page cache (FOPEN_DIRECT_IO): its
// writes reach the mount without first being copied into cached pages,
// and without the kernel asking for security.capability before each one.
// Nothing is lost: such a handle cannot read or be mapped, and the next
// open of the file drops cached pages (no FOPEN_KEEP_CACHE after a write
// here).
func writeOpenFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// acquireWriter returns the node's write state with one more reference,
// creating it over the current object.
func (n *fileNode) acquireWriter(ctx context.Context, truncate bool) (*engine.Writer, syscall.Errno) {
	n.mu.Lock()
	st := n.state()
	if w := st.ws; w != nil {
		if !w.IsFailed() {
			w.Ref()
			n.mu.Unlock()
			return w, 0
		}
		// The open handles of a failed upload keep their sticky state
		// (its data is kept in cache_dir); a new open starts afresh,
		// over the server's version, or as a new file if it never got
		// there.
		st.ws = nil
		if n.pendingLocked() {
			defer n.mu.Unlock()
			own := &engine.Owner{UID: n.fsys.cfg.UID, GID: n.fsys.cfg.GID, Mode: w.Attr().Mode}
			if c := callerOf(ctx); c != nil {
				own.UID, own.GID = c.UID, c.GID
			}
			nw, err := n.fsys.newWriter(n.state(), n.key(), nil, true, own)
			if err != nil {
				return nil, n.fsys.toErrno("open", err)
			}
			nw.Ref()
			st.ws = nw
			n.fsys.eng.Track(nw, true)
			return nw, 0
		}
	}
	pending := n.pendingLocked()
	n.mu.Unlock()
	if pending {
		return nil, syscall.EIO // a pending node always has a writer
	}
	if n.orphaned() {
		return nil, syscall.ENOENT
	}
	key := n.key()
	a, err := n.fsys.ns.FullFile(ctx, key)
	if err != nil {
		return nil, n.fsys.toErrno("head", err)
	}
	if errno := n.typeChanged(key, a); errno != 0 {
		return nil, errno
	}
	if a.IsSymlink() {
		return nil, syscall.ELOOP
	}
	w, err := n.fsys.newWriter(n.state(), key, a, truncate, nil)
	if err != nil {
		return nil, n.fsys.toErrno("open", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if st.ws != nil { // lost a race with another opener
		w.Discard()
		w = st.ws
	} else {
		st.ws = w
		n.fsys.eng.Track(w, true)
	}
	w.Ref()
	return w, 0
}

// releaseWrite drops a reference; the last one uploads what is left (the
// error can only be logged here: close reported it through flush) and
// detaches the state from the node.
func (n *fileNode) releaseWrite(ctx context.Context, w *engine.Writer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if w.LastRef() {
		// The last release uploads what is left even when the caller is
		// dying (its close was interrupted): nothing else would.
		if err := w.Flush(context.WithoutCancel(ctx)); err != nil {
			n.fsys.log.Error("upload at release failed", "key", w.Key(), "errno", n.fsys.toErrno("release", err).Error())
		}
	}
	if w.Release() {
		n.fsys.eng.Track(w, false)
		if st := n.state(); st.ws == w {
			st.ws = nil
			st.pending = false
			if a, ok := w.LiveAttr(); ok {
				n.attr = attrOf(a)
			}
		}
	}
}

// writtenHere in keepETag says the kernel's cached size and pages came from
// a writer of this mount, and may not be what the server has (a failed
// upload): the next open drops them.
const writtenHere = "\x00written"

// CurrentKey is the file's key now (engine.Named: a reader follows the
// renames of its file); ok is false once the file has no name.
func (n *fileNode) CurrentKey() (string, bool) {
	if n.orphaned() {
		return "", false
	}
	return n.key(), true
}

// currentReader asks OSS for the current version of the file r reads (a
// handle opened on a version that turned out replaced) and returns a
// reader of it, or nil if there is none other.
func (n *fileNode) currentReader(ctx context.Context, r *engine.Reader) *engine.Reader {
	if n.orphaned() {
		return nil
	}
	ctx, done := requestContext(ctx)
	defer done()
	key := n.key()
	a, errno := n.fsys.headFile(ctx, key)
	if errno != 0 || a.ETag == r.ETag() || !n.sameType(a) {
		return nil
	}
	n.fsys.log.Info("file replaced between the listing and the open: reading the current version", "key", key)
	n.setAttr(a)
	n.mu.Lock()
	n.state().keepETag = a.ETag
	n.mu.Unlock()
	// The kernel asks the new size again (pages: none kept, see
	// delivered).
	n.NotifyContent(-1, 0)
	return n.fsys.eng.NewReader(n, key, a.ETag, a.Size)
}
