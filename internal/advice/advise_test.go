package advice

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

const s775 = "451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)"

// motivating is the Outlook.jp throttling case: a shared-hosting IP rate
// limited by Outlook.com, reported by the hosting company's Postfix.
func motivating(action string) (*bounce.Report, bounce.Recipient) {
	kind := bounce.KindBounce
	if action == bounce.ActionDelayed {
		kind = bounce.KindDelay
	}
	rep := &bounce.Report{
		Kind:         kind,
		SendingIP:    "203.0.113.25",
		ReportingMTA: "mail-proxy001.example.jp",
		Original:     bounce.Original{From: "Taro Yamada <taro@example.co.jp>", To: "user@outlook.jp", Subject: "お見積りの件"},
	}
	rc := bounce.Recipient{
		Address: "user@outlook.jp", Action: action, Status: "4.7.650", ReplyCode: "451",
		Reason: bounce.ReasonBadReputation, Temporary: true, RemoteMTA: "apc.olc.protection.outlook.com",
		Provider: bounce.ProviderMicrosoft, Diagnostic: s775, Command: "DATA",
	}
	return rep, rc
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

func mustNotContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s contains %q:\n%s", what, sub, s)
		}
	}
}

func factValue(a Advice, label string) string {
	for _, f := range a.Facts {
		if f.Label == label {
			return f.Value
		}
	}
	return ""
}

func linkURLs(a Advice) []string {
	var us []string
	for _, l := range a.Links {
		us = append(us, l.URL)
	}
	return us
}

func TestMotivatingOutlookThrottling(t *testing.T) {
	for _, tc := range []struct {
		action   string
		retrying bool
		outlook  []string
		headline string
	}{
		{bounce.ActionFailed, false, []string{"届いていません", "あきらめました"}, "【不達・再送期限切れ】"},
		{bounce.ActionDelayed, true, []string{"再送を続けています", "届く可能性"}, "【配送遅延・再送中】"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			rep, rc := motivating(tc.action)
			a := ForRecipient(rep, rc, Japanese)
			if a.Retrying != tc.retrying {
				t.Errorf("Retrying = %v, want %v", a.Retrying, tc.retrying)
			}
			mustContain(t, "headline", a.Headline, tc.headline, "user@outlook.jp", "IP評価低下", "一時制限")
			mustContain(t, "explanation", a.Explanation, "Microsoft(Outlook)", "送信サーバーのIPアドレス(203.0.113.25)",
				"IPレピュテーション", "一時的に制限")
			mustContain(t, "outlook", a.Outlook, tc.outlook...)
			if tc.retrying {
				mustNotContain(t, "outlook", a.Outlook, "届いていません")
			}

			want := []struct {
				actor Actor
				subs  []string
			}{
				{ActorIT, []string{"レンタルサーバー会社に", "203.0.113.25", "解除申請", "送信IPの変更"}},
				{ActorHosting, []string{"SNDS", "送信者サポート"}},
				{ActorSender, []string{"電話"}},
				{ActorSender, []string{"別の経路", "SMTP", "Microsoft 365", "Gmail"}},
				{ActorIT, []string{"SPF", "DKIM", "DMARC", "example.co.jp"}},
			}
			if !tc.retrying {
				// Once the server gave up, the mail must be sent again when the cause is gone.
				want = append(want, struct {
					actor Actor
					subs  []string
				}{ActorSender, []string{"送り直して"}})
			}
			if len(a.Actions) != len(want) {
				t.Fatalf("got %d actions, want %d: %+v", len(a.Actions), len(want), a.Actions)
			}
			for i, w := range want {
				if a.Actions[i].Actor != w.actor {
					t.Errorf("action %d actor = %s, want %s", i+1, a.Actions[i].Actor, w.actor)
				}
				mustContain(t, "action", a.Actions[i].Text, w.subs...)
			}
			if a.Actions[0].Label != "情報システム担当" || a.Actions[1].Label != "レンタルサーバー会社" {
				t.Errorf("action 1 label = %q", a.Actions[0].Label)
			}

			urls := strings.Join(linkURLs(a), " ")
			mustContain(t, "links", urls,
				"https://support.microsoft.com/supportrequestform/8ad563e3-288e-2a61-8122-3ba03d6b8d75",
				"https://postmaster.live.com", "https://sendersupport.olc.protection.outlook.com/snds/",
				"https://postmaster.live.com/snds/JMRP.aspx")
			// Outlook.com consumer blocks go through the consumer form, not
			// the Microsoft 365 portal (KB.md section 3).
			mustNotContain(t, "links", urls, "sender.office.com")

			for label, want := range map[string]string{
				"宛先": "user@outlook.jp", "送信元IP": "203.0.113.25", "宛先プロバイダ": "Microsoft(Outlook)",
				"相手サーバー": "apc.olc.protection.outlook.com", "ステータス/応答コード": "4.7.650 / 451",
				"報告したサーバー": "mail-proxy001.example.jp", "元のメールの件名": "お見積りの件",
				"相手サーバーの応答(原文)": s775,
			} {
				if got := factValue(a, label); got != want {
					t.Errorf("fact %s = %q, want %q", label, got, want)
				}
			}

			text := a.Text()
			mustContain(t, "Text()", text, a.Headline, a.Explanation, a.Outlook,
				"1. 【情報システム担当】", "2. 【レンタルサーバー会社】", "3. 【送信者】", "5. 【情報システム担当】",
				"https://postmaster.live.com", "- 送信元IP: 203.0.113.25")
		})
	}
}

