package slack

import (
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

func TestBlocksShowChecksBeforeActions(t *testing.T) {
	n := sampleNotice()
	if blocksText(Blocks(n)) == "" || strings.Contains(blocksText(Blocks(n)), health.Heading) {
		t.Fatal("a notice without checks shows a 確認結果 section")
	}
	n.Checks = &health.Summary{
		At:      time.Date(2026, 12, 3, 4, 45, 0, 0, time.UTC),
		Lines:   []string{"192.0.2.25 は Spamhaus ZEN（XBL）に登録されています。", "PTR は <bad>&name です。"},
		Actions: []health.Action{{Role: health.RoleIT, Text: "https://check.spamhaus.org で解除を申請してください。"}},
	}
	// The channel message gives one line and points to the thread, where
	// ChecksBlocks posts the section; the detail has it in full.
	short := blocksText(Blocks(n))
	if !strings.Contains(short, "確認結果") || !strings.Contains(short, "192.0.2.25 は Spamhaus ZEN（XBL）に登録されています。（ほか 1 件と対応はスレッドに）") {
		t.Errorf("the channel message lacks the line of 確認結果:\n%s", short)
	}
	if i, j := strings.Index(short, "確認結果"), strings.Index(short, "対応"); i < 0 || j < i {
		t.Errorf("確認結果 (at %d) should come before 対応 (at %d) in the channel message", i, j)
	}
	if blocks, _ := ChecksBlocks(n); !strings.Contains(blocksText(blocks, ""), "→ 【情報システム担当】https://check.spamhaus.org") {
		t.Errorf("the thread reply lacks the checks:\n%s", blocksText(blocks, ""))
	}
	n.Kind = notify.KindDetail
	text := blocksText(Blocks(n))
	for _, w := range []string{"確認結果", "2026/12/03 13:45 時点", "• 192.0.2.25 は Spamhaus ZEN（XBL）に登録されています。",
		"→ 【情報システム担当】https://check.spamhaus.org で解除を申請してください。", "PTR は &lt;bad&gt;&amp;name です。"} {
		if !strings.Contains(text, w) {
			t.Errorf("blocks lack %q:\n%s", w, text)
		}
	}
	if i, j := strings.Index(text, "確認結果"), strings.Index(text, "対応"); i < 0 || j < i {
		t.Errorf("確認結果 (at %d) should come before 対応 (at %d)", i, j)
	}
}

// blocksText joins the text of every section of a rendering.
func blocksText(blocks []slackgo.Block, _ string) string {
	var b strings.Builder
	for _, bl := range blocks {
		if s, ok := bl.(*slackgo.SectionBlock); ok && s.Text != nil {
			b.WriteString(s.Text.Text + "\n")
		}
	}
	return b.String()
}

// DNS values to copy keep their "~" and "_" (as code), in the thread reply
// and in the detail; the rest of the text is escaped as ever.
func TestChecksActionsKeepDNSValues(t *testing.T) {
	n := sampleNotice()
	n.Checks = &health.Summary{
		At:    time.Date(2026, 12, 3, 4, 45, 0, 0, time.UTC),
		Lines: []string{"example.co.jp のSPFに送信IP 192.0.2.25 が含まれていません。"},
		Actions: []health.Action{
			{Role: health.RoleIT, Text: "SPFに加えてください（例: v=spf1 ip4:192.0.2.25 include:… ~all）。~注意~ <b>",
				Code: []string{"v=spf1 ip4:192.0.2.25 include:… ~all"}},
			{Role: health.RoleIT, Text: "_dmarc.example.co.jp にDMARCレコードを追加してください。まずは v=DMARC1; p=none; rua=mailto:（宛先）",
				Code: []string{"_dmarc.example.co.jp", "v=DMARC1; p=none; rua=mailto:"}},
		},
	}
	thread, _ := ChecksBlocks(n)
	n.Kind = notify.KindDetail
	for name, text := range map[string]string{"thread": blocksText(thread, ""), "detail": blocksText(Blocks(n))} {
		for _, w := range []string{"`v=spf1 ip4:192.0.2.25 include:… ~all`", "∼注意∼ &lt;b&gt;",
			"→ 【情報システム担当】`_dmarc.example.co.jp` にDMARC", "`v=DMARC1; p=none; rua=mailto:`"} {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, text)
			}
		}
		if strings.Contains(text, "∼all") || strings.Contains(text, "＿dmarc") {
			t.Errorf("%s changed a DNS value:\n%s", name, text)
		}
	}
}

// With BOUNCEWATCH_HOSTING_NAME the thread's 確認結果 labels the hosting
// company's own actions with its name, as the advice does.
func TestChecksBlocksNameTheHostingCompany(t *testing.T) {
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
	blocks, _ := ChecksBlocks(n)
	thread := blocksText(blocks, "")
	n.Kind = notify.KindDetail
	for _, text := range []string{thread, blocksText(Blocks(n))} {
		if !strings.Contains(text, "→ 【ヘテムル】192.0.2.25 の逆引き(PTR)にホスト名を設定する。") ||
			!strings.Contains(text, "を管理するヘテムルに、逆引き(PTR)の設定を依頼") {
			t.Errorf("the checks do not name the hosting company:\n%s", text)
		}
		if strings.Contains(text, "レンタルサーバー会社") {
			t.Errorf("the hosting company is named generically although its name is set:\n%s", text)
		}
	}
}
