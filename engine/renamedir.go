package engine

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// renameCopies is how many objects a directory rename copies at once.
const renameCopies = 16

// undoTimeout bounds the removal of a failed directory rename's copies
// when its caller is gone (nobody waits for it then).
const undoTimeout = 2 * time.Minute

// TreeCaches is what a directory rename tells the namespace's caches
// (Namespace.TreeCaches makes it): Forget drops what they know under the
// source and the destination (after a failure too), Carry keeps what was known of the directory and of the
// files under it for their new names once the move is done (the copies
// keep their metadata): objs were moved, hasMarker says one of them was
// the source's marker, newETags are the copies' ETags by source key.
type TreeCaches struct {
	Forget func()
	Carry  func(objs []ossapi.ObjectInfo, hasMarker bool, newETags map[string]string)
}

// RenameDir moves every object under src to dst (both ending in "/"):
// copies first (bounded concurrency), then deletes the sources. It is not
// atomic, but it fails fast and leaves a known state:
//
//   - A copy that fails (after its own retries) stops the rename: no new
//     copy starts, those in flight are waited for (OSS finishes a copy its
//     client gave up, which would land after the undo), and the copies
//     made are removed again, so the source is whole and the destination as it
//     was (an existing empty destination keeps its marker). The copy's
//     error.
//   - A dying caller stops it the same way (its context's error), except
//     that the copies in flight are given up at once; the removal of the
//     copies then goes on without it, bounded by undoTimeout.
//   - Once every object is copied, a failed delete leaves the destination
//     complete and part of the source still there. An Error (EIO) or the
//     request's, and the log says how many sources are left.
//   - A tree with a key too long under dst (ENAMETOOLONG) or with more
//     objects than MaxRenameObjects (EXDEV) is refused before anything is
//     copied; so is a file being written whose parts only its streamed
//     upload holds (EBUSY).
//
// Files open for writing under src publish nothing: they are held (their
// writes wait) until the move is done, then follow it to their new keys
// (Writer.followRenameLocked), where their closes upload them. dstExisted
// says dst was an existing (empty) directory. One directory rename runs
// at a time (each holds the locks of the open writers under its source).
func (e *Engine) RenameDir(ctx context.Context, src, dst string, dstExisted bool, c TreeCaches) error {
	select {
	case e.renameSlot <- struct{}{}:
	case <-ctx.Done():
		return syscall.EINTR // the caller is dying; another rename is running
	}
	defer func() { <-e.renameSlot }()
	open := e.holdWritersUnder(src)
	defer func() {
		for _, w := range open {
			w.Unlock()
		}
	}()
	for _, w := range open {
		if w.FailedLocked() {
			continue // never uploaded again; its data is kept locally
		}
		if err := w.renameReadyLocked(src, dst); err != nil {
			return err
		}
	}
	objs, err := e.listTree(ctx, src, dst)
	if err != nil {
		return err
	}
	hasMarker := false
	for _, o := range objs {
		if o.Key == src {
			hasMarker = true
		}
	}
	newETags, attempted, err := e.copyTree(ctx, objs, src, dst)
	if err != nil {
		e.undoCopies(ctx, src, dst, attempted, dstExisted, err, c.Forget)
		return err
	}
	if !hasMarker && len(objs) == 0 {
		// Keep the destination a directory even if src was implicit and
		// empty (known only from a stale listing); an implicit directory
		// with children stays implicit, as it was.
		if _, err := e.store.Put(ctx, ossapi.PutRequest{Key: dst, Body: strings.NewReader(""), Headers: ossapi.StdHeaders{ContentType: "application/x-directory"}}); err != nil {
			return err
		}
	}
	if err := e.deleteSources(ctx, objs, src, dst, c.Forget); err != nil {
		return err
	}
	// Open writers follow their files, publishing nothing (their objects,
	// if any, moved with the others); a file still unlinked-but-open keeps
	// a key nobody sees: it is never uploaded.
	oldETags := make(map[string]string, len(objs))
	for _, o := range objs {
		oldETags[o.Key] = o.ETag
	}
	for _, w := range open {
		old := w.keyLocked()
		w.followRenameLocked(dst+strings.TrimPrefix(old, src), oldETags[old], newETags[old])
	}
	c.Carry(objs, hasMarker, newETags)
	return nil
}

// holdWritersUnder locks (in lock order) and returns the open writers
// whose keys are under src; the others are left unlocked.
func (e *Engine) holdWritersUnder(src string) []*Writer {
	var open []*Writer
	for _, w := range LockOrder(e.OpenWriters()...) {
		w.Lock()
		if strings.HasPrefix(w.keyLocked(), src) {
			open = append(open, w)
			continue // stays locked until the move is done
		}
		w.Unlock()
	}
	return open
}

