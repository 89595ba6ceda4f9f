package fs

import (
	"strings"
	"syscall"

	"github.com/ossmount/ossmount/ossapi"
)

// maxNameLen is the longest file name shown or accepted (NAME_MAX).
const maxNameLen = 255

// maxObjectSize is the largest object OSS stores: 10,000 parts of 5 GiB
// (48.8 TiB). A file cannot grow past it: a truncate or a write beyond it
// fails at once with EFBIG.
const maxObjectSize = 10000 * (5 << 30)

// validName reports whether a key component can be shown as a file name:
// not empty, not "." or "..", at most 255 bytes, no NUL and no '/'.
func validName(name string) bool { return nameErrno(name) == 0 }

// nameErrno is the errno for a name given by a caller: ENAMETOOLONG over
// 255 bytes, EINVAL for "", ".", ".." or a name holding '/' or NUL.
func nameErrno(name string) syscall.Errno {
	if len(name) > maxNameLen {
		return syscall.ENAMETOOLONG
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "\x00/") {
		return syscall.EINVAL
	}
	return 0
}

// keyErrno checks a name and the key it makes (dir adds the trailing '/'
// of a directory marker): ENAMETOOLONG when the key would be longer than
// OSS accepts (1,023 bytes).
func keyErrno(name, key string, dir bool) syscall.Errno {
	if errno := nameErrno(name); errno != 0 {
		return errno
	}
	n := len(key)
	if dir {
		n++
	}
	if n > ossapi.MaxKeyLen {
		return syscall.ENAMETOOLONG
	}
	return 0
}

// sizeErrno refuses a file size OSS cannot store.
func sizeErrno(size uint64) syscall.Errno {
	if size > maxObjectSize {
		return syscall.EFBIG
	}
	return 0
}
