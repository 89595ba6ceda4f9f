package main

// Where a daemon logs when nothing listens for syslog (a container, a
// minimal system without /dev/log): a file, named on stderr before the
// daemon detaches, so that no log line (failed uploads, SIGUSR1 counters)
// is lost.

import (
	"fmt"
	"log/syslog"
	"os"
	"path/filepath"
	"strings"
)

// logDir is the directory of the default log files: /var/log/ossmount for
// root, else $XDG_STATE_HOME/ossmount (~/.local/state/ossmount).
func logDir() string {
	return userDir("/var/log/ossmount", "XDG_STATE_HOME", filepath.Join(".local", "state"), "log")
}

// defaultLogFile is the log file of the daemon of the mount at mnt: the
// mount point with its slashes as dashes, e.g. /var/log/ossmount/data-bucket.log
// for /data/bucket.
func defaultLogFile(mnt string) string {
	name := strings.ReplaceAll(strings.Trim(mnt, "/"), "/", "-")
	if name == "" {
		name = "root"
	}
	return filepath.Join(logDir(), name+".log")
}

// syslogAvailable reports whether something listens for syslog (a syslog
// daemon, or journald) on this machine.
func syslogAvailable() bool {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "ossmount")
	if err != nil {
		return false
	}
	w.Close()
	return true
}

// daemonLogFile picks the log of a daemon about to detach: "" when it is
// to log to syslog, else the default file, whose directory it creates; it
// says so on stderr.
func daemonLogFile(mnt string) (string, error) {
	if syslogAvailable() {
		return "", nil
	}
	p := defaultLogFile(mnt)
	if err := privateDir(filepath.Dir(p)); err != nil {
		return "", fmt.Errorf("no syslog to log to, and the log directory: %v", err)
	}
	fmt.Fprintf(os.Stderr, "ossmount: no syslog (/dev/log): the daemon logs to %s\n", p)
	return p, nil
}

// openLogFile opens the log file p for appending: the default file safely
// (its directory private, never through a symlink), any other as given.
func openLogFile(p, mnt string) (*os.File, error) {
	if p == defaultLogFile(mnt) {
		if err := privateDir(filepath.Dir(p)); err != nil {
			return nil, err
		}
		return appendPrivateFile(p, 0o600)
	}
	return os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}
