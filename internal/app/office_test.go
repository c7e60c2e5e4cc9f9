package app_test

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// The office batch of issue 11 (the demo's built-in morning): 4 Outlook.com
// S775 delays and 2 S3140 blocks from one sending IP, 3 unknown users at
// different providers, 2 full mailboxes, plus an ordinary mail and an
// out-of-office reply.
var (
	s775Rcpts  = []string{"taro.example@outlook.jp", "jiro.example@outlook.jp", "hanako.example@hotmail.co.jp", "saburo.example@live.jp"}
	s3140Rcpts = []string{"yoko.example@hotmail.co.jp", "ken.example@outlook.com"}
	addrRcpts  = []string{"kondo.example@partner.example.org", "ishii.example@client.example.com", "yamada.example@corp.example.net",
		"mori.example@partner.example.net", "nomura.example@shop.example.com"}
)

// officeMail returns the demo's messages in name order.
func officeMail(t testing.TB) [][]byte {
	t.Helper()
	names, err := fs.Glob(demo.Mail(), "*.eml")
	if err != nil || len(names) != 13 {
		t.Fatalf("demo mail: %v, %d files, want 13", err, len(names))
	}
	var out [][]byte
	for _, n := range names {
		b, err := fs.ReadFile(demo.Mail(), n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// visibleLen is the number of characters a person sees in a posted message.
func visibleLen(t *testing.T, c slacktest.Call) (int, string) {
	t.Helper()
	raw, err := json.Marshal(c.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var bs slackgo.Blocks
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatal(err)
	}
	return slack.VisibleLen(bs.BlockSet), slack.Visible(bs.BlockSet)
}

// officeBatchSlack delivers the office batch and checks what the channel shows.
func officeBatchSlack(t *testing.T, cfg app.Config, fake *slacktest.Server, deliver func([]byte)) {
	for _, m := range officeMail(t) {
		deliver(m)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 13)
	waitFor(t, "the notices to be sent", func() bool {
		st := r.stats(t)
		return st.OutboxBacklog == 0 && st.OpenIncidents == 7 && len(fake.Posts()) >= 3
	})
	r.waitSeen(t, 13)

	posts := fake.Posts()
	if len(posts) > 4 {
		t.Errorf("%d top-level posts, want at most 4", len(posts))
	}
	// What each top-level message shows now, and everything in its thread.
	shown := map[string]string{}
	for _, p := range posts {
		latest, _ := fake.Latest(p.TS)
		n, vis := visibleLen(t, latest)
		if n > slack.MaxVisible {
			t.Errorf("a top-level post has %d visible characters, want at most %d:\n%s", n, slack.MaxVisible, vis)
		}
		t.Logf("top-level post (%d visible characters):\n%s", n, vis)
		shown[p.TS] = latest.Content()
	}
	threads := map[string]string{}
	for _, rp := range fake.Replies() {
		threads[rp.ThreadTS] += "\n" + rp.Content()
	}
	// postOf is the top-level post naming addr, "" when none.
	postOf := func(addr string) string {
		var found []string
		for ts, c := range shown {
			if strings.Contains(c, addr) {
				found = append(found, ts)
			}
		}
		if len(found) > 1 {
			t.Errorf("%s is named in %d top-level posts, want 1", addr, len(found))
		}
		if len(found) == 0 {
			return ""
		}
		return found[0]
	}
	s775 := postOf(s775Rcpts[0])
	s3140 := postOf(s3140Rcpts[0])
	digest := postOf(addrRcpts[0])
	if s775 == "" || s3140 == "" || digest == "" || s775 == s3140 || s775 == digest || s3140 == digest {
		t.Fatalf("want the S775 incident, the S3140 incident and the address digest in three posts: %q %q %q", s775, s3140, digest)
	}
	for _, a := range s775Rcpts {
		if postOf(a) != s775 {
			t.Errorf("%s is not in the S775 post", a)
		}
	}
	for _, a := range s3140Rcpts {
		if postOf(a) != s3140 {
			t.Errorf("%s is not in the S3140 post", a)
		}
	}
	for _, a := range addrRcpts {
		if ts := postOf(a); ts != digest {
			t.Errorf("%s is not in the digest (in %q)", a, ts)
		}
	}
	if !strings.Contains(shown[s775], "203.0.113.25") || strings.Contains(shown[digest], "203.0.113.25") {
		t.Errorf("the IP problem is not apart from the address problems:\nS775:\n%s\ndigest:\n%s", shown[s775], shown[digest])
	}
	if !strings.Contains(shown[digest], "宛先の確認 3件 / 相手の受信箱 2件") {
		t.Errorf("the digest is not grouped by who acts:\n%s", shown[digest])
	}
	if !strings.Contains(shown[s775], "再送") || !strings.Contains(shown[s3140], "届いていません") {
		t.Errorf("the posts do not say whether the mail may still arrive:\nS775:\n%s\nS3140:\n%s", shown[s775], shown[s3140])
	}
	if !strings.Contains(threads[digest], "説明と対応") {
		t.Errorf("the digest's thread lacks the explanations and actions:\n%s", threads[digest])
	}

	// A delay becomes a failure for the same recipient and message: the same
	// incident's message is edited, nothing new is posted.
	before := len(fake.Posts())
	updates := len(fake.Updates())
	deliver(failureOf(t, officeMail(t)[0]))
	r.waitSeen(t, 14)
	waitFor(t, "the S775 message to be edited", func() bool { return len(fake.Updates()) > updates && r.stats(t).OutboxBacklog == 0 })
	r.waitSeen(t, 14)
	if n := len(fake.Posts()); n != before {
		t.Errorf("%d new top-level posts after a delay failed, want none", n-before)
	}
	latest, _ := fake.Latest(s775)
	if !strings.Contains(latest.Content(), "5件") || !strings.Contains(latest.Content(), s775Rcpts[0]) {
		t.Errorf("the S775 message does not show the failure:\n%s", latest.Content())
	}
	if n := r.stats(t).OpenIncidents; n != 7 {
		t.Errorf("%d open incidents after the failure, want still 7", n)
	}
}

// failureOf turns a Postfix delay warning into the final bounce of the same
// message (retries exhausted, same status).
func failureOf(t *testing.T, delay []byte) []byte {
	t.Helper()
	s := string(delay)
	for old, repl := range map[string]string{
		"Subject: Delayed Mail (still being retried)": "Subject: Undelivered Mail Returned to Sender",
		"Action: delayed":       "Action: failed",
		"Message-Id: <20261203": "Message-Id: <final.20261203",
		"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #": "# THE MAIL SYSTEM GAVE UP.                                        #",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("delay fixture lacks %q", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return []byte(s)
}

// Issue 11, done-when: the office batch on the in-process IMAP server and the
// Slack fake gives at most 4 short top-level posts, the IP problem apart from
// the address problems, every recipient named.
func TestOfficeBatchSlack(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.GroupWait = time.Second
	cfg.GroupInterval = 300 * time.Millisecond
	officeBatchSlack(t, cfg, fake, inbox(t, srv))
}

// The same against Dovecot (BOUNCEWATCH_DOVECOT=1, as root).
func TestDovecotOfficeBatchSlack(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	fake := slacktest.New(t)
	cfg := slackConfigAt(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), fake)
	// Dovecot tells an IDLE session of new mail after about half a second.
	cfg.GroupWait = 3 * time.Second
	cfg.GroupInterval = 300 * time.Millisecond
	officeBatchSlack(t, cfg, fake, func(m []byte) { srv.Append(t, "INBOX", m) })
}

// Email mode: each summary goes to the person who sent the bounced mail,
// the watched mailbox included (staff sending as office@); the summaries
// arriving in the watched mailbox start no loop.
func TestOfficeBatchEmail(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	cfg.ReplyAllow = "example.jp"
	cfg.GroupWait = time.Second
	officeBatchEmail(t, cfg, sm, inbox(t, srv))
}

// The same against Dovecot.
func TestDovecotOfficeBatchEmail(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	sm := startSMTP(t)
	cfg := emailConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), sm)
	cfg.ReplyAllow = "example.jp"
	// Dovecot tells an IDLE session of new mail after about half a second.
	cfg.GroupWait = 3 * time.Second
	officeBatchEmail(t, cfg, sm, func(m []byte) { srv.Append(t, "INBOX", m) })
}

// officeBatchEmail runs the office batch in email mode; deliver puts a
// message into the watched mailbox, cfg.IMAPUsername.
func officeBatchEmail(t *testing.T, cfg app.Config, sm *smtpBox, deliver func([]byte)) {
	t.Helper()
	for _, m := range officeMail(t) {
		deliver(m)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 13)
	waitFor(t, "the summaries", func() bool { return r.stats(t).OutboxBacklog == 0 && r.stats(t).OpenIncidents == 7 && sm.count() >= 5 })
	r.waitSeen(t, 13)
	got := map[string]int{}
	text := map[string]string{} // what each addressee read
	var toOffice [][]byte
	digests := map[string]parsedMail{}
	for _, m := range sm.received() {
		pm := parseMail(t, m.Data)
		for _, to := range m.To {
			got[to]++
			text[to] += pm.Subject + "\n" + pm.Text
			if to == cfg.IMAPUsername {
				toOffice = append(toOffice, m.Data)
			}
			if strings.HasPrefix(pm.Subject, "【宛先ごとの配信エラー】") {
				if _, dup := digests[to]; dup {
					t.Errorf("two digests for %s", to)
				}
				digests[to] = pm
			}
		}
	}
	// sales@ sent to jiro (S775) and kondo (unknown user): the S775 incident
	// and a digest of one. office@ sent to the S775 and S3140 incidents and
	// to four recipient-side items: the two incidents and one digest.
	if got["sales@example.jp"] != 2 || got[cfg.IMAPUsername] != 3 || len(got) != 2 {
		t.Errorf("summaries per recipient = %v, want 2 for sales@example.jp and 3 for the watched mailbox %s", got, cfg.IMAPUsername)
	}
	if d := digests[cfg.IMAPUsername]; !strings.Contains(d.Subject, "4件：宛先の確認 2件 / 相手の受信箱 2件") {
		t.Errorf("the watched mailbox's digest subject = %q, want 4 items grouped by who acts", d.Subject)
	}
	// Every recipient is named to the person who sent to it.
	for _, a := range append(append(append([]string{}, s775Rcpts...), s3140Rcpts...), addrRcpts[1:]...) {
		if a != "jiro.example@outlook.jp" && !strings.Contains(text[cfg.IMAPUsername], a) {
			t.Errorf("the watched mailbox was not told of %s", a)
		}
	}
	for _, a := range []string{"jiro.example@outlook.jp", addrRcpts[0]} {
		if !strings.Contains(text["sales@example.jp"], a) {
			t.Errorf("sales@example.jp was not told of %s", a)
		}
	}
	// The mail server puts the summaries for office@ into the watched
	// mailbox, and the digest to it bounces: neither mails anyone.
	before := sm.count()
	seen := int64(13)
	for _, m := range toOffice {
		deliver(m)
		seen++
	}
	deliver(summaryBounce(digests[cfg.IMAPUsername].messageID(t)))
	seen++
	r.waitSeen(t, seen)
	r.waitSeen(t, seen)
	if n := sm.count() - before; n != 0 {
		t.Errorf("%d mails after the summaries reached the watched mailbox and the digest bounced, want none", n)
	}
	// sales@ asks 詳細 in a reply to its digest: the details of its item.
	d := digests["sales@example.jp"]
	deliver(reply("sales@example.jp", "reply.digest@example.jp", d.messageID(t), "Re: "+d.Subject, "詳細"))
	msgs := waitMails(t, sm, before+1)
	ans := parseMail(t, msgs[before].Data)
	if msgs[before].To[0] != "sales@example.jp" || !strings.Contains(ans.Text, addrRcpts[0]) || !strings.Contains(ans.Text, "550") {
		t.Errorf("the answer to 詳細 (to %v) does not detail %s:\n%s", msgs[before].To, addrRcpts[0], ans.Text)
	}
}

// A digest that Slack posted but whose answer was lost is found on the
// retry: one digest, showing every item, and one thread reply.
func TestSlackDigestLostAnswerPostsOnce(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	fake.FailNext(slacktest.PostMessage, slacktest.AnswerLost)
	mail := officeMail(t)
	for _, m := range mail[6:11] { // the three unknown users and the two full mailboxes
		if err := srv.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 5)
	waitFor(t, "a retry", func() bool { return fake.Attempts(slacktest.PostMessage) >= 2 && r.stats(t).OutboxBacklog == 0 })
	r.waitSeen(t, 5)
	posts := fake.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1 digest (the retry must find the one Slack did post)", len(posts))
	}
	latest, _ := fake.Latest(posts[0].TS)
	for _, a := range addrRcpts {
		if !strings.Contains(latest.Content(), a) {
			t.Errorf("the digest does not name %s:\n%s", a, latest.Content())
		}
	}
	if n := len(fake.Replies()); n != 1 {
		t.Errorf("%d thread replies, want 1 (the explanations)", n)
	}
}

// A recipient's item changes (a full mailbox that was retried fails): the
// digest that shows it is edited in place; nothing new is posted.
func TestSlackDigestEditedWhenItemChanges(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.GroupInterval = 300 * time.Millisecond
	if err := srv.Append(fixture(t, "postfix-overquota-452-delayed.eml")); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 1)
	waitFor(t, "the digest", func() bool { return len(fake.Posts()) == 1 })
	digest := fake.Posts()[0]
	if !strings.Contains(digest.Content(), "再送中") {
		t.Errorf("the delayed item does not say it is retried:\n%s", digest.Content())
	}
	if err := srv.Append(fixture(t, "postfix-mailboxfull-552.eml")); err != nil {
		t.Fatal(err)
	}
	r.waitSeen(t, 2)
	waitFor(t, "the digest to be edited", func() bool { return len(fake.Updates()) > 0 && r.stats(t).OutboxBacklog == 0 })
	r.waitSeen(t, 2)
	if n := len(fake.Posts()); n != 1 {
		t.Errorf("%d top-level posts, want the one digest", n)
	}
	latest, _ := fake.Latest(digest.TS)
	if !strings.Contains(latest.Content(), "mori.example@partner.example.net") || !strings.Contains(latest.Content(), "届いていません・2通") {
		t.Errorf("the edited digest does not show the failure:\n%s", latest.Content())
	}
}
