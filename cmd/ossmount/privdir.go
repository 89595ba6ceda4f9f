package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// privateDir makes sure dir is a directory only the current user can use,
// creating it (and its missing parents, mode 0700) when absent. It is the
// one way ossmount creates directories in shared places (pid files, logs,
// the default cache_dir): it never follows a symlink at dir itself,
// refuses a directory owned by another user, and refuses one that others
// can reach (group or other permission bits) rather than using it.
//
// Missing parents are created 0700 too; existing parents are used as they
// are (a sticky /tmp, /run, $HOME...): what guards the files is dir itself.
func privateDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return checkPrivateDir(dir)
}

// checkPrivateDir opens dir without following a symlink and checks that
// it is a directory owned by the current user with no access for others.
func checkPrivateDir(dir string) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err == syscall.ELOOP || err == syscall.ENOTDIR {
			return fmt.Errorf("%s: not a directory (a symlink or a file is in the way)", dir)
		}
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by uid %d: refusing to use it", dir, st.Uid, os.Geteuid())
	}
	if st.Mode&0o077 != 0 {
		return fmt.Errorf("%s: mode %04o lets other users in: refusing to use it (chmod 700 %s)", dir, st.Mode&0o7777, dir)
	}
	return nil
}

// createPrivateFile creates name (in a directory checked by privateDir)
// for writing with mode perm, replacing an existing regular file but never
// following a symlink or writing through one.
func createPrivateFile(name string, perm os.FileMode) (*os.File, error) {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm)
}

// appendPrivateFile opens name (in a directory checked by privateDir) for
// appending, creating it with mode perm. It never follows a symlink and
// refuses anything but a regular file of the current user.
func appendPrivateFile(name string, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); !st.Mode().IsRegular() || !ok || int(sys.Uid) != os.Geteuid() {
			err = fmt.Errorf("%s is not a regular file of the current user", name)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// userDir is where ossmount keeps files of one kind for the current user:
// root for root; else $XDG/ossmount (xdg names the XDG base directory
// variable), or ~/HOMESUB/ossmount when the variable is unset or not
// absolute (homeSub "": no such fallback); else a directory of the user's
// in the temporary directory, /tmp/ossmount-UID/TMPSUB. Create it with
// privateDir.
func userDir(root, xdg, homeSub, tmpSub string) string {
	if os.Geteuid() == 0 {
		return root
	}
	if d := os.Getenv(xdg); filepath.IsAbs(d) {
		return filepath.Join(d, "ossmount")
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) && homeSub != "" {
		return filepath.Join(h, homeSub, "ossmount")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ossmount-%d", os.Geteuid()), tmpSub)
}
