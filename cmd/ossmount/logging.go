package main

// Logging: a foreground mount logs to stderr, a daemon to syslog or to a
// file (see logfile.go for the default file).

import (
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
)

// setupLogging logs to stderr in the foreground, else to log_file, or to
// syslog, or without syslog to the default log file (see logfile.go).
func setupLogging(v values, mnt string, foreground bool) (*slog.Logger, func(), error) {
	level, _ := parseLogLevel(v.str("log_level")) // checked with the options
	if v.bool("debug") {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	closeFn := func() {}
	p := v.str("log_file")
	if p == "" && !foreground {
		// A daemon's stderr is /dev/null: log to syslog, which journald
		// also collects.
		sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "ossmount")
		if err != nil {
			p = defaultLogFile(mnt) // syslog went away since the parent looked
		} else {
			w, closeFn = sw, func() { sw.Close() }
			// syslog adds its own time stamp, and the priority comes from
			// the level.
			return slog.New(&syslogHandler{w: sw, level: level}), closeFn, nil
		}
	}
	if p != "" {
		f, err := openLogFile(p, mnt)
		if err != nil {
			return nil, nil, fmt.Errorf("log_file: %v", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h), closeFn, nil
}

// parseLogLevel reads a log_level value ("" is info).
func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}
