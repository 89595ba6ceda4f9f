package fs

// The write path. Every file open for writing has one writeState, shared by
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
// fsync and close returns EIO, and the staging file is kept on disk, with
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
// Lock order: fileNode.mu, then writeState.mu (two writeStates: lower seq
// first), then the engine.StageFile's lock; the budgets are leaves.

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

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// stageChunk is the unit of a writer's chunk states (and of its staging
// file's memory).
const stageChunk = engine.ChunkSize

const (
	chunkAbsent uint8 = iota
	chunkClean
	chunkDirty
	chunkGone
)

// writeState is the shared state of a file open for writing.
type writeState struct {
	fsys *FS
	// st is the file's state kept with its node: the first upload sets
	// its onServer (from then on the file has an object).
	st  *fileState
	seq uint64 // creation order: the lock order between two writeStates

	mu        sync.Mutex
	cond      *sync.Cond        // signalled when a streamed part finishes
	key       string            // GUARDED_BY(mu)
	file      *engine.StageFile // GUARDED_BY(mu)
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

// newWriteState stages key for the file whose state is st. base is the
// current object (nil for a new one, owned by caller when there is one);
// truncate drops its content.
func (f *FS) newWriteState(st *fileState, key string, base *attr, truncate bool, caller *who) (*writeState, error) {
	file := f.eng.NewStageFile()
	w := &writeState{fsys: f, st: st, seq: f.writerSeq.Add(1), key: key, file: file, meta: map[string]string{}}
	w.cond = sync.NewCond(&w.mu)
	now := time.Now()
	if base != nil && !base.dir {
		w.info = base.info
		w.mode, w.uid, w.gid, w.mtime = base.mode, base.uid, base.gid, base.mtime()
		if base.info != nil {
			for k, v := range base.info.Meta {
				w.meta[k] = v
			}
			w.headers = base.info.Headers
		}
		if !truncate {
			w.baseETag, w.baseLimit, w.size = base.etag, base.size, base.size
			w.chunks = make([]uint8, chunksFor(base.size))
			if err := file.Truncate(base.size); err != nil {
				w.discard()
				return nil, err
			}
		} else {
			w.dirty = true
			w.mtime = now
			w.streaming = true
		}
	} else {
		w.mode = syscall.S_IFREG | f.cfg.FileMode
		w.uid, w.gid = f.cfg.UID, f.cfg.GID
		if caller != nil {
			w.uid, w.gid = caller.uid, caller.gid
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

// attrView is what stat shows while the file is being written.
func (w *writeState) attrView() *attr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attrViewLocked()
}

// attrViewLocked is attrView with w.mu held.
func (w *writeState) attrViewLocked() *attr {
	a := &attr{known: true, size: w.size, etag: w.baseETag, mode: w.mode, uid: w.uid, gid: w.gid}
	a.setMtime(w.mtime)
	return a
}

func (w *writeState) chunkState(i int64) uint8 {
	if i < int64(len(w.chunks)) {
		return w.chunks[i]
	}
	return chunkAbsent
}

func (w *writeState) setChunk(i int64, s uint8) syscall.Errno {
	for int64(len(w.chunks)) <= i {
		w.chunks = append(w.chunks, chunkAbsent)
	}
	if (w.chunks[i] == chunkAbsent || w.chunks[i] == chunkGone) && s != chunkAbsent && s != chunkGone {
		if !w.fsys.reserveDisk(w) {
			w.fsys.log.Error("staging disk budget exhausted", "key", w.key, "dir", w.fsys.eng.Staging().Dir())
			return syscall.ENOSPC
		}
		w.onDisk += stageChunk
	}
	w.chunks[i] = s
	return 0
}

// dropChunkLocked frees chunk i's disk space; it then reads as absent, or
// as gone (s).
func (w *writeState) dropChunkLocked(i int64, s uint8) {
	if c := w.chunkState(i); c != chunkAbsent && c != chunkGone {
		w.onDisk -= stageChunk
		w.fsys.eng.Staging().DiskBudget().Release(stageChunk)
	}
	if i < int64(len(w.chunks)) {
		w.chunks[i] = s
	}
}

// reserveDisk takes one chunk of the disk budget for w (locked), dropping
// the bytes of parts already sent by streamed uploads when the budget is
// used up: w's own first, then other writers' (those not busy now).
func (f *FS) reserveDisk(w *writeState) bool {
	b := f.eng.Staging().DiskBudget()
	if b.TryAcquire(stageChunk) {
		return true
	}
	if w.dropSentLocked(stageChunk) && b.TryAcquire(stageChunk) {
		return true
	}
	for _, o := range f.openWriters() {
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
func (w *writeState) needsBase(i int64) bool {
	return w.chunkState(i) == chunkAbsent && i*stageChunk < w.baseLimit
}

// fetchChunkLocked copies chunk i's base bytes into the staging file.
func (w *writeState) fetchChunkLocked(ctx context.Context, i int64) syscall.Errno {
	off := i * stageChunk
	n := min(stageChunk, w.baseLimit-off)
	res, err := w.fsys.store.GetRange(ctx, ossapi.GetRequest{Key: w.key, Offset: off, Length: n, IfMatch: w.baseETag})
	if err != nil {
		return w.fsys.toErrno("fetch", err)
	}
	defer res.Body.Close()
	if errno := w.setChunk(i, chunkClean); errno != 0 {
		return errno
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
			return w.fsys.toErrno("fetch", engine.BodyCut("GetObject", w.key, err))
		}
	}
	return 0
}

// goneIn reports whether a chunk of [off, end) left the staging file (see
// chunkGone), logging the refusal of op.
func (w *writeState) goneIn(op string, off, end int64) bool {
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.chunkState(i) == chunkGone {
			w.fsys.log.Warn("range sent as a part and dropped from cache_dir (disk_budget); it can be read once the file is complete (closed)",
				"op", op, "key", w.key, "range", engine.Range{Off: i * stageChunk, End: min((i+1)*stageChunk, w.size)}.String())
			return true
		}
	}
	return false
}

func (w *writeState) localErr(what string, err error) syscall.Errno {
	w.fsys.log.Error("staging failed", "op", what, "file", w.file.Name(), "err", err)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// write stores data at off.
func (w *writeState) write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return 0, syscall.EIO
	}
	if len(data) == 0 {
		return 0, 0
	}
	if w.up == nil && w.streaming && !w.unlinked {
		// After a rename took the streamed upload away (see
		// followRenameLocked), the parts written so far are sent again
		// under the new key before more is staged: once sent, their bytes
		// may leave the staging file when disk_budget needs the room.
		if errno := w.pumpLocked(ctx); errno != 0 {
			return 0, errno
		}
	}
	if c := callerOf(ctx); c != nil && c.uid != 0 {
		w.killSUIDLocked()
	}
	end := off + int64(len(data))
	if w.up != nil && off < w.up.frontier() {
		// A change to parts already sent: they are sent again.
		if errno := w.up.touchLocked(w, "write", off, end); errno != 0 {
			return 0, errno
		}
	}
	if w.streaming && off != w.size {
		w.streaming = false
	}
	for i := off / stageChunk; i*stageChunk < end; i++ {
		cs, ce := i*stageChunk, (i+1)*stageChunk
		if w.needsBase(i) && !(off <= cs && end >= min(ce, w.baseLimit)) {
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return 0, errno
			}
		}
		if errno := w.setChunk(i, chunkDirty); errno != 0 {
			return 0, errno
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
		if errno := w.pumpLocked(ctx); errno != 0 {
			return 0, errno
		}
	}
	return uint32(len(data)), 0
}

func (w *writeState) initiateRequest(withMtime bool) ossapi.InitiateRequest {
	return ossapi.InitiateRequest{Key: w.key, Meta: w.uploadMeta(withMtime), Headers: w.headers}
}

func (w *writeState) completeRequest(id string, parts []ossapi.Part) ossapi.CompleteRequest {
	return ossapi.CompleteRequest{Key: w.key, UploadID: id, Parts: parts}
}

// uploadMeta is the user metadata sent with the object: the base's, plus
// ossfs's mode/uid/gid/mtime.
func (w *writeState) uploadMeta(withMtime bool) map[string]string {
	m := make(map[string]string, len(w.meta)+4)
	for k, v := range w.meta {
		m[k] = v
	}
	m["mode"] = strconv.FormatUint(uint64(w.mode), 10)
	m["uid"] = strconv.FormatUint(uint64(w.uid), 10)
	m["gid"] = strconv.FormatUint(uint64(w.gid), 10)
	if withMtime {
		m["mtime"] = formatMtime(w.mtime)
	} else {
		delete(m, "mtime")
	}
	return m
}

// failLocked makes the state sticky-failed and keeps the staging file,
// described (KeptFile) and logged with the key and the ranges that did
// not reach OSS. A canceled request is not a failure: the data stays dirty
// for the next flush, and the caller gets EINTR.
func (w *writeState) failLocked(op string, err error) syscall.Errno {
	if engine.IsCanceled(err) {
		return syscall.EINTR
	}
	errno := w.fsys.toErrno(op, err)
	if errno == syscall.ENOENT {
		errno = syscall.EIO // never "no such file" for the file being written
	}
	if w.failed != nil {
		return errno
	}
	w.failed = err
	w.fsys.counters.uploadsFailed.Add(1)
	// Mark the staging file as kept: it is never removed, not even by a
	// later mount cleaning up after a crash.
	kept, kerr := w.file.Keep(engine.KeptName)
	if kerr != nil {
		w.fsys.log.Error("could not keep the failed upload's data on disk", "key", w.key, "err", kerr)
	}
	w.path = kept
	k := &engine.KeptFile{StoreID: w.fsys.eng.Staging().ID(), Key: w.key, Path: kept, Size: w.size, Reason: fmt.Sprintf("%s: %v", op, err),
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
			w.fsys.eng.KeepUpload(w.up.id)
		} else {
			w.fsys.eng.AbortUpload(w.key, w.up.id)
		}
		w.up = nil
	}
	if kept != "" {
		if err := w.fsys.eng.Staging().SaveKept(k); err != nil {
			w.fsys.log.Error("could not describe the kept data", "key", w.key, "err", err)
		}
	}
	w.fsys.log.Error("upload failed; the data is kept in cache_dir", k.LogAttrs()...)
	return errno
}

// rangesLocked lists the byte ranges (merged, clipped to the size) of the
// chunks for which in holds.
func (w *writeState) rangesLocked(in func(i int64) bool) []engine.Range {
	var out []engine.Range
	for i := int64(0); i*stageChunk < w.size; i++ {
		if !in(i) {
			continue
		}
		r := engine.Range{Off: i * stageChunk, End: min((i+1)*stageChunk, w.size)}
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
func (w *writeState) changedLocked(i int64) bool {
	c := w.chunkState(i)
	return c == chunkDirty || c == chunkGone || w.baseETag == "" || min((i+1)*stageChunk, w.size) > w.baseLimit
}

// readAt reads the staged bytes (fetching base chunks as needed).
func (w *writeState) readAt(ctx context.Context, dest []byte, off int64) (int, syscall.Errno) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off >= w.size {
		return 0, 0
	}
	end := min(off+int64(len(dest)), w.size)
	if w.goneIn("read", off, end) {
		return 0, syscall.ENODATA
	}
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.needsBase(i) {
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return 0, errno
			}
		}
	}
	n, err := w.file.ReadAt(dest[:end-off], off)
	if err != nil && err != io.EOF {
		return n, w.localErr("read staging file", err)
	}
	return n, 0
}

