package engine

import "syscall"

// Error is a failure the file system finds itself in what OSS answered (a
// body cut short, an object shorter than at open, a multipart upload gone)
// or in what it would ask (more than 10,000 parts): the errno it stands
// for and what happened. Package fs maps it, with every other error, in
// one place (fs/errno.go: toErrno). Its cause is for the log only (no
// Unwrap): a kind inside it does not count.
type Error struct {
	Op, Key string
	Errno   syscall.Errno
	Msg     string
	Cause   error
}

func (e *Error) Error() string {
	s := e.Op
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// BodyCut is the error of a response body that ended early.
func BodyCut(op, key string, cause error) error {
	return &Error{Op: op, Key: key, Errno: syscall.EIO, Msg: "response body cut short", Cause: cause}
}

// UploadError is the failure of the upload of a file being written (op:
// what failed). Package fs maps Err to an errno, and never to "no such
// file" for the file being written (fs/errno.go).
type UploadError struct {
	Op  string
	Err error
}

func (e *UploadError) Error() string { return e.Op + ": " + e.Err.Error() }

// notExist is the error of a name that is not there as far as the
// namespace knows (its negative cache, a listing that speaks for the
// directory): ENOENT, which package fs does not log.
func notExist(op, key string) error {
	return &Error{Op: op, Key: key, Errno: syscall.ENOENT, Msg: "no such file or directory"}
}
