package slack

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// Slack's Block Kit limits that Blocks respects. Lengths are counted in
// UTF-16 code units, which is never less than Slack's character count.
const (
	MaxBlocks       = 50   // blocks per message
	MaxSectionText  = 3000 // characters in a section's text
	MaxFieldText    = 2000 // characters in one section field
	MaxFields       = 10   // fields per section
	MaxHeaderText   = 150  // characters in a header
	MaxButtonText   = 75   // characters in a button label
	MaxFallbackText = 3000 // our own cap on the notification text (Slack cuts at 40,000)
)

// Action IDs of the buttons on an incident message. The button value is the
// incident ID in decimal.
const (
	ActionDetail  = "bw_detail"  // 詳細を見る: post the detail in the thread
	ActionMute    = "bw_mute"    // 24時間ミュート
	ActionResolve = "bw_resolve" // 解決済みにする
)

// How many recipients are listed: in the channel message, and in the detail
// posted in the thread.
const (
	summaryRecipients = 10
	detailRecipients  = 100
	summaryDiagnostic = 500
	extraFacts        = 5
)

// zwsp is put outside bold markers. Slack renders *bold* only at word
// boundaries, and kana or kanji directly beside a marker is no boundary, so
// "*件数*：5" would show the asterisks. A zero-width space is a boundary that
// adds no visible space.
const zwsp = "\u200b"

// Blocks renders a notice as Block Kit blocks plus the plain fallback text
// Slack shows in notifications. Every string taken from the notice is
// escaped for mrkdwn (& < >); the result stays within Slack's limits whatever
// the size of the input. Kind detail renders the long version for a thread
// (more recipients, the full diagnostic, no buttons).
func Blocks(n notify.Notice) ([]slackgo.Block, string) {
	detail := n.Kind == notify.KindDetail
	var body []slackgo.Block

	body = append(body, slackgo.NewHeaderBlock(plain(truncate(n.Title(), MaxHeaderText))))

	var gist []string
	if h := n.Advice.Headline; h != "" && h != n.ReasonLabel() {
		gist = append(gist, bold(escape(h)))
	}
	if e := n.Advice.Explanation; e != "" {
		gist = append(gist, escape(e))
	}
	if o := n.Advice.Outlook; o != "" {
		gist = append(gist, escape(o))
	}
	if n.Kind == notify.KindResolved {
		gist = append([]string{"この件は解決済みになりました。"}, gist...)
	}
	body = append(body, sections(strings.Join(gist, "\n"))...)

	if fs := fields(n); len(fs) > 0 {
		body = append(body, slackgo.NewSectionBlock(nil, fs, nil))
	}

	limit := summaryRecipients
	if detail {
		limit = detailRecipients
	}
	if rs := recipients(n, limit); rs != "" {
		body = append(body, sections(rs)...)
	}

	if d := strings.TrimSpace(n.Diagnostic); d != "" {
		limit := summaryDiagnostic
		if detail {
			limit = MaxSectionText
		}
		body = append(body, slackgo.NewSectionBlock(mrkdwn(codeBlock(bold("受信側の応答（原文）")+"\n", d, limit)), nil, nil))
	}

	body = append(body, checks(n)...)

	if len(n.Advice.Actions) > 0 {
		lines := []string{bold("対応")}
		for i, a := range n.Advice.Actions {
			who := a.Label
			if who == "" {
				who = string(a.Actor)
			}
			line := fmt.Sprintf("%d. ", i+1)
			if who != "" {
				line += "［" + escape(who) + "］"
			}
			lines = append(lines, line+escape(a.Text))
		}
		body = append(body, sections(strings.Join(lines, "\n"))...)
	}

	if ls := links(n); ls != "" {
		body = append(body, sections(ls)...)
	}
	if detail && strings.TrimSpace(n.Detail) != "" {
		body = append(body, sections(escape(strings.TrimSpace(n.Detail)))...)
	}

	tail := []slackgo.Block{slackgo.NewContextBlock("bw_context", mrkdwn(contextText(n)))}
	if !detail {
		tail = append(tail, buttons(n))
	}

	if len(body)+len(tail) > MaxBlocks {
		body = append(body[:MaxBlocks-len(tail)-1],
			slackgo.NewSectionBlock(mrkdwn("（長すぎるため一部を省略しました。）"), nil, nil))
	}
	return append(body, tail...), fallback(n)
}

func fields(n notify.Notice) []*slackgo.TextBlockObject {
	var fs []*slackgo.TextBlockObject
	seen := map[string]bool{}
	add := func(label, value string) {
		// A fact the advice repeats (the same label), the count and period the
		// notice already gives, and the receiver's words (a section of their
		// own) are shown once.
		if value == "" || len(fs) >= MaxFields || seen[label] || strings.Contains(label, "原文") ||
			label == "件数" && seen["件数"] || label == "期間" && seen["期間"] {
			return
		}
		seen[label] = true
		fs = append(fs, mrkdwn(truncate(bold(escape(label))+"\n"+escape(value), MaxFieldText)))
	}
	add("送信元IP", n.SendingIP)
	add("宛先プロバイダ", n.ProviderLabel())
	add("理由", n.ReasonLabel())
	if n.Count > 0 {
		add("件数", strconv.Itoa(n.Count)+"件")
	}
	add("期間", notify.Period(n.First, n.Last))
	for i, f := range n.Advice.Facts {
		if i >= extraFacts {
			break
		}
		add(f.Label, f.Value)
	}
	return fs
}

