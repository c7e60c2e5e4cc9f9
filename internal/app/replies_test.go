package app_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/notify/email"
)

// inProcess starts the in-process IMAP server and returns the config for it
// and how to deliver into it.
func inProcess(t *testing.T, sm *smtpBox) (app.Config, mailbox) {
	t.Helper()
	srv := startIMAP(t)
	cfg := emailConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), sm)
	return cfg, inbox(t, srv)
}

// inDovecot starts a throwaway Dovecot (when BOUNCEWATCH_DOVECOT=1, else
// the test is skipped) and returns the config for it and how to deliver.
func inDovecot(t *testing.T, sm *smtpBox) (app.Config, mailbox) {
	t.Helper()
	srv := dovecottest.Start(t, nil)
	cfg := emailConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), sm)
	return cfg, func(m []byte) { srv.Append(t, "INBOX", m) }
}

// onMailbox runs a reply scenario, in parallel, against the SMTP test
// server and the mailbox that open gives (in-process or Dovecot).
func onMailbox(t *testing.T, open func(*testing.T, *smtpBox) (app.Config, mailbox), scenario func(*testing.T, app.Config, *smtpBox, mailbox)) {
	t.Helper()
	t.Parallel()
	sm := startSMTP(t)
	cfg, deliver := open(t, sm)
	scenario(t, cfg, sm, deliver)
}

// poisonedReply is issue 13's first defect: a reply whose token verifies
// under the key but names an incident the database does not have (the
// database was recreated while BOUNCEWATCH_SECRET was kept). It used to fail
// every commit of its batch on a foreign key, so that no later bounce was
// ever recorded. Now it is recorded and passed over, and the bounce after
// it is recorded and notified.
func poisonedReply(t *testing.T, cfg app.Config, sm *smtpBox, deliver mailbox) {
	t.Helper()
	cfg.Secret = "a-secret-kept-across-a-recreated-database"
	token := email.MakeToken([]byte(cfg.Secret), 4242, "old")
	r := runApp(t, cfg)
	deliver(reply(staff, "reply.poison@example.jp", email.MessageID(token, "example.jp"), "Re: 【配信エラー】", "停止"))
	deliver(outlookBounce(t, "a.example@outlook.jp", staff))
	r.waitSeen(t, 2)
	if st := r.stats(t); st.Reports != 1 || st.OpenIncidents != 1 {
		t.Errorf("after the poisoned reply: %d reports, %d open incidents; want the bounce recorded and grouped", st.Reports, st.OpenIncidents)
	}
	msgs := waitMails(t, sm, 1)
	if len(msgs) != 1 || msgs[0].To[0] != staff {
		t.Errorf("mails = %d, want the summary of the later bounce only", len(msgs))
	}
}

func TestEmailPoisonedReplyDoesNotStopTheMailbox(t *testing.T) {
	onMailbox(t, inProcess, poisonedReply)
}

func TestDovecotPoisonedReplyDoesNotStopTheMailbox(t *testing.T) {
	onMailbox(t, inDovecot, poisonedReply)
}

// Issue 13: 「原文」 returns only the bounces of mail the requester sent; a
// colleague's returned mail (with its body) stays out, and the answer says
// how many were left out.
func TestEmailRawOnlyRequestersOwnBounces(t *testing.T) {
	onMailbox(t, inProcess, rawOnlyOwn)
}

func TestDovecotRawOnlyRequestersOwnBounces(t *testing.T) {
	onMailbox(t, inDovecot, rawOnlyOwn)
}

func rawOnlyOwn(t *testing.T, cfg app.Config, sm *smtpBox, deliver mailbox) {
	t.Helper()
	const boss = "boss@example.jp"
	const secret = "CONFIDENTIAL-BOSS-BODY"
	// In the mailbox before the start: one batch, one incident, one
	// summary to each sender.
	deliver(outlookBounce(t, "a.example@outlook.jp", staff))
	deliver(outlookBounce(t, "b.example@outlook.jp", "Staff+sales@Example.JP"))
	colleague := strings.Replace(string(outlookBounce(t, "c.example@outlook.jp", boss)), "User-Agent: Mozilla Thunderbird\n\n",
		"User-Agent: Mozilla Thunderbird\n\n"+secret+"\n", 1)
	if !strings.Contains(colleague, secret) {
		t.Fatal("fixture changed: the colleague's body was not planted")
	}
	deliver([]byte(colleague))
	r := runApp(t, cfg)
	r.waitSeen(t, 3)
	var sid string
	for _, m := range waitMails(t, sm, 2) {
		if m.To[0] == staff {
			sid = parseMail(t, m.Data).messageID(t)
		}
	}
	if sid == "" {
		t.Fatal("no summary to staff")
	}
	before := sm.count()
	deliver(reply(staff, "reply.raw.own@example.jp", sid, "Re: x", "原文"))
	msgs := waitMails(t, sm, before+1)
	ans := msgs[before]
	if ans.To[0] != staff {
		t.Fatalf("原文 answer went to %v", ans.To)
	}
	if bytes.Contains(ans.Data, []byte(secret)) {
		t.Error("原文 answer carries the colleague's returned mail")
	}
	pm := parseMail(t, ans.Data)
	if len(pm.Attachments) != 2 {
		t.Errorf("原文 answer has %d attachments, want staff's 2 (one sent as staff+sales)", len(pm.Attachments))
	}
	if !strings.Contains(pm.Text, "ほかの方が送ったメールのエラーメール 1 通") {
		t.Errorf("原文 answer does not say one was left out:\n%s", pm.Text)
	}
}

