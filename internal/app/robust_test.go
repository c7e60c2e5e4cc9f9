package app_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/logging"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// hugeHeaderMail is a bounce-looking mail with a 1 MB malformed header line
// holding invalid UTF-8: anyone can send it to the shared mailbox.
func hugeHeaderMail() []byte {
	return []byte("From: MAILER-DAEMON@example.net\r\nTo: office@example.jp\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <huge.1@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n" +
		"\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: message/delivery-status\r\n" +
		strings.Repeat("\x01\xff<a>\"", 1<<20/6) + "\r\n\r\nReporting-MTA: dns; mx.example.net\r\n--b--\r\n")
}

// The mail with a 1 MB malformed header line is recorded with a bounded,
// valid error, and the warning about it is a bounded log line; the mail
// after it is still triaged.
func TestHugeHeaderLineBoundedInStoreAndLog(t *testing.T) {
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dbPath := filepath.Join(t.TempDir(), "bw.db")
	cfg := testConfig(srv.Addr, srv.User, srv.Password, dbPath)
	cfg.HTTPAddr = ""
	srv.Append(hugeHeaderMail())
	srv.Append(fixture(t, "postfix-userunknown.eml"))

	logs := &syncBuffer{}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{Stdout: out, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "the bounce after the huge mail", func() bool { return count(out.events(t), "report", nil) >= 1 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}

	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if len(line) > 4*logging.MaxValue {
			t.Errorf("log line of %d bytes: %.120s", len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("log line not valid UTF-8: %.120q", line)
		}
		warned = warned || strings.Contains(line, "malformed MIME header line")
	}
	if !warned {
		t.Errorf("no warning names the malformed header:\n%.2000s", logs.String())
	}

	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e string
	if err := db.QueryRow(`SELECT error FROM messages WHERE message_id = 'huge.1@example.net'`).Scan(&e); err != nil {
		t.Fatal(err)
	}
	if len(e) > safetext.MaxError || !utf8.ValidString(e) || !strings.Contains(e, "malformed MIME header line") {
		t.Errorf("messages.error of %d bytes (valid UTF-8 %v): %.80q", len(e), utf8.ValidString(e), e)
	}
}

// A busy metrics port does not stop the watcher: bounces are still
// triaged and notified, the conflict is logged once, and the endpoints come
// up once the port is free. Stopping is a normal stop.
func TestBusyMetricsPortKeepsWatching(t *testing.T) {
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
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.HTTPAddr = busy.Addr().String()
	srv.Append(fixture(t, "heteml-outlookjp-ratelimit-failed.eml"))

	logs, out := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, app.Options{Stdout: out, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "the report and its notice", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v", err)
		default:
		}
		evs := out.events(t)
		return count(evs, "report", nil) == 1 && count(evs, "incident", nil) == 1
	})
	srv.Append(fixture(t, "postfix-userunknown.eml"))
	waitFor(t, "the second report", func() bool { return count(out.events(t), "report", nil) == 2 })
	if n := strings.Count(logs.String(), "http endpoints (/healthz, /readyz, /metrics) unavailable"); n != 1 {
		t.Errorf("the busy port was logged %d times, want once:\n%s", n, logs.String())
	}

	busy.Close()
	waitFor(t, "/healthz once the port is free", func() bool { c, _ := get(t, "http://"+cfg.HTTPAddr+"/healthz"); return c == 200 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v, want a normal stop", err)
	}
}
