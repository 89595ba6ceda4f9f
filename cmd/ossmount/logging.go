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
func setupLogging(v *values, mnt string, foreground bool) (*slog.Logger, func(), error) {
	level := slog.LevelInfo
	switch strings.ToLower(v.str("log_level")) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, usageError("option log_level: %q is not one of debug, info, warn, error", v.str("log_level"))
	}
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
