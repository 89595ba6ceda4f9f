package engine

// The write path. Every file open for writing has one Writer, shared by
// all its writing handles (and by the read-only handles opened while it
// exists: they read the same bytes). Its bytes live in a sparse staging
// file (engine/stagefile.go: in memory, or in the cache directory), divided into
// chunks (stageChunk bytes), each of which is
//
//   - absent: not staged; its bytes are those of the base object (the
//     version on the server when writing began) or zeros past baseLimit;
//   - clean: fetched from the base object (with If-Match on its ETag);
//   - dirty: written by the application;
//   - gone: written, sent as part of the streamed upload, then dropped
//     from the staging file to stay within disk_budget: only that
//     incomplete upload holds it, so it cannot be read (ENODATA) until the
//     file is complete.
//
// The rule: the object at the key changes only when the application's data
// is complete, at close (flush) or fsync of a handle that wrote. Before
// that, readers of the file see the written bytes from the staging file.
//
// A new (or truncated) file that is written sequentially streams
// (stream.go): as soon as a whole part has been written it is uploaded as a
// part of a multipart upload while the application keeps writing. The
// parts stay invisible until the final CompleteMultipartUpload at
// close/fsync; a change to a part already sent (a write before the
// frontier, a truncate) marks it to be sent again under the same part
// number. A sent part's bytes stay in the staging file (readers need them)
// unless disk_budget runs out, when the oldest sent parts are dropped.
//
// Anything else (overwrites, random writes, truncation, appends to an
// existing object) is staged: chunks are fetched from the base only when a
// partial write or a read needs them, and at flush/fsync/close the file is
// uploaded: a single PUT when small, else a multipart upload that keeps
// unchanged base ranges with UploadPartCopy.
//
// A failed upload makes the state sticky-failed: every later write, flush,
// fsync and close fails (EIO; the upload's own failure is an UploadError), and the staging file is kept on disk, with
// its key and the ranges that did not reach OSS logged and described next
// to it (KeptFile). A canceled upload (the caller is dying) is not a
// failure: the data stays dirty and the next flush (the last release at
// the latest) uploads it.
//
// A file unlinked, or renamed over, while open is never uploaded: its
// streamed upload is aborted at once, and nothing completes at any key. A
// file renamed while open publishes nothing either: it follows its new
// name (followRenameLocked) and is uploaded there at close.
//
// Lock order: the file's lock in package fs (fileNode.mu), then Writer.mu
// (two Writers: lower seq first, see LockOrder), then the StageFile's
// lock; the budgets are leaves.
//
// Errors: the Writer's methods return Go errors; package fs maps them to
// errnos (fs/errno.go). Local refusals are syscall.Errno values (ENOSPC,
// ENODATA, EBUSY, EINTR, EIO for a writer failed earlier).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// stageChunk is the unit of a writer's chunk states (and of its staging
// file's memory).
const stageChunk = ChunkSize

const (
	chunkAbsent uint8 = iota
	chunkClean
	chunkDirty
	chunkGone
)

// Attr is what stat shows of a file being written, and what an upload of
// it made.
type Attr struct {
	Size     int64
	ETag     string // "" when there is no base object
	Mode     uint32 // full st_mode
	UID, GID uint32
	Mtime    time.Time
}

// Base is the object a Writer starts from: its attributes and its own
// description (metadata and headers; nil when not known).
type Base struct {
	Attr
	Info *ossapi.ObjectInfo
}

// Owner is the owner and mode a new file is created with. A zero Mode is
// a regular file with the mount's file mode; a nil Owner is the mount's
// owner.
type Owner struct {
	UID, GID uint32
	Mode     uint32
}