func TestMotivatingEnglish(t *testing.T) {
	rep, rc := motivating(bounce.ActionFailed)
	a := ForRecipient(rep, rc, English)
	if a.Lang != English {
		t.Errorf("Lang = %q", a.Lang)
	}
	mustContain(t, "explanation", a.Explanation, "Microsoft (Outlook.com)", "203.0.113.25", "reputation")
	mustContain(t, "outlook", a.Outlook, "NOT been delivered", "gave up")
	text := a.Text()
	mustContain(t, "Text()", text, "1. [IT person]", "2. [Hosting company]", "What to do:", "- Sending IP: 203.0.113.25")
	if hasJapanese(strings.ReplaceAll(text, "お見積りの件", "")) {
		t.Errorf("English rendering contains Japanese:\n%s", text)
	}
}

func TestUnknownIPReadsWell(t *testing.T) {
	rep, rc := motivating(bounce.ActionFailed)
	rep.SendingIP = ""
	rc.Diagnostic = ""
	a := ForRecipient(rep, rc, Japanese)
	mustContain(t, "explanation", a.Explanation, "送信サーバーのIPアドレスの評判")
	all := a.Text()
	mustNotContain(t, "Text()", all, "()", "{", "[[", "送信元IP")
}

func TestCarrierFilterAdvice(t *testing.T) {
	for _, tc := range []struct {
		provider, addr, remote, diag, carrier, link string
		recipientSubs                               []string
	}{
		{bounce.ProviderDocomo, "taro@docomo.ne.jp", "mfsmax.docomo.ne.jp", "550 Unknown user taro@docomo.ne.jp",
			"ドコモ", "https://www.docomo.ne.jp/info/spam_mail/", []string{"受信/拒否設定", "@example.co.jp"}},
		{bounce.ProviderAU, "hanako@ezweb.ne.jp", "lsean.ezweb.ne.jp", "550 : User unknown",
			"au", "https://www.au.com/support/service/mobile/trouble/mail/email/filter/",
			[]string{"指定受信リスト設定(なりすまし・転送メール許可)", "@example.co.jp"}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "198.51.100.7",
				Original: bounce.Original{From: "info@example.co.jp", Subject: "ご案内"}}
			rc := bounce.Recipient{Address: tc.addr, Action: bounce.ActionFailed, Status: "5.2.0", ReplyCode: "550",
				Reason: bounce.ReasonFiltered, RemoteMTA: tc.remote, Provider: tc.provider, Diagnostic: tc.diag, Command: "DATA"}
			a := ForRecipient(rep, rc, Japanese)
			mustContain(t, "headline", a.Headline, tc.carrier, "拒否")
			mustContain(t, "explanation", a.Explanation, tc.carrier, "迷惑メール")
			var rec *Action
			for i := range a.Actions {
				if a.Actions[i].Actor == ActorRecipient {
					rec = &a.Actions[i]
					break
				}
			}
			if rec == nil {
				t.Fatalf("no action for the recipient: %+v", a.Actions)
			}
			mustContain(t, "recipient action", rec.Text, tc.recipientSubs...)
			if !strings.Contains(strings.Join(linkURLs(a), " "), tc.link) {
				t.Errorf("links %v lack the carrier page %s", linkURLs(a), tc.link)
			}
			mustNotContain(t, "advice", a.Explanation+actionsText(a), "レピュテーション", "存在しません")
		})
	}
}

