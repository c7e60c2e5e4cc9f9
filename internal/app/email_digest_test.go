package app_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// perAddressee counts the mails each address received.
func perAddressee(sm *smtpBox) map[string]int {
	got := map[string]int{}
	for _, m := range sm.received() {
		for _, to := range m.To {
			got[to]++
		}
	}
	return got
}

// The five recipient-side items of the office batch go to two fixed
// addressees as one digest each. The mail to one is deferred and the
// process restarts between the items' rows: each addressee gets one
// digest naming all five, never two. A process that died after mailing
// but before marking the rows sent mails nothing again either.
func TestEmailDigestOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	const boss = "boss@example.jp"
	sm.refuseRcpt(boss, 1<<20) // deferred until the test says
	dbPath := cfg.DB
	cfg.EmailTo = staff + "," + boss
	for _, m := range officeMail(t)[6:11] { // three unknown users, two full mailboxes
		if err := srv.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	r := runApp(t, cfg)
	waitMails(t, sm, 1)
	waitFor(t, "the digest to the boss deferred a few times", func() bool {
		sm.mu.Lock()
		defer sm.mu.Unlock()
		return sm.failRcpt[boss] < 1<<20-3
	})
	r.stop()
	if got := perAddressee(sm); got[staff] != 1 || len(got) != 1 {
		t.Fatalf("before the restart: mails per addressee = %v, want one digest to %s", got, staff)
	}

	sm.refuseRcpt(boss, 0)
	// Time passes: the rows' retries are due (a row the stop cut short
	// waits a minute otherwise).
	dueNow(t, dbPath)
	r = runApp(t, cfg)
	waitMails(t, sm, 2)
	waitFor(t, "the outbox to drain", func() bool { return r.stats(t).OutboxBacklog == 0 })
	r.stop()
	if got := perAddressee(sm); got[staff] != 1 || got[boss] != 1 || len(got) != 2 {
		t.Errorf("mails per addressee = %v, want one digest each for %s and %s", got, staff, boss)
	}
	for _, m := range sm.received() {
		pm := parseMail(t, m.Data)
		if !strings.HasPrefix(pm.Subject, "【宛先ごとの配信エラー】5件：") {
			t.Errorf("subject to %v = %q, want the digest of 5", m.To, pm.Subject)
		}
		for _, a := range addrRcpts {
			if !strings.Contains(pm.Text, a) {
				t.Errorf("the digest to %v does not name %s", m.To, a)
			}
		}
	}

	// What a process that died right after the server accepted the digests
	// leaves: the items' first notices leased and not marked sent.
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := raw.Exec(`UPDATE outbox SET done_at = 0, outcome = '', external_ref = '', lease_until = 0 WHERE target = 'email' AND kind = 'first'`)
	raw.Close()
	if n, _ := res.RowsAffected(); err != nil || n != 5 {
		t.Fatalf("reopened %d rows: %v", n, err)
	}
	r = runApp(t, cfg)
	waitFor(t, "the reopened rows finished", func() bool { return r.stats(t).OutboxBacklog == 0 })
	r.stop()
	if n := sm.count(); n != 2 {
		t.Errorf("%d mails after the restart, want still 2", n)
	}
}

