package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// bigDSN is an RFC 3464 report naming n unknown users (5.1.1) of
// example.com, big%d@example.com, in one message.
func bigDSN(n int) []byte {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nTo: office@example.jp\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMessage-ID: <big-" + fmt.Sprint(n) + "@mx.example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered to some recipients.\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
	for i := range n {
		fmt.Fprintf(&b, "\r\nFinal-Recipient: rfc822; big%d@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"+
			"Diagnostic-Code: smtp; 550 5.1.1 <big%d@example.com>: Recipient address rejected: User unknown\r\n", i, i)
	}
	b.WriteString("\r\n--b1--\r\n")
	return []byte(b.String())
}

// bigNamed is the set of big%d@example.com addresses named in s.
func bigNamed(s string) map[string]bool {
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`big\d+@example\.com`).FindAllString(s, -1) {
		named[m] = true
	}
	return named
}

// Issue 11: one bounce naming 1,000 unknown users gives one top-level
// digest post (not 25 of 40), short, and every recipient is named in the
// post or its thread, in replies that each fit Slack's limits.
func TestSlackHugeBounceOneDigest(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	const n = 1000
	if err := srv.Append(bigDSN(n)); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 1)
	posts := fake.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d top-level posts for one bounce of %d unknown users, want 1 digest", len(posts), n)
	}
	post := posts[0].Content()
	if !strings.Contains(post, fmt.Sprintf("%d件", n)) || !strings.Contains(post, "ほか") {
		t.Errorf("the digest does not say how many, or that more are in the thread:\n%s", post)
	}
	if len(posts[0].Blocks) > slack.MaxBlocks || len(bigNamed(post)) > 20 {
		t.Errorf("the digest post is not short: %d blocks, %d recipients named", len(posts[0].Blocks), len(bigNamed(post)))
	}
	all := post
	for _, rp := range fake.Replies() {
		if rp.ThreadTS != posts[0].TS {
			t.Errorf("a reply outside the digest's thread: %+v", rp)
		}
		if len(rp.Blocks) > slack.MaxBlocks {
			t.Errorf("a thread reply of %d blocks (Slack takes %d)", len(rp.Blocks), slack.MaxBlocks)
		}
		all += "\n" + rp.Content()
	}
	named := bigNamed(all)
	for i := range n {
		if a := fmt.Sprintf("big%d@example.com", i); !named[a] {
			t.Fatalf("%s is named neither in the digest nor in its thread (%d replies)", a, len(fake.Replies()))
		}
	}
	if strings.Contains(all, "だけを記録しました") {
		t.Error("a bounce whose every recipient was recorded is said to be cut")
	}
}

// Issue 13 item 6: a DSN naming more recipients than are recorded says so
// in the notice, in a WARN log line (once, with the count) and in a metric,
// instead of notifying the first ones without a word.
func TestTruncatedBounceIsVisible(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	if err := srv.Append(bigDSN(1500)); err != nil {
		t.Fatal(err)
	}
	truncatedVisible(t, cfg, fake)
}

// The same against Dovecot (BOUNCEWATCH_DOVECOT=1, as root).
func TestDovecotTruncatedBounceIsVisible(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	fake := slacktest.New(t)
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.Notify, cfg.SlackToken, cfg.SlackChannel, cfg.SlackAPIURL = "slack", slacktest.BotToken, slackChannel, fake.APIURL()
	srv.Append(t, "INBOX", bigDSN(1500))
	truncatedVisible(t, cfg, fake)
}

