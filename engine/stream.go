package engine

// Streamed uploads: a new or emptied file written sequentially is sent as
// the parts of one multipart upload while the application writes, and
// completed only at close or fsync (see writer.go for the rule). Each part
// has a generation, bumped by any change to its range after it was handed
// out; a part is sent again (same part number: the server keeps the last)
// when the generation it was sent with is not the current one.

import (
	"context"
	"io"
	"maps"
	"sync"
	"syscall"

	"github.com/ossmount/ossmount/ossapi"
)

// streamUpload is a multipart upload fed while the application writes.
type streamUpload struct {
	id       string
	initMeta map[string]string // metadata the upload was initiated with
	initHdr  ossapi.StdHeaders // and headers
	parts    []*streamPart     // by part number - 1, contiguous from offset 0
	inflight int               // background part uploads running
	err      error             // the first failed background part upload
}

// streamPart is one part of a streamed upload.
type streamPart struct {
	off, size int64
	gen       int         // bumped by every change to the part's bytes
	sentGen   int         // the generation the server has (when sent)
	sent      bool        // an upload of it succeeded
	part      ossapi.Part // what that upload returned
}

// current reports whether the server has the part's present bytes.
func (p *streamPart) current() bool { return p.sent && p.sentGen == p.gen }

func (p *streamPart) end() int64 { return p.off + p.size }

// frontier is the end of the bytes handed to part uploads.
func (up *streamUpload) frontier() int64 {
	if len(up.parts) == 0 {
		return 0
	}
	return up.parts[len(up.parts)-1].end()
}

// touchLocked records a change of [off, end) before the frontier: the parts
// it overlaps are sent again. Parts whose bytes were dropped (see
// chunkGone) cannot be sent again: the change is refused with ENODATA.
func (up *streamUpload) touchLocked(w *Writer, op string, off, end int64) error {
	var touched []*streamPart
	for _, p := range up.parts {
		if p.off < end && p.end() > off {
			if w.goneIn(op, p.off, p.end()) {
				return syscall.ENODATA
			}
			touched = append(touched, p)
		}
	}
	for _, p := range touched {
		p.gen++
	}
	return nil
}

// partSizeFor is the size of streamed part number n (1-based): it doubles
// every 1000 parts so that 10,000 parts reach far beyond 10,000 x the
// configured size.
func (w *Writer) partSizeFor(n int) int64 {
	base := RoundUp(w.e.cfg.UploadPartSize, stageChunk)
	return base << min((n-1)/1000, 20)
}

// inflightLimit is how many streamed parts of size ps may be in flight at
// once: UploadConcurrency, fewer when that many would take more than half
// of disk_budget (parts in flight cannot leave the staging file; the rest
// of the budget is for the writes that follow them), at least one.
func (w *Writer) inflightLimit(ps int64) int {
	return max(1, min(w.e.cfg.UploadConcurrency, int(w.e.cfg.DiskBudget/2/ps)))
}

// pumpLocked uploads every whole part written past the frontier, waiting
// (back-pressure) while inflightLimit parts are in flight. A canceled
// initiation is not a failure: the write succeeded locally, and a later
// write (or the close) starts the upload.
func (w *Writer) pumpLocked(ctx context.Context) error {
	for {
		var frontier int64
		n := 1
		if w.up != nil {
			w.growLastLocked(w.up)
			frontier, n = w.up.frontier(), len(w.up.parts)+1
		}
		ps := w.partSizeFor(n)
		if w.size-frontier < ps || n > 10000 {
			return nil
		}
		if w.up == nil {
			// Without an explicit utimes the streamed object carries no
			// mtime: its Last-Modified (the completion) is the right one.
			req := w.initiateRequest(w.mtimeSet)
			id, err := w.e.InitiateUpload(ctx, req)
			if IsCanceled(err) {
				return nil
			}
			if err != nil {
				return w.failLocked("initiate upload", err)
			}
			w.up = &streamUpload{id: id, initMeta: req.Meta, initHdr: req.Headers}
		}
		up := w.up
		for up.inflight >= w.inflightLimit(ps) && up.err == nil && w.up == up {
			if w.waitLocked(ctx) != nil {
				return syscall.EINTR // the caller is dying; nothing was cut short
			}
		}
		if w.up != up {
			return nil // aborted meanwhile (unlinked, truncated)
		}
		if up.err != nil {
			return w.failLocked("upload part", up.err)
		}
		p := &streamPart{off: frontier, size: ps}
		up.parts = append(up.parts, p)
		up.inflight++
		go w.sendStreamPart(up, n, p, p.gen)
	}
}

