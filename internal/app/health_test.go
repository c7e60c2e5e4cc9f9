package app_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// checksSetup is an app posting to the Slack fake and mailing staff, with
// the sender checks asking dnsAddr within timeout; its log and its stdout
// target write to the returned buffers.
func checksSetup(t *testing.T, dnsAddr string, timeout time.Duration, bounces ...[]byte) (fake *slacktest.Server, sm *smtpBox, logs, stdout *syncBuffer) {
	t.Helper()
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fake = slacktest.New(t)
	sm = startSMTP(t)
	cfg := slackConfig(t, srv, fake, filepath.Join(t.TempDir(), "bw.db"))
	cfg.Notify = "slack,email,stdout"
	cfg.SMTPAddr, cfg.SMTPTLS, cfg.SMTPFrom, cfg.EmailTo = sm.addr, "none", ourFrom, staff
	cfg.DNSServer, cfg.DNSTimeout = dnsAddr, timeout
	for _, b := range bounces {
		if err := srv.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	logs, stdout = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		RetryBase: 50 * time.Millisecond, Stdout: stdout})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return fake, sm, logs, stdout
}

// notices waits for the one Slack post and the one mail of the incident and
// returns what they show.
func notices(t *testing.T, fake *slacktest.Server, sm *smtpBox) (slackText, mailText string) {
	t.Helper()
	waitFor(t, "the Slack post", func() bool { return len(fake.Posts()) >= 1 })
	msgs := waitMails(t, sm, 1)
	time.Sleep(settle)
	if n := len(fake.Posts()); n != 1 {
		t.Errorf("%d Slack posts, want 1", n)
	}
	if n := sm.count(); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	// The channel message and its thread (issue 11: the message is short,
	// the 確認結果 section is in the thread).
	shown, _ := fake.Latest(fake.Posts()[0].TS)
	slackText, mailText = shown.Content(), parseMail(t, msgs[0].Data).Text
	for _, rp := range fake.Replies() {
		if rp.ThreadTS == shown.TS {
			slackText += "\n" + rp.Content()
		}
	}
	t.Logf("Slack:\n%s\nmail:\n%s", slackText, mailText)
	return slackText, mailText
}

// Issue 12: a Microsoft block notice of an office whose SPF lacks its IP,
// without DMARC or PTR and listed on Spamhaus ZEN shows what was found and
// the actions that follow, in Slack and in the mail.
func TestBlockedNoticeShowsVerifiedFindings(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	fake, sm, _, out := checksSetup(t, dns.Addr, 2*time.Second, fixture(t, "outlook-s3140-blocked.eml"))
	slackText, mailText := notices(t, fake, sm)
	// stdout: the incident's JSON line carries the checks.
	var checks map[string]any
	for _, ev := range out.events(t) {
		if ev["event"] == "incident" {
			checks, _ = ev["checks"].(map[string]any)
		}
	}
	if lines, _ := checks["lines"].([]any); len(lines) == 0 || checks["clear"] != false {
		t.Errorf("stdout incident checks = %v, want the findings", checks)
	}
	for _, w := range []string{
		"確認結果",
		"時点（bouncewatch がDNSで確認）",
		"203.0.113.25 は Spamhaus ZEN（XBL）に登録されています",
		"SPFに送信IP 203.0.113.25 が含まれていません",
		"example.co.jp にはDMARCレコードがありません",
		"送信IP 203.0.113.25 に逆引き(PTR)が設定されていません",
		"【情報システム担当】example.co.jp のSPFレコード（DNSのTXTレコード）に送信IP 203.0.113.25 を加えてください",
		"https://check.spamhaus.org で 203.0.113.25 の解除を申請",
		"【レンタルサーバー会社】203.0.113.25 の逆引き(PTR)にホスト名を設定し",
	} {
		if !strings.Contains(slackText, w) {
			t.Errorf("Slack notice lacks %q:\n%s", w, slackText)
		}
		if !strings.Contains(mailText, w) {
			t.Errorf("mail lacks %q:\n%s", w, mailText)
		}
	}
	if !strings.Contains(mailText, "■ 確認結果") {
		t.Errorf("mail has no 確認結果 section:\n%s", mailText)
	}
	if strings.Contains(slackText+mailText, "いずれも正常") {
		t.Error("the notice of a failing office says all is well")
	}
}

// Issue 12: when SPF, DMARC and PTR pass and no list names the IP, the
// notice says so and no longer asks the office to check them.
func TestBlockedNoticeOfHealthyOfficeSaysSo(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	m := string(fixture(t, "outlook-s3140-blocked.eml"))
	m = strings.ReplaceAll(m, "203.0.113.25", dnstest.HealthyIP)
	m = strings.ReplaceAll(m, "info@example.co.jp", "info@"+dnstest.HealthyDomain)
	fake, sm, _, _ := checksSetup(t, dns.Addr, 2*time.Second, []byte(m))
	slackText, mailText := notices(t, fake, sm)
	for name, text := range map[string]string{"Slack": slackText, "mail": mailText} {
		if !strings.Contains(text, "SPF・DMARC・逆引き(PTR)はいずれも正常") {
			t.Errorf("%s notice does not say the checks passed:\n%s", name, text)
		}
		if strings.Contains(text, "が正しく設定されているか確認してください") {
			t.Errorf("%s notice still asks the office to check SPF/DKIM/DMARC:\n%s", name, text)
		}
		// Slack's message gives each actor's short form; the mail the full text.
		want := map[string]string{"Slack": "レンタルサーバー会社に解除申請", "mail": "レンタルサーバー会社に、送信IP"}[name]
		if !strings.Contains(text, want) {
			t.Errorf("%s notice lost the advice's other actions:\n%s", name, text)
		}
	}
}

// Issue 12: a resolver that never answers: the notice still goes out (after
// the configured deadline, here short), and the log says why once.
func TestBlockedNoticeWithDeadResolverGoesOut(t *testing.T) {
	t.Parallel()
	fake, sm, logs, _ := checksSetup(t, dnstest.Blackhole(t), 100*time.Millisecond, fixture(t, "outlook-s3140-blocked.eml"))
	slackText, mailText := notices(t, fake, sm)
	for _, text := range []string{slackText, mailText} {
		if !strings.Contains(text, "203.0.113.25") || !strings.Contains(text, "レンタルサーバー会社に") {
			t.Errorf("notice lacks its advice:\n%s", text)
		}
		if strings.Contains(text, "登録されていません") || strings.Contains(text, "いずれも正常") {
			t.Errorf("a dead resolver is read as a result:\n%s", text)
		}
	}
	if !strings.Contains(slackText, "確認できませんでした（DNSの応答が期限内にありませんでした）") {
		t.Errorf("the notice does not say the checks could not be done:\n%s", slackText)
	}
	if n := strings.Count(logs.String(), "sender checks incomplete"); n != 1 {
		t.Errorf("%d log lines about the dead resolver, want 1:\n%s", n, logs.String())
	}
}