// listTree lists every object under src, refusing (before anything is
// copied) a tree with a key that would be too long under dst or with more
// objects than max_rename_objects.
func (e *Engine) listTree(ctx context.Context, src, dst string) ([]ossapi.ObjectInfo, error) {
	var objs []ossapi.ObjectInfo
	token := ""
	for {
		page, err := e.store.List(ctx, ossapi.ListRequest{Prefix: src, ContinuationToken: token, MaxKeys: 1000})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			if len(dst)+len(o.Key)-len(src) > ossapi.MaxKeyLen {
				e.log.Error("directory rename refused: a key would be longer than OSS allows", "dir", src, "key", o.Key)
				return nil, syscall.ENAMETOOLONG
			}
		}
		objs = append(objs, page.Objects...)
		if len(objs) > e.cfg.MaxRenameObjects {
			e.log.Error("directory rename refused: too many objects (max_rename_objects)", "dir", src, "limit", e.cfg.MaxRenameObjects)
			return nil, syscall.EXDEV
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return objs, nil
		}
		token = page.NextContinuationToken
	}
}

// deleteSources deletes the sources of a directory rename once every one
// is copied, 1000 a request. A failure leaves the destination complete and
// part of the source there: the log says how much.
func (e *Engine) deleteSources(ctx context.Context, objs []ossapi.ObjectInfo, src, dst string, forget func()) error {
	keys := make([]string, len(objs))
	for i := range objs {
		keys[i] = objs[i].Key
	}
	for done := 0; done < len(keys); {
		batch := keys[done:min(done+1000, len(keys))]
		failed, err := e.store.DeleteMulti(ctx, batch)
		if err == nil && len(failed) > 0 {
			err = &Error{Op: "DeleteMultipleObjects", Key: failed[0], Errno: syscall.EIO, Msg: "some deletes failed"}
		}
		if err != nil {
			forget()
			e.log.Error("directory rename: every object was copied, but deleting the sources failed; the destination is complete, remove what is left of the source",
				"src", src, "dst", dst, "sources_left", len(keys)-done, "objects", len(keys), "err", err)
			return err
		}
		done += len(batch)
	}
	return nil
}

// copyTree copies objs from under src to under dst, renameCopies at a
// time, and stops at the first failure: it starts no more copies and
// waits for those in flight, so that every copy that will take effect has
// when it returns (a copy given up by the client may still be made by
// OSS, after the undo). When ctx ends (the caller dies) those in flight
// are given up at once. It returns the new ETags by source key, the
// destination keys it tried to copy to (whether or not the copy took
// effect), and the first error.
func (e *Engine) copyTree(ctx context.Context, objs []ossapi.ObjectInfo, src, dst string) (map[string]string, []string, error) {
	halt, stop := context.WithCancel(context.Background()) // no new copy: not the copies' context
	defer stop()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error // GUARDED_BY(mu)
		sem       = make(chan struct{}, renameCopies)
		newETags  = make(map[string]string, len(objs)) // GUARDED_BY(mu)
		attempted []string
	)
	for i := range objs {
		o := &objs[i]
		select {
		case sem <- struct{}{}:
		case <-halt.Done():
		case <-ctx.Done():
		}
		if halt.Err() != nil || ctx.Err() != nil {
			break
		}
		to := dst + strings.TrimPrefix(o.Key, src)
		attempted = append(attempted, to)
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			info := o
			if o.Size > CopyLimit {
				full, err := e.store.Head(ctx, o.Key, ossapi.HeadOptions{})
				if err != nil && ossapi.KindOf(err) != ossapi.KindNotExist {
					failCopy(&mu, &firstErr, stop, err)
					return
				}
				if err == nil {
					info = full
				}
			}
			etag, err := e.CopyObject(ctx, info, to, ossapi.MetadataCopy, nil, info.Headers)
			if err != nil {
				failCopy(&mu, &firstErr, stop, err)
				return
			}
			mu.Lock()
			newETags[o.Key] = etag
			mu.Unlock()
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	return newETags, attempted, firstErr
}

// failCopy records a copy's failure as the first one (unless there was an
// earlier one) and stops the copies not started yet.
func failCopy(mu *sync.Mutex, firstErr *error, stop func(), err error) {
	mu.Lock()
	if *firstErr == nil {
		*firstErr = err
	}
	mu.Unlock()
	stop()
}

// undoCopies removes the copies a failed directory rename made (every key
// in attempted: the destination held none of them before, except its own
// marker when it existed). With the caller gone (ctx done) the removal
// goes on in the background, bounded by undoTimeout; otherwise the caller
// waits for it. What cannot be removed is logged.
func (e *Engine) undoCopies(ctx context.Context, src, dst string, attempted []string, dstExisted bool, cause error, forget func()) {
	keys := attempted[:0:0]
	for _, k := range attempted {
		if !(dstExisted && k == dst) {
			keys = append(keys, k)
		}
	}
	undo := func(ctx context.Context) {
		defer forget()
		left := 0
		var lastErr error
		for done := 0; done < len(keys); done += 1000 {
			batch := keys[done:min(done+1000, len(keys))]
			failed, err := e.store.DeleteMulti(ctx, batch)
			if err != nil {
				left += len(keys) - done
				lastErr = err
				break
			}
			left += len(failed)
		}
		if left > 0 {
			e.log.Error("directory rename failed; the source is whole, but copies it made could not be removed from the destination: remove them (rm -r the destination)",
				"src", src, "dst", dst, "copies_left", left, "err", cause, "undo_err", lastErr)
			return
		}
		e.log.Error("directory rename failed; nothing was moved (the copies made were removed)", "src", src, "dst", dst, "err", cause)
	}
	if ctx.Err() == nil {
		undo(ctx)
		return
	}
	go func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		undo(uctx)
	}()
}
