package email

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/health"
)

func TestComposeShowsChecks(t *testing.T) {
	n := sampleNotice()
	if strings.Contains(Text(n), "確認結果") {
		t.Fatal("a notice without checks shows a 確認結果 section")
	}
	n.Checks = &health.Summary{
		At:      time.Date(2026, 12, 3, 4, 45, 0, 0, time.UTC),
		Lines:   []string{"example.jp のSPFに送信IP 192.0.2.25 が含まれていません。", "PTR は <b>x</b> です。\r\nBcc: x"},
		Actions: []health.Action{{Role: health.RoleHosting, Text: "192.0.2.25 の逆引きを設定する。"}},
	}
	text := Text(n)
	for _, w := range []string{"■ 確認結果\n2026/12/03 13:45 時点", "・example.jp のSPFに送信IP 192.0.2.25 が含まれていません。",
		"→ 【レンタルサーバー会社】192.0.2.25 の逆引きを設定する。", "・PTR は <b>x</b> です。 Bcc: x"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
	if i, j := strings.Index(text, "■ 確認結果"), strings.Index(text, "■ 対応"); j >= 0 && j < i {
		t.Errorf("確認結果 should come before 対応:\n%s", text)
	}
	html, err := HTML(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "<h3>確認結果</h3>") || !strings.Contains(html, "PTR は &lt;b&gt;x&lt;/b&gt; です。") {
		t.Errorf("HTML lacks the escaped checks:\n%s", html)
	}
}

// With BOUNCEWATCH_HOSTING_NAME the 確認結果 names the hosting company as
// the advice does: its actions under its name, and in the texts.
func TestComposeChecksNameTheHostingCompany(t *testing.T) {
	n := sampleNotice()
	s := health.Summary{
		At:    time.Date(2026, 12, 3, 4, 45, 0, 0, time.UTC),
		Lines: []string{"送信IP 192.0.2.25 に逆引き(PTR)が設定されていません。"},
		Actions: []health.Action{
			{Role: health.RoleIT, Text: "送信IP 192.0.2.25 を管理するレンタルサーバー会社に、逆引き(PTR)の設定を依頼してください。"},
			{Role: health.RoleHosting, Text: "192.0.2.25 の逆引き(PTR)にホスト名を設定する。"},
		},
	}.ForHosting("ヘテムル")
	n.Checks = &s
	text := Text(n)
	for _, w := range []string{"→ 【ヘテムル】192.0.2.25 の逆引き(PTR)にホスト名を設定する。",
		"→ 【情報システム担当】送信IP 192.0.2.25 を管理するヘテムルに、逆引き(PTR)の設定を依頼してください。"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "レンタルサーバー会社") {
		t.Errorf("the hosting company is named generically although its name is set:\n%s", text)
	}
}
