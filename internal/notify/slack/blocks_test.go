package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

func sampleNotice() notify.Notice {
	first := time.Date(2026, 11, 27, 0, 5, 0, 0, time.UTC)
	return notify.Notice{
		IncidentID:   42,
		Kind:         notify.KindFirst,
		SendingIP:    "192.0.2.25",
		Provider:     "microsoft",
		ProviderName: "Microsoft(Outlook)",
		Reason:       "送信サーバーのIP評価低下",
		Diagnostic:   "550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent. <S3150>",
		Count:        5,
		First:        first,
		Last:         first.Add(2*time.Hour + 25*time.Minute),
		Advice: advice.GroupAdvice{
			Advice: advice.Advice{
				Headline:    "Microsoftが送信サーバーのIPを拒否しています",
				Explanation: "受信側が送信元IPの評価が低いとして受け取りを拒否しました。",
				Outlook:     "このメールは届きません。再送が必要です。",
				Actions: []advice.Action{
					{Actor: advice.ActorHosting, Label: "ホスティング会社", Text: "送信IPの除外申請を依頼してください。"},
					{Actor: advice.ActorSender, Label: "送信者", Text: "解除後に再送してください。"},
				},
				Links: []advice.Link{
					{Title: "Sender Support", URL: "https://sender.office.com/"},
					{Title: "not https", URL: "http://example.com/"},
				},
				Facts: []advice.Fact{{Label: "応答コード", Value: "550 5.7.1"}},
			},
			Recipients: []string{"taro@example.com", "hanako@example.net"},
		},
	}
}

