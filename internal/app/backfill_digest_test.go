package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
)

// The backfill digest has the notices' shape: server-side causes one line
// each, the recipients' own problems grouped by what is to be done, every
// address named up to a bound.
func TestBackfillDigestText(t *testing.T) {
	rcpt := func(addr string, r bounce.Reason) app.DigestGroup {
		return app.DigestGroup{Key: incident.Key{Side: incident.SideRecipient, Recipient: addr, Cause: r}, Count: 1, Text: "ignored " + addr}
	}
	d := app.Digest{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Messages: 30, Bounces: 14, Groups: []app.DigestGroup{
		{Key: incident.Key{Side: incident.SideSending, SendingIP: "203.0.113.25", Cause: bounce.ReasonBadReputation}, Count: 4,
			Text: "【配送遅延・再送中】Microsoft(Outlook)宛て 4件: 送信サーバーのIP評価低下による一時制限"},
		rcpt("a@example.org", bounce.ReasonUserUnknown), rcpt("b@example.net", bounce.ReasonHostUnknown),
		rcpt("c@example.com", bounce.ReasonMailboxFull),
	}}
	for i := range 9 {
		d.Groups = append(d.Groups, rcpt("x"+string(rune('a'+i))+"@example.jp", bounce.ReasonUserUnknown))
	}
	text := d.Text()
	for _, want := range []string{
		"確認したメール: 30 通 / 配信エラー・配送遅延: 14 件",
		"サーバー側の問題 1件", "1. 【配送遅延・再送中】Microsoft(Outlook)宛て 4件",
		"宛先ごとの問題 12件（宛先の確認 11件 / 相手の受信箱 1件）",
		"・宛先の確認: a@example.org, b@example.net, xa@example.jp", "ほか 3 件",
		"・相手の受信箱: c@example.com\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ignored") {
		t.Errorf("a recipient's item is listed as a cause:\n%s", text)
	}
}
