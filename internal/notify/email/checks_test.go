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