// Writer is the shared state of a file open for writing.
type Writer struct {
	e *Engine
	// uploaded is told what each upload of the file made (at its key
	// then): package fs updates its caches, and the file has an object
	// from then on.
	uploaded func(key string, a Attr)
	seq      uint64 // creation order: the lock order between two Writers

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a streamed part finishes
	key       string     // GUARDED_BY(mu)
	file      *StageFile // GUARDED_BY(mu)
	path      string
	size      int64              // GUARDED_BY(mu)
	chunks    []uint8            // GUARDED_BY(mu); state of each chunk
	onDisk    int64              // GUARDED_BY(mu); bytes charged to the disk budget
	baseETag  string             // GUARDED_BY(mu); "" when there is no base object
	baseLimit int64              // GUARDED_BY(mu); base bytes at or past this are gone
	dirty     bool               // GUARDED_BY(mu); the server copy is out of date
	info      *ossapi.ObjectInfo // GUARDED_BY(mu); metadata and headers to upload with
	meta      map[string]string  // GUARDED_BY(mu); user metadata to upload
	headers   ossapi.StdHeaders  // GUARDED_BY(mu)
	mode      uint32             // GUARDED_BY(mu)
	uid, gid  uint32             // GUARDED_BY(mu)
	mtime     time.Time          // GUARDED_BY(mu)
	mtimeSet  bool               // GUARDED_BY(mu); mtime set explicitly (utimes)
	failed    error              // GUARDED_BY(mu); sticky
	refs      int                // GUARDED_BY(mu); open handles
	unlinked  bool               // GUARDED_BY(mu); no name any more: never uploaded
	published bool               // GUARDED_BY(mu); an upload of it reached the server
	up        *streamUpload      // GUARDED_BY(mu); nil unless streaming
	streaming bool               // GUARDED_BY(mu); still eligible to stream
	wrote     bool               // GUARDED_BY(mu); written, truncated (not to 0) or chmod/chown/utimes'd since opened
}

// NewWriter stages key for writing. base is the current object (nil for a
// new one, made with owner); truncate drops its content. uploaded (may be
// nil) is told what each upload made. The writer starts with no
// reference (Ref) and is not among the open writers (Track).
func (e *Engine) NewWriter(key string, base *Base, truncate bool, owner *Owner, uploaded func(key string, a Attr)) (*Writer, error) {
	file := e.NewStageFile()
	w := &Writer{e: e, uploaded: uploaded, seq: e.writerSeq.Add(1), key: key, file: file, meta: map[string]string{}}
	w.cond = sync.NewCond(&w.mu)
	now := time.Now()
	if base != nil {
		w.info = base.Info
		w.mode, w.uid, w.gid, w.mtime = base.Mode, base.UID, base.GID, base.Mtime
		if base.Info != nil {
			for k, v := range base.Info.Meta {
				w.meta[k] = v
			}
			w.headers = base.Info.Headers
		}
		if !truncate {
			w.baseETag, w.baseLimit, w.size = base.ETag, base.Size, base.Size
			w.chunks = make([]uint8, chunksFor(base.Size))
			if err := file.Truncate(base.Size); err != nil {
				w.Discard()
				return nil, err
			}
		} else {
			w.dirty = true
			w.mtime = now
			w.streaming = true
		}
	} else {
		w.mode = syscall.S_IFREG | e.cfg.FileMode
		w.uid, w.gid = e.cfg.UID, e.cfg.GID
		if owner != nil {
			w.uid, w.gid = owner.UID, owner.GID
			if owner.Mode != 0 {
				w.mode = owner.Mode
			}
		}
		w.mtime = now
		w.dirty = true
		w.streaming = true
		if ct := mime.TypeByExtension(path.Ext(key)); ct != "" {
			w.headers.ContentType = ct
		} else {
			w.headers.ContentType = "application/octet-stream"
		}
	}
	return w, nil
}

func chunksFor(size int64) int64 { return (size + stageChunk - 1) / stageChunk }

// Attr is what stat shows while the file is being written.
func (w *Writer) Attr() Attr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attrLocked()
}

// attrLocked is Attr with the writer locked.
func (w *Writer) attrLocked() Attr {
	return Attr{Size: w.size, ETag: w.baseETag, Mode: w.mode, UID: w.uid, GID: w.gid, Mtime: w.mtime}
}

func (w *Writer) chunkState(i int64) uint8 {
	if i < int64(len(w.chunks)) {
		return w.chunks[i]
	}
	return chunkAbsent
}