func actionsText(a Advice) string {
	var b strings.Builder
	for _, ac := range a.Actions {
		b.WriteString(ac.Text)
		b.WriteString("\n")
	}
	return b.String()
}

func TestUserUnknownSaysNothingAboutIP(t *testing.T) {
	rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "203.0.113.25", ReportingMTA: "mail.example.jp"}
	rc := bounce.Recipient{Address: "nobody@example.net", Action: bounce.ActionFailed, Status: "5.1.1", ReplyCode: "550",
		Reason: bounce.ReasonUserUnknown, Hard: true, RemoteMTA: "mx.example.net", Provider: bounce.ProviderOther,
		Diagnostic: "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"}
	for _, lang := range []Lang{Japanese, English} {
		a := ForRecipient(rep, rc, lang)
		body := a.Headline + a.Explanation + a.Outlook + actionsText(a)
		mustNotContain(t, string(lang)+" advice", body, "レピュテーション", "reputation", "IP", "レンタルサーバー会社", "hosting")
		for _, ac := range a.Actions {
			if ac.Actor == ActorHosting {
				t.Errorf("%s: userunknown asks the hosting company: %q", lang, ac.Text)
			}
		}
	}
	a := ForRecipient(rep, rc, Japanese)
	mustContain(t, "headline", a.Headline, "存在しません")
	mustContain(t, "first action", a.Actions[0].Text, "nobody@example.net", "確認")
	mustContain(t, "outlook", a.Outlook, "届いていません")
}

func TestMicrosoft365IsToldApartFromOutlookCom(t *testing.T) {
	cases := []struct {
		addr, remote, want string
	}{
		{"user@outlook.jp", "apc.olc.protection.outlook.com", bounce.ProviderMicrosoft},
		{"user@hotmail.co.jp", "", bounce.ProviderMicrosoft},
		{"user@example.com", "example-com.mail.protection.outlook.com", ProviderMicrosoft365},
		{"user@example.com", "example-com.j-v1.mx.microsoft", ProviderMicrosoft365},
		{"user@example.com", "", ProviderMicrosoft365},
		{"user@live.com", "live-com.olc.protection.outlook.com.", bounce.ProviderMicrosoft},
	}
	for _, c := range cases {
		rc := bounce.Recipient{Address: c.addr, RemoteMTA: c.remote, Provider: bounce.ProviderMicrosoft}
		if got := rc.ProviderVariant(); got != c.want {
			t.Errorf("ProviderVariant(%s via %s) = %s, want %s", c.addr, c.remote, got, c.want)
		}
	}
	rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "192.0.2.10"}
	rc := bounce.Recipient{Address: "sales@example.com", Action: bounce.ActionFailed, Status: "5.7.606", ReplyCode: "550",
		Reason: bounce.ReasonBlocked, RemoteMTA: "example-com.mail.protection.outlook.com", Provider: bounce.ProviderMicrosoft,
		Diagnostic: "550 5.7.606 Access denied, banned sending IP [192.0.2.10]."}
	a := ForRecipient(rep, rc, Japanese)
	mustContain(t, "links", strings.Join(linkURLs(a), " "), "https://sender.office.com")
	mustContain(t, "explanation", a.Explanation, "Microsoft 365", "192.0.2.10")
	if got := factValue(a, "宛先プロバイダ"); !strings.HasPrefix(got, "Microsoft 365") {
		t.Errorf("provider fact = %q", got)
	}
}