// truncatedVisible runs the app on a mailbox holding one bounce of 1,500
// unknown users and checks that the cut at 1,000 is said everywhere.
func truncatedVisible(t *testing.T, cfg app.Config, fake *slacktest.Server) {
	cfg.HTTPAddr = freeAddr(t)
	logs := &syncBuffer{}
	r := runAppWith(t, cfg, app.Options{RetryBase: 50 * time.Millisecond, Stdout: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	r.waitSeen(t, 1)
	posts := fake.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d top-level posts, want 1 digest", len(posts))
	}
	const note = "このエラーメールには 1000 件を超える宛先があり、最初の 1000 件だけを記録しました"
	if !strings.Contains(posts[0].Content(), note) {
		t.Errorf("the digest does not say the bounce was cut:\n%s", posts[0].Content())
	}
	if named := bigNamed(posts[0].Content()); named["big1000@example.com"] {
		t.Error("a recipient beyond the cap is notified")
	}
	warn := regexp.MustCompile(`level=WARN msg="bounce names more recipients than are recorded[^"]*" .*recorded=1000`)
	if got := len(warn.FindAllString(logs.String(), -1)); got != 1 {
		t.Errorf("%d WARN lines about the cut bounce, want 1:\n%.3000s", got, logs.String())
	}
	_, body := get(t, "http://"+cfg.HTTPAddr+"/metrics")
	if !strings.Contains(body, "bouncewatch_recipients_truncated_total 1") {
		t.Errorf("/metrics does not count the cut bounce:\n%s", grepLines(body, "truncated"))
	}
}

// BenchmarkNotifyHugeBounce measures, per bounce, the time from starting
// `run` on a mailbox holding one bounce of n unknown users to every
// recipient being notified in Slack (the local fake): the digest, its
// thread, and every outbox row done. It includes the group wait (300 ms).
//
//	go test -run '^$' -bench NotifyHugeBounce -benchtime 3x ./internal/app
func BenchmarkNotifyHugeBounce(b *testing.B) {
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				srv, err := demo.StartServer()
				if err != nil {
					b.Fatal(err)
				}
				if err := srv.Append(bigDSN(n)); err != nil {
					b.Fatal(err)
				}
				fake := slacktest.New(b)
				cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(b.TempDir(), "bw.db"))
				cfg.HTTPAddr, cfg.Notify, cfg.SlackToken, cfg.SlackChannel, cfg.SlackAPIURL = "", "slack", slacktest.BotToken, slackChannel, fake.APIURL()
				b.StartTimer()
				ctx, cancel := context.WithCancel(context.Background())
				a, err := app.New(ctx, cfg, app.Options{Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- a.Run(ctx) }()
				waitFor(b, "every recipient notified", func() bool {
					st, err := a.DB().Stats(context.Background())
					if err != nil || st.MessagesSeen != 1 || len(fake.Posts()) == 0 {
						return false
					}
					incs, err := a.DB().OpenIncidents(context.Background())
					if err != nil || len(incs) != n {
						return false
					}
					for _, inc := range incs {
						if inc.NextCheck.Before(time.Now().Add(horizon)) {
							return false
						}
					}
					st, err = a.DB().Stats(context.Background())
					return err == nil && st.OutboxBacklog == 0
				})
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				srv.Close()
				b.StartTimer()
			}
		})
	}
}

// Email mode: one bounce of 1,000 unknown users gives the addressee one
// digest mail (not 25), whose text stays short (「ほか N件」) and whose
// attached list names every recipient.
func TestEmailHugeBounceOneDigest(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	cfg.EmailTo = staff
	const n = 1000
	if err := srv.Append(bigDSN(n)); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 1)
	msgs := sm.received()
	if len(msgs) != 1 {
		t.Fatalf("%d mails for one bounce, want 1 digest", len(msgs))
	}
	pm := parseMail(t, msgs[0].Data)
	if !strings.HasPrefix(pm.Subject, fmt.Sprintf("【宛先ごとの配信エラー】%d件", n)) {
		t.Errorf("subject %q, want the digest of %d", pm.Subject, n)
	}
	if !strings.Contains(pm.Text, "ほか 980件") || len(bigNamed(pm.Text)) > 100 {
		t.Errorf("the text names %d recipients and does not say how many more:\n%.3000s", len(bigNamed(pm.Text)), pm.Text)
	}
	if len(msgs[0].Data) > 256<<10 {
		t.Errorf("a digest mail of %d bytes", len(msgs[0].Data))
	}
	mr, err := mail.CreateReader(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	var list string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			if name, _ := h.Filename(); name == "recipients.txt" {
				b, _ := io.ReadAll(p.Body)
				list = string(b)
			}
		}
	}
	named := bigNamed(list)
	for i := range n {
		if a := fmt.Sprintf("big%d@example.com", i); !named[a] {
			t.Fatalf("%s is not in the attached list (attachments %v)", a, pm.Attachments)
		}
	}
}

// The printed digest (stdout text) of a bounce cut at 1,000 recipients is
// one digest that says so; its short part names the first ten per group.
func TestStdoutTruncatedBounceDigest(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.HTTPAddr = ""
	if err := srv.Append(bigDSN(1200)); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	r := runAppWith(t, cfg, app.Options{RetryBase: 50 * time.Millisecond, Stdout: out, StdoutText: true})
	r.waitSeen(t, 1)
	s := out.String()
	if got := strings.Count(s, "━━━ bouncewatch 通知 (宛先ごと) ━━━"); got != 1 {
		t.Errorf("%d digests printed for one bounce, want 1", got)
	}
	if !strings.Contains(s, "このエラーメールには 1000 件を超える宛先があり、最初の 1000 件だけを記録しました") {
		t.Errorf("the printed digest does not say the bounce was cut:\n%.2000s", s)
	}
	if !strings.Contains(s, "・ほか 990件") {
		t.Errorf("the short part does not say how many more:\n%.2000s", s)
	}
	named := bigNamed(s)
	if len(named) != 1000 || named["big1000@example.com"] {
		t.Errorf("%d recipients printed, want the first 1000", len(named))
	}
}
