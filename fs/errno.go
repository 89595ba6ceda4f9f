package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// kindErrno is the one table from ossapi error kinds to errnos.
var kindErrno = map[ossapi.Kind]syscall.Errno{
	ossapi.KindNotExist:     syscall.ENOENT,
	ossapi.KindExist:        syscall.EEXIST,
	ossapi.KindPrecondition: syscall.ESTALE,
	ossapi.KindPermission:   syscall.EACCES,
	ossapi.KindExpired:      syscall.EACCES,
	ossapi.KindThrottled:    syscall.EIO, // after the retry window: a failure, not "try again now" (EAGAIN)
	ossapi.KindTransient:    syscall.EIO,
	ossapi.KindInvalid:      syscall.EINVAL,
	ossapi.KindCanceled:     syscall.EINTR,
	ossapi.KindOther:        syscall.EIO,
}

// toErrno maps an error to an errno, logging what is not a plain "not found".
// It is the only place in fs that interprets errors from ossapi (and the
// engine's: Error, the failures the file system finds itself, and
// UploadError, a failed upload of a file being written).
func (f *FS) toErrno(op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var uerr *engine.UploadError
	if errors.As(err, &uerr) {
		// The upload of a file being written: never "no such file".
		if e := f.toErrno(uerr.Op, uerr.Err); e != syscall.ENOENT {
			return e
		}
		return syscall.EIO
	}
	var ferr *engine.Error
	if errors.As(err, &ferr) {
		if ferr.Errno != syscall.ENOENT { // a plain "not found" is not logged
			f.log.Warn("request failed", "op", op, "errno", ferr.Errno.Error(), "err", err)
		}
		return ferr.Errno
	}
	// An errno of our own (a local failure, or a refusal by one of the
	// engine's rules: a permission, an xattr's name or size) stands; one
	// deep inside an OSS error (ECONNREFUSED from the dialer) is only its
	// cause: the error's kind decides.
	var oerr *ossapi.Error
	var errno syscall.Errno
	if !errors.As(err, &oerr) && errors.As(err, &errno) {
		return errno
	}
	if oerr == nil && errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	k := ossapi.KindOf(err)
	e, ok := kindErrno[k]
	if !ok {
		e = syscall.EIO
	}
	switch k {
	case ossapi.KindNotExist:
	case ossapi.KindExpired:
		f.logExpired(op, err)
	case ossapi.KindCanceled:
		f.log.Info("request canceled: its caller was interrupted by a signal or is being killed", "op", op)
	default:
		f.log.Warn("request failed", "op", op, "errno", e.Error(), "err", err)
	}
	return e
}

// logExpired logs expired credentials once per outage: at most one line a
// minute however many requests fail, and again for a later expiry.
func (f *FS) logExpired(op string, err error) {
	now := time.Now().UnixNano()
	last := f.expiredLogged.Load()
	if now-last >= int64(time.Minute) && f.expiredLogged.CompareAndSwap(last, now) {
		f.log.Error("credentials have expired; requests fail with EACCES until they are renewed", "op", op, "err", err)
	}
}
