package engine

// The mount's open writers: the set FlushAll and directory renames walk,
// and the order their locks are taken in.

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/ossmount/ossmount/ossapi"
)

// writers is the set of open writers.
type writers struct {
	mu  sync.Mutex
	set map[*Writer]struct{} // GUARDED_BY(mu)
}

// Track registers (on) or forgets an open writer, for FlushAll and
// OpenWriters.
func (e *Engine) Track(w *Writer, on bool) {
	e.writers.mu.Lock()
	defer e.writers.mu.Unlock()
	if on {
		if e.writers.set == nil {
			e.writers.set = map[*Writer]struct{}{}
		}
		e.writers.set[w] = struct{}{}
	} else {
		delete(e.writers.set, w)
	}
}

// LockOrder returns the non-nil writers among ws, without repeats, in the
// order their locks are taken (creation order).
func LockOrder(ws ...*Writer) []*Writer {
	out := make([]*Writer, 0, len(ws))
	for _, w := range ws {
		if w != nil && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *Writer) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// OpenWriters returns the open writers (Track), in no order.
func (e *Engine) OpenWriters() []*Writer {
	e.writers.mu.Lock()
	defer e.writers.mu.Unlock()
	out := make([]*Writer, 0, len(e.writers.set))
	for w := range e.writers.set {
		out = append(out, w)
	}
	return out
}

// FlushAll uploads every open file that has changes (at unmount) and
// returns how many uploads failed.
func (e *Engine) FlushAll(ctx context.Context) int {
	failed := 0
	for _, w := range e.OpenWriters() {
		if w.IsFailed() {
			// Failed earlier: reported to the application then, and
			// its data kept (its descriptor may just not be released
			// yet). Not a failure of this flush.
			continue
		}
		if w.Flush(ctx) != nil {
			failed++
		}
	}
	return failed
}

// Lock locks the writer (see the lock order in writer.go). Package fs
// takes it under its file's lock to keep the writer attached while it
// hands a setxattr of a file being written to the engine
// (Namespace.ChangeWriterFileXattr, which expects it held); the methods
// named ...Locked that remain exported (FlushLocked, FailedLocked,
// DirtyLocked, WaitPartsLocked) serve tests that hold it.
func (w *Writer) Lock() { w.mu.Lock() }

// Unlock unlocks the writer.
func (w *Writer) Unlock() { w.mu.Unlock() }

// keyLocked is the key the writer uploads to.
func (w *Writer) keyLocked() string { return w.key }

// Key is KeyLocked, locking the writer.
func (w *Writer) Key() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.key
}

// publishedLocked reports whether an upload of the file reached the
// server.
func (w *Writer) publishedLocked() bool { return w.published }

// Published is publishedLocked, locking the writer.
func (w *Writer) Published() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.published
}

// DirtyLocked reports whether the server's copy is out of date.
func (w *Writer) DirtyLocked() bool { return w.dirty }

// liveAttrLocked is AttrLocked, ok false when the writer failed or its
// file has no name (its attributes are then not the file's).
func (w *Writer) liveAttrLocked() (a Attr, ok bool) {
	if w.failed != nil || w.unlinked {
		return Attr{}, false
	}
	return w.attrLocked(), true
}

// LiveAttr is liveAttrLocked, locking the writer.
func (w *Writer) LiveAttr() (a Attr, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.liveAttrLocked()
}

// uploadMetaLocked returns a copy of the user metadata and the headers
// the file will be uploaded with (ossfs's mode, owner and mtime apart).
func (w *Writer) uploadMetaLocked() (map[string]string, ossapi.StdHeaders) {
	m := make(map[string]string, len(w.meta))
	for k, v := range w.meta {
		m[k] = v
	}
	return m, w.headers
}

// uploadPendingLocked reports whether the file has an upload still to
// come (changes, a streamed upload, or no object yet): metadata changes
// then travel with it (SetUploadMetaLocked) rather than change the object.
func (w *Writer) uploadPendingLocked() bool {
	return w.dirty || w.up != nil || w.baseETag == ""
}

// setUploadMetaLocked sets the user metadata and headers the upload
// carries.
func (w *Writer) setUploadMetaLocked(meta map[string]string, hdr ossapi.StdHeaders) {
	w.meta, w.headers, w.dirty = meta, hdr, true
}

// baseETagLocked is the version of the object the writer holds ("" when
// none).
func (w *Writer) baseETagLocked() string { return w.baseETag }

// rebaseLocked gives a writer with nothing to upload the object its
// mode, owner or mtime was just changed to on the server (a chmod, chown
// or utimes made in place): its attributes a (version, mode, owner,
// mtime, and its description when known) and user metadata meta (ossfs's
// mode, owner and mtime apart); mtimeSet says the mtime was set
// explicitly.
func (w *Writer) rebaseLocked(a Base, meta map[string]string, mtimeSet bool) {
	w.mode, w.uid, w.gid, w.mtime = a.Mode, a.UID, a.GID, a.Mtime
	w.mtimeSet = w.mtimeSet || mtimeSet
	w.meta = map[string]string{}
	for k, v := range meta {
		switch k {
		case "mode", "uid", "gid", "mtime":
		default:
			w.meta[k] = v
		}
	}
	w.baseETag = a.ETag
	if a.Info != nil {
		w.info = a.Info
		w.headers = a.Info.Headers
	}
}

// rebaseMetaLocked gives a writer with nothing to upload the object its
// user metadata and headers were just changed to on the server (a
// setxattr made in place), version etag.
func (w *Writer) rebaseMetaLocked(meta map[string]string, hdr ossapi.StdHeaders, etag string) {
	w.meta, w.headers, w.baseETag = meta, hdr, etag
}

// StageName is the staging file's path on disk, "" while it is in memory.
func (w *Writer) StageName() string { return w.file.Name() }
