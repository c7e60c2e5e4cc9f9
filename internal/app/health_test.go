package app_test

import (
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
func checksSetup(t *testing.T, dnsAddr string, timeout time.Duration, bounces ...[]byte) (fake *slacktest.Server, sm *smtpBox, logs, stdout *syncBuffer, r *running) {
	t.Helper()
	fake, sm, logs, stdout, _, r = checksSetupWith(t, dnsAddr, timeout, nil, bounces...)
	return fake, sm, logs, stdout, r
}

// checksSetupWith is checksSetup with a change to the configuration, and
// the IMAP server too (to deliver replies).
func checksSetupWith(t *testing.T, dnsAddr string, timeout time.Duration, change func(*app.Config), bounces ...[]byte) (fake *slacktest.Server, sm *smtpBox, logs, stdout *syncBuffer, srv *demo.Server, r *running) {
	t.Helper()
	srv = startIMAP(t)
	fake = slacktest.New(t)
	sm = startSMTP(t)
	cfg := slackConfig(t, srv, fake, filepath.Join(t.TempDir(), "bw.db"))
	cfg.Notify = "slack,email,stdout"
	cfg.SMTPAddr, cfg.SMTPTLS, cfg.SMTPFrom, cfg.EmailTo = sm.addr, "none", ourFrom, staff
	cfg.DNSServer, cfg.DNSTimeout = dnsAddr, timeout
	if change != nil {
		change(&cfg)
	}
	for _, b := range bounces {
		if err := srv.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	logs, stdout = &syncBuffer{}, &syncBuffer{}
	r = runAppWith(t, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)),
		RetryBase: 50 * time.Millisecond, Stdout: stdout})
	return fake, sm, logs, stdout, srv, r
}

// notices waits until the app has done all that the one bounce causes and
// returns what its Slack post (with the thread) and its mail show.
func notices(t *testing.T, r *running, fake *slacktest.Server, sm *smtpBox) (slackText, mailText string) {
	t.Helper()
	r.waitSeen(t, 1)
	msgs := waitMails(t, sm, 1)
	if n := len(fake.Posts()); n != 1 {
		t.Fatalf("%d Slack posts, want 1", n)
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
	fake, sm, _, out, r := checksSetup(t, dns.Addr, 2*time.Second, fixture(t, "outlook-s3140-blocked.eml"))
	slackText, mailText := notices(t, r, fake, sm)
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
	fake, sm, _, _, r := checksSetup(t, dns.Addr, 2*time.Second, []byte(m))
	slackText, mailText := notices(t, r, fake, sm)
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
	fake, sm, logs, _, r := checksSetup(t, dnstest.Blackhole(t), 100*time.Millisecond, fixture(t, "outlook-s3140-blocked.eml"))
	slackText, mailText := notices(t, r, fake, sm)
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
	// The line says which server, the deadline and what went unanswered.
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "sender checks incomplete") {
			t.Log(l)
			for _, w := range []string{"level=WARN", "dns_server=127.0.0.1:", "deadline=100ms", "unanswered=", "spf", "dnsbl:zen.spamhaus.org"} {
				if !strings.Contains(l, w) {
					t.Errorf("the log line lacks %q: %s", w, l)
				}
			}
		}
	}
}

// The long answers (「詳細」 in the Slack thread and in a reply mail) carry
// the 「確認結果」 too, with the domain whose SPF was checked.
func TestDetailAnswersShowVerifiedFindings(t *testing.T) {
	dns := dnstest.Start(t)
	fake, sm, _, _, srv, r := checksSetupWith(t, dns.Addr, 2*time.Second,
		func(c *app.Config) { c.SlackAppToken = slacktest.AppToken }, fixture(t, "outlook-s3140-blocked.eml"))
	notices(t, r, fake, sm)
	want := []string{
		"確認結果",
		"203.0.113.25 は Spamhaus ZEN（XBL）に登録されています",
		// The bounce shows the envelope sender (Postfix's X-Postfix-Sender).
		"example.co.jp のSPFに送信IP 203.0.113.25 が含まれていません（エラーメールに記された元のメールの送信元(Return-Path)のドメインで確認）",
		"【レンタルサーバー会社】203.0.113.25 の逆引き(PTR)にホスト名を設定し",
	}

	// Slack: 詳細 in the thread.
	waitFor(t, "the socket mode connection", func() bool { return fake.Connections() >= 1 })
	post := fake.Posts()[0]
	before := len(fake.Replies())
	fake.PushThreadReply("env-detail", slackChannel, post.TS, "1700000500.000001", "U123", "詳細")
	waitFor(t, "the detail in the thread", func() bool { return len(fake.Replies()) > before })
	detail := fake.Replies()[before].Content()
	t.Logf("Slack detail:\n%s", detail)
	for _, w := range append(want, "受信側の応答（原文）") {
		if !strings.Contains(detail, w) {
			t.Errorf("Slack detail lacks %q:\n%s", w, detail)
		}
	}

	// Mail: a reply 「詳細」 to the summary.
	summary := parseMail(t, sm.received()[0].Data)
	if err := srv.Append(reply(staff, "reply.detail@example.jp", summary.messageID(t), "Re: "+summary.Subject, "詳細")); err != nil {
		t.Fatal(err)
	}
	msgs := waitMails(t, sm, 2)
	det := parseMail(t, msgs[1].Data)
	t.Logf("detail mail:\n%s", det.Text)
	for _, w := range want {
		if !strings.Contains(det.Text, w) {
			t.Errorf("detail mail lacks %q:\n%s", w, det.Text)
		}
	}
}

