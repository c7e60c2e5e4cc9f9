package safetext

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClipKeepsShortValidText(t *testing.T) {
	for _, s := range []string{"", "store: outbox 3: database is locked", "宛先不明 (550 5.1.1)"} {
		if got := Clip(s, MaxError); got != s {
			t.Errorf("Clip(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestClipBoundsAndRepairs(t *testing.T) {
	line := "header: malformed MIME header line: " + strings.Repeat("\x01\xff<a>\"あ", 200000)
	for _, max := range []int{0, 64, 100, MaxError, 4096} {
		got := Clip(line, max)
		if len(got) > bound(max) {
			t.Errorf("max %d: %d bytes", max, len(got))
		}
		if !utf8.ValidString(got) {
			t.Errorf("max %d: invalid UTF-8: %q", max, got)
		}
		if !strings.HasPrefix(got, "header: malformed") {
			t.Errorf("max %d: lost the start: %q", max, got)
		}
		if !strings.Contains(got, "bytes)") || !strings.Contains(got, "1800036") {
			t.Errorf("max %d: no marker with the original length: %.80q…", max, got)
		}
	}
}

func TestClipShortInvalid(t *testing.T) {
	got := Clip("bad \xff\xfe byte", MaxError)
	if got != "bad \uFFFD byte" {
		t.Errorf("got %q", got)
	}
}

// A long run of invalid bytes collapses to one U+FFFD: the result is short
// but still says that something was cut.
func TestClipLongInvalidRun(t *testing.T) {
	s := "x" + strings.Repeat("\xff", 1<<20)
	got := Clip(s, 100)
	if len(got) > 100 || !utf8.ValidString(got) || !strings.Contains(got, "cut") {
		t.Errorf("got %q", got)
	}
}

// Cuts never split a rune.
func TestClipRuneBoundary(t *testing.T) {
	s := strings.Repeat("配信", 1000)
	for max := 64; max < 200; max++ {
		got := Clip(s, max)
		if !utf8.ValidString(got) || len(got) > max {
			t.Fatalf("max %d: %q (%d bytes)", max, got, len(got))
		}
	}
}

func TestClipError(t *testing.T) {
	if ClipError(nil) != "" {
		t.Error("nil error gives text")
	}
	err := errors.New(strings.Repeat("e", 10000))
	if got := ClipError(err); len(got) > MaxError {
		t.Errorf("%d bytes", len(got))
	}
}

func FuzzClip(f *testing.F) {
	f.Add("hello", 80)
	f.Add("\xff\xfe\xfd", 64)
	f.Add(strings.Repeat("あ", 100), 70)
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := Clip(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if len(got) > bound(max) {
			t.Fatalf("%d bytes > %d", len(got), bound(max))
		}
		if len(s) <= bound(max) && utf8.ValidString(s) && got != s {
			t.Fatalf("changed short valid text %q to %q", s, got)
		}
	})
}

func BenchmarkClipMegabyte(b *testing.B) {
	s := strings.Repeat("\x01\xff<a>", 1<<18)
	for b.Loop() {
		Clip(s, MaxError)
	}
}
