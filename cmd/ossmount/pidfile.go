package main

// Pid files: one per mount, naming the process that serves it, so that
// `ossmount unmount` can wait for its uploads.

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// runDir holds one pid file per mount, so `ossmount unmount` can wait for
// the process serving a mount to finish its uploads. It is created with
// privateDir (a directory of another user, a symlink or one others can
// reach is refused).
func runDir() string {
	return userDir("/run/ossmount", "XDG_RUNTIME_DIR", "", "")
}

// pidFilePath names the pid file of the mount on device dev (major:minor).
func pidFilePath(dev string) string {
	return filepath.Join(runDir(), strings.ReplaceAll(dev, ":", "-")+".pid")
}

// writePidFile records this process as the server of the mount at mnt
// and returns the function that removes the record.
func writePidFile(mnt string, log *slog.Logger) func() {
	dev := mountDev(mnt)
	if dev == "" {
		return func() {}
	}
	p := pidFilePath(dev)
	content := fmt.Sprintf("%d\n%s\n", os.Getpid(), mnt)
	if err := privateDir(filepath.Dir(p)); err != nil {
		log.Warn("no pid file: `ossmount unmount` will not wait for this process", "err", err)
		return func() {}
	}
	f, err := createPrivateFile(p, 0o600)
	if err == nil {
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Warn("cannot write pid file", "path", p, "err", err)
	}
	return func() {
		if b, err := os.ReadFile(p); err == nil && string(b) == content {
			os.Remove(p)
		}
	}
}

// mountPid reads the pid file of the mount on device dev at mnt: known
// tells whether there is one; pid is 0 if its process is gone.
func mountPid(dev, mnt string) (pid int, known bool) {
	b, err := os.ReadFile(pidFilePath(dev))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || lines[1] != mnt {
		return 0, false // a record of an earlier mount
	}
	pid, err = strconv.Atoi(lines[0])
	if err != nil || pid <= 0 {
		return 0, false
	}
	if !alive(pid) {
		return 0, true
	}
	// Guard against a recycled pid.
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && !strings.Contains(filepath.Base(exe), "ossmount") {
		return 0, true
	}
	return pid, true
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
