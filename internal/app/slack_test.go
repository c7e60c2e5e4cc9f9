package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

const slackChannel = "C0BOUNCE"

func slackConfig(t *testing.T, srv *demo.Server, fake *slacktest.Server, db string) app.Config {
	return slackConfigAt(srv.Addr, srv.User, srv.Password, db, fake)
}

// slackConfigAt is the config that watches the IMAP mailbox at imapAddr
// and posts to the fake Slack.
func slackConfigAt(imapAddr, user, pass, db string, fake *slacktest.Server) app.Config {
	cfg := testConfig(imapAddr, user, pass, db)
	cfg.HTTPAddr = ""
	cfg.Notify = "slack"
	cfg.SlackToken = slacktest.BotToken
	cfg.SlackChannel = slackChannel
	cfg.SlackAPIURL = fake.APIURL()
	return cfg
}

func outlookAddr(i int) string { return fmt.Sprintf("user%d.example@outlook.jp", i) }

// postsNaming returns the top-level posts whose text names addr.
func postsNaming(fake *slacktest.Server, addr string) []slacktest.Call {
	var out []slacktest.Call
	for _, p := range fake.Posts() {
		if strings.Contains(p.Content(), addr) {
			out = append(out, p)
		}
	}
	return out
}

// Issue 5: five Outlook bounces from one IP give one Slack message counting
// five and naming them; a Gmail bounce is its own message; a restart posts
// nothing again.
func TestSlackOneMessagePerIncidentAcrossRestart(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.GroupInterval = 300 * time.Millisecond // updates allowed, quickly
	for i := 0; i < 5; i++ {
		srv.Append(outlookBounce(t, outlookAddr(i), ""))
	}
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))

	r := runApp(t, cfg)
	r.waitSeen(t, 6)
	waitFor(t, "two posts", func() bool { return len(fake.Posts()) >= 2 })

	posts := fake.Posts()
	if len(posts) != 2 {
		t.Fatalf("posts = %d, want 2 (Outlook, Gmail)", len(posts))
	}
	outlook := postsNaming(fake, outlookAddr(0))
	if len(outlook) != 1 {
		t.Fatalf("Outlook incident posted %d times, want 1", len(outlook))
	}
	if p := outlook[0]; p.Channel != slackChannel || p.ThreadTS != "" {
		t.Errorf("Outlook post in %s thread %q", p.Channel, p.ThreadTS)
	}
	shown, _ := fake.Latest(outlook[0].TS)
	text := shown.Content()
	if !strings.Contains(text, "5件") {
		t.Errorf("Outlook message does not count 5件:\n%s", text)
	}
	for i := 0; i < 5; i++ {
		if !strings.Contains(text, outlookAddr(i)) {
			t.Errorf("Outlook message does not name %s", outlookAddr(i))
		}
	}
	if !strings.Contains(text, "203.0.113.25") {
		t.Errorf("Outlook message lacks the sending IP")
	}
	gmail := postsNaming(fake, "user0001@gmail.com")
	if len(gmail) != 1 || gmail[0].TS == outlook[0].TS {
		t.Fatalf("Gmail incident posted %d times (want 1, its own message)", len(gmail))
	}
	if strings.Contains(gmail[0].Content(), outlookAddr(0)) {
		t.Errorf("the Gmail message names an Outlook recipient")
	}
	for _, u := range fake.Updates() {
		if u.TS != outlook[0].TS && u.TS != gmail[0].TS {
			t.Errorf("update of an unknown message %s", u.TS)
		}
	}
	r.stop()

	// Restart on the same database: nothing is posted or edited again.
	postsBefore, updatesBefore := fake.Attempts(slacktest.PostMessage), fake.Attempts(slacktest.Update)
	srv.Append(ordinary(1))
	r = runApp(t, cfg)
	r.waitSeen(t, 7)
	r.stop()
	if n := fake.Attempts(slacktest.PostMessage) - postsBefore; n != 0 {
		t.Errorf("after restart %d chat.postMessage calls, want none", n)
	}
	if n := fake.Attempts(slacktest.Update) - updatesBefore; n != 0 {
		t.Errorf("after restart %d chat.update calls, want none (nothing changed)", n)
	}
}