// A bounce that shows an envelope sender other than the From domain: SPF is
// checked for the envelope sender, and the notice says so; without it, for
// the From domain, and the notice says that.
func TestSPFCheckedForTheEnvelopeSender(t *testing.T) {
	dns := dnstest.Start(t)
	m := string(fixture(t, "outlook-s3140-blocked.eml"))
	m = strings.ReplaceAll(m, "203.0.113.25", dnstest.HealthyIP)
	m = strings.Replace(m, "X-Postfix-Sender: rfc822; info@example.co.jp", "X-Postfix-Sender: rfc822; bounce@"+dnstest.HealthyDomain, 1)
	fake, sm, _, _, r := checksSetup(t, dns.Addr, 2*time.Second, []byte(m))
	slackText, mailText := notices(t, r, fake, sm)
	for name, text := range map[string]string{"Slack": slackText, "mail": mailText} {
		if w := "SPF: 送信IP 198.51.100.25 は healthy.example.com のSPFで許可されています（エラーメールに記された元のメールの送信元(Return-Path)のドメインで確認）"; !strings.Contains(text, w) {
			t.Errorf("%s notice lacks %q:\n%s", name, w, text)
		}
		// DMARC is still the From domain's.
		if w := "example.co.jp にはDMARCレコードがありません"; !strings.Contains(text, w) {
			t.Errorf("%s notice lacks %q:\n%s", name, w, text)
		}
	}
}

func TestSPFCheckedForTheFromDomainWithoutEnvelope(t *testing.T) {
	dns := dnstest.Start(t)
	m := strings.Replace(string(fixture(t, "outlook-s3140-blocked.eml")), "X-Postfix-Sender: rfc822; info@example.co.jp\r\n", "", 1)
	fake, sm, _, _, r := checksSetup(t, dns.Addr, 2*time.Second, []byte(m))
	slackText, _ := notices(t, r, fake, sm)
	if w := "example.co.jp のSPFに送信IP 203.0.113.25 が含まれていません（エラーメールに元のメールの送信元 Return-Path が無いため、差出人 From のドメインで確認）"; !strings.Contains(slackText, w) {
		t.Errorf("Slack notice lacks %q:\n%s", w, slackText)
	}
}

// Spamhaus refusing the query (the resolver is a public one) is said as
// such in the notice, with what to do; the IP is not called clean.
func TestBlockedNoticeSpamhausRefused(t *testing.T) {
	dns := dnstest.Start(t)
	m := strings.ReplaceAll(string(fixture(t, "outlook-s3140-blocked.eml")), "203.0.113.25", dnstest.RefusedIP)
	fake, sm, _, _, r := checksSetup(t, dns.Addr, 2*time.Second, []byte(m))
	slackText, mailText := notices(t, r, fake, sm)
	for name, text := range map[string]string{"Slack": slackText, "mail": mailText} {
		for _, w := range []string{
			"Spamhaus ZEN は確認できませんでした（zen.spamhaus.org が問い合わせを断りました: 公開DNSリゾルバー",
			"登録の有無は不明です",
			"Spamhaus DQS のキー",
		} {
			if !strings.Contains(text, w) {
				t.Errorf("%s notice lacks %q:\n%s", name, w, text)
			}
		}
		if strings.Contains(text, "いずれも正常") || strings.Contains(text, "Spamhaus ZEN に登録されていません") {
			t.Errorf("%s notice reads the refusal as clean:\n%s", name, text)
		}
	}
}

// With BOUNCEWATCH_HOSTING_NAME the 確認結果 names the hosting company as
// the advice above it does, in Slack and in the mail.
func TestVerifiedFindingsNameTheHostingCompany(t *testing.T) {
	dns := dnstest.Start(t)
	fake, sm, _, _, _, r := checksSetupWith(t, dns.Addr, 2*time.Second, func(c *app.Config) { c.HostingName = "ヘテムル" },
		fixture(t, "outlook-s3140-blocked.eml"))
	slackText, mailText := notices(t, r, fake, sm)
	for name, text := range map[string]string{"Slack notice": slackText, "mail": mailText} {
		for _, w := range []string{"確認結果", "【ヘテムル】203.0.113.25 の逆引き(PTR)にホスト名を設定し", "を管理するヘテムル（またはプロバイダ）に"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, text)
			}
		}
		if strings.Contains(text, "【レンタルサーバー会社】") {
			t.Errorf("%s labels an action 【レンタルサーバー会社】 although the hosting company's name is set:\n%s", name, text)
		}
	}
}
