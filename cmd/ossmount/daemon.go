package main

// Daemonizing: the foreground process re-runs ossmount detached and
// waits on a pipe until the child reports the mount ready or failed.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// daemonEnv marks the detached child; its value is the fd of the pipe to
// report readiness on.
const daemonEnv = "OSSMOUNT_DAEMON_FD"

// daemonize re-runs ossmount detached and waits until the child reports
// the mount ready (exit 0) or failed (its error on stderr, exit 1).
func daemonize(childArgs []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, childArgs...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start daemon: %v", err)
	}
	w.Close()
	// Until the mount is ready, Ctrl-C or SIGTERM stops the child too
	// (it is in its own session, out of reach of the terminal).
	fwd := make(chan os.Signal, 2)
	signal.Notify(fwd, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range fwd {
			if s != syscall.SIGHUP {
				cmd.Process.Signal(s)
			}
		}
	}()
	msg, _ := io.ReadAll(r)
	signal.Stop(fwd)
	close(fwd)
	line := strings.TrimSpace(string(msg))
	if line == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if line == "" {
		line = "the mount process exited before the mount was ready"
	}
	code := 1
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		if c, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(c); err == nil && n > 0 {
				code, line = n, msg
			}
		}
	}
	return cli.Exit(line, code)
}

// readyPipe returns the reporter of the daemon child: the first call sends
// "ok" (err == nil) or the error, and closes the pipe.
func readyPipe(fdStr string) func(error) {
	fd, err := strconv.Atoi(fdStr)
	if err != nil {
		return func(error) {}
	}
	syscall.CloseOnExec(fd) // keep it from fusermount3 and umount
	f := os.NewFile(uintptr(fd), "ready")
	reported := false
	report := func(err error) {
		if reported || f == nil {
			return
		}
		reported = true
		if err == nil {
			fmt.Fprintln(f, "ok")
		} else {
			fmt.Fprintf(f, "error %d: %s\n", exitCode(err), err.Error())
		}
		f.Close()
	}
	return report
}