// truncate sets the size.
func (w *writeState) truncate(ctx context.Context, size int64) syscall.Errno {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return syscall.EIO
	}
	if size == w.size {
		return 0
	}
	if w.up != nil {
		if errno := w.truncateStreamLocked(size); errno != 0 {
			return errno
		}
	}
	// Emptied, the file starts afresh: sequential writes from 0 stream
	// (open(O_TRUNC) arrives as a truncate to 0 after the open).
	w.streaming = size == 0
	if size < w.baseLimit {
		if i := size / stageChunk; size%stageChunk != 0 && w.needsBase(i) {
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return errno
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
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return errno
			}
		}
		if errno := w.setChunk(i, chunkDirty); errno != 0 {
			return errno
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
	return 0
}

// setMeta applies chmod/chown/utimes to the pending upload.
func (w *writeState) setMeta(c attrChange) {
	if c.none() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c.apply(&w.mode, &w.uid, &w.gid, &w.mtime)
	w.mtimeSet = w.mtimeSet || c.mtime != nil
	w.dirty = true
	w.wrote = true
}

// killSUIDLocked clears set-user-ID, and set-group-ID on a group-executable
// file, as a write or truncate by an unprivileged caller must. The kernel
// leaves this to the mount (FUSE_HANDLE_KILLPRIV_V2, which in exchange stops
// asking for security.capability before every write).
func (w *writeState) killSUIDLocked() {
	if m, ok := suidKilled(w.mode); ok {
		w.mode = m
		w.dirty = true
		w.wrote = true
	}
}

