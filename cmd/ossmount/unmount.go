package main

// ossmount unmount: unmount an ossmount mount, explain why not when it
// cannot, and wait for its process to finish the uploads.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Aliases:   []string{"umount"},
		Usage:     "unmount a mounted bucket and wait until its pending uploads are done",
		ArgsUsage: "MOUNTPOINT",
		Description: `Runs umount(2) (as root) or fusermount3 -u, then waits for the ossmount process
serving the mount to upload what is still pending and exit.
A stale mount (its ossmount process is gone) is unmounted too; -z detaches
a busy mount now and finishes when the last file there is closed.`,
		Flags: optionFlags([]option{
			{name: "z", alias: []string{"lazy"}, kind: kBool, usage: "lazy unmount: detach now, finish when no longer busy (does not wait for uploads)"},
			{name: "wait", kind: kDuration, def: "10m", usage: "how long to wait for pending uploads after unmounting: seconds or a duration like 10m (0: do not wait)"},
		}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("usage: ossmount unmount [-z] [--wait D] MOUNTPOINT")
			}
			mnt, err := filepath.Abs(c.Args().First())
			if err != nil {
				return usageError("%v", err)
			}
			return unmount(mnt, c.Bool("z"), values{c}.dur("wait"))
		},
	}
}

// unmount unmounts mnt (umount(2) as root, else fusermount3 -u), explains
// failures, and waits for the serving process to finish its uploads.
func unmount(mnt string, lazy bool, wait time.Duration) error {
	if err := checkOssmountMount(mnt); err != nil {
		return err
	}
	dev := mountDev(mnt)
	pid, stale := probeMount(mnt)
	if stale {
		fmt.Fprintf(os.Stderr, "ossmount: %s is a stale mount: the ossmount process serving it is gone (writes it had not uploaded are lost); unmounting it\n", mnt)
	}
	if err := doUnmount(mnt, lazy); err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, syscall.EBUSY) || strings.Contains(msg, "busy"):
			return cli.Exit(fmt.Sprintf("%s is busy (a process has a file or directory open there, or a shell is in it; see `fuser -vm %s`): close it, or run `ossmount unmount -z %s` to detach it lazily", mnt, mnt, mnt), 1)
		case stale:
			return cli.Exit(fmt.Sprintf("%s is a stale mount and could not be unmounted (%s): run `ossmount unmount -z %s`", mnt, msg, mnt), 1)
		}
		return cli.Exit(fmt.Sprintf("unmount %s: %s", mnt, msg), 1)
	}
	if _, known := mountPid(dev, mnt); stale && known {
		os.Remove(pidFilePath(dev)) // left behind by the dead process
	}
	if pid == 0 || lazy || wait <= 0 {
		return nil
	}
	// The process uploads what is still pending, then exits.
	deadline := time.Now().Add(wait)
	told := false
	for alive(pid) {
		if time.Now().After(deadline) {
			return cli.Exit(fmt.Sprintf("%s is unmounted, but ossmount (pid %d) is still uploading after %v", mnt, pid, wait), 1)
		}
		if !told && time.Until(deadline) < wait-time.Second {
			fmt.Fprintf(os.Stderr, "ossmount: waiting for ossmount (pid %d) to finish uploading\n", pid)
			told = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// doUnmount unmounts mnt: as root with umount(2) directly (umount(8)
// would stat the mount point first and hang on an unresponsive mount),
// else with fusermount3 -u.
func doUnmount(mnt string, lazy bool) error {
	if os.Geteuid() == 0 {
		flags := 0
		if lazy {
			flags = syscall.MNT_DETACH
		}
		err := syscall.Unmount(mnt, flags)
		if err == nil || err == syscall.EBUSY {
			return err
		}
		if err != syscall.EPERM {
			return fmt.Errorf("umount(2): %w", err)
		}
		// EPERM as root (e.g. a restricted container): try fusermount3.
	}
	args := []string{"-u", mnt}
	if lazy {
		args = []string{"-uz", mnt}
	}
	out, err := exec.Command("fusermount3", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

// probeMount finds the process serving mnt (0 if unknown) and whether the
// mount is stale: the process recorded for it is gone, or, without a
// record, the file system answers ENOTCONN (a mount that does not answer
// within a few seconds counts as not stale).
func probeMount(mnt string) (pid int, stale bool) {
	if dev := mountDev(mnt); dev != "" {
		if pid, known := mountPid(dev, mnt); known {
			return pid, pid == 0
		}
	}
	ch := make(chan bool, 1)
	go func() {
		// statfs always reaches the file system (stat may be cached).
		var sfs syscall.Statfs_t
		ch <- errors.Is(syscall.Statfs(mnt, &sfs), syscall.ENOTCONN)
	}()
	select {
	case stale = <-ch:
	case <-time.After(5 * time.Second):
	}
	return 0, stale
}

// checkOssmountMount refuses a path that is not the mount point of an
// ossmount mount (ossmount unmount acts on nothing else), saying what the
// path is instead.
func checkOssmountMount(mnt string) error {
	e, ok := mountAt(mnt)
	if ok && e.isOssmount() {
		return nil
	}
	if ok {
		return cli.Exit(fmt.Sprintf("%s is not an ossmount mount: it is a %s mount of %s; unmount it with umount(8) if that is what you want", mnt, e.fstype, e.source), 1)
	}
	if _, err := os.Lstat(mnt); errors.Is(err, os.ErrNotExist) {
		return cli.Exit(fmt.Sprintf("%s: no such file or directory", mnt), 1)
	}
	if h, ok := mountHolding(mnt); ok && h.isOssmount() {
		return cli.Exit(fmt.Sprintf("%s is not a mount point: it is inside the ossmount mount at %s", mnt, h.point), 1)
	}
	return cli.Exit(fmt.Sprintf("%s is not mounted", mnt), 1)
}