// Issue 5: Slack rate-limiting then failing for a while, then recovering:
// every notification is delivered, each incident posted exactly once, and
// bounces that arrived during the outage are in the message.
func TestSlackOutageThenRecoveryDeliversOnce(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.GroupInterval = 300 * time.Millisecond

	fake.FailNext(slacktest.PostMessage, slacktest.RateLimited, slacktest.InternalErr)
	releasePost := fake.Down(slacktest.PostMessage, slacktest.ServerError)
	releaseUpdate := fake.Down(slacktest.Update, slacktest.Unavailable)
	for i := 0; i < 5; i++ {
		srv.Append(outlookBounce(t, outlookAddr(i), ""))
	}
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	r := runApp(t, cfg)
	waitFor(t, "several failed posts", func() bool { return fake.Attempts(slacktest.PostMessage) >= 6 })
	// More bounces of the Outlook incident while Slack is down.
	srv.Append(outlookBounce(t, outlookAddr(5), ""))
	srv.Append(outlookBounce(t, outlookAddr(6), ""))
	waitFor(t, "the bounces of the outage recorded", func() bool { return r.stats(t).MessagesSeen >= 8 })
	waitFor(t, "the update of the outage's bounces decided", func() bool { return r.decided(t) })
	if n := len(fake.Posts()); n != 0 {
		t.Fatalf("%d posts while Slack was down", n)
	}
	if r.stats(t).OutboxBacklog == 0 {
		t.Fatal("nothing waits in the outbox while Slack is down")
	}
	releasePost()
	releaseUpdate()
	waitFor(t, "the outbox to drain after recovery", func() bool { return len(fake.Posts()) >= 2 })
	r.waitSeen(t, 8)

	if n := len(fake.Posts()); n != 2 {
		t.Errorf("posts = %d, want 2", n)
	}
	outlook := postsNaming(fake, outlookAddr(0))
	if len(outlook) != 1 {
		t.Fatalf("Outlook incident posted %d times, want exactly 1", len(outlook))
	}
	if n := len(postsNaming(fake, "user0001@gmail.com")); n != 1 {
		t.Errorf("Gmail incident posted %d times, want exactly 1", n)
	}
	shown, _ := fake.Latest(outlook[0].TS)
	named := shown.Content()
	for _, rp := range fake.Replies() {
		if rp.ThreadTS == outlook[0].TS {
			named += "\n" + rp.Content()
		}
	}
	if !strings.Contains(shown.Content(), "7件") || !strings.Contains(named, outlookAddr(6)) {
		t.Errorf("after recovery the Outlook message and its thread do not show all 7 bounces:\n%s", named)
	}
}

// Issue 6: in Slack, a thread reply or a button gets its answer in the
// thread; mute silences the incident for a day; resolve closes it so the
// same cause opens a new incident; every envelope is acknowledged; other
// bots are ignored.
func TestSlackThreadRepliesAndButtons(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.SlackAppToken = slacktest.AppToken
	cfg.GroupInterval = 300 * time.Millisecond
	for i := 0; i < 3; i++ {
		srv.Append(outlookBounce(t, outlookAddr(i), ""))
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 3)
	waitFor(t, "the incident's post", func() bool { return len(fake.Posts()) == 1 })
	waitFor(t, "the socket mode connection", func() bool { return fake.Connections() >= 1 })
	post := fake.Posts()[0]
	incID := slackIncident(t, r, post.TS)
	id := strconv.FormatInt(incID, 10)

	repliesWith := func(n int) []slacktest.Call {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d thread replies", n), func() bool { return len(fake.Replies()) >= n })
		return fake.Replies()
	}
	namesAll := func(c slacktest.Call) {
		t.Helper()
		for i := 0; i < 3; i++ {
			if !strings.Contains(c.Content(), outlookAddr(i)) {
				t.Errorf("detail in the thread does not name %s:\n%s", outlookAddr(i), c.Content())
			}
		}
	}

	// A person's reply in the thread gets the detail there.
	fake.PushThreadReply("env-reply", slackChannel, post.TS, "1700000500.000001", "U123", "詳細")
	rs := repliesWith(1)
	if rs[0].ThreadTS != post.TS || rs[0].Channel != slackChannel {
		t.Errorf("answer went to %s thread %q, want thread %s", rs[0].Channel, rs[0].ThreadTS, post.TS)
	}
	namesAll(rs[0])

	// Another bot writing in the thread is ignored.
	fake.PushBotThreadReply("env-bot", slackChannel, post.TS, "1700000500.000002", "B999", "詳細")
	// 詳細を見る answers in the thread too.
	fake.PushAction("env-detail", "bw_detail", id, slackChannel, post.TS, "U123")
	rs = repliesWith(2)
	if rs[1].ThreadTS != post.TS {
		t.Errorf("detail button answered in thread %q", rs[1].ThreadTS)
	}
	namesAll(rs[1])
	// The bot's message came before the button: had it been taken for a
	// person's, its answer would be out before the button's.
	r.waitSeen(t, 3)
	if n := len(fake.Replies()); n != 2 {
		t.Errorf("%d thread replies after a bot's message, want 2 (bots are ignored)", n)
	}

	// Mute: a note in the thread, the incident muted for about a day, and
	// new bounces of it notify no one.
	before := time.Now()
	fake.PushAction("env-mute", "bw_mute", id, slackChannel, post.TS, "U123")
	rs = repliesWith(3)
	if !strings.Contains(rs[2].Content(), "停止") || rs[2].ThreadTS != post.TS {
		t.Errorf("mute answer = %q in thread %q", rs[2].Content(), rs[2].ThreadTS)
	}
	det := r.detail(t, incID)
	if d := det.MutedUntil.Sub(before); d < 23*time.Hour+59*time.Minute || d > 24*time.Hour+time.Minute {
		t.Errorf("muted until %v, want about 24h from now (%v)", det.MutedUntil, d)
	}
	r.waitSeen(t, 3)
	posts, updates, replies := len(fake.Posts()), len(fake.Updates()), len(fake.Replies())
	srv.Append(outlookBounce(t, outlookAddr(3), ""))
	srv.Append(outlookBounce(t, outlookAddr(4), ""))
	waitFor(t, "the muted incident to grow", func() bool { return r.detail(t, incID).Count == 5 })
	// Were the mute ignored, an update would be due after the group
	// interval and waitSeen would wait for it to be posted.
	r.waitSeen(t, 5)
	if p, u, rp := len(fake.Posts()), len(fake.Updates()), len(fake.Replies()); p != posts || u != updates || rp != replies {
		t.Errorf("while muted: posts %d→%d, updates %d→%d, replies %d→%d; want no change", posts, p, updates, u, replies, rp)
	}

	// Resolve: a note in the thread, the incident closed; the same cause
	// then opens a new incident with a new message.
	fake.PushAction("env-resolve", "bw_resolve", id, slackChannel, post.TS, "U123")
	rs = repliesWith(4)
	if !strings.Contains(rs[3].Content(), "解決済み") || rs[3].ThreadTS != post.TS {
		t.Errorf("resolve answer = %q in thread %q", rs[3].Content(), rs[3].ThreadTS)
	}
	waitFor(t, "the incident resolved", func() bool { return r.detail(t, incID).State == "resolved" })
	srv.Append(outlookBounce(t, outlookAddr(7), ""))
	waitFor(t, "a new post for the new incident", func() bool { return len(postsNaming(fake, outlookAddr(7))) == 1 })
	np := postsNaming(fake, outlookAddr(7))[0]
	newID := slackIncident(t, r, np.TS)
	if newID == incID || np.TS == post.TS {
		t.Errorf("a bounce after resolve went to the resolved incident %d", incID)
	}
	if strings.Contains(np.Content(), outlookAddr(0)) {
		t.Errorf("the new incident's message names a recipient of the resolved one")
	}

	for _, env := range []string{"env-reply", "env-bot", "env-detail", "env-mute", "env-resolve"} {
		if !fake.Acked(env) {
			t.Errorf("envelope %s not acknowledged", env)
		}
	}
}