func TestDeliveryOf(t *testing.T) {
	cases := []struct {
		kind           bounce.Kind
		action, status string
		reply          string
		reason         bounce.Reason
		want           Delivery
	}{
		{bounce.KindDelay, bounce.ActionDelayed, "4.7.650", "451", bounce.ReasonBadReputation, DeliveryRetrying},
		{bounce.KindDelay, "", "4.4.1", "", bounce.ReasonNetworkError, DeliveryRetrying},
		{bounce.KindBounce, bounce.ActionFailed, "4.7.650", "451", bounce.ReasonBadReputation, DeliveryExpired},
		{bounce.KindBounce, bounce.ActionFailed, "", "421", bounce.ReasonSystemError, DeliveryExpired},
		{bounce.KindBounce, bounce.ActionFailed, "4.2.0", "450", bounce.ReasonGreylisted, DeliveryExpired}, // greylisting that gave up
		{bounce.KindBounce, bounce.ActionFailed, "5.4.7", "", bounce.ReasonExpired, DeliveryExpired},
		{bounce.KindBounce, bounce.ActionFailed, "5.1.1", "550", bounce.ReasonUserUnknown, DeliveryFailed},
		{bounce.KindBounce, bounce.ActionFailed, "", "", bounce.ReasonUndefined, DeliveryFailed},
		{bounce.KindBounce, "", "", "", bounce.ReasonUndefined, DeliveryFailed},
		{bounce.KindDelivered, bounce.ActionDelivered, "2.0.0", "250", bounce.ReasonDelivered, DeliveryDelivered},
		{bounce.KindAutoReply, "", "", "", bounce.ReasonVacation, DeliveryDelivered},
		{bounce.KindNone, "", "", "", bounce.ReasonUndefined, DeliveryUnknown},
	}
	for _, c := range cases {
		got := DeliveryOf(&bounce.Report{Kind: c.kind}, bounce.Recipient{Action: c.action, Status: c.status, ReplyCode: c.reply, Reason: c.reason})
		if got != c.want {
			t.Errorf("DeliveryOf(%s %q %s %s) = %s, want %s", c.kind, c.action, c.status, c.reply, got, c.want)
		}
	}
}

func TestFallbackByStatusAndReplyClass(t *testing.T) {
	rep := &bounce.Report{Kind: bounce.KindBounce}
	cases := []struct {
		reason        bounce.Reason
		status, reply string
		wantHeadline  string
	}{
		{bounce.ReasonUndefined, "5.7.1", "550", "セキュリティや迷惑メール対策"},
		{bounce.ReasonOnHold, "5.1.0", "550", "宛先のアドレスに問題"},
		{"", "4.2.0", "450", "メールボックスに問題"},
		{bounce.ReasonUndefined, "", "554", "受け取りを拒否しました"},
		{bounce.ReasonUndefined, "5.0.0", "", "受け取りを拒否しました"},
		{bounce.ReasonUndefined, "", "421", "一時的に受け取りを断って"},
		{bounce.ReasonUndefined, "", "", "原因を特定できない"},
		{"nosuchreason", "", "", "原因を特定できない"},
		// A decided reason is not overridden by its status class.
		{bounce.ReasonUserUnknown, "5.7.1", "550", "宛先のアドレスが存在しません"},
	}
	for _, c := range cases {
		rc := bounce.Recipient{Address: "a@example.net", Action: bounce.ActionFailed, Status: c.status, ReplyCode: c.reply, Reason: c.reason, Provider: bounce.ProviderOther}
		a := ForRecipient(rep, rc, Japanese)
		if !strings.Contains(a.Headline, c.wantHeadline) {
			t.Errorf("reason %q status %q reply %q: headline %q, want it to contain %q", c.reason, c.status, c.reply, a.Headline, c.wantHeadline)
		}
	}
}

