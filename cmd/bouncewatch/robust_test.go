package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/demo"
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

// A DSN naming 10,000 recipients: the human text says that only the first
// are listed, as --json says "truncated" (issue 13: caps are not silent).
func TestTriageRecipientCapIsShown(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nTo: office@example.jp\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "\r\nFinal-Recipient: rfc822; user%d@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n", i)
	}
	b.WriteString("\r\n--b1--\r\n")
	f := filepath.Join(t.TempDir(), "many.eml")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	run([]string{"triage", "--json", f}, nil, &out, &errb)
	var got struct {
		Truncated  bool
		Recipients []json.RawMessage
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !got.Truncated || len(got.Recipients) == 0 || len(got.Recipients) >= 10000 {
		t.Fatalf("truncated = %v with %d recipients, want true and fewer than 10000", got.Truncated, len(got.Recipients))
	}
	for lang, want := range map[string]string{"ja": fmt.Sprintf("最初の %d 件だけを示しました", len(got.Recipients)),
		"en": fmt.Sprintf("only the first %d are listed", len(got.Recipients))} {
		out.Reset()
		run([]string{"triage", "--lang", lang, f}, nil, &out, &errb)
		if !strings.Contains(out.String(), want) {
			t.Errorf("triage --lang %s does not say the list is cut (want %q); it ends:\n%s", lang, want, tail(out.String(), 300))
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// main removes the empty variables before reading: their defaults apply,
// except HTTP_ADDR, where empty disables the endpoints.
func TestLoadConfigEmptyMeansDefault(t *testing.T) {
	t.Setenv("BOUNCEWATCH_IMAP_TLS", "")
	t.Setenv("BOUNCEWATCH_GROUP_WAIT", "")
	t.Setenv("BOUNCEWATCH_MAX_AGE", "0")
	t.Setenv("BOUNCEWATCH_HTTP_ADDR", "")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.IMAPTLS != "implicit" || c.GroupWait != time.Minute {
		t.Errorf("empty values did not take the defaults: tls %q wait %v", c.IMAPTLS, c.GroupWait)
	}
	if c.MaxAge != 0 || c.HTTPAddr != "" {
		t.Errorf("explicit values overridden: max age %v, http %q", c.MaxAge, c.HTTPAddr)
	}
}

// check says when the port of the HTTP endpoints is taken, and still
// passes (run would watch mail without them).
func TestCheckSaysHTTPPortBusy(t *testing.T) {
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Setenv("BOUNCEWATCH_IMAP_ADDR", srv.Addr)
	t.Setenv("BOUNCEWATCH_IMAP_TLS", "none")
	t.Setenv("BOUNCEWATCH_IMAP_USERNAME", srv.User)
	t.Setenv("BOUNCEWATCH_IMAP_PASSWORD", srv.Password)
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "bw.db"))
	t.Setenv("BOUNCEWATCH_HTTP_ADDR", busy.Addr().String())
	var out, errb bytes.Buffer
	if code := run([]string{"check"}, nil, &out, &errb); code != 0 {
		t.Fatalf("check exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "HTTP "+busy.Addr().String()) || !strings.Contains(out.String(), "port busy") {
		t.Errorf("check does not say the port is busy:\n%s", out.String())
	}
	busy.Close()
	out.Reset()
	run([]string{"check"}, nil, &out, &errb)
	if !strings.Contains(out.String(), "HTTP "+busy.Addr().String()+" (/healthz, /readyz, /metrics) ... ok") {
		t.Errorf("check with a free port:\n%s", out.String())
	}
}