// Issue 5: when Slack posted the message but its answer was lost, the retry
// finds that message instead of posting a second one.
func TestSlackLostAnswerPostsOnce(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	fake.FailNext(slacktest.PostMessage, slacktest.AnswerLost)
	for i := 0; i < 2; i++ {
		srv.Append(outlookBounce(t, outlookAddr(i), ""))
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 2)
	waitFor(t, "a retry", func() bool { return fake.Attempts(slacktest.PostMessage) >= 1 && r.stats(t).OutboxBacklog == 0 })
	r.waitSeen(t, 2)
	if n := len(fake.Posts()); n != 1 {
		t.Fatalf("%d posts, want 1 (the retry must find the message Slack did post)", n)
	}
	ts := fake.Posts()[0].TS
	if id, err := r.a.DB().IncidentBySlackTS(context.Background(), slackChannel, ts); err != nil || id == 0 {
		t.Errorf("the posted message is not recorded as the incident's: %v", err)
	}
}

// A thread answer whose answer from Slack is lost is found on the retry, not
// posted a second time.
func TestSlackLostThreadAnswerPostsOnce(t *testing.T) {
	t.Parallel()
	srv, fake, cfg := startSlackApp(t)
	cfg.SlackAppToken = slacktest.AppToken
	srv.Append(outlookBounce(t, outlookAddr(0), ""))
	r := runApp(t, cfg)
	r.waitSeen(t, 1)
	waitFor(t, "the incident's post", func() bool { return len(fake.Posts()) == 1 })
	waitFor(t, "the socket mode connection", func() bool { return fake.Connections() >= 1 })
	post := fake.Posts()[0]
	incID := slackIncident(t, r, post.TS)
	fake.FailNext(slacktest.PostMessage, slacktest.AnswerLost)
	fake.PushAction("env-detail", "bw_detail", strconv.FormatInt(incID, 10), slackChannel, post.TS, "U123")
	waitFor(t, "the answer delivered", func() bool {
		return fake.Attempts(slacktest.PostMessage) >= 2 && r.stats(t).OutboxBacklog == 0
	})
	r.waitSeen(t, 1)
	if n := len(fake.Replies()); n != 1 {
		t.Errorf("%d thread answers, want 1 (the retry must find the one Slack posted)", n)
	}
}

// slackIncident waits until the store records a posted message's ts (the
// fake sees the post a moment before the sender stores it) and returns the
// incident it belongs to.
func slackIncident(t *testing.T, r *running, ts string) int64 {
	t.Helper()
	var id int64
	waitFor(t, "the message recorded as the incident's", func() bool {
		got, err := r.a.DB().IncidentBySlackTS(context.Background(), slackChannel, ts)
		id = got
		return err == nil && got != 0
	})
	return id
}
