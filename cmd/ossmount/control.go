package main

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/urfave/cli/v2"
)

// The control channel: how the commands ask a running mount (presign,
// post-policy, stats, cache), through virtual extended attributes whose
// name carries the request and whose value carries the answer; the
// daemon checks the caller's rights (see fs/share.go).

// xattrNameMax is the kernel's limit on an extended attribute's name.
const xattrNameMax = 255

// askMount sends a sharing request to the mount holding path and returns
// its answer.
func askMount(path, name string) (string, error) {
	if len(name) > xattrNameMax {
		return "", cli.Exit(fmt.Sprintf("the request is %d bytes, more than the %d an extended attribute name may have: use a shorter name or fewer options",
			len(name), xattrNameMax), 2)
	}
	v, err := getControlXattr(path, name)
	if err != nil {
		return "", mountError(path, err)
	}
	return v, nil
}

// getControlXattr reads the virtual attribute name of path, a request to
// the mount's daemon, and returns its answer or the errno.
func getControlXattr(path, name string) (string, error) {
	buf := make([]byte, 64<<10) // the kernel's limit on a value
	for {
		n, err := syscall.Getxattr(path, name, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}

// mountError explains a failed request to a mount (presign, post-policy,
// stats, cache), with exit status 2 where the request itself was wrong.
func mountError(path string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return cli.Exit(fmt.Sprintf("%s: %v", path, err), 1)
	}
	for _, e := range []struct {
		errnos []syscall.Errno
		why    string
		code   int
	}{
		{[]syscall.Errno{syscall.ENODATA, syscall.ENOTSUP}, " is not in an ossmount mount (or the mount is too old to share): for a bucket path use oss://BUCKET/KEY", 1},
		{[]syscall.Errno{syscall.EACCES, syscall.EPERM}, ": permission denied (the mount lets you share only what you may read, or upload into directories you may write; or its credentials have expired)", 1},
		{[]syscall.Errno{syscall.EISDIR}, " is a directory: use ossmount post-policy to let browsers upload into it", 2},
		{[]syscall.Errno{syscall.ENOTDIR}, " is not a directory", 2},
		{[]syscall.Errno{syscall.EROFS}, ": the mount is read-only", 1},
		{[]syscall.Errno{syscall.EBUSY}, " is still being written and is not in the bucket yet: close it first", 1},
		{[]syscall.Errno{syscall.EINVAL}, ": the mount refused the request as invalid (a symlink, or a bad option value)", 2},
		{[]syscall.Errno{syscall.ERANGE}, ": the request or its answer is too long", 1},
		{[]syscall.Errno{syscall.ENOENT}, ": no such file", 1},
	} {
		if slices.Contains(e.errnos, errno) {
			return cli.Exit(path+e.why, e.code)
		}
	}
	return cli.Exit(fmt.Sprintf("%s: %v", path, errno), 1)
}

// setControlXattr sets the virtual attribute name of path to value, a
// request to the mount's daemon, and returns the errno.
func setControlXattr(path, name, value string) error {
	for {
		err := syscall.Setxattr(path, name, []byte(value), 0)
		if err != syscall.EINTR {
			return err
		}
	}
}