func (w *Writer) setChunk(i int64, s uint8) error {
	for int64(len(w.chunks)) <= i {
		w.chunks = append(w.chunks, chunkAbsent)
	}
	if (w.chunks[i] == chunkAbsent || w.chunks[i] == chunkGone) && s != chunkAbsent && s != chunkGone {
		if !w.e.reserveDisk(w) {
			w.e.log.Error("staging disk budget exhausted", "key", w.key, "dir", w.e.staging.Dir())
			return syscall.ENOSPC
		}
		w.onDisk += stageChunk
	}
	w.chunks[i] = s
	return nil
}

// dropChunkLocked frees chunk i's disk space; it then reads as absent, or
// as gone (s).
func (w *Writer) dropChunkLocked(i int64, s uint8) {
	if c := w.chunkState(i); c != chunkAbsent && c != chunkGone {
		w.onDisk -= stageChunk
		w.e.staging.budget.Release(stageChunk)
	}
	if i < int64(len(w.chunks)) {
		w.chunks[i] = s
	}
}

// reserveDisk takes one chunk of the disk budget for w (locked), dropping
// the bytes of parts already sent by streamed uploads when the budget is
// used up: w's own first, then other writers' (those not busy now).
func (e *Engine) reserveDisk(w *Writer) bool {
	b := e.staging.budget
	if b.TryAcquire(stageChunk) {
		return true
	}
	if w.dropSentLocked(stageChunk) && b.TryAcquire(stageChunk) {
		return true
	}
	for _, o := range e.OpenWriters() {
		if o == w || !o.mu.TryLock() {
			continue
		}
		dropped := o.dropSentLocked(stageChunk)
		o.mu.Unlock()
		if dropped && b.TryAcquire(stageChunk) {
			return true
		}
	}
	return false
}

// needsBase reports whether chunk i holds base bytes not yet on disk.
func (w *Writer) needsBase(i int64) bool {
	return w.chunkState(i) == chunkAbsent && i*stageChunk < w.baseLimit
}

// fetchChunkLocked copies chunk i's base bytes into the staging file.
func (w *Writer) fetchChunkLocked(ctx context.Context, i int64) error {
	off := i * stageChunk
	n := min(stageChunk, w.baseLimit-off)
	res, err := w.e.store.GetRange(ctx, ossapi.GetRequest{Key: w.key, Offset: off, Length: n, IfMatch: w.baseETag})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := w.setChunk(i, chunkClean); err != nil {
		return err
	}
	// Straight into the staging file, a small buffer at a time: no
	// chunk-sized garbage per fetch.
	buf := make([]byte, 64<<10)
	for pos := off; pos < off+n; {
		m, err := io.ReadFull(res.Body, buf[:min(int64(len(buf)), off+n-pos)])
		if m > 0 {
			if _, werr := w.file.WriteAt(buf[:m], pos); werr != nil {
				w.dropChunkLocked(i, chunkAbsent)
				return w.localErr("write staging file", werr)
			}
			pos += int64(m)
		}
		if err != nil && pos < off+n {
			w.dropChunkLocked(i, chunkAbsent)
			return BodyCut("GetObject", w.key, err)
		}
	}
	return nil
}

// goneIn reports whether a chunk of [off, end) left the staging file (see
// chunkGone), logging the refusal of op.
func (w *Writer) goneIn(op string, off, end int64) bool {
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.chunkState(i) == chunkGone {
			w.e.log.Warn("range sent as a part and dropped from cache_dir (disk_budget); it can be read once the file is complete (closed)",
				"op", op, "key", w.key, "range", Range{Off: i * stageChunk, End: min((i+1)*stageChunk, w.size)}.String())
			return true
		}
	}
	return false
}

