package slack

import (
	"encoding/json"
	"fmt"
	"slices"
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
					{Actor: advice.ActorHosting, Label: "ホスティング会社", Text: "送信IPの除外申請を依頼してください。", Short: "除外申請を依頼する"},
					{Actor: advice.ActorSender, Label: "送信者", Text: "解除後に再送してください。", Short: "解除後に再送する"},
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
	n.Kind = notify.KindDetail
	det, _ := Blocks(n)
	dall, _ := texts(t, det)
	djoined := strings.Join(dall, "\n")
	for _, want := range []string{"192.0.2.25", "550 5.7.1", "taro@example.com", "1. ［ホスティング会社］送信IPの除外申請", "2. ［送信者］",
		"<https://sender.office.com/|Sender Support>", "受信側の応答", "受け取りを拒否しました"} {
		if !strings.Contains(djoined, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	n.Kind = notify.KindFirst
	blocks, fb := Blocks(n)
	if l := VisibleLen(blocks); l > MaxVisible {
		t.Errorf("channel message of %d visible characters, want at most %d:\n%s", l, MaxVisible, Visible(blocks))
	}
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
	for _, want := range []string{"192.0.2.25", "Microsoft(Outlook)", "5件", "2026/11/27 09:05〜11:30",
		"`taro@example.com`", "`hanako@example.net`", "このメールは届きません。",
		"通知 #42", "【ホスティング会社】除外申請を依頼する", "【送信者】解除後に再送する"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rendered blocks lack %q", want)
		}
	}
	for _, not := range []string{"550 5.7.1", "受け取りを拒否しました", "sender.office.com"} {
		if strings.Contains(joined, not) {
			t.Errorf("the channel message shows %q, which belongs in the thread", not)
		}
	}
	if strings.Contains(joined+djoined, "http://example.com/") {
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
		listed, more := 6, 514
		if kind == notify.KindDetail {
			listed, more = 100, 420
		} else if l := VisibleLen(blocks); l > MaxVisible {
			t.Errorf("%s: %d visible characters, want at most %d", kind, l, MaxVisible)
		}
		if !strings.Contains(joined, fmt.Sprintf("user%03d@example.com", listed-1)) || strings.Contains(joined, fmt.Sprintf("user%03d@example.com", listed)) {
			t.Errorf("%s: want exactly the first %d recipients listed", kind, listed)
		}
		if !strings.Contains(joined, fmt.Sprintf("ほか %d 件", more)) {
			t.Errorf("%s: lacks ほか %d 件", kind, more)
		}
		if !strings.Contains(joined, "…") && kind == notify.KindDetail {
			t.Errorf("%s: nothing was marked as truncated", kind)
		}
		if strings.Contains(joined, "&amp…") || strings.Contains(joined, "&lt…") || strings.Contains(joined, "&g…") {
			t.Errorf("%s: an entity was cut", kind)
		}
	}
	n.Kind = notify.KindDetail
	for i := range 2000 {
		n.Advice.Actions = append(n.Advice.Actions, advice.Action{Label: "管理者", Text: fmt.Sprintf("追加手順%d: %s", i, strings.Repeat("設定", 60))})
	}
	if ms := asMaps(t, mustBlocks(n)); len(ms) != MaxBlocks || !strings.Contains(fmt.Sprint(ms[len(ms)-2]), "省略") {
		t.Errorf("got %d blocks; want %d ending in an omission note before the context", len(ms), MaxBlocks)
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
	n.Kind = notify.KindDetail
	detail, _ := Blocks(n)
	dall, _ := texts(t, detail)
	joined := strings.Join(all, "\n") + "\n" + fb + "\n" + strings.Join(dall, "\n")
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

// Issue 13 item 6: Slack's formatting marks in bounce text show as written
// (never bold, italic, struck or code); an address keeps its own underscores.
func TestBlocksFormattingMarksEscaped(t *testing.T) {
	n := sampleNotice()
	n.Advice.Outlook = "*太字* _斜体_ ~取消~ `コード` *届きません*。"
	n.Advice.Recipients = []string{"taro_yamada@example.com", "*boss*@example.com"}
	n.Advice.Actions = []advice.Action{{Label: "送信者", Text: "_すぐに_ ~確認~ してください。"}}
	for _, kind := range []notify.Kind{notify.KindFirst, notify.KindDetail} {
		n.Kind = kind
		_, mrk := texts(t, mustBlocks(n))
		joined := strings.Join(mrk, "\n")
		for _, bad := range []string{"*太字*", "_斜体_", "~取消~", "`コード`", "*届きません*", "_すぐに_", "~確認~"} {
			if strings.Contains(joined, bad) {
				t.Errorf("%s: %q would render as formatting", kind, bad)
			}
		}
		if !strings.Contains(joined, "∗太字∗") || !strings.Contains(joined, "ˋコードˋ") {
			t.Errorf("%s: the marks are not shown as look-alikes:\n%s", kind, joined)
		}
		if !strings.Contains(joined, "taro_yamada@example.com") {
			t.Errorf("%s: an address lost its underscore:\n%s", kind, joined)
		}
	}
	// Inside the code block of the receiver's words nothing formats: they
	// are shown exactly.
	n.Kind = notify.KindDetail
	n.Diagnostic = "550 *spam* _score_ ~9~"
	_, mrk := texts(t, mustBlocks(n))
	if !strings.Contains(strings.Join(mrk, "\n"), "```550 *spam* _score_ ~9~```") {
		t.Errorf("the receiver's words are altered in their code block:\n%s", strings.Join(mrk, "\n"))
	}
	if got, want := escape("a_b _c_ x_"), "a_b ＿c＿ x＿"; got != want {
		t.Errorf("escape = %q, want %q", got, want)
	}
}

func TestDigest(t *testing.T) {
	item := func(addr, task, reason string, retrying bool) notify.Notice {
		return notify.Notice{Kind: notify.KindFirst, Task: task, Reason: reason, Count: 1,
			Advice: advice.GroupAdvice{Advice: advice.Advice{Retrying: retrying, Explanation: reason + "の説明（" + addr + "）。", General: reason + "の説明。",
				Outlook: "見通し。", Actions: []advice.Action{{Label: "送信者", Text: reason + "の対応。"}}}, Recipients: []string{addr}}}
	}
	items := []notify.Notice{
		item("a@example.com", "address", "宛先のアドレスが存在しません", false),
		item("b@example.net", "mailbox", "相手の受信箱が満杯です", true),
		item("d@example.net", "mailbox", "相手の受信箱が満杯です", false),
		item("c@example.org", "address", "宛先のアドレスが存在しません", false),
	}
	items[2].Count = 3 // three mails to one full mailbox
	for i := range 11 {
		items = append(items, item(fmt.Sprintf("x%02d@example.jp", i), "address", "宛先のドメインが存在しません", false))
	}
	blocks, fb := Digest(items)
	if l := VisibleLen(blocks); l > MaxVisible {
		t.Errorf("digest of %d visible characters, want at most %d:\n%s", l, MaxVisible, Visible(blocks))
	}
	vis := Visible(blocks)
	if !strings.HasPrefix(vis, "【宛先ごとの配信エラー】15件：宛先の確認 13件 / 相手の受信箱 2件") || !strings.Contains(fb, "宛先の確認 13件") {
		t.Errorf("digest header:\n%s", vis)
	}
	if !strings.Contains(vis, "b@example.net 相手の受信箱が満杯です（再送中）") || !strings.Contains(vis, "d@example.net 相手の受信箱が満杯です（届いていません・3通）") || !strings.Contains(vis, "ほか 5 件") || !strings.Contains(vis, "全員の一覧はスレッドに") {
		t.Errorf("digest lines:\n%s", vis)
	}
	thread, _ := DigestThread(items)
	tv := Visible(thread)
	for _, it := range items {
		if !strings.Contains(tv, it.Advice.Recipients[0]) {
			t.Errorf("thread does not name %s", it.Advice.Recipients[0])
		}
	}
	// Told once for its recipients, whatever their providers.
	if strings.Count(tv, "宛先のアドレスが存在しませんの説明。") != 1 || strings.Count(tv, "宛先のドメインが存在しませんの説明。") != 1 ||
		strings.Count(tv, "相手の受信箱が満杯ですの説明") != 2 || strings.Contains(tv, "の説明（a@example.com）") || !strings.Contains(tv, "1. ［送信者］相手の受信箱が満杯ですの対応。") {
		t.Errorf("thread explains each cause once with its actions:\n%s", tv)
	}
	for _, msg := range [][]slackgo.Block{blocks, thread} {
		for _, p := range slacktest.CheckBlocks(asMaps(t, msg)) {
			t.Error(p)
		}
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
	n.Kind = notify.KindDetail
	_, dmrk := texts(t, mustBlocks(n))
	if !strings.Contains(strings.Join(dmrk, "\n"), "\u200b*送信元IP*\u200b") {
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

// Long addresses never push a channel message past MaxVisible: the ones
// that do not fit are left to the thread (Hidden).
func TestShortAndDigestFitLongAddresses(t *testing.T) {
	long := func(i int) string {
		return fmt.Sprintf("%s%02d@%s.example.com", strings.Repeat("a", 60), i, strings.Repeat("b", 60))
	}
	n := sampleNotice()
	n.Advice.Recipients = nil
	for i := range 8 {
		n.Advice.Recipients = append(n.Advice.Recipients, long(i))
	}
	blocks, _ := Short(n)
	if l := VisibleLen(blocks); l > MaxVisible {
		t.Errorf("short message of %d visible characters:\n%s", l, Visible(blocks))
	}
	vis := Visible(blocks)
	hidden := Hidden(n)
	for _, a := range n.Advice.Recipients {
		if strings.Contains(vis, a) == slices.Contains(hidden, a) {
			t.Errorf("%s is named in the message: %v, and in the hidden list: %v", a, strings.Contains(vis, a), slices.Contains(hidden, a))
		}
	}
	var items []notify.Notice
	for i := range 12 {
		items = append(items, notify.Notice{Task: "address", Reason: "宛先のアドレスが存在しません", Count: 1,
			Advice: advice.GroupAdvice{Recipients: []string{long(i)}}})
	}
	blocks, _ = Digest(items)
	if l := VisibleLen(blocks); l > MaxVisible {
		t.Errorf("digest of %d visible characters:\n%s", l, Visible(blocks))
	}
	if !strings.Contains(Visible(blocks), long(0)) || !strings.Contains(Visible(blocks), "全員の一覧はスレッドに") {
		t.Errorf("digest:\n%s", Visible(blocks))
	}
}

// A digest of 3,000 items (three bounces of 1,000) has a thread in
// replies that each fit Slack's limits and together name every recipient
// once per cause; the post itself stays short and says how many are left
// out, and a cut bounce says so (notify.CapNote).
func TestDigestThreadPartsFitAndNameAll(t *testing.T) {
	item := func(addr, task, reason string) notify.Notice {
		return notify.Notice{Kind: notify.KindFirst, Task: task, Reason: reason, Count: 1,
			Advice: advice.GroupAdvice{Advice: advice.Advice{Explanation: reason + "の説明。", General: reason + "の説明。",
				Actions: []advice.Action{{Label: "送信者", Text: reason + "の対応。"}}}, Recipients: []string{addr}}}
	}
	var items []notify.Notice
	for i := range 3000 {
		task, reason := "address", "宛先のアドレスが存在しません"
		if i%3 == 1 {
			task, reason = "mailbox", "相手の受信箱が満杯です"
		}
		items = append(items, item(fmt.Sprintf("user%04d@example.com", i), task, reason))
	}
	items[5].Capped = 1000
	parts, _ := DigestThreadParts(items)
	if len(parts) < 2 {
		t.Fatalf("%d thread parts for 3,000 recipients", len(parts))
	}
	var all strings.Builder
	for i, p := range parts {
		if len(p) > MaxBlocks {
			t.Errorf("part %d has %d blocks, Slack takes %d", i, len(p), MaxBlocks)
		}
		headers := 0
		for _, b := range p {
			if _, ok := b.(*slackgo.HeaderBlock); ok {
				headers++
			}
		}
		if headers != 1 {
			t.Errorf("part %d has %d headers, want 1 (a reply is read on its own)", i, headers)
		}
		for _, b := range p {
			if s, ok := b.(*slackgo.SectionBlock); ok && s.Text != nil && slackLen(s.Text.Text) > MaxSectionText {
				t.Errorf("part %d has a section of %d characters", i, slackLen(s.Text.Text))
			}
		}
		all.WriteString(Visible(p) + "\n")
	}
	text := all.String()
	for i := range 3000 {
		if a := fmt.Sprintf("user%04d@example.com", i); !strings.Contains(text, a) {
			t.Fatalf("%s is in no thread part", a)
		}
	}
	if strings.Contains(text, "一部を省略") {
		t.Error("the thread says it left something out")
	}
	if !strings.Contains(Visible(parts[len(parts)-1]), "詳細") {
		t.Error("the last part does not tell how to ask for the details")
	}
	blocks, _ := Digest(items)
	vis := Visible(blocks)
	if VisibleLen(blocks) > MaxVisible || !strings.Contains(vis, "ほか") || !strings.Contains(vis, notify.CapNote(1000)) {
		t.Errorf("the digest post (%d visible characters):\n%s", VisibleLen(blocks), vis)
	}
}