// dueNow makes every unfinished outbox row due.
func dueNow(t *testing.T, dbPath string) {
	t.Helper()
	raw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE outbox SET next_attempt_at = 0 WHERE done_at = 0`); err != nil {
		t.Fatal(err)
	}
}

// Replies to a digest mail: 詳細 gets every item's details in one mail;
// 停止 is answered politely (a digest has none) and mutes nothing.
func TestEmailDigestReplies(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	cfg.EmailTo = staff
	for _, m := range officeMail(t)[6:11] {
		if err := srv.Append(m); err != nil {
			t.Fatal(err)
		}
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 5)
	msgs := waitMails(t, sm, 1)
	r.waitSeen(t, 5)
	if n := sm.count(); n != 1 {
		t.Fatalf("%d mails for five recipient-side items to one person, want 1 digest", n)
	}
	digest := parseMail(t, msgs[0].Data)
	did := digest.messageID(t)
	if digest.Header.Get("Auto-Submitted") != "auto-generated" || !strings.HasPrefix(did, "bw.") {
		t.Errorf("digest not marked as ours: Auto-Submitted %q, Message-ID %q", digest.Header.Get("Auto-Submitted"), did)
	}

	if err := srv.Append(reply(staff, "reply.1@example.jp", did, "Re: "+digest.Subject, "詳細をお願いします")); err != nil {
		t.Fatal(err)
	}
	msgs = waitMails(t, sm, 2)
	ans := parseMail(t, msgs[1].Data)
	if msgs[1].To[0] != staff || !strings.HasPrefix(ans.Subject, "Re: ") {
		t.Errorf("answer to %v with subject %q", msgs[1].To, ans.Subject)
	}
	if refs, _ := ans.Header.MsgIDList("References"); len(refs) < 2 || refs[0] != did {
		t.Errorf("answer References = %v, want the digest then the reply", refs)
	}
	for _, a := range addrRcpts {
		if !strings.Contains(ans.Text, a) {
			t.Errorf("the answer to 詳細 does not detail %s:\n%s", a, ans.Text)
		}
	}

	if err := srv.Append(reply(staff, "reply.2@example.jp", did, "Re: "+digest.Subject, "停止")); err != nil {
		t.Fatal(err)
	}
	msgs = waitMails(t, sm, 3)
	r.waitSeen(t, 7)
	ans = parseMail(t, msgs[2].Data)
	if !strings.Contains(ans.Text, "「停止」「解決」はお使いいただけません") || !strings.Contains(ans.Text, addrRcpts[0]) {
		t.Errorf("the answer to 停止 on a digest does not say it has none, with the details:\n%s", ans.Text)
	}
	incs, err := r.a.DB().OpenIncidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, inc := range incs {
		if !inc.MutedUntil.IsZero() {
			t.Errorf("incident %d muted by 停止 on a digest", inc.ID)
		}
	}
	if len(incs) != 5 {
		t.Errorf("%d open incidents, want the 5 items", len(incs))
	}
	if n := sm.count(); n != 3 {
		t.Errorf("%d mails, want the digest and two answers", n)
	}
}

// A delayed item shown in a digest that then fails gets one mail of its
// own saying so; nothing else is mailed again.
func TestEmailDigestItemThatFailsIsMailedOnce(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	cfg.EmailTo = staff
	cfg.GroupInterval = 300 * time.Millisecond
	if err := srv.Append(fixture(t, "postfix-overquota-452-delayed.eml")); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, cfg)
	r.waitSeen(t, 1)
	msgs := waitMails(t, sm, 1)
	if d := parseMail(t, msgs[0].Data); !strings.HasPrefix(d.Subject, "【宛先ごとの配信エラー】") || !strings.Contains(d.Text, "再送中") {
		t.Errorf("the delayed item's digest %q does not say it is retried:\n%s", d.Subject, d.Text)
	}
	if err := srv.Append(fixture(t, "postfix-mailboxfull-552.eml")); err != nil {
		t.Fatal(err)
	}
	r.waitSeen(t, 2)
	msgs = waitMails(t, sm, 2)
	r.waitSeen(t, 2)
	if n := sm.count(); n != 2 {
		t.Errorf("%d mails, want the digest and one update", n)
	}
	up := parseMail(t, msgs[1].Data)
	if irt, _ := up.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != parseMail(t, msgs[0].Data).messageID(t) {
		t.Errorf("the update's In-Reply-To = %v, want the digest's Message-ID", irt)
	}
	if !strings.Contains(up.Subject, "mori.example@partner.example.net") || !strings.Contains(up.Subject, "届いていません") {
		t.Errorf("the update's subject %q does not say the mail to mori failed", up.Subject)
	}
}