func (w *Writer) localErr(what string, err error) error {
	w.e.log.Error("staging failed", "op", what, "file", w.file.Name(), "err", err)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// Write stores data at off. killSUID (a write by an unprivileged caller)
// clears set-user-ID and set-group-ID (see killSUIDLocked).
func (w *Writer) Write(ctx context.Context, data []byte, off int64, killSUID bool) (uint32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return 0, syscall.EIO
	}
	if len(data) == 0 {
		return 0, nil
	}
	if w.up == nil && w.streaming && !w.unlinked {
		// After a rename took the streamed upload away (see
		// followRenameLocked), the parts written so far are sent again
		// under the new key before more is staged: once sent, their bytes
		// may leave the staging file when disk_budget needs the room.
		if err := w.pumpLocked(ctx); err != nil {
			return 0, err
		}
	}
	if killSUID {
		w.killSUIDLocked()
	}
	end := off + int64(len(data))
	if w.up != nil && off < w.up.frontier() {
		// A change to parts already sent: they are sent again.
		if err := w.up.touchLocked(w, "write", off, end); err != nil {
			return 0, err
		}
	}
	if w.streaming && off != w.size {
		w.streaming = false
	}
	for i := off / stageChunk; i*stageChunk < end; i++ {
		cs, ce := i*stageChunk, (i+1)*stageChunk
		if w.needsBase(i) && !(off <= cs && end >= min(ce, w.baseLimit)) {
			if err := w.fetchChunkLocked(ctx, i); err != nil {
				return 0, err
			}
		}
		if err := w.setChunk(i, chunkDirty); err != nil {
			return 0, err
		}
	}
	if _, err := w.file.WriteAt(data, off); err != nil {
		return 0, w.localErr("write staging file", err)
	}
	w.size = max(w.size, end)
	w.dirty = true
	w.wrote = true
	w.mtime = time.Now()
	if w.streaming && !w.unlinked {
		if err := w.pumpLocked(ctx); err != nil {
			return 0, err
		}
	}
	return uint32(len(data)), nil
}

func (w *Writer) initiateRequest(withMtime bool) ossapi.InitiateRequest {
	return ossapi.InitiateRequest{Key: w.key, Meta: w.uploadMeta(withMtime), Headers: w.headers}
}

func (w *Writer) completeRequest(id string, parts []ossapi.Part) ossapi.CompleteRequest {
	return ossapi.CompleteRequest{Key: w.key, UploadID: id, Parts: parts}
}

// uploadMeta is the user metadata sent with the object: the base's, plus
// ossfs's mode/uid/gid/mtime.
func (w *Writer) uploadMeta(withMtime bool) map[string]string {
	m := make(map[string]string, len(w.meta)+4)
	for k, v := range w.meta {
		m[k] = v
	}
	m["mode"] = strconv.FormatUint(uint64(w.mode), 10)
	m["uid"] = strconv.FormatUint(uint64(w.uid), 10)
	m["gid"] = strconv.FormatUint(uint64(w.gid), 10)
	if withMtime {
		m["mtime"] = FormatMtime(w.mtime)
	} else {
		delete(m, "mtime")
	}
	return m
}

// failLocked makes the state sticky-failed and keeps the staging file,
// described (KeptFile) and logged with the key and the ranges that did
// not reach OSS; it returns err as an UploadError. A canceled request is
// not a failure: the data stays dirty for the next flush, and the caller
// gets EINTR.
func (w *Writer) failLocked(op string, err error) error {
	if IsCanceled(err) {
		return syscall.EINTR
	}
	uerr := &UploadError{Op: op, Err: err}
	if w.failed != nil {
		return uerr
	}
	w.failed = err
	w.e.uploadsFailed.Add(1)
	// Mark the staging file as kept: it is never removed, not even by a
	// later mount cleaning up after a crash.
	kept, kerr := w.file.Keep(KeptName)
	if kerr != nil {
		w.e.log.Error("could not keep the failed upload's data on disk", "key", w.key, "err", kerr)
	}
	w.path = kept
	k := &KeptFile{StoreID: w.e.staging.ID(), Key: w.key, Path: kept, Size: w.size, Reason: fmt.Sprintf("%s: %v", op, err),
		Time: time.Now().UTC(), Changed: w.rangesLocked(w.changedLocked)}
	if w.baseETag != "" && w.baseLimit > 0 {
		k.BaseETag = w.baseETag
	}
	if w.up != nil {
		if gone := w.rangesLocked(func(i int64) bool { return w.chunkState(i) == chunkGone }); len(gone) > 0 {
			// Some streamed parts hold bytes the kept file lacks: the
			// upload is kept for the user (not aborted, even by a later
			// mount), named in the log and the description.
			k.UploadID, k.InUpload = w.up.id, gone
			w.e.KeepUpload(w.up.id)
		} else {
			w.e.AbortUpload(w.key, w.up.id)
		}
		w.up = nil
	}
	if kept != "" {
		if err := w.e.staging.SaveKept(k); err != nil {
			w.e.log.Error("could not describe the kept data", "key", w.key, "err", err)
		}
	}
	w.e.log.Error("upload failed; the data is kept in cache_dir", k.LogAttrs()...)
	return uerr
}