func TestForGroup(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	rep, rc := motivating(bounce.ActionFailed)
	var ms []Member
	for i, addr := range []string{"a@outlook.jp", "b@hotmail.co.jp", "a@outlook.jp", "c@outlook.com", "d@live.jp"} {
		ms = append(ms, Member{Address: addr, At: time.Date(2026, 11, 27, 9, 12+i*20, 0, 0, jst)})
	}
	g := Group{Report: rep, Recipient: rc, Members: ms, Count: 7,
		First: time.Date(2026, 11, 27, 9, 12, 0, 0, jst), Last: time.Date(2026, 11, 27, 10, 40, 0, 0, jst)}

	ga := ForGroup(g, Japanese, 2)
	if want := "【不達・再送期限切れ】Microsoft(Outlook)宛て 7件: 送信サーバーのIP評価低下による一時制限 (11/27 09:12〜11/27 10:40)"; ga.Headline != want {
		t.Errorf("headline\n got %q\nwant %q", ga.Headline, want)
	}
	if strings.Join(ga.Recipients, ",") != "a@outlook.jp,b@hotmail.co.jp" {
		t.Errorf("Recipients = %v", ga.Recipients)
	}
	// 4 distinct addresses, 2 shown, plus 2 bounces beyond the members listed.
	if ga.More != 4 {
		t.Errorf("More = %d, want 4", ga.More)
	}
	if len(ga.Actions) != 6 || ga.Actions[0].Actor != ActorIT || ga.Actions[1].Actor != ActorHosting {
		t.Errorf("actions = %+v", ga.Actions)
	}
	text := ga.Text()
	mustContain(t, "group Text()", text, "対象の宛先(6件):", "- a@outlook.jp", "- ほか 4 件", "1. 【情報システム担当】", "2. 【レンタルサーバー会社】", "- 件数: 7")
	mustNotContain(t, "group explanation", ga.Explanation, "user@outlook.jp")

	all := ForGroup(g, Japanese, 0)
	if len(all.Recipients) != 4 || all.More != 2 {
		t.Errorf("unlimited: Recipients=%v More=%d", all.Recipients, all.More)
	}

	// One moment only: no range.
	g.Last = g.First
	if h := ForGroup(g, Japanese, 3).Headline; !strings.HasSuffix(h, "(11/27 09:12)") {
		t.Errorf("headline for a single moment: %q", h)
	}
	// No times at all: no parentheses.
	g.First, g.Last = time.Time{}, time.Time{}
	if h := ForGroup(g, Japanese, 3).Headline; !strings.HasSuffix(h, "一時制限") {
		t.Errorf("headline without times: %q", h)
	}
}

func TestForGroupOtherProviderUsesDomain(t *testing.T) {
	rep := &bounce.Report{Kind: bounce.KindBounce}
	rc := bounce.Recipient{Address: "x@example.net", Action: bounce.ActionFailed, Status: "5.2.2", ReplyCode: "552",
		Reason: bounce.ReasonMailboxFull, Provider: bounce.ProviderOther}
	g := Group{Report: rep, Recipient: rc, Count: 2, Members: []Member{{Address: "x@example.net"}, {Address: "y@example.net"}}}
	ga := ForGroup(g, Japanese, 5)
	if !strings.HasPrefix(ga.Headline, "【不達】example.net宛て 2件: ") {
		t.Errorf("headline %q", ga.Headline)
	}
	g.Members[1].Address = "y@example.org"
	ga = ForGroup(g, Japanese, 5)
	// No provider and no common domain: the headline names none (never
	// the placeholder 相手のメールサービス宛て).
	if !strings.HasPrefix(ga.Headline, "【不達】2件: ") {
		t.Errorf("headline for mixed domains %q", ga.Headline)
	}
	if en := ForGroup(g, English, 5).Headline; !strings.HasPrefix(en, "[Not delivered] 2: ") {
		t.Errorf("English headline for mixed domains %q", en)
	}
}