// texts collects every text a person can see in the rendered blocks, with
// whether it is mrkdwn.
func texts(t *testing.T, blocks []slackgo.Block) (all []string, mrk []string) {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				all = append(all, s)
				if x["type"] == "mrkdwn" {
					mrk = append(mrk, s)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return all, mrk
}

func asMaps(t *testing.T, blocks []slackgo.Block) []map[string]any {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBlocksStructure(t *testing.T) {
	n := sampleNotice()
	blocks, fb := Blocks(n)
	ms := asMaps(t, blocks)
	for _, p := range slacktest.CheckBlocks(ms) {
		t.Error(p)
	}
	if ms[0]["type"] != "header" {
		t.Fatalf("first block is %v, want header", ms[0]["type"])
	}
	if got, want := ms[0]["text"].(map[string]any)["text"], "【配信エラー】Microsoft(Outlook)宛て 5件 送信サーバーのIP評価低下"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	if !strings.HasPrefix(fb, "【配信エラー】Microsoft(Outlook)宛て 5件") || !strings.Contains(fb, "再送が必要です") {
		t.Errorf("fallback = %q", fb)
	}
	all, _ := texts(t, blocks)
	joined := strings.Join(all, "\n")
	for _, want := range []string{"192.0.2.25", "Microsoft(Outlook)", "5件", "2026/11/27 09:05〜11:30", "550 5.7.1",
		"taro@example.com", "1. ［ホスティング会社］送信IPの除外申請", "2. ［送信者］", "<https://sender.office.com/|Sender Support>",
		"インシデント #42", "受信側の応答"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rendered blocks lack %q", want)
		}
	}
	if strings.Contains(joined, "http://example.com/") {
		t.Error("a non-https link was rendered")
	}
	last := ms[len(ms)-1]
	if last["type"] != "actions" {
		t.Fatalf("last block is %v, want actions", last["type"])
	}
	var ids []string
	for _, e := range last["elements"].([]any) {
		el := e.(map[string]any)
		ids = append(ids, el["action_id"].(string))
		if el["value"] != "42" {
			t.Errorf("button %v value = %v, want 42", el["action_id"], el["value"])
		}
	}
	if got := strings.Join(ids, ","); got != "bw_detail,bw_mute,bw_resolve" {
		t.Errorf("buttons = %s", got)
	}
	if ms[len(ms)-2]["type"] != "context" {
		t.Errorf("block before the buttons is %v, want context", ms[len(ms)-2]["type"])
	}
}

func TestBlocksKinds(t *testing.T) {
	n := sampleNotice()
	n.Kind = notify.KindResolved
	ms := asMaps(t, mustBlocks(n))
	last := ms[len(ms)-1]
	if els := last["elements"].([]any); len(els) != 1 || els[0].(map[string]any)["action_id"] != ActionDetail {
		t.Errorf("resolved buttons = %v, want only %s", els, ActionDetail)
	}
	if h := ms[0]["text"].(map[string]any)["text"].(string); !strings.HasPrefix(h, "【解決済み】") {
		t.Errorf("resolved header = %q", h)
	}
	n.Kind = notify.KindDetail
	for _, b := range asMaps(t, mustBlocks(n)) {
		if b["type"] == "actions" {
			t.Error("detail has buttons")
		}
	}
}

func mustBlocks(n notify.Notice) []slackgo.Block { b, _ := Blocks(n); return b }

func TestBlocksLargeIncident(t *testing.T) {
	n := sampleNotice()
	n.Advice.Recipients = nil
	for i := range 500 {
		n.Advice.Recipients = append(n.Advice.Recipients, fmt.Sprintf("user%03d@example.com", i))
	}
	n.Advice.More = 20
	n.Count = 520
	n.Diagnostic = strings.Repeat("550 5.7.1 <blocked> & refused; ", 350) // about 10 KB
	n.Advice.Explanation = strings.Repeat("受信側の説明がとても長い。", 900)           // about 10,000 chars on one line
	for i := range 80 {
		n.Advice.Actions = append(n.Advice.Actions, advice.Action{Label: "送信者", Text: fmt.Sprintf("手順%d: %s", i, strings.Repeat("確認", 60))})
	}
	for i := range 20 {
		n.Advice.Facts = append(n.Advice.Facts, advice.Fact{Label: fmt.Sprintf("項目%d", i), Value: strings.Repeat("x", 3000)})
	}

	for _, kind := range []notify.Kind{notify.KindFirst, notify.KindDetail} {
		n.Kind = kind
		blocks, fb := Blocks(n)
		ms := asMaps(t, blocks)
		if len(ms) == 0 {
			t.Errorf("%s: no blocks", kind)
		}
		for _, p := range slacktest.CheckBlocks(ms) {
			t.Errorf("%s: %s", kind, p)
		}
		if l := len([]rune(fb)); l > MaxFallbackText {
			t.Errorf("%s: fallback of %d chars", kind, l)
		}
		all, _ := texts(t, blocks)
		joined := strings.Join(all, "\n")
		listed, more := 10, 510
		if kind == notify.KindDetail {
			listed, more = 100, 420
		}
		if !strings.Contains(joined, fmt.Sprintf("user%03d@example.com", listed-1)) || strings.Contains(joined, fmt.Sprintf("user%03d@example.com", listed)) {
			t.Errorf("%s: want exactly the first %d recipients listed", kind, listed)
		}
		if !strings.Contains(joined, fmt.Sprintf("ほか %d 件", more)) {
			t.Errorf("%s: lacks ほか %d 件", kind, more)
		}
		if !strings.Contains(joined, "…") {
			t.Errorf("%s: nothing was marked as truncated", kind)
		}
		if strings.Contains(joined, "&amp…") || strings.Contains(joined, "&lt…") || strings.Contains(joined, "&g…") {
			t.Errorf("%s: an entity was cut", kind)
		}
	}
	n.Kind = notify.KindFirst
	for i := range 2000 {
		n.Advice.Actions = append(n.Advice.Actions, advice.Action{Label: "管理者", Text: fmt.Sprintf("追加手順%d: %s", i, strings.Repeat("設定", 60))})
	}
	if ms := asMaps(t, mustBlocks(n)); len(ms) != MaxBlocks || !strings.Contains(fmt.Sprint(ms[len(ms)-3]), "省略") {
		t.Errorf("got %d blocks; want %d ending in an omission note before context and buttons", len(ms), MaxBlocks)
	}
}

func TestBlocksEscape(t *testing.T) {
	n := sampleNotice()
	n.Advice.Recipients = []string{"<!channel>@example.com", "a&b@example.org"}
	n.Diagnostic = "550 <@U123> <https://evil.example/|click> ```break``` &"
	n.Advice.Explanation = "受信側の応答: <!here> & more"
	n.Advice.Links = []advice.Link{{Title: "a|b<c>", URL: "https://example.com/?a=1&b=2"}}
	blocks, fb := Blocks(n)
	all, _ := texts(t, blocks)
	joined := strings.Join(all, "\n") + "\n" + fb
	for _, bad := range []string{"<!channel>", "<!here>", "<@U123>", "<https://evil.example/", "a|b<c>"} {
		if strings.Contains(joined, bad) {
			t.Errorf("unescaped %q reached Slack", bad)
		}
	}
	for _, want := range []string{"&lt;!channel&gt;@example.com", "a&amp;b@example.org", "&lt;!here&gt; &amp; more", "<https://example.com/?a=1&amp;b=2|a｜b&lt;c&gt;>"} {
		if !strings.Contains(joined, want) {
			t.Errorf("lacks escaped %q", want)
		}
	}
	if strings.Count(joined, "```") != 2 {
		t.Errorf("the diagnostic broke out of its code block: %d fences", strings.Count(joined, "```"))
	}
}

// TestBlocksBoldBoundaries checks that no bold marker sits between two
// letters: Slack ignores *bold* glued to kana or kanji.
func TestBlocksBoldBoundaries(t *testing.T) {
	n := sampleNotice()
	_, mrk := texts(t, mustBlocks(n))
	markers := 0
	for _, s := range mrk {
		rs := []rune(s)
		for i, r := range rs {
			if r != '*' {
				continue
			}
			markers++
			glued := func(j int) bool {
				return j >= 0 && j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '\u200b'
			}
			if glued(i-1) && glued(i+1) {
				t.Errorf("bold marker glued on both sides in %q", s)
			}
		}
	}
	if markers == 0 {
		t.Fatal("no bold markers rendered at all")
	}
	if !strings.Contains(strings.Join(mrk, "\n"), "\u200b*送信元IP*\u200b") {
		t.Error("field label is not bold with zero-width spaces around it")
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"あいうえおかきくけこ", 5, "あいうえ…"},
		{"ab&amp;cd", 5, "ab…"},
		{"ab&amp;cd", 8, "ab&amp;…"},
		{"😀😀😀", 4, "😀…"}, // an emoji is two UTF-16 units
	}
	for _, c := range cases {
		if got := truncate(c.in, c.limit); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.limit, got, c.want)
		}
	}
}

func TestEscape(t *testing.T) {
	if got, want := Escape("<!channel> a&b <https://x.example|y>"), "&lt;!channel&gt; a&amp;b &lt;https://x.example|y&gt;"; got != want {
		t.Errorf("Escape = %q, want %q", got, want)
	}
}
