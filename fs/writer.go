package fs

// The write path. Every file open for writing has one writeState, shared by
// all its writing handles. Its bytes live in a sparse staging file in the
// cache directory, divided into chunks (stageChunk bytes), each of which is
//
//   - absent: not on disk; its bytes are those of the base object (the
//     version on the server when writing began) or zeros past baseLimit;
//   - clean: fetched from the base object (with If-Match on its ETag);
//   - dirty: written by the application.
//
// A new (or truncated) file that is written sequentially streams: as soon as
// a whole part has been written it is uploaded as a multipart part while the
// application keeps writing, and its chunks are punched out of the staging
// file, so neither memory nor disk grows with the file. A write or read
// before the streamed frontier, or an fsync, settles the stream: the parts
// so far are completed into an object, which becomes the new base.
//
// Anything else (overwrites, random writes, truncation, appends to an
// existing object) is staged: chunks are fetched from the base only when a
// partial write or a read needs them, and at flush/fsync/close the file is
// uploaded: a single PUT when small, else a multipart upload that keeps
// unchanged base ranges with UploadPartCopy.
//
// A failed upload makes the state sticky-failed: every later write, flush,
// fsync and close returns EIO, and the staging file is kept on disk and its
// path logged so nothing is lost.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

const stageChunk = 1 << 20

const (
	chunkAbsent uint8 = iota
	chunkClean
	chunkDirty
)

// stager owns the cache directory and its disk budget.
//
// Each mount stages in its own directory under the cache directory
// ("ossmount-*"), which also holds
//
//   - "lock", locked (flock) for as long as the mount's process lives;
//   - one "upload-*" record (key and upload id) per multipart upload this
//     mount has started and not yet completed or aborted;
//   - "stage-*" files of files being written, and "kept-*" files holding
//     data whose upload failed (kept for the user, never removed).
//
// A process killed in the middle of an upload leaves its directory behind
// with the lock free. The next read-write mount using the same cache
// directory aborts the uploads recorded there (no partial object ever
// appears: an incomplete multipart upload is invisible), removes the
// staging files of the writes that were in progress (their close never
// succeeded), and removes the directory unless it holds kept files.
type stager struct {
	base   string
	dir    string
	budget *cache.Budget
	log    stagerLog
	lock   *os.File // held open (and locked) while the mount lives
}

type stagerLog interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}

const (
	lockName     = "lock"
	uploadPrefix = "upload-"
	stagePrefix  = "stage-"
	keptPrefix   = "kept-"
)

func newStager(base string, limit int64, log stagerLog) (*stager, error) {
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	dir, err := os.MkdirTemp(base, "ossmount-")
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cache directory: lock: %w", err)
	}
	return &stager{base: base, dir: dir, budget: cache.NewBudget(limit), log: log, lock: lock}, nil
}

// Dir is the directory holding this mount's staging files.
func (s *stager) Dir() string { return s.dir }

// cleanup removes the staging directory (after unmount) unless it holds
// kept files or records of uploads still to abort, which the next mount
// with this cache directory then finds.
func (s *stager) cleanup() {
	entries, _ := os.ReadDir(s.dir)
	if len(entries) == 1 && entries[0].Name() == lockName {
		os.Remove(filepath.Join(s.dir, lockName))
		os.Remove(s.dir)
	}
	s.lock.Close()
}

// recordName is the file recording upload id.
func (s *stager) recordName(dir, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(dir, uploadPrefix+hex.EncodeToString(sum[:12]))
}

// noteUpload records a multipart upload in progress (best effort).
func (s *stager) noteUpload(key, id string) {
	if err := os.WriteFile(s.recordName(s.dir, id), []byte(key+"\n"+id+"\n"), 0o600); err != nil {
		s.log.Warn("cannot record a multipart upload in the cache directory; if ossmount is killed it is not aborted", "key", key, "upload_id", id, "err", err)
	}
}

// forgetUpload drops the record of an upload that was completed, aborted
// or deliberately kept.
func (s *stager) forgetUpload(id string) { os.Remove(s.recordName(s.dir, id)) }

// recoverAbandoned cleans up after mounts of this cache directory whose
// process died without unmounting (see stager).
func (s *stager) recoverAbandoned(ctx context.Context, store ossapi.ObjectStore) {
	dirs, _ := filepath.Glob(filepath.Join(s.base, "ossmount-*"))
	for _, d := range dirs {
		if d != s.dir {
			s.recoverDir(ctx, store, d)
		}
	}
}

