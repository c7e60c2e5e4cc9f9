// Package safetext owns the one rule for text that came from outside and is
// stored, logged or printed as an error: it is valid UTF-8 and no longer
// than a bound. A 1 MB malformed header line from a stranger's mail must not
// become a 1 MB database row, a 4 MB log line or a 6 MB JSON error. It is
// pure: no I/O.
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxError is the bound, in bytes, for an error string stored, logged or
// printed: long enough for any honest error (a wrapped chain ending in an
// SMTP reply), short enough that a hostile one costs nothing.
const MaxError = 1024

// minMax is the least bound Clip accepts: room for a marker and some text.
const minMax = 64

// Clip returns s as valid UTF-8 (a run of invalid bytes becomes U+FFFD) of at
// most max bytes, cut at a rune boundary. A cut string ends with a marker
// giving the original length, e.g. "…(cut, 1048576 bytes)"; the marker
// counts toward max. A max below 64 counts as 64. Clip reads at most about
// 4×max bytes of s, so its cost does not grow with s.
func Clip(s string, max int) string {
	max = bound(max)
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	total := len(s)
	if len(s) > 4*max {
		s = s[:4*max] // repairing a megabyte to keep a kilobyte is waste
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max && total <= 4*max {
		return s
	}
	marker := "…(cut, " + strconv.Itoa(total) + " bytes)"
	keep := min(max-len(marker), len(s))
	for keep > 0 && keep < len(s) && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker
}

// ClipError is Clip(err.Error(), MaxError); "" for a nil err.
func ClipError(err error) string {
	if err == nil {
		return ""
	}
	return Clip(err.Error(), MaxError)
}

func bound(max int) int {
	if max < minMax {
		return minMax
	}
	return max
}