func recipients(n notify.Notice, limit int) string {
	rs := n.Advice.Recipients
	more := n.Advice.More
	if len(rs) > limit {
		more += len(rs) - limit
		rs = rs[:limit]
	}
	if len(rs) == 0 {
		return ""
	}
	lines := []string{bold("影響を受けた宛先")}
	for _, r := range rs {
		lines = append(lines, "• "+escape(r))
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("ほか %d 件", more))
	}
	return strings.Join(lines, "\n")
}

func links(n notify.Notice) string {
	var lines []string
	for _, l := range n.Advice.Links {
		// Only https, and nothing that could close the <url|title> syntax early.
		if !strings.HasPrefix(l.URL, "https://") || strings.ContainsAny(l.URL, "<>| \n") {
			continue
		}
		title := l.Title
		if title == "" {
			title = l.URL
		}
		title = strings.ReplaceAll(escape(title), "|", "｜")
		lines = append(lines, "• <"+strings.ReplaceAll(l.URL, "&", "&amp;")+"|"+title+">")
	}
	if len(lines) == 0 {
		return ""
	}
	return bold("参考リンク") + "\n" + strings.Join(lines, "\n")
}

func contextText(n notify.Notice) string {
	parts := []string{fmt.Sprintf("インシデント #%d", n.IncidentID), "bouncewatch"}
	if !n.Last.IsZero() {
		parts = append(parts, "最終 "+n.Last.In(notify.JST()).Format("2006/01/02 15:04"))
	}
	if n.Kind != notify.KindDetail && n.Kind != notify.KindResolved {
		parts = append(parts, "スレッドに返信すると詳細をお知らせします")
	}
	return strings.Join(parts, " ・ ")
}

func buttons(n notify.Notice) slackgo.Block {
	id := strconv.FormatInt(n.IncidentID, 10)
	detail := slackgo.NewButtonBlockElement(ActionDetail, id, plain("詳細を見る"))
	detail.Style = slackgo.StylePrimary
	elems := []slackgo.BlockElement{detail}
	if n.Kind != notify.KindResolved {
		elems = append(elems,
			slackgo.NewButtonBlockElement(ActionMute, id, plain("24時間ミュート")),
			slackgo.NewButtonBlockElement(ActionResolve, id, plain("解決済みにする")))
	}
	return slackgo.NewActionBlock("bw_actions", elems...)
}

func fallback(n notify.Notice) string {
	parts := []string{n.Title()}
	if n.Advice.Explanation != "" {
		parts = append(parts, n.Advice.Explanation)
	}
	if n.Advice.Outlook != "" {
		parts = append(parts, n.Advice.Outlook)
	}
	return truncate(escape(strings.Join(parts, "\n")), MaxFallbackText)
}

// sections splits mrkdwn text into sections of at most MaxSectionText, at
// line breaks; a single longer line is truncated.
func sections(text string) []slackgo.Block {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var out []slackgo.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, slackgo.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
			cur.Reset()
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = truncate(line, MaxSectionText)
		if cur.Len() > 0 && slackLen(cur.String())+1+slackLen(line) > MaxSectionText {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	flush()
	return out
}

// codeBlock renders untrusted text as a preformatted block after prefix,
// the whole at most limit long. Backticks inside are replaced so the text
// cannot close the block.
func codeBlock(prefix, s string, limit int) string {
	s = strings.ReplaceAll(escape(s), "`", "ˋ")
	room := limit - slackLen(prefix) - 6
	return prefix + "```" + truncate(s, room) + "```"
}

// escape makes untrusted text safe inside mrkdwn and plain text fields:
// Slack's three control characters, and carriage returns.
func escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", "\n", "\r", "").Replace(s)
}

// bold marks escaped text bold with zero-width spaces outside the markers.
func bold(s string) string {
	return zwsp + "*" + strings.ReplaceAll(s, "*", "＊") + "*" + zwsp
}

// truncate shortens s to at most limit (in UTF-16 units), ending in "…",
// without cutting an HTML entity made by escape.
func truncate(s string, limit int) string {
	if slackLen(s) <= limit {
		return s
	}
	if limit < 1 {
		return ""
	}
	n := 0
	cut := 0
	for i, r := range s {
		l := max(utf16.RuneLen(r), 1)
		if n+l > limit-1 {
			cut = i
			break
		}
		n += l
	}
	s = s[:cut]
	if amp := strings.LastIndexByte(s, '&'); amp >= 0 && !strings.Contains(s[amp:], ";") {
		s = s[:amp]
	}
	return s + "…"
}

// slackLen is the length of s in UTF-16 code units.
func slackLen(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

// Escape makes untrusted text (a bounce, a person's message) safe to put in
// a Reply's text: Slack's control characters & < > become entities, so the
// text can neither mention @channel nor forge links.
func Escape(s string) string { return escape(s) }