// sendStreamPart uploads part n in the background.
func (w *Writer) sendStreamPart(up *streamUpload, n int, p *streamPart, gen int) {
	res, err := w.e.store.UploadPart(context.Background(), ossapi.UploadPartRequest{
		Key: w.key, UploadID: up.id, PartNumber: n, Body: io.NewSectionReader(w.file, p.off, p.size), Size: p.size})
	w.mu.Lock()
	defer w.mu.Unlock()
	up.inflight--
	switch {
	case w.up != up:
		// Aborted meanwhile: the result does not matter.
	case p.gen != gen:
		// Changed (or cut) while it was sent, which may well have failed
		// the upload: it is sent again at the completion.
	case err != nil:
		if up.err == nil {
			up.err = err
		}
	case p.gen == gen:
		p.sent, p.sentGen, p.part = true, gen, *res
	}
	w.cond.Broadcast()
}

// waitStreamLocked waits for the background part uploads. It returns
// ctx's error, leaving the upload as it is, if ctx ends first.
func (w *Writer) waitStreamLocked(ctx context.Context, up *streamUpload) error {
	for up.inflight > 0 {
		if err := w.waitLocked(ctx); err != nil {
			return err
		}
	}
	return up.err
}

// waitLocked waits for w.cond, or until ctx is done (its error then): a
// dying caller does not wait for uploads in flight.
func (w *Writer) waitLocked(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	w.cond.Wait()
	stop()
	return ctx.Err()
}

// truncateStreamLocked applies a truncate to size to the streamed upload:
// to 0 it is aborted (the file starts afresh); below the frontier the part
// holding the new end and every part after it change.
func (w *Writer) truncateStreamLocked(size int64) error {
	up := w.up
	if size == 0 {
		w.up = nil
		w.e.AbortUpload(w.key, up.id)
		w.cond.Broadcast()
		return nil
	}
	if size >= up.frontier() {
		return nil
	}
	for _, p := range up.parts {
		if p.end() <= size {
			continue
		}
		if p.off < size && w.goneIn("truncate", p.off, size) {
			return syscall.ENODATA // the part keeping its start cannot be sent again
		}
		p.gen++ // cut (left out of the completion unless written again)
	}
	return nil
}

// finishStreamLocked completes the streamed upload with the file as it is:
// the parts the truncates cut away are left out, changed parts are sent
// again, the bytes past the frontier are sent as the last parts, and the
// completion makes the object (the one moment it changes).
func (w *Writer) finishStreamLocked(ctx context.Context) (string, error) {
	up := w.up
	if err := w.waitStreamLocked(ctx, up); err != nil {
		return "", err
	}
	if w.size == 0 {
		// Truncated to nothing since: no part to complete.
		w.up = nil
		w.e.AbortUpload(w.key, up.id)
		return w.uploadStagedLocked(ctx)
	}
	if err := w.layoutPartsLocked(up); err != nil {
		return "", err
	}
	if err := w.sendPartsLocked(ctx, up); err != nil {
		// A canceled attempt leaves the stream as it is for the next
		// flush (the parts sent are kept); any other error fails it.
		return "", err
	}
	parts := make([]ossapi.Part, len(up.parts))
	for i, p := range up.parts {
		parts[i] = p.part
	}
	res, err := w.e.CompleteUpload(ctx, w.completeRequest(up.id, parts))
	if err != nil {
		return "", err
	}
	w.up = nil
	etag := res.ETag
	// Multipart metadata is fixed at initiation: a chmod, chown, utimes or
	// setxattr made while the file was streaming is applied with one
	// self-copy.
	if final := w.uploadMeta(w.mtimeSet); !maps.Equal(final, up.initMeta) || w.headers != up.initHdr {
		etag, err = w.e.RewriteMeta(ctx, w.key, w.size, etag, final, w.headers)
		if err != nil {
			return "", err
		}
	}
	return etag, nil
}

