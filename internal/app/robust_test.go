package app_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/logging"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
	"github.com/bouncewatch/bouncewatch/internal/store"
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
	t.Parallel()
	srv := startIMAP(t)
	hugeHeaderLine(t, srv.Addr, srv.User, srv.Password, inbox(t, srv))
}

func TestDovecotHugeHeaderLineBoundedInStoreAndLog(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	hugeHeaderLine(t, srv.Addr, srv.User, srv.Password, func(m []byte) { srv.Append(t, "INBOX", m) })
}

func hugeHeaderLine(t *testing.T, addr, user, password string, deliver mailbox) {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "bw.db")
	cfg := testConfig(addr, user, password, dbPath)
	cfg.HTTPAddr = ""
	deliver(hugeHeaderMail())
	deliver(fixture(t, "postfix-userunknown.eml"))

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
	t.Parallel()
	srv := startIMAP(t)
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

// A Slack notice that a process had in flight when it died (leased, and
// posted without the answer recorded) is finished at once by the next
// process, not after the two-minute lease, and not posted twice.
func TestRestartFinishesRowInFlightAtOnce(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	dbPath := cfg.DB
	cfg.GroupWait = time.Hour // the first process records, the test makes the notice due
	srv.Append(outlookBounce(t, outlookAddr(1), ""))
	r := runApp(t, cfg)
	waitFor(t, "the bounce recorded", func() bool { return r.stats(t).MessagesSeen == 1 })
	r.stop()

	// What the dead process left: the first notice due, leased for two
	// minutes, and posted to Slack, but Slack's answer never recorded.
	ctx := context.Background()
	db, err := store.Open(ctx, dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE incidents SET next_check_at = 0`); err != nil { // the group wait is over
		t.Fatal(err)
	}
	raw.Close()
	now := time.Now()
	timing := incident.Timing{GroupWait: time.Millisecond}.WithDefaults()
	if _, err := db.Tick(ctx, now, timing, []string{store.TargetSlack}); err != nil {
		t.Fatal(err)
	}
	items, err := db.NextOutbox(ctx, now, 10, 2*time.Minute)
	if err != nil || len(items) != 1 || items[0].Kind != store.KindFirst {
		t.Fatalf("leased = %+v, %v", items, err)
	}
	n := slack.New(slack.Config{Token: slacktest.BotToken, APIURL: fake.APIURL()}, slog.New(slog.DiscardHandler))
	if _, err := n.PostKeyed(ctx, slackChannel, items[0].IdempotencyKey(), notify.Notice{IncidentID: items[0].IncidentID, Kind: notify.KindFirst, Count: 1}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	started := time.Now()
	r = runApp(t, cfg)
	waitFor(t, "the notice in flight finished", func() bool { return r.stats(t).OutboxBacklog == 0 })
	if took := time.Since(started); took > time.Minute {
		t.Errorf("the notice in flight took %v, as long as its lease", took)
	}
	r.stop()
	if n := len(fake.Posts()); n != 1 {
		t.Errorf("%d posts, want the one the dead process made", n)
	}
	if n := len(fake.Updates()); n != 1 {
		t.Errorf("%d updates, want 1 (the found message shows the current state)", n)
	}
	if shown, _ := fake.Latest(fake.Posts()[0].TS); !strings.Contains(shown.Content(), outlookAddr(1)) {
		t.Errorf("the message does not show the incident:\n%s", shown.Content())
	}
}

// A 429 with Retry-After pauses the whole workspace: while Slack is
// rate-limiting, one request is made, not one per incident; afterwards the
// incidents are posted oldest first, each once.
func TestSlackRetryAfterIsWorkspaceWide(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	release := fake.Down(slacktest.PostMessage, slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "2"})
	srv.Append(outlookBounce(t, outlookAddr(1), ""))
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	// Three incidents of the sending side, each its own message (an unknown
	// address would go to a digest with its thread: two posts).
	srv.Append(fixture(t, "spamhaus-ocn-blocked.eml"))
	r := runApp(t, cfg)
	waitFor(t, "the first, rate-limited post", func() bool { return fake.Attempts(slacktest.PostMessage) >= 1 })
	// The sync point: every row has been handed to the sender and is
	// waiting (none leased, none due), which it can only be after the
	// sender met each incident's row during the Retry-After.
	waitFor(t, "the three notices waiting for the pause to end", func() bool {
		if r.stats(t).OutboxBacklog != 3 {
			return false
		}
		at, ok, err := r.a.DB().NextOutboxAt(context.Background())
		now := time.Now()
		return err == nil && ok && at.After(now) && at.Before(now.Add(time.Minute)) // due later, not leased (2 min)
	})
	if n := fake.Attempts(slacktest.PostMessage) + fake.Attempts(slacktest.History); n != 1 {
		t.Errorf("%d requests during the Retry-After, want 1", n)
	}
	release()
	waitFor(t, "three posts", func() bool { return len(fake.Posts()) == 3 && r.stats(t).OutboxBacklog == 0 })
	if n := fake.Attempts(slacktest.PostMessage); n != 4 {
		t.Errorf("%d chat.postMessage calls, want 4 (one refused, one per incident)", n)
	}
	var last int64
	for _, p := range fake.Posts() {
		id := slackIncident(t, r, p.TS)
		if id < last {
			t.Errorf("incident %d posted after incident %d: not oldest first", id, last)
		}
		last = id
	}
}

// A summary for two senders: the mail to one is accepted and recorded on
// the row before the other is tried, so when the other's server defers it
// and the process restarts, only the other is mailed, once.
func TestEmailEachRecipientRecordedAcrossRestart(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	const boss = "boss@example.jp"
	sm.refuseRcpt(boss, 1<<20) // deferred until the test says
	srv.Append(outlookBounce(t, "a.example@outlook.jp", staff))
	srv.Append(outlookBounce(t, "b.example@outlook.jp", boss))
	r := runApp(t, cfg)
	waitMails(t, sm, 1)
	waitFor(t, "the mail to the boss deferred a few times", func() bool {
		sm.mu.Lock()
		defer sm.mu.Unlock()
		return sm.failRcpt[boss] < 1<<20-2
	})
	r.stop()

	sm.refuseRcpt(boss, 0)
	r = runApp(t, cfg)
	waitMails(t, sm, 2)
	waitFor(t, "the outbox to drain", func() bool { return r.stats(t).OutboxBacklog == 0 })
	r.stop()
	got := perAddressee(sm)
	if got[staff] != 1 || got[boss] != 1 || len(got) != 2 {
		t.Errorf("mails per recipient = %v, want one each for %s and %s", got, staff, boss)
	}
}
