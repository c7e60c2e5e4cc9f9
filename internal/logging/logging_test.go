package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

func newTest(buf *bytes.Buffer) *slog.Logger {
	return slog.New(New(slog.NewJSONHandler(buf, nil), Options{}))
}

// A 1 MB malformed header line, logged as an attribute, an error or inside
// a group, gives a bounded line of valid UTF-8.
func TestLogLineBounded(t *testing.T) {
	line := "malformed MIME header line: " + strings.Repeat("\x01\xff<a>\"", 1<<20/6)
	var buf bytes.Buffer
	log := newTest(&buf).With("component", "triage", "pre", line)
	log.Warn("message could not be read fully", "uid", 7, "error", line, "err", errors.New(line),
		slog.Group("g", "x", line), "b", []byte(line))
	out := buf.String()
	if len(out) > 6*MaxValue*2 {
		t.Fatalf("log line of %d bytes", len(out))
	}
	if !utf8.ValidString(out) {
		t.Fatal("log line is not valid UTF-8")
	}
	for _, want := range []string{`"uid":7`, `"component":"triage"`, "malformed MIME header line", "bytes)"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %s: %.300s", want, out)
		}
	}
}

// Short values pass unchanged.
func TestLogShortUnchanged(t *testing.T) {
	var buf bytes.Buffer
	newTest(&buf).Info("hello", "k", "v", "n", 3, "d", time.Second)
	if !strings.Contains(buf.String(), `"msg":"hello","k":"v","n":3,"d":1000000000`) {
		t.Errorf("got %s", buf.String())
	}
}

// A flood of one warning gives Burst lines per window; the first line of
// the next window says how many were dropped. Info lines are never dropped,
// and another warning has its own budget.
func TestRepeatedWarningsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := newTest(&buf)
		for i := range 490 {
			log.Warn("reply ignored: too many requests from this sender", "from", i)
			log.Info("reply", "n", i)
			time.Sleep(100 * time.Millisecond) // 49 s in all: one window
		}
		log.Warn("other warning")
		time.Sleep(DefaultWindow)
		log.Warn("reply ignored: too many requests from this sender", "from", "last")

		var warns, infos, other int
		var last string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			switch {
			case strings.Contains(l, "too many requests"):
				warns++
				last = l
			case strings.Contains(l, `"msg":"reply"`):
				infos++
			case strings.Contains(l, "other warning"):
				other++
			}
		}
		if warns != DefaultBurst+1 {
			t.Errorf("%d warnings logged, want %d", warns, DefaultBurst+1)
		}
		if infos != 490 || other != 1 {
			t.Errorf("infos %d, other %d", infos, other)
		}
		if !strings.Contains(last, `"suppressed":485`) {
			t.Errorf("last warning does not count the dropped ones: %s", last)
		}
	})
}