func (s *stager) recoverDir(ctx context.Context, store ossapi.ObjectStore, d string) {
	lock, err := os.OpenFile(filepath.Join(d, lockName), os.O_RDWR, 0)
	if err != nil {
		return // not a mount directory, or one being created
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // its mount is alive
	}
	records, _ := filepath.Glob(filepath.Join(d, uploadPrefix+"*"))
	left := 0
	for _, r := range records {
		b, err := os.ReadFile(r)
		key, id, ok := strings.Cut(strings.TrimSuffix(string(b), "\n"), "\n")
		if err != nil || !ok || id == "" {
			s.log.Warn("unreadable multipart upload record", "file", r)
			left++
			continue
		}
		err = store.AbortMultipart(ctx, key, id)
		if err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
			s.log.Warn("cannot abort a multipart upload abandoned by an ossmount that did not unmount; retried at the next mount", "key", key, "upload_id", id, "err", err)
			left++
			continue
		}
		s.log.Info("aborted a multipart upload abandoned by an ossmount that did not unmount", "key", key, "upload_id", id)
		os.Remove(r)
	}
	stages, _ := filepath.Glob(filepath.Join(d, stagePrefix+"*"))
	for _, f := range stages {
		os.Remove(f)
	}
	if len(stages) > 0 {
		s.log.Warn("removed the staging files of writes in progress when an ossmount ended without unmounting (their close never succeeded)", "dir", d, "files", len(stages))
	}
	if kept, _ := filepath.Glob(filepath.Join(d, keptPrefix+"*")); len(kept) > 0 {
		s.log.Error("staging files with data that could not be uploaded are kept", "files", kept)
		left++
	}
	if left == 0 {
		os.Remove(filepath.Join(d, lockName))
		os.Remove(d)
	}
}

// initiateUpload starts a multipart upload and records it (see stager).
func (f *FS) initiateUpload(ctx context.Context, req ossapi.InitiateRequest) (string, error) {
	id, err := f.store.InitiateMultipart(ctx, req)
	if err == nil {
		f.staging.noteUpload(req.Key, id)
	}
	return id, err
}

// completeUpload completes a recorded multipart upload.
func (f *FS) completeUpload(ctx context.Context, req ossapi.CompleteRequest) (*ossapi.PutResult, error) {
	res, err := f.store.CompleteMultipart(ctx, req)
	if err == nil {
		f.staging.forgetUpload(req.UploadID)
	}
	return res, err
}

// abortUpload aborts a recorded multipart upload. Should the abort fail the
// record stays, and the next mount with this cache directory retries it.
func (f *FS) abortUpload(key, id string) {
	err := f.store.AbortMultipart(context.Background(), key, id)
	if err == nil || ossapi.KindOf(err) == ossapi.KindNotExist {
		f.staging.forgetUpload(id)
	}
}

// writeState is the shared state of a file open for writing.
type writeState struct {
	fsys *FS
	node *fileNode

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a streamed part finishes
	key       string     // GUARDED_BY(mu)
	file      *stageFile // GUARDED_BY(mu)
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
	unlinked  bool               // GUARDED_BY(mu)
	up        *streamUpload      // GUARDED_BY(mu); nil unless streaming
	streaming bool               // GUARDED_BY(mu); still eligible to stream
	wrote     bool               // GUARDED_BY(mu); written, truncated or chmod/chown/utimes'd since opened
}

// streamUpload is a multipart upload fed while the application writes.
type streamUpload struct {
	id       string
	initMeta map[string]string // metadata the upload was initiated with
	initHdr  ossapi.StdHeaders // and headers
	parts    []ossapi.Part     // by part number - 1
	frontier int64             // bytes handed to part uploads
	inflight int
	err      error
}

