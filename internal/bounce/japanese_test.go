package bounce

import (
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// Japanese ISPs' and gateways' own reports may say what happened only in
// Japanese, without an SMTP reply; in ISO-2022-JP or Shift_JIS, labelled or not.
func TestJapaneseOnlyReports(t *testing.T) {
	cases := []struct {
		name, body string
		want       Reason
	}{
		{"unknown address", "宛先のメールアドレスが見つかりません。アドレスをご確認ください。", ReasonUserUnknown},
		{"mailbox full", "相手のメールボックスがいっぱいのため、配信できませんでした。", ReasonMailboxFull},
		{"no such domain", "宛先のドメインが存在しません。", ReasonHostUnknown},
		{"too big", "メールのサイズが大きすぎるため、配信できませんでした。", ReasonMesgTooBig},
		{"virus", "添付ファイルからウイルスが検出されたため、配信を中止しました。", ReasonVirusDetected},
	}
	encs := []struct {
		name, label string
		enc         encoding.Encoding
	}{
		{"iso-2022-jp", "ISO-2022-JP", japanese.ISO2022JP},
		{"shift_jis", "Shift_JIS", japanese.ShiftJIS},
		{"shift_jis unlabelled", "", japanese.ShiftJIS},
	}
	for _, c := range cases {
		for _, e := range encs {
			body, err := e.enc.NewEncoder().String("このメールはシステムから自動送信されています。\n\n配信できなかった宛先: <taro.example@example.ne.jp>\n" + c.body + "\n")
			if err != nil {
				t.Fatal(err)
			}
			ct := "text/plain"
			if e.label != "" {
				ct += "; charset=" + e.label
			}
			raw := "From: Mail Delivery System <MAILER-DAEMON@mx.example.ne.jp>\nTo: sato@example.co.jp\n" +
				"Subject: =?ISO-2022-JP?B?GyRCR1s/LjxlR1QbKEI=?=\nMIME-Version: 1.0\nContent-Type: " + ct + "\n\n" + body
			rep := Analyze([]byte(raw))
			if rep.Kind != KindBounce || len(rep.Recipients) != 1 {
				t.Errorf("%s/%s: kind %s, %d recipients", c.name, e.name, rep.Kind, len(rep.Recipients))
				continue
			}
			r := rep.Recipients[0]
			if r.Address != "taro.example@example.ne.jp" || r.Reason != c.want {
				t.Errorf("%s/%s: %s %s, want %s", c.name, e.name, r.Address, r.Reason, c.want)
			}
		}
	}
}
