// Package logging owns what bouncewatch adds to log/slog: a Handler that
// wraps another and keeps every log line bounded and quiet under a flood.
//
//   - Every string value, error and message is valid UTF-8 and at most
//     MaxValue bytes (safetext.Clip): a 1 MB header line from a stranger's
//     mail logs as a few kilobytes.
//   - Warnings and errors with the same level and message are let through
//     Burst times per Window; the rest are dropped and counted, and the next
//     one let through carries the count ("suppressed"). A flood of rejected
//     replies gives a handful of lines, not one per mail.
//
// The window is measured with the records' own times (set by slog's
// Logger from the clock), so the Handler reads no clock itself.
package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// MaxValue bounds each logged string, error and message, in bytes.
const MaxValue = 4096

// Defaults of Options.
const (
	DefaultBurst  = 5
	DefaultWindow = time.Minute
)

// KeySuppressed is the attribute that counts records dropped since the
// last one of the same level and message.
const KeySuppressed = "suppressed"

// Options tune the Handler; zero values mean the defaults.
type Options struct {
	Burst  int           // records of one level and message let through per window
	Window time.Duration // length of the window
}

// Handler bounds values and rate-limits repeated warnings; see the package
// doc. Safe for concurrent use, as slog requires.
type Handler struct {
	next slog.Handler
	lim  *limiter // shared by every Handler derived with WithAttrs/WithGroup
}

var _ slog.Handler = (*Handler)(nil)

// New wraps next.
func New(next slog.Handler, opts Options) *Handler {
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	return &Handler{next: next, lim: &limiter{burst: opts.Burst, window: opts.Window, keys: map[key]*window{}}}
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle clips r's message and values and passes it on, unless it is a
// repeated warning beyond the burst.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var suppressed int
	if r.Level >= slog.LevelWarn {
		ok, n := h.lim.allow(key{r.Level, r.Message}, r.Time)
		if !ok {
			return nil
		}
		suppressed = n
	}
	out := slog.NewRecord(r.Time, r.Level, safetext.Clip(r.Message, MaxValue), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int(KeySuppressed, suppressed))
	}
	return h.next.Handle(ctx, out)
}

// WithAttrs returns a Handler whose attributes are clipped too.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	cl := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		cl[i] = clipAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(cl), lim: h.lim}
}

// WithGroup returns a Handler that puts later attributes in a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), lim: h.lim}
}

// clipAttr bounds a's value: strings, errors and other values whose text
// is taken from fmt or encoding are turned into clipped strings; groups are
// clipped member by member.
func clipAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > 64 {
			return slog.String(a.Key, safetext.Clip(s, MaxValue))
		}
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindGroup:
		g := v.Group()
		cl := make([]slog.Attr, len(g))
		for i, m := range g {
			cl[i] = clipAttr(m)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(cl...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, safetext.Clip(x.Error(), MaxValue))
		case interface{ String() string }:
			return slog.String(a.Key, safetext.Clip(x.String(), MaxValue))
		case []byte:
			return slog.String(a.Key, safetext.Clip(string(x), MaxValue))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

type key struct {
	level slog.Level
	msg   string
}

// window counts the records of one key in the current window.
type window struct {
	start      time.Time
	n          int // let through in this window
	suppressed int // dropped since the last one let through
}

// limiter is the shared state of the rate limit.
type limiter struct {
	burst  int
	window time.Duration

	mu   sync.Mutex
	keys map[key]*window
}

// maxKeys bounds the limiter's memory; beyond it, old windows are dropped.
const maxKeys = 1024

// allow says whether a record of k at t is let through and, if so, how
// many were dropped before it.
func (l *limiter) allow(k key, t time.Time) (bool, int) {
	if t.IsZero() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[k]
	if w == nil {
		if len(l.keys) >= maxKeys {
			for kk, ww := range l.keys {
				if t.Sub(ww.start) >= l.window && ww.suppressed == 0 {
					delete(l.keys, kk)
				}
			}
		}
		if len(l.keys) >= maxKeys {
			return true, 0 // too many distinct messages to track: let through
		}
		w = &window{start: t}
		l.keys[k] = w
	}
	if t.Sub(w.start) >= l.window || t.Before(w.start) {
		w.start, w.n = t, 0
	}
	if w.n >= l.burst {
		w.suppressed++
		return false, 0
	}
	w.n++
	n := w.suppressed
	w.suppressed = 0
	return true, n
}