// rangesLocked lists the byte ranges (merged, clipped to the size) of the
// chunks for which in holds.
func (w *Writer) rangesLocked(in func(i int64) bool) []Range {
	var out []Range
	for i := int64(0); i*stageChunk < w.size; i++ {
		if !in(i) {
			continue
		}
		r := Range{Off: i * stageChunk, End: min((i+1)*stageChunk, w.size)}
		if n := len(out); n > 0 && out[n-1].End == r.Off {
			out[n-1].End = r.End
		} else {
			out = append(out, r)
		}
	}
	return out
}

// changedLocked reports whether chunk i holds bytes the server's object
// does not: written (or dropped after it was sent), or past the base
// object's end (zeros), or any chunk of a file without a base.
func (w *Writer) changedLocked(i int64) bool {
	c := w.chunkState(i)
	return c == chunkDirty || c == chunkGone || w.baseETag == "" || min((i+1)*stageChunk, w.size) > w.baseLimit
}

// ReadAt reads the staged bytes (fetching base chunks as needed).
func (w *Writer) ReadAt(ctx context.Context, dest []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off >= w.size {
		return 0, nil
	}
	end := min(off+int64(len(dest)), w.size)
	if w.goneIn("read", off, end) {
		return 0, syscall.ENODATA
	}
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.needsBase(i) {
			if err := w.fetchChunkLocked(ctx, i); err != nil {
				return 0, err
			}
		}
	}
	n, err := w.file.ReadAt(dest[:end-off], off)
	if err != nil && err != io.EOF {
		return n, w.localErr("read staging file", err)
	}
	return n, nil
}

// Truncate sets the size.
func (w *Writer) Truncate(ctx context.Context, size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return syscall.EIO
	}
	if size == w.size {
		return nil
	}
	if w.up != nil {
		if err := w.truncateStreamLocked(size); err != nil {
			return err
		}
	}
	// Emptied, the file starts afresh: sequential writes from 0 stream
	// (open(O_TRUNC) arrives as a truncate to 0 after the open).
	w.streaming = size == 0
	if size < w.baseLimit {
		if i := size / stageChunk; size%stageChunk != 0 && w.needsBase(i) {
			if err := w.fetchChunkLocked(ctx, i); err != nil {
				return err
			}
		}
		w.baseLimit = size
	}
	if err := w.file.Truncate(size); err != nil {
		return w.localErr("truncate staging file", err)
	}
	// Chunks past the end are dropped; the one holding the end is dirty.
	for i := chunksFor(size); i < int64(len(w.chunks)); i++ {
		w.dropChunkLocked(i, chunkAbsent)
	}
	if n := chunksFor(size); n < int64(len(w.chunks)) {
		w.chunks = w.chunks[:n]
	}
	// The chunks holding the old and the new end change (bytes cut off or
	// zeros added): fetch their base bytes first, then mark them dirty.
	for _, i := range []int64{w.size / stageChunk, size / stageChunk} {
		if i*stageChunk >= size || (i == size/stageChunk && size%stageChunk == 0) {
			continue
		}
		if w.needsBase(i) {
			if err := w.fetchChunkLocked(ctx, i); err != nil {
				return err
			}
		}
		if err := w.setChunk(i, chunkDirty); err != nil {
			return err
		}
	}
	w.size = size
	w.dirty = true
	// Emptying the file is not yet a change worth a close's upload: dd
	// and shells truncate (ftruncate, open(O_TRUNC)), then close a
	// duplicate descriptor before writing; uploading the empty file then
	// would replace the object before the new data is complete. The last
	// close (release) uploads it if nothing else did.
	w.wrote = w.wrote || size != 0
	w.mtime = time.Now()
	return nil
}

