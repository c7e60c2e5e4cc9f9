package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// A mail with a 1 MB malformed header line (invalid UTF-8 in it) gives a
// bounded, valid JSON line from triage --json and a bounded human text,
// with the start of the error kept.
func TestTriageHugeMalformedHeaderBounded(t *testing.T) {
	line := strings.Repeat("\x01\xff<a>\"", 1<<20/6)
	msg := "From: MAILER-DAEMON@example.net\r\nTo: office@example.jp\r\nSubject: Undelivered Mail\r\n" + line + "\r\n\r\nbody\r\n"
	f := filepath.Join(t.TempDir(), "huge.eml")
	if err := os.WriteFile(f, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	run([]string{"triage", "--json", f}, nil, &out, &errb)
	if out.Len() > 8*safetext.MaxError {
		t.Fatalf("triage --json wrote %d bytes", out.Len())
	}
	var got struct{ Error string }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.Contains(got.Error, "malformed MIME header line") || len(got.Error) > safetext.MaxError || !utf8.ValidString(got.Error) {
		t.Errorf("error = %.100q (%d bytes)", got.Error, len(got.Error))
	}
	out.Reset()
	run([]string{"triage", f}, nil, &out, &errb)
	if out.Len() > 8*safetext.MaxError || !utf8.Valid(out.Bytes()) {
		t.Errorf("triage wrote %d bytes (valid UTF-8: %v)", out.Len(), utf8.Valid(out.Bytes()))
	}
}
