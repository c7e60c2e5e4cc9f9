package advice

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

func TestDetailTextListsEveryMember(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, jst)
	rep := &bounce.Report{SendingIP: "203.0.113.25", ReportingMTA: "mail-proxy001.example.jp",
		Original: bounce.Original{Subject: "お見積り", From: "sato@example.co.jp"}}
	var ms []DetailMember
	for i, a := range []string{"a@outlook.jp", "b@outlook.jp", "c@hotmail.com"} {
		ms = append(ms, DetailMember{At: at.Add(time.Duration(i) * time.Minute), Report: rep, Recipient: bounce.Recipient{
			Address: a, Action: bounce.ActionFailed, Status: "4.7.650", ReplyCode: "451", Reason: bounce.ReasonBadReputation,
			Provider: bounce.ProviderMicrosoft, RemoteMTA: "apc.olc.protection.outlook.com",
			Diagnostic: "451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited due to IP reputation. (S775)"}})
	}
	tl := []TimelineEntry{{At: at.Add(2 * time.Minute), Kind: "first", Count: 3}, {At: at.Add(time.Hour), Kind: "muted", Actor: "sato@example.co.jp"}}
	s := DetailText(ms, tl, Japanese, jst)
	for _, want := range []string{"a@outlook.jp", "b@outlook.jp", "c@hotmail.com", "09:31", "お見積り", "4.7.650 / 451",
		"apc.olc.protection.outlook.com", "203.0.113.25", "(S775)", "IPレピュテーション", "最初の通知 (3件)", "通知停止 — sato@example.co.jp"} {
		if !strings.Contains(s, want) {
			t.Errorf("detail lacks %q:\n%s", want, s)
		}
	}
	if en := DetailText(ms, tl, English, jst); !strings.Contains(en, "Receiver's words") || strings.Contains(en, "受信日時") {
		t.Errorf("English detail:\n%s", en)
	}
}

// A "user unknown" that the classifier reads as a filter (not the answer to
// RCPT TO) is explained as both possibilities, not as a certain filter.
func TestFilteredUserUnknownIsHedged(t *testing.T) {
	rc := bounce.Recipient{Address: "kondo@partner.example.org", Action: bounce.ActionFailed, Status: "5.0.0", ReplyCode: "550",
		Reason: bounce.ReasonFiltered, Provider: bounce.ProviderOther, Diagnostic: "550 kondo@partner.example.org... User unknown"}
	a := ForRecipient(&bounce.Report{}, rc, Japanese)
	if !strings.Contains(a.Headline, "宛先不明") || !strings.Contains(a.Explanation, "存在しない可能性") {
		t.Errorf("headline %q / explanation %q do not hedge", a.Headline, a.Explanation)
	}
	if len(a.Actions) == 0 || !strings.Contains(a.Actions[0].Text, "アドレス") {
		t.Errorf("first action should be to check the address: %+v", a.Actions)
	}
	rc.Diagnostic = "550 5.7.1 Message refused by the recipient's filter rules"
	if b := ForRecipient(&bounce.Report{}, rc, Japanese); strings.Contains(b.Headline, "宛先不明") {
		t.Errorf("a plain filter refusal is not an unknown user: %q", b.Headline)
	}
}