// suidKilled is mode without set-user-ID, and without set-group-ID when the
// file is group-executable; ok says whether that changed anything.
func suidKilled(mode uint32) (uint32, bool) {
	kill := uint32(syscall.S_ISUID)
	if mode&syscall.S_IXGRP != 0 {
		kill |= syscall.S_ISGID
	}
	return mode &^ kill, mode&kill != 0
}

// isClean reports whether the writer has nothing to upload (and works).
func (w *writeState) isClean() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cleanLocked()
}

func (w *writeState) cleanLocked() bool {
	return w.failed == nil && !w.dirty && w.up == nil && !w.unlinked
}

// unlinkLocked makes the file nameless: it is never uploaded, and its
// streamed upload (whose parts nothing will complete) is aborted now.
func (w *writeState) unlinkLocked() {
	w.unlinked = true
	w.streaming = false
	if up := w.up; up != nil {
		w.up = nil
		w.fsys.eng.AbortUpload(w.key, up.id)
		w.cond.Broadcast()
	}
}

// Renames of a file being written follow the rule: the object at a key
// changes only at close or fsync. A rename moves what the server has of
// the file (its last complete version, if any: see renameFile, renameDir)
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
func (w *writeState) renameReadyLocked(src, dst string) syscall.Errno {
	for w.up != nil && w.up.inflight > 0 {
		w.cond.Wait()
	}
	if gone := w.rangesLocked(func(i int64) bool { return w.chunkState(i) == chunkGone }); len(gone) > 0 {
		w.fsys.log.Error("rename refused (EBUSY): parts of the file being written were dropped from cache_dir (disk_budget) after they were sent, "+
			"and only the multipart upload at the old name holds them; rename it after close, or raise disk_budget",
			"key", w.key, "src", src, "dst", dst, "only_in_upload", engine.FormatRanges(gone))
		return syscall.EBUSY
	}
	return 0
}

