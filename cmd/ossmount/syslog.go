package main

// syslogHandler: the slog handler of a daemon logging to syslog.

import (
	"context"
	"fmt"
	"log/slog"
	"log/syslog"
	"strconv"
	"strings"
)

// syslogHandler writes records to syslog with the matching priority.
type syslogHandler struct {
	w     *syslog.Writer
	level slog.Level
	attrs string // preformatted " key=value" pairs
	group string
}

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *syslogHandler) format(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	k := a.Key
	if h.group != "" {
		k = h.group + "." + k
	}
	fmt.Fprintf(b, " %s=%s", k, strconv.Quote(a.Value.String()))
}

func (h *syslogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		h.format(&b, a)
		return true
	})
	msg := b.String()
	switch {
	case r.Level >= slog.LevelError:
		return h.w.Err(msg)
	case r.Level >= slog.LevelWarn:
		return h.w.Warning(msg)
	case r.Level >= slog.LevelInfo:
		return h.w.Info(msg)
	}
	return h.w.Debug(msg)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		h.format(&b, a)
	}
	n.attrs = b.String()
	return &n
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}