// newWriteState stages key. base is the current object (nil for a new one);
// truncate drops its content.
func (f *FS) newWriteState(n *fileNode, key string, base *attr, truncate bool, caller *fuse.Caller) (*writeState, error) {
	file := newStageFile(f.staging.dir, stagePrefix, f.budget)
	w := &writeState{fsys: f, node: n, key: key, file: file, meta: map[string]string{}}
	w.cond = sync.NewCond(&w.mu)
	now := time.Now()
	if base != nil && !base.dir {
		w.info = base.info
		w.mode, w.uid, w.gid, w.mtime = base.mode, base.uid, base.gid, base.mtime
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
			w.uid, w.gid = caller.Uid, caller.Gid
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

// uninterrupted detaches ctx from the FUSE request's interruption. The
// kernel interrupts a request whenever the calling thread gets any signal,
// even one it handles with SA_RESTART (Go programs get SIGURG all the time),
// and still waits for the answer unless the signal is fatal: honouring the
// interruption would only turn it into a spurious EINTR from open, stat or
// close, which callers do not retry. Worse, an upload cut short would fail
// the file for good (sticky EIO) and a rename could be left half done. So
// uploads and namespace and metadata requests run to their end; the
// client's per-request timeout and retries bound them.
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func chunksFor(size int64) int64 { return (size + stageChunk - 1) / stageChunk }

// attrView is what stat shows while the file is being written.
func (w *writeState) attrView() *attr {
	w.mu.Lock()
	defer w.mu.Unlock()
	return &attr{size: w.size, etag: w.baseETag, mtime: w.mtime, mode: w.mode, uid: w.uid, gid: w.gid}
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
	if w.chunks[i] == chunkAbsent && s != chunkAbsent {
		if !w.fsys.staging.budget.TryAcquire(stageChunk) {
			w.fsys.log.Error("staging disk budget exhausted", "key", w.key, "dir", w.fsys.staging.dir)
			return syscall.ENOSPC
		}
		w.onDisk += stageChunk
	}
	w.chunks[i] = s
	return 0
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
	buf := make([]byte, n)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		return w.fsys.toErrno("fetch", &ossapi.Error{Op: "GetObject", Key: w.key, Kind: ossapi.KindTransient, Err: err})
	}
	if errno := w.setChunk(i, chunkClean); errno != 0 {
		return errno
	}
	if _, err := w.file.WriteAt(buf, off); err != nil {
		return w.localErr("write staging file", err)
	}
	return 0
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
	ctx = uninterrupted(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return 0, syscall.EIO
	}
	if len(data) == 0 {
		return 0, 0
	}
	if c, ok := fuse.FromContext(ctx); ok && c.Uid != 0 {
		w.killSUIDLocked()
	}
	end := off + int64(len(data))
	if w.up != nil && off < w.up.frontier {
		if errno := w.settleLocked(ctx); errno != 0 {
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
	if w.streaming {
		if errno := w.pumpLocked(ctx); errno != 0 {
			return 0, errno
		}
	}
	return uint32(len(data)), 0
}

// partSizeFor is the size of streamed part number n (1-based): it doubles
// every 1000 parts so that 10,000 parts reach far beyond 10,000 x the
// configured size.
func (w *writeState) partSizeFor(n int) int64 {
	base := roundUp(w.fsys.cfg.UploadPartSize, stageChunk)
	return base << min((n-1)/1000, 20)
}

func roundUp(n, m int64) int64 { return (n + m - 1) / m * m }

// pumpLocked uploads every whole part written past the frontier, waiting
// (back-pressure) while UploadConcurrency parts are in flight.
func (w *writeState) pumpLocked(ctx context.Context) syscall.Errno {
	for {
		var frontier int64
		n := 1
		if w.up != nil {
			frontier, n = w.up.frontier, len(w.up.parts)+1
		}
		ps := w.partSizeFor(n)
		if w.size-frontier < ps || n > 10000 {
			return 0
		}
		if w.up == nil {
			// Without an explicit utimes the streamed object carries no
			// mtime: its Last-Modified (the completion) is the right one.
			req := w.initiateRequest(w.mtimeSet)
			id, err := w.fsys.initiateUpload(ctx, req)
			if err != nil {
				return w.failLocked("initiate upload", err)
			}
			w.up = &streamUpload{id: id, initMeta: req.Meta, initHdr: req.Headers}
		}
		for w.up.inflight >= w.fsys.cfg.UploadConcurrency && w.up.err == nil {
			w.cond.Wait()
		}
		if w.up.err != nil {
			return w.failLocked("upload part", w.up.err)
		}
		up := w.up
		up.parts = append(up.parts, ossapi.Part{})
		up.frontier += ps
		up.inflight++
		go w.uploadStreamPart(up, n, frontier, ps)
	}
}

func (w *writeState) uploadStreamPart(up *streamUpload, n int, off, size int64) {
	p, err := w.fsys.store.UploadPart(context.Background(), ossapi.UploadPartRequest{
		Key: w.key, UploadID: up.id, PartNumber: n, Body: io.NewSectionReader(w.file, off, size), Size: size})
	w.mu.Lock()
	defer w.mu.Unlock()
	up.inflight--
	if err != nil {
		if up.err == nil {
			up.err = err
		}
	} else {
		up.parts[n-1] = *p
		// The part is safe on the server: free its disk space.
		w.file.Punch(off, size)
		for i := off / stageChunk; i*stageChunk < off+size; i++ {
			if w.chunkState(i) != chunkAbsent {
				w.chunks[i] = chunkAbsent
				w.onDisk -= stageChunk
				w.fsys.staging.budget.Release(stageChunk)
			}
		}
	}
	w.cond.Broadcast()
}

// waitStreamLocked waits for the parts in flight.
func (w *writeState) waitStreamLocked() error {
	for w.up.inflight > 0 {
		w.cond.Wait()
	}
	return w.up.err
}

// settleLocked completes the streamed parts into an object that becomes the
// base; the bytes past the frontier stay dirty in the staging file.
func (w *writeState) settleLocked(ctx context.Context) syscall.Errno {
	w.streaming = false
	if err := w.waitStreamLocked(); err != nil {
		return w.failLocked("upload part", err)
	}
	up := w.up
	res, err := w.fsys.completeUpload(ctx, w.completeRequest(up.id, up.parts))
	if err != nil {
		return w.failLocked("complete upload", err)
	}
	w.up = nil
	w.baseETag, w.baseLimit = res.ETag, up.frontier
	w.fsys.invalidate(w.key)
	return 0
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

// failLocked makes the state sticky-failed and keeps the staging file.
func (w *writeState) failLocked(op string, err error) syscall.Errno {
	errno := w.fsys.toErrno(op, err)
	if w.failed == nil {
		w.failed = err
		// Mark the staging file as kept: it is never removed, not even
		// by a later mount cleaning up after a crash.
		kept, kerr := w.file.Keep(func(tmp string) string {
			return filepath.Join(filepath.Dir(tmp), keptPrefix+strings.TrimPrefix(filepath.Base(tmp), stagePrefix))
		})
		if kerr != nil {
			w.fsys.log.Error("could not keep the failed upload's data on disk", "key", w.key, "err", kerr)
		}
		w.path = kept
		attrs := []any{"key", w.key, "op", op, "err", err, "kept", w.path}
		if w.up != nil {
			// The parts uploaded so far hold the file's beginning (their
			// bytes left the staging file): the upload is kept for the
			// user, not aborted by a later mount.
			w.fsys.staging.forgetUpload(w.up.id)
			attrs = append(attrs, "upload_id", w.up.id, "uploaded_bytes_before_kept_data", w.up.frontier)
		}
		w.fsys.log.Error("upload failed; the data is kept in the staging file", attrs...)
	}
	return errno
}

// readAt reads the staged bytes (fetching base chunks as needed).
func (w *writeState) readAt(ctx context.Context, dest []byte, off int64) (int, syscall.Errno) {
	ctx = uninterrupted(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if off >= w.size {
		return 0, 0
	}
	end := min(off+int64(len(dest)), w.size)
	if w.up != nil && off < w.up.frontier {
		if errno := w.settleLocked(ctx); errno != 0 {
			return 0, errno
		}
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
	ctx = uninterrupted(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return syscall.EIO
	}
	if size == w.size {
		return 0
	}
	if w.up != nil {
		if errno := w.settleLocked(ctx); errno != 0 {
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
	// Chunks past the end are gone; the one holding the end is dirty.
	for i := chunksFor(size); i < int64(len(w.chunks)); i++ {
		if w.chunks[i] != chunkAbsent {
			w.onDisk -= stageChunk
			w.fsys.staging.budget.Release(stageChunk)
		}
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
	w.wrote = true
	w.mtime = time.Now()
	return 0
}

// setMeta applies chmod/chown/utimes to the pending upload.
func (w *writeState) setMeta(mode *uint32, uid, gid *uint32, mtime *time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if mode != nil {
		w.mode = w.mode&syscall.S_IFMT | *mode&0o7777
	}
	if uid != nil {
		w.uid = *uid
	}
	if gid != nil {
		w.gid = *gid
	}
	if mtime != nil {
		w.mtime = *mtime
		w.mtimeSet = true
	}
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
	ctx = uninterrupted(ctx)
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
	w.baseETag = etag
	w.baseLimit = w.size
	// The staging file now matches the object: every chunk on disk is clean.
	for i := range w.chunks {
		if w.chunks[i] == chunkDirty {
			w.chunks[i] = chunkClean
		}
	}
	w.fsys.invalidate(w.key)
	w.fsys.noteUploaded(w.key, w.size, etag, w.mode, w.uid, w.gid, w.mtime)
	return 0
}

// finishStreamLocked uploads the tail as the last part and completes.
func (w *writeState) finishStreamLocked(ctx context.Context) (string, error) {
	if err := w.waitStreamLocked(); err != nil {
		return "", err
	}
	up := w.up
	if tail := w.size - up.frontier; tail > 0 {
		p, err := w.fsys.store.UploadPart(ctx, ossapi.UploadPartRequest{Key: w.key, UploadID: up.id,
			PartNumber: len(up.parts) + 1, Body: io.NewSectionReader(w.file, up.frontier, tail), Size: tail})
		if err != nil {
			return "", err
		}
		up.parts = append(up.parts, *p)
		up.frontier = w.size
	}
	// The completed object must carry the final metadata (chmod/utimes
	// during the write): the initiate request had the first version.
	res, err := w.fsys.completeUpload(ctx, w.completeRequest(up.id, up.parts))
	if err != nil {
		return "", err
	}
	w.up = nil
	etag := res.ETag
	// Multipart metadata is fixed at initiation: a chmod, chown, utimes or
	// setxattr made while the file was streaming is applied with one
	// self-copy.
	if final := w.uploadMeta(w.mtimeSet); !maps.Equal(final, up.initMeta) || w.headers != up.initHdr {
		etag, err = w.fsys.rewriteMeta(ctx, w.key, w.size, etag, final, w.headers)
		if err != nil {
			return "", err
		}
	}
	w.baseLimit = w.size
	return etag, nil
}

// uploadStagedLocked uploads the whole staged file.
func (w *writeState) uploadStagedLocked(ctx context.Context) (string, error) {
	ps := max(roundUp(w.fsys.cfg.UploadPartSize, stageChunk), roundUp((w.size+9999)/10000, stageChunk))
	if w.size <= ps {
		if err := w.fetchAllLocked(ctx, 0, w.size); err != nil {
			return "", err
		}
		res, err := w.fsys.store.Put(ctx, ossapi.PutRequest{Key: w.key, Body: io.NewSectionReader(w.file, 0, w.size),
			Size: w.size, Meta: w.uploadMeta(true), Headers: w.headers})
		if err != nil {
			return "", err
		}
		return res.ETag, nil
	}
	plan := w.planParts(ps)
	id, err := w.fsys.initiateUpload(ctx, w.initiateRequest(true))
	if err != nil {
		return "", err
	}
	parts := make([]ossapi.Part, len(plan))
	// Fetch what the uploaded parts need first (under the lock), then
	// upload the parts concurrently.
	for _, pp := range plan {
		if !pp.copy {
			if err := w.fetchAllLocked(ctx, pp.off, pp.off+pp.n); err != nil {
				w.fsys.abortUpload(w.key, id)
				return "", err
			}
		}
	}
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
	if firstErr != nil {
		w.fsys.abortUpload(w.key, id)
		return "", firstErr
	}
	res, err := w.fsys.completeUpload(ctx, w.completeRequest(id, parts))
	if err != nil {
		w.fsys.abortUpload(w.key, id)
		return "", err
	}
	return res.ETag, nil
}

// stagedPart is one part of a staged upload: bytes to upload, or a range
// of the base object to copy on the server.
type stagedPart struct {
	off, n int64
	copy   bool
}

// planParts splits the file into parts along runs of unchanged base
// chunks (copied with UploadPartCopy, up to copyPartSize each) and runs of
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
			limit = max(ps, copyPartSize)
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
func (w *writeState) fetchAllLocked(ctx context.Context, off, end int64) error {
	for i := off / stageChunk; i*stageChunk < end; i++ {
		if w.needsBase(i) {
			if errno := w.fetchChunkLocked(ctx, i); errno != 0 {
				return errno
			}
		}
	}
	return nil
}

// release drops one handle; the last one removes the staging file unless it
// holds data that could not be uploaded.
func (w *writeState) release() (last bool) {
	w.mu.Lock()
	w.refs--
	if w.refs > 0 {
		w.mu.Unlock()
		return false
	}
	failed := w.failed != nil
	if w.up != nil && (failed || w.unlinked) {
		// Nothing will complete this upload: do not leave it behind
		// unless its parts are the only copy of data we failed on.
		if w.unlinked {
			w.fsys.abortUpload(w.key, w.up.id)
		}
	}
	w.mu.Unlock()
	if !failed {
		w.discard()
	} else {
		w.file.Close()
	}
	return true
}

func (w *writeState) discard() {
	w.file.Remove()
	if w.onDisk > 0 {
		w.fsys.staging.budget.Release(w.onDisk)
		w.onDisk = 0
	}
}

// punchHole frees the disk blocks of [off, off+n) in f (best effort).
func punchHole(f *os.File, off, n int64) {
	const fallocPunchHole, fallocKeepSize = 0x02, 0x01
	_ = syscall.Fallocate(int(f.Fd()), fallocPunchHole|fallocKeepSize, off, n)
}

// keptFiles lists staging files kept after failures (for the shutdown log).
func (s *stager) keptFiles() []string {
	m, _ := filepath.Glob(filepath.Join(s.dir, keptPrefix+"*"))
	return m
}