// layoutPartsLocked lays the parts out over the file as it is now: the
// parts past its end dropped, the one it ends in cut, the last grown, new
// ones up to its end.
func (w *Writer) layoutPartsLocked(up *streamUpload) error {
	for len(up.parts) > 0 && up.parts[len(up.parts)-1].off >= w.size {
		up.parts = up.parts[:len(up.parts)-1]
	}
	if n := len(up.parts); n > 0 && up.parts[n-1].end() > w.size {
		last := up.parts[n-1]
		last.size = w.size - last.off
		last.gen++
	}
	w.growLastLocked(up)
	for off := up.frontier(); off < w.size; {
		n := len(up.parts) + 1
		if n > 10000 {
			return &Error{Op: "UploadPart", Key: w.key, Errno: syscall.EINVAL, Msg: "more than 10,000 parts"}
		}
		p := &streamPart{off: off, size: min(w.partSizeFor(n), w.size-off)}
		up.parts = append(up.parts, p)
		off = p.end()
	}
	return nil
}

// sendPartsLocked sends the parts the server does not have (or has in an
// older generation), UploadConcurrency at a time, and returns the first
// error.
func (w *Writer) sendPartsLocked(ctx context.Context, up *streamUpload) error {
	sem := make(chan struct{}, w.e.cfg.UploadConcurrency)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for i, p := range up.parts {
		if p.current() {
			continue
		}
		if w.goneIn("upload", p.off, p.end()) {
			wg.Wait()
			return &Error{Op: "UploadPart", Key: w.key, Errno: syscall.EIO, Msg: "a changed part's bytes were dropped from cache_dir"}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := w.e.store.UploadPart(ctx, ossapi.UploadPartRequest{Key: w.key, UploadID: up.id, PartNumber: i + 1,
				Body: io.NewSectionReader(w.file, p.off, p.size), Size: p.size})
			errMu.Lock()
			defer errMu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			// Under w.mu (held by the caller): no change can race.
			p.sent, p.sentGen, p.part = true, p.gen, *res
		}()
	}
	wg.Wait()
	return firstErr
}

// growLastLocked extends a last part shorter than its nominal size (cut by
// a truncate, or the tail of a completion that was canceled) as the file
// grows past it: only the last part may be small.
func (w *Writer) growLastLocked(up *streamUpload) {
	n := len(up.parts)
	if n == 0 {
		return
	}
	last := up.parts[n-1]
	if nominal := w.partSizeFor(n); last.size < nominal && w.size > last.end() {
		last.size = min(nominal, w.size-last.off)
		last.gen++
	}
}

// dropSentLocked frees the disk space of the oldest parts the server
// already has (see chunkGone), at least n bytes if it can; it reports
// whether it freed anything.
func (w *Writer) dropSentLocked(n int64) bool {
	up := w.up
	if up == nil {
		return false
	}
	var freed int64
	for _, p := range up.parts {
		if freed >= n {
			break
		}
		if !p.current() {
			continue
		}
		// Whole chunks inside the part (the part's edges are chunk
		// aligned, except the end of a truncated last part).
		for i := p.off / stageChunk; (i+1)*stageChunk <= p.end(); i++ {
			if c := w.chunkState(i); c == chunkDirty || c == chunkClean {
				w.file.Punch(i*stageChunk, stageChunk)
				w.dropChunkLocked(i, chunkGone)
				freed += stageChunk
			}
		}
	}
	if freed > 0 {
		w.e.log.Warn("disk_budget reached: parts already sent dropped from cache_dir; they can be read again once the file is complete",
			"key", w.key, "bytes", freed)
	}
	return freed > 0
}