// SetMeta applies chmod/chown/utimes to the pending upload.
func (w *Writer) SetMeta(c AttrChange) {
	if c.None() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c.Apply(&w.mode, &w.uid, &w.gid, &w.mtime)
	w.mtimeSet = w.mtimeSet || c.Mtime != nil
	w.dirty = true
	w.wrote = true
}

// killSUIDLocked clears set-user-ID, and set-group-ID on a group-executable
// file, as a write or truncate by an unprivileged caller must. The kernel
// leaves this to the mount (FUSE_HANDLE_KILLPRIV_V2, which in exchange stops
// asking for security.capability before every write).
func (w *Writer) killSUIDLocked() {
	if m, ok := SUIDKilled(w.mode); ok {
		w.mode = m
		w.dirty = true
		w.wrote = true
	}
}

// IsClean reports whether the writer has nothing to upload (and works).
func (w *Writer) IsClean() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cleanLocked()
}

// cleanLocked is IsClean with the writer locked.
func (w *Writer) cleanLocked() bool {
	return w.failed == nil && !w.dirty && w.up == nil && !w.unlinked
}

// unlinkLocked makes the file nameless: it is never uploaded, and its
// streamed upload (whose parts nothing will complete) is aborted now.
func (w *Writer) unlinkLocked() {
	w.unlinked = true
	w.streaming = false
	if up := w.up; up != nil {
		w.up = nil
		w.e.AbortUpload(w.key, up.id)
		w.cond.Broadcast()
	}
}

// Unlink is unlinkLocked, locking the writer; it reports whether an
// upload of the file had reached the server.
func (w *Writer) Unlink() (published bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unlinkLocked()
	return w.published
}

// Renames of a file being written follow the rule: the object at a key
// changes only at close or fsync. A rename moves what the server has of
// the file (its last complete version, if any: see package fs: renameFile; RenameDir)
// and the writer goes on with its pending bytes under the new key. A
// streamed upload belongs to its key: it is aborted when the file moves,
// and its parts are sent again under the new key from the staging file
// (by the next write, or at close). That needs their bytes: when some were
// dropped from the staging file (disk_budget), only the old key's upload
// holds them, and the rename is refused (EBUSY) before anything changes.

// renameReadyLocked readies the writer for a rename of its file: it waits
// for the streamed parts in flight (none may land after the upload is
// aborted), then refuses with EBUSY, logged, when bytes written exist only
// in the streamed upload. It changes nothing.
func (w *Writer) renameReadyLocked(src, dst string) error {
	w.WaitPartsLocked()
	if gone := w.rangesLocked(func(i int64) bool { return w.chunkState(i) == chunkGone }); len(gone) > 0 {
		w.e.log.Error("rename refused (EBUSY): parts of the file being written were dropped from cache_dir (disk_budget) after they were sent, "+
			"and only the multipart upload at the old name holds them; rename it after close, or raise disk_budget",
			"key", w.key, "src", src, "dst", dst, "only_in_upload", FormatRanges(gone))
		return syscall.EBUSY
	}
	return nil
}

// WaitPartsLocked waits for the streamed parts in flight, if any.
func (w *Writer) WaitPartsLocked() {
	for w.up != nil && w.up.inflight > 0 {
		w.cond.Wait()
	}
}

// followRenameLocked gives the writer the key its file was renamed to (see
// renameReadyLocked). from and to are the ETags of the object the rename
// moved from the old key to key ("" when none): when that is the writer's
// base, its unchanged bytes are read and copied from the new version.
func (w *Writer) followRenameLocked(key, from, to string) {
	if up := w.up; up != nil {
		w.up = nil
		w.e.AbortUpload(w.key, up.id)
		w.cond.Broadcast()
	}
	w.key = key
	if w.baseETag != "" && w.baseETag == from {
		w.baseETag = to
	}
}

// IsFailed reports whether an upload failed (the state is sticky).
func (w *Writer) IsFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed != nil
}

// FailedLocked is IsFailed with the writer locked.
func (w *Writer) FailedLocked() bool { return w.failed != nil }

// Untouched reports whether nothing was written to the file (no byte, no
// truncate, no chmod/chown/utimes) since it was opened.
func (w *Writer) Untouched() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.wrote
}

// Flush uploads the file if it changed and returns the result.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.FlushLocked(ctx)
}

