package engine

import (
	"context"
	"syscall"

	"github.com/ossmount/ossmount/ossapi"
)

// FileMove is what the rename of a file moved on the server.
type FileMove struct {
	// Local: the file had no object on the server (created here and not
	// uploaded yet, or its object removed by another client while it was
	// being written): only its name moved.
	Local bool
	// Info describes the object moved from the old key (nil: none), and
	// ETag is the ETag of its copy at the new key.
	Info *ossapi.ObjectInfo
	ETag string
}

// RenameFile moves a file from src to dst, on the server and in its writers.
// w is the file's writer (nil: not open for writing here); pending says the
// file was created here and not yet uploaded; vw is the writer of the file
// at dst (nil: none). What the server has of the file (its last complete
// version) is copied to dst with its metadata, then deleted at src; w goes
// on with its pending bytes under dst, uploaded there by its close
// (Writer.followRenameLocked). vw is held for the whole rename (its close
// waits) and made nameless, so that it never completes an upload over the
// object renamed in. A failed writer refuses (EIO: its data is kept under
// the old name), as does one whose written bytes only the streamed upload
// at src holds (EBUSY, Writer.renameReadyLocked). Package fs keeps its
// caches in step with the result.
func (e *Engine) RenameFile(ctx context.Context, w, vw *Writer, pending bool, src, dst string) (FileMove, error) {
	for _, l := range LockOrder(w, vw) {
		l.Lock()
		defer l.Unlock()
	}
	var mv FileMove
	if w != nil {
		if w.FailedLocked() {
			return mv, &Error{Op: "rename", Key: src, Errno: syscall.EIO, Msg: "an upload of the file being written failed; its data is kept under the old name"}
		}
		if err := w.renameReadyLocked(src, dst); err != nil {
			return mv, err
		}
		mv.Local = pending && !w.publishedLocked()
	}
	if !mv.Local {
		info, err := e.store.Head(ctx, src, ossapi.HeadOptions{})
		switch {
		case err == nil:
			mv.Info = info
		case w == nil || ossapi.KindOf(err) != ossapi.KindNotExist:
			return mv, err
		default:
			// Its object was removed by another client meanwhile: the
			// file being written is all there is.
			mv.Local = true
		}
	}
	var from string
	if mv.Info != nil {
		etag, err := e.CopyObject(ctx, mv.Info, dst, ossapi.MetadataCopy, nil, mv.Info.Headers)
		if err != nil {
			return mv, err
		}
		if err := e.store.Delete(ctx, src); err != nil {
			return mv, err
		}
		from, mv.ETag = mv.Info.ETag, etag
	}
	if w != nil {
		w.followRenameLocked(dst, from, mv.ETag)
	}
	if vw != nil {
		vw.unlinkLocked()
	}
	return mv, nil
}