func TestNilReportAndUnknownLanguage(t *testing.T) {
	rc := bounce.Recipient{Address: "a@example.net", Action: bounce.ActionFailed, Status: "5.1.1", Reason: bounce.ReasonUserUnknown}
	a := ForRecipient(nil, rc, Lang("fr"))
	if a.Lang != Japanese || !hasJapanese(a.Text()) {
		t.Errorf("unknown language did not fall back to Japanese: %q", a.Headline)
	}
	ga := ForGroup(Group{Recipient: rc}, English, 3)
	if ga.Headline == "" || ga.Text() == "" {
		t.Errorf("empty group advice")
	}
}

func BenchmarkForRecipientText(b *testing.B) {
	rep, rc := motivating(bounce.ActionFailed)
	for b.Loop() {
		_ = ForRecipient(rep, rc, Japanese).Text()
	}
}

func TestWhoDoesWhatFitsItsWidth(t *testing.T) {
	rep, rc := motivating(bounce.ActionFailed)
	a := ForRecipient(rep, rc, Japanese, WithHosting("ヘテムル", "https://support.example.jp/"))
	full := a.WhoDoesWhat(0)
	for _, want := range []string{"【情報システム担当】ヘテムルに", "【ヘテムル】SNDSで確認", "【送信者】"} {
		if !strings.Contains(full, want) {
			t.Errorf("WhoDoesWhat(0) = %q, lacks %q", full, want)
		}
	}
	if strings.Count(full, "【情報システム担当】") != 1 {
		t.Errorf("an actor is named twice: %q", full)
	}
	for _, w := range []int{20, 60, 100} {
		got := a.WhoDoesWhat(w)
		if Width(got) > w || got == "" {
			t.Errorf("WhoDoesWhat(%d) = %q (%d columns)", w, got, Width(got))
		}
	}
	if got := a.WhoDoesWhat(60); strings.HasSuffix(got, " / ") || strings.Contains(got, "…") {
		t.Errorf("WhoDoesWhat(60) should drop whole items: %q", got)
	}
}

// TestWithoutFacts: the option leaves out the facts and nothing else.
func TestWithoutFacts(t *testing.T) {
	rep, rc := motivating(bounce.ActionFailed)
	for _, lang := range []Lang{Japanese, English} {
		whole := ForRecipient(rep, rc, lang, WithHosting("ヘテムル", "https://support.example.jp/"))
		bare := ForRecipient(rep, rc, lang, WithHosting("ヘテムル", "https://support.example.jp/"), WithoutFacts())
		if len(whole.Facts) == 0 {
			t.Fatalf("%s: the advice has no facts to leave out", lang)
		}
		if len(bare.Facts) != 0 {
			t.Errorf("%s: WithoutFacts kept %d facts", lang, len(bare.Facts))
		}
		whole.Facts = nil
		if fmt.Sprintf("%#v", whole) != fmt.Sprintf("%#v", bare) {
			t.Errorf("%s: WithoutFacts changed more than the facts:\n%#v\n%#v", lang, whole, bare)
		}
	}
}

// TestFillWithoutPlaceholders: a text with nothing to fill comes back as
// it is.
func TestFillWithoutPlaceholders(t *testing.T) {
	for _, s := range []string{"", "送信者に連絡してください。", "a } b ]] c"} {
		if got := fill(s, map[string]string{"ip": "192.0.2.1"}, nil); got != s {
			t.Errorf("fill(%q) = %q", s, got)
		}
	}
	if got := fill("IP {ip}[[ ({ip})]]", map[string]string{"ip": "192.0.2.1"}, nil); got != "IP 192.0.2.1 (192.0.2.1)" {
		t.Errorf("fill with a value = %q", got)
	}
}