// FlushLocked is Flush with the writer locked.
func (w *Writer) FlushLocked(ctx context.Context) error {
	if w.failed != nil {
		return syscall.EIO
	}
	if !w.dirty || w.unlinked {
		return nil
	}
	if ctx.Err() != nil {
		// The caller is dying (the close of a killed process's files):
		// nothing is started; the data stays dirty for the release.
		return syscall.EINTR
	}
	var (
		etag string
		err  error
	)
	if w.up != nil {
		etag, err = w.finishStreamLocked(ctx)
	} else {
		etag, err = w.uploadStagedLocked(ctx)
	}
	if err != nil {
		return w.failLocked("upload", err)
	}
	w.streaming = false
	w.dirty = false
	w.published = true
	w.baseETag = etag
	w.baseLimit = w.size
	// The staging file now matches the object: every chunk on disk is
	// clean, and the ones dropped after they were sent are the object's.
	for i := range w.chunks {
		switch w.chunks[i] {
		case chunkDirty:
			w.chunks[i] = chunkClean
		case chunkGone:
			w.chunks[i] = chunkAbsent
		}
	}
	w.e.uploadsDone.Add(1)
	if w.uploaded != nil {
		w.uploaded(w.key, Attr{Size: w.size, ETag: etag, Mode: w.mode, UID: w.uid, GID: w.gid, Mtime: w.mtime})
	}
	return nil
}

// uploadStagedLocked uploads the whole staged file: with one PUT when it
// fits in a part, as a multipart upload of planned parts otherwise.
func (w *Writer) uploadStagedLocked(ctx context.Context) (string, error) {
	ps := max(RoundUp(w.e.cfg.UploadPartSize, stageChunk), RoundUp((w.size+9999)/10000, stageChunk))
	if w.size <= ps {
		return w.putStagedLocked(ctx)
	}
	plan := w.planParts(ps)
	id, err := w.e.InitiateUpload(ctx, w.initiateRequest(true))
	if err != nil {
		return "", err
	}
	// Fetch what the uploaded parts need first (under the lock), then
	// upload the parts concurrently.
	for _, pp := range plan {
		if !pp.copy {
			if err := w.fetchAllLocked(ctx, pp.off, pp.off+pp.n); err != nil {
				w.e.AbortUpload(w.key, id)
				return "", err
			}
		}
	}
	parts, err := w.sendStagedPartsLocked(ctx, id, plan)
	if err != nil {
		w.e.AbortUpload(w.key, id)
		return "", err
	}
	res, err := w.e.CompleteUpload(ctx, w.completeRequest(id, parts))
	if err != nil {
		w.e.AbortUpload(w.key, id)
		return "", err
	}
	return res.ETag, nil
}

// putStagedLocked uploads the whole staged file with one PUT.
func (w *Writer) putStagedLocked(ctx context.Context) (string, error) {
	if err := w.fetchAllLocked(ctx, 0, w.size); err != nil {
		return "", err
	}
	w.e.putsActive.Add(1)
	res, err := w.e.store.Put(ctx, ossapi.PutRequest{Key: w.key, Body: io.NewSectionReader(w.file, 0, w.size),
		Size: w.size, Meta: w.uploadMeta(true), Headers: w.headers})
	w.e.putsActive.Add(-1)
	if err != nil {
		return "", err
	}
	return res.ETag, nil
}

// sendStagedPartsLocked sends the planned parts of upload id,
// UploadConcurrency at a time (copies of the base object's unchanged runs
// on the server, the rest from the staging file), starting no more after
// the first failure, which it returns.
func (w *Writer) sendStagedPartsLocked(ctx context.Context, id string, plan []stagedPart) ([]ossapi.Part, error) {
	parts := make([]ossapi.Part, len(plan))
	sem := make(chan struct{}, w.e.cfg.UploadConcurrency)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for i, pp := range plan {
		sem <- struct{}{}
		errMu.Lock()
		stop := firstErr != nil
		errMu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var p *ossapi.Part
			var err error
			if pp.copy {
				p, err = w.e.store.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: w.key, UploadID: id, PartNumber: i + 1,
					SourceKey: w.key, SourceOffset: pp.off, SourceLength: pp.n, SourceIfMatch: w.baseETag})
			} else {
				p, err = w.e.store.UploadPart(ctx, ossapi.UploadPartRequest{Key: w.key, UploadID: id, PartNumber: i + 1,
					Body: io.NewSectionReader(w.file, pp.off, pp.n), Size: pp.n})
			}
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			parts[i] = *p
		}()
	}
	wg.Wait()
	return parts, firstErr
}

