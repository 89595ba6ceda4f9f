package fs

import (
	"syscall"

	"github.com/ossmount/ossmount/engine"
	"github.com/ossmount/ossmount/ossapi"
)

// maxObjectSize is the largest object OSS stores: 10,000 parts of 5 GiB
// (48.8 TiB). A file cannot grow past it: a truncate or a write beyond it
// fails at once with EFBIG.
const maxObjectSize = 10000 * (5 << 30)

// keyErrno checks a name and the key it makes (dir adds the trailing '/'
// of a directory marker): ENAMETOOLONG when the key would be longer than
// OSS accepts (1,023 bytes).
func keyErrno(name, key string, dir bool) syscall.Errno {
	if errno := engine.NameErrno(name); errno != 0 {
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
