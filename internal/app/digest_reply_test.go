package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// Issue 11: a person replying 「詳細」 in a digest's thread gets, in that
// thread, the details of every recipient the digest shows (the receiver's
// words); 「停止」 there is answered with why a digest has none, and
// mutes nothing.
func TestSlackDigestThreadReply(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.SlackAppToken = slacktest.AppToken
	for _, m := range officeMail(t)[6:11] { // the three unknown users and the two full mailboxes
		if err := srv.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 5, cfg.GroupWait)
	waitFor(t, "the digest and its thread", func() bool { return len(fake.Posts()) == 1 && len(fake.Replies()) == 1 })
	waitFor(t, "the socket mode connection", func() bool { return fake.Connections() >= 1 })
	digest := fake.Posts()[0]
	if !strings.Contains(fake.Replies()[0].Content(), "「詳細」") {
		t.Errorf("the digest's thread does not say how to ask for details:\n%s", fake.Replies()[0].Content())
	}

	fake.PushThreadReply("env-detail", slackChannel, digest.TS, "1700000600.000001", "U123", "詳細")
	waitFor(t, "the answer", func() bool { return len(fake.Replies()) >= 2 })
	ans := fake.Replies()[1]
	t.Logf("thread:\n%s\nanswer:\n%s", fake.Replies()[0].Content(), ans.Content())
	if ans.ThreadTS != digest.TS {
		t.Errorf("answer in thread %q, want the digest's %q", ans.ThreadTS, digest.TS)
	}
	for _, a := range addrRcpts {
		if !strings.Contains(ans.Content(), a) {
			t.Errorf("the answer does not name %s:\n%s", a, ans.Content())
		}
	}
	for _, w := range []string{"5.1.1", "5.2.2", "<@U123>"} {
		if !strings.Contains(ans.Content(), w) {
			t.Errorf("the answer lacks %q (the bounces' details):\n%s", w, ans.Content())
		}
	}

	fake.PushThreadReply("env-mute", slackChannel, digest.TS, "1700000600.000002", "U123", "停止")
	waitFor(t, "the answer to 停止", func() bool { return len(fake.Replies()) >= 3 })
	if c := fake.Replies()[2].Content(); !strings.Contains(c, "「停止」「解決」はありません") || !strings.Contains(c, addrRcpts[0]) {
		t.Errorf("answer to 停止 in a digest:\n%s", c)
	}
	ns, err := r.a.Notices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if d := r.detail(t, n.IncidentID); !d.MutedUntil.IsZero() {
			t.Errorf("incident %d muted by 停止 in a digest's thread", n.IncidentID)
		}
	}
	if len(fake.Posts()) != 1 {
		t.Errorf("%d top-level posts, want the one digest", len(fake.Posts()))
	}
}

// A recipient's item changes (a full mailbox that was retried fails): the
// digest is edited, and its thread gets the item's advice as it stands now,
// so the last word in the thread is not the delay's "do not resend".
func TestSlackDigestThreadFollowsTheChange(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.GroupInterval = 300 * time.Millisecond
	if err := srv.Append(fixture(t, "postfix-overquota-452-delayed.eml")); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 1, cfg.GroupWait)
	waitFor(t, "the digest and its thread", func() bool { return len(fake.Posts()) == 1 && len(fake.Replies()) == 1 })
	digest := fake.Posts()[0]
	if c := fake.Replies()[0].Content(); !strings.Contains(c, "送り直さないでください") {
		t.Errorf("the delayed item's thread does not say not to resend:\n%s", c)
	}
	if err := srv.Append(fixture(t, "postfix-mailboxfull-552.eml")); err != nil {
		t.Fatal(err)
	}
	r.waitSeen(t, 2, cfg.GroupWait)
	waitFor(t, "the thread to follow the change", func() bool { return len(fake.Replies()) >= 2 })
	r.waitSeen(t, 2)
	rs := fake.Replies()
	if len(rs) != 2 || len(fake.Posts()) != 1 {
		t.Fatalf("%d posts and %d thread replies, want the digest and 2 replies", len(fake.Posts()), len(rs))
	}
	last := rs[1].Content()
	if rs[1].ThreadTS != digest.TS || !strings.Contains(last, "状況が変わりました") || !strings.Contains(last, "届いていません") ||
		strings.Contains(last, "送り直さないでください") || !strings.Contains(last, "mori.example@partner.example.net") {
		t.Errorf("the thread's last word after the failure (thread %q):\n%s", rs[1].ThreadTS, last)
	}
}