// followRenameLocked gives the writer the key its file was renamed to (see
// renameReadyLocked). from and to are the ETags of the object the rename
// moved from the old key to key ("" when none): when that is the writer's
// base, its unchanged bytes are read and copied from the new version.
func (w *writeState) followRenameLocked(key, from, to string) {
	if up := w.up; up != nil {
		w.up = nil
		w.fsys.eng.AbortUpload(w.key, up.id)
		w.cond.Broadcast()
	}
	w.key = key
	if w.baseETag != "" && w.baseETag == from {
		w.baseETag = to
	}
}

// isFailed reports whether an upload failed (the state is sticky).
func (w *writeState) isFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed != nil
}

// untouched reports whether nothing was written to the file (no byte, no
// truncate, no chmod/chown/utimes) since it was opened.
func (w *writeState) untouched() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.wrote
}

// flush uploads the file if it changed and returns the result.
func (w *writeState) flush(ctx context.Context) syscall.Errno {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked(ctx)
}

func (w *writeState) flushLocked(ctx context.Context) syscall.Errno {
	if w.failed != nil {
		return syscall.EIO
	}
	if !w.dirty || w.unlinked {
		return 0
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
	w.fsys.invalidate(w.key)
	w.fsys.eng.DropData(w.key)
	w.fsys.noteUploaded(w.key, w.size, etag, w.mode, w.uid, w.gid, w.mtime)
	w.fsys.counters.uploadsDone.Add(1)
	if w.st != nil {
		w.st.onServer.Store(true)
	}
	return 0
}

// uploadStagedLocked uploads the whole staged file: with one PUT when it
// fits in a part, as a multipart upload of planned parts otherwise.
func (w *writeState) uploadStagedLocked(ctx context.Context) (string, error) {
	ps := max(engine.RoundUp(w.fsys.cfg.UploadPartSize, stageChunk), engine.RoundUp((w.size+9999)/10000, stageChunk))
	if w.size <= ps {
		return w.putStagedLocked(ctx)
	}
	plan := w.planParts(ps)
	id, err := w.fsys.eng.InitiateUpload(ctx, w.initiateRequest(true))
	if err != nil {
		return "", err
	}
	// Fetch what the uploaded parts need first (under the lock), then
	// upload the parts concurrently.
	for _, pp := range plan {
		if !pp.copy {
			if errno := w.fetchAllLocked(ctx, pp.off, pp.off+pp.n); errno != 0 {
				w.fsys.eng.AbortUpload(w.key, id)
				return "", errno // a local failure: toErrno keeps it
			}
		}
	}
	parts, err := w.sendStagedPartsLocked(ctx, id, plan)
	if err != nil {
		w.fsys.eng.AbortUpload(w.key, id)
		return "", err
	}
	res, err := w.fsys.eng.CompleteUpload(ctx, w.completeRequest(id, parts))
	if err != nil {
		w.fsys.eng.AbortUpload(w.key, id)
		return "", err
	}
	return res.ETag, nil
}

// putStagedLocked uploads the whole staged file with one PUT.
func (w *writeState) putStagedLocked(ctx context.Context) (string, error) {
	if errno := w.fetchAllLocked(ctx, 0, w.size); errno != 0 {
		return "", errno // a local failure: toErrno keeps it
	}
	w.fsys.counters.putsActive.Add(1)
	res, err := w.fsys.store.Put(ctx, ossapi.PutRequest{Key: w.key, Body: io.NewSectionReader(w.file, 0, w.size),
		Size: w.size, Meta: w.uploadMeta(true), Headers: w.headers})
	w.fsys.counters.putsActive.Add(-1)
	if err != nil {
		return "", err
	}
	return res.ETag, nil
}

// sendStagedPartsLocked sends the planned parts of upload id,
// UploadConcurrency at a time (copies of the base object's unchanged runs
// on the server, the rest from the staging file), starting no more after
// the first failure, which it returns.
func (w *writeState) sendStagedPartsLocked(ctx context.Context, id string, plan []stagedPart) ([]ossapi.Part, error) {
	parts := make([]ossapi.Part, len(plan))
	sem := make(chan struct{}, w.fsys.cfg.UploadConcurrency)
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
				p, err = w.fsys.store.UploadPartCopy(ctx, ossapi.UploadPartCopyRequest{Key: w.key, UploadID: id, PartNumber: i + 1,
					SourceKey: w.key, SourceOffset: pp.off, SourceLength: pp.n, SourceIfMatch: w.baseETag})
			} else {
				p, err = w.fsys.store.UploadPart(ctx, ossapi.UploadPartRequest{Key: w.key, UploadID: id, PartNumber: i + 1,
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
// chunks (copied with UploadPartCopy, up to engine.CopyPartSize each) and runs of
// changed or new chunks (uploaded, ps each), so that a small change costs
// one small part. Runs are whole chunks, so every part but the last is at
// least 1 MiB (OSS wants 100 KB). When that would take more than 10,000
// parts, the file is cut in equal parts of ps, each copied when it is all
// unchanged.
func (w *writeState) planParts(ps int64) []stagedPart {
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
			limit = max(ps, engine.CopyPartSize)
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
func (w *writeState) chunkCopyable(i int64) bool {
	return w.baseETag != "" && w.chunkState(i) != chunkDirty && min((i+1)*stageChunk, w.size) <= w.baseLimit
}

// cleanRange reports whether [off, end) is unchanged base content.
func (w *writeState) cleanRange(off, end int64) bool {
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
func (w *writeState) fetchAllLocked(ctx context.Context, off, end int64) syscall.Errno {
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.needsBase(i) {
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return errno
			}
		}
	}
	return 0
}

// release drops one handle; the last one removes the staging file unless it
// holds data that could not be uploaded, and aborts a streamed upload that
// nothing will complete.
func (w *writeState) release() (last bool) {
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
		w.fsys.eng.AbortUpload(w.key, up.id)
	}
	w.mu.Unlock()
	if !failed {
		w.discard()
	} else {
		w.fsys.eng.CloseStageFile(w.file, true)
	}
	return true
}

func (w *writeState) discard() {
	w.fsys.eng.CloseStageFile(w.file, false)
	if w.onDisk > 0 {
		w.fsys.eng.Staging().DiskBudget().Release(w.onDisk)
		w.onDisk = 0
	}
}
