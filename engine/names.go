package engine

import (
	"strings"
	"syscall"
)

// MaxNameLen is the longest file name shown or accepted (NAME_MAX).
const MaxNameLen = 255

// ValidName reports whether a key component can be shown as a file name:
// not empty, not "." or "..", at most 255 bytes, no NUL and no '/'.
func ValidName(name string) bool { return NameErrno(name) == 0 }

// NameErrno is the errno for a name given by a caller: ENAMETOOLONG over
// 255 bytes, EINVAL for "", ".", ".." or a name holding '/' or NUL.
func NameErrno(name string) syscall.Errno {
	if len(name) > MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "\x00/") {
		return syscall.EINVAL
	}
	return 0
}

// ParentKey is the directory key holding key ("" for top level).
func ParentKey(key string) string {
	k := strings.TrimSuffix(key, "/")
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i+1]
	}
	return ""
}