// Issue 13: without the mailbox server's authentication, 停止 by mail is
// refused politely (Slack only) and the incident is not muted; with a
// failing DMARC nothing is answered; with a pass the mute is applied.
func TestEmailForgedFromCannotMute(t *testing.T) {
	onMailbox(t, inProcess, forgedFromCannotMute)
}

func TestDovecotForgedFromCannotMute(t *testing.T) {
	onMailbox(t, inDovecot, forgedFromCannotMute)
}

func forgedFromCannotMute(t *testing.T, cfg app.Config, sm *smtpBox, deliver mailbox) {
	t.Helper()
	cfg.ReplyAuthserv = "mx.example.jp"
	r := runApp(t, cfg)
	deliver(outlookBounce(t, "a.example@outlook.jp", staff))
	r.waitSeen(t, 1)
	summary := parseMail(t, waitMails(t, sm, 1)[0].Data)
	sid := summary.messageID(t)
	var incID int64
	fmt.Sscanf(sid, "bw.%d.", &incID)

	deliver(reply(staff, "reply.mute.unauth@example.jp", sid, "Re: x", "停止"))
	ans := parseMail(t, waitMails(t, sm, 2)[1].Data)
	if !strings.Contains(ans.Text, "メールでは受け付けていません") || !strings.Contains(ans.Text, "Slack") {
		t.Errorf("the refusal does not say to use Slack:\n%s", ans.Text)
	}
	if strings.Contains(ans.Text, "停止しました") {
		t.Error("the refusal says the incident was muted")
	}
	if det := r.detail(t, incID); !det.MutedUntil.IsZero() {
		t.Errorf("an unauthenticated 停止 muted the incident until %v", det.MutedUntil)
	}

	deliver(reply("boss@example.jp", "reply.mute.fail@example.jp", sid, "Re: x", "停止",
		"Authentication-Results: mx.example.jp; spf=fail smtp.mailfrom=example.jp; dmarc=fail header.from=example.jp"))
	r.waitSeen(t, 3)
	if n := sm.count(); n != 2 {
		t.Errorf("%d mails after a reply failing DMARC, want no answer", n)
	}
	if det := r.detail(t, incID); !det.MutedUntil.IsZero() {
		t.Errorf("a 停止 failing DMARC muted the incident until %v", det.MutedUntil)
	}

	deliver(reply(staff, "reply.mute.pass@example.jp", sid, "Re: x", "停止",
		"Authentication-Results: mx.example.jp; dkim=pass header.d=example.jp; dmarc=pass header.from=example.jp"))
	ans = parseMail(t, waitMails(t, sm, 3)[2].Data)
	if !strings.Contains(ans.Text, "停止しました") {
		t.Errorf("an authenticated 停止 is not confirmed:\n%s", ans.Text)
	}
	if det := r.detail(t, incID); det.MutedUntil.IsZero() {
		t.Error("an authenticated 停止 did not mute the incident")
	}
}

// Issue 13: a forged bounce naming staff as the sender carries a stranger's
// link; the summary mailed to staff shows it as plain text, while the
// provider's own page stays a link.
func TestEmailBounceLinksArePlainText(t *testing.T) {
	t.Parallel()
	sm := startSMTP(t)
	cfg, deliver := inProcess(t, sm)
	r := runApp(t, cfg)
	m := strings.ReplaceAll(string(outlookBounce(t, "a.example@outlook.jp", staff)),
		"information, see https://postmaster.live.com (S775)",
		"information, see https://postmaster.live.com (S775) or reset at https://login.example.net/reset")
	deliver([]byte(m))
	r.waitSeen(t, 1)
	pm := parseMail(t, waitMails(t, sm, 1)[0].Data)
	if strings.Contains(string(pm.Raw), "https://login.example.net") || strings.Contains(pm.Text, "https://login.example.net") {
		t.Error("the stranger's link is mailed as a link")
	}
	if !strings.Contains(pm.Text, "hxxps://login[.]example[.]net/reset") {
		t.Errorf("the stranger's link is not shown as plain text:\n%s", pm.Text)
	}
	if !strings.Contains(pm.Text, "https://postmaster.live.com") {
		t.Errorf("the provider's page is not a link any more:\n%s", pm.Text)
	}
}

// Issue 13: 20 replies 「原文」 from sato+N@ (one mailbox behind many
// addresses) used to get 20 answers; now a handful.
func TestEmailReplyFloodFromPlusAddresses(t *testing.T) {
	onMailbox(t, inProcess, plusAddressFlood)
}

func TestDovecotReplyFloodFromPlusAddresses(t *testing.T) {
	onMailbox(t, inDovecot, plusAddressFlood)
}

func plusAddressFlood(t *testing.T, cfg app.Config, sm *smtpBox, deliver mailbox) {
	t.Helper()
	r := runApp(t, cfg)
	deliver(outlookBounce(t, "a.example@outlook.jp", staff))
	r.waitSeen(t, 1)
	sid := parseMail(t, waitMails(t, sm, 1)[0].Data).messageID(t)
	const flood = 20
	for i := range flood {
		deliver(reply(fmt.Sprintf("staff+%d@example.jp", i), fmt.Sprintf("flood.%d@example.jp", i), sid, "Re: x", "原文"))
	}
	r.waitSeen(t, 1+flood)
	if n := sm.count() - 1; n != 5 {
		t.Errorf("%d replies from staff+N@ got %d answers, want 5", flood, n)
	}
}