// stagedPart is one part of a staged upload: bytes to upload, or a range
// of the base object to copy on the server.
type stagedPart struct {
	off, n int64
	copy   bool
}

// planParts splits the file into parts along runs of unchanged base
// chunks (copied with UploadPartCopy, up to CopyPartSize each) and runs of
// changed or new chunks (uploaded, ps each), so that a small change costs
// one small part. Runs are whole chunks, so every part but the last is at
// least 1 MiB (OSS wants 100 KB). When that would take more than 10,000
// parts, the file is cut in equal parts of ps, each copied when it is all
// unchanged.
func (w *Writer) planParts(ps int64) []stagedPart {
	var plan []stagedPart
	nch := chunksFor(w.size)
	for i := int64(0); i < nch && len(plan) <= 10000; {
		c := w.chunkCopyable(i)
		j := i + 1
		for j < nch && w.chunkCopyable(j) == c {
			j++
		}
		limit := ps
		if c {
			limit = max(ps, CopyPartSize)
		}
		for off, end := i*stageChunk, min(j*stageChunk, w.size); off < end; off += limit {
			plan = append(plan, stagedPart{off: off, n: min(limit, end-off), copy: c})
		}
		i = j
	}
	if len(plan) <= 10000 {
		return plan
	}
	plan = plan[:0]
	for off := int64(0); off < w.size; off += ps {
		n := min(ps, w.size-off)
		plan = append(plan, stagedPart{off: off, n: n, copy: w.cleanRange(off, off+n)})
	}
	return plan
}

// chunkCopyable reports whether chunk i (up to the end of the file) is
// unchanged base content.
func (w *Writer) chunkCopyable(i int64) bool {
	return w.baseETag != "" && w.chunkState(i) != chunkDirty && min((i+1)*stageChunk, w.size) <= w.baseLimit
}

// cleanRange reports whether [off, end) is unchanged base content.
func (w *Writer) cleanRange(off, end int64) bool {
	if w.baseETag == "" || end > w.baseLimit {
		return false
	}
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.chunkState(i) == chunkDirty {
			return false
		}
	}
	return true
}

// fetchAllLocked makes [off, end) present on disk.
func (w *Writer) fetchAllLocked(ctx context.Context, off, end int64) error {
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.needsBase(i) {
			if err := w.fetchChunkLocked(ctx, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ref adds a reference (an open handle).
func (w *Writer) Ref() {
	w.mu.Lock()
	w.refs++
	w.mu.Unlock()
}

// LastRef reports whether one reference is left (the last handle).
func (w *Writer) LastRef() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refs == 1
}

// Release drops one handle; the last one removes the staging file unless it
// holds data that could not be uploaded, and aborts a streamed upload that
// nothing will complete.
func (w *Writer) Release() (last bool) {
	w.mu.Lock()
	w.refs--
	if w.refs > 0 {
		w.mu.Unlock()
		return false
	}
	if w.failed == nil && w.dirty && !w.unlinked {
		// The last flush did not upload it (it cannot get here otherwise,
		// but data is never dropped): keep it.
		w.failLocked("release", errors.New("not uploaded by the last close"))
	}
	failed := w.failed != nil
	if up := w.up; up != nil {
		w.up = nil
		w.e.AbortUpload(w.key, up.id)
	}
	w.mu.Unlock()
	if !failed {
		w.Discard()
	} else {
		w.e.CloseStageFile(w.file, true)
	}
	return true
}

// Discard drops a writer that no handle uses (one that lost a race to be
// the file's writer, or whose last handle is gone): its staging file is
// removed.
func (w *Writer) Discard() {
	w.e.CloseStageFile(w.file, false)
	if w.onDisk > 0 {
		w.e.staging.budget.Release(w.onDisk)
		w.onDisk = 0
	}
}
