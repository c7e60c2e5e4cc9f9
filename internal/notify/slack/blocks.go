package slack

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/health"
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
	ActionMute    = "bw_mute"    // 通知を24時間停止
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
// escaped for mrkdwn (& < > and the formatting marks * _ ~ `); the result
// stays within Slack's limits whatever the size of the input. A channel
// message is short (Short); kind detail renders the long version for a
// thread (explanation, every action, recipients, the receiver's words,
// links, no buttons).
func Blocks(n notify.Notice) ([]slackgo.Block, string) {
	if n.Kind != notify.KindDetail {
		return Short(n)
	}
	detail := true
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

func contextText(n notify.Notice) string { return contextOf(n, true) }

// contextOf is the context line; withLast adds the time of the last bounce
// (a short message shows the period in its body already).
func contextOf(n notify.Notice, withLast bool) string {
	parts := []string{notify.Number(n.IncidentID), "bouncewatch"}
	if withLast && !n.Last.IsZero() {
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
			slackgo.NewButtonBlockElement(ActionMute, id, plain("通知を24時間停止")),
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
	// No formatting applies inside a code block: only Slack's control
	// characters are escaped, and backticks, which could close it.
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", "\n", "\r", "", "`", "ˋ").Replace(strings.ToValidUTF8(s, "\uFFFD"))
	room := limit - slackLen(prefix) - 6
	return prefix + "```" + truncate(s, room) + "```"
}

// escape makes untrusted text safe inside mrkdwn and plain text fields:
// Slack's three control characters (& < >), carriage returns, and the
// formatting marks, so that a bounce's *x*, _x_, ~x~ or `x` shows as
// written instead of bold, italic, struck or code. Slack has no escape for
// the marks (https://api.slack.com/reference/surfaces/formatting), so they
// become look-alikes: ∗ ∼ ˋ always, and ＿ where an underscore could open or
// close italics (at a word's edge; user_name@example.jp keeps its "_").
func escape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", "\n", "\r", "",
		"*", "∗", "~", "∼", "`", "ˋ").Replace(s)
	if !strings.Contains(s, "_") {
		return s
	}
	rs := []rune(s)
	word := func(i int) bool { return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) }
	for i, r := range rs {
		if r == '_' && (!word(i-1) || !word(i+1)) {
			rs[i] = '＿'
		}
	}
	return string(rs)
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

// Limits of the short channel messages: a person reads about five lines.
const (
	shortAction     = 90  // characters of the first action shown in the channel
	shortWho        = 140 // display columns of the line of who does what
	shortRecipients = 6   // addresses a sending-side message names; the rest go to the thread
	digestLines     = 10  // recipient lines a digest shows; the rest go to the thread
	digestLine      = 70  // characters of one digest line after the address
	MaxVisible      = 700 // visible characters of a channel message (header, texts, buttons)
)

// Short renders the channel message of an incident about our sending server
// (or the route): about five lines saying what happened, whether the mail
// arrived or may still arrive, who does what first, whom it hit and how
// many. Everything else (the explanation, every action, the receiver's
// words, links) is in the detail (Blocks of kind detail), posted in the
// thread on request.
func Short(n notify.Notice) ([]slackgo.Block, string) {
	blocks, _ := shortFit(n)
	return blocks, fallback(n)
}

// shortFit renders Short naming as many recipients (up to shortRecipients)
// as fit in MaxVisible, and returns how many it named.
func shortFit(n notify.Notice) ([]slackgo.Block, int) {
	k := min(shortRecipients, len(n.Advice.Recipients))
	for {
		blocks := shortBlocks(n, k)
		if k == 0 || VisibleLen(blocks) <= MaxVisible {
			return blocks, k
		}
		k--
	}
}

func shortBlocks(n notify.Notice, named int) []slackgo.Block {
	var lines []string
	if n.Kind == notify.KindResolved {
		lines = append(lines, "この件は解決済みになりました。")
	}
	if o := firstSentence(n.Advice.Outlook); o != "" {
		lines = append(lines, escape(truncate(o, 120)))
	}
	if c := checksLine(n); c != "" {
		lines = append(lines, c)
	}
	if a := whoDoesWhat(n); a != "" {
		lines = append(lines, bold("対応")+" "+a)
	}
	if rs := inlineRecipients(n.Advice.Recipients, n.Advice.More, named); rs != "" {
		lines = append(lines, bold("宛先")+" "+rs)
	}
	if n.Capped > 0 {
		lines = append(lines, escape(notify.CapNote(n.Capped)))
	}
	var facts []string
	if n.SendingIP != "" {
		facts = append(facts, "送信元IP "+escape(truncate(n.SendingIP, 45)))
	}
	if p := notify.Period(n.First, n.Last); p != "" {
		facts = append(facts, p)
	}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, " ・ "))
	}
	blocks := []slackgo.Block{slackgo.NewHeaderBlock(plain(truncate(n.Title(), MaxHeaderText)))}
	blocks = append(blocks, sections(strings.Join(lines, "\n"))...)
	return append(blocks, slackgo.NewContextBlock("bw_context", mrkdwn(contextOf(n, notify.Period(n.First, n.Last) == ""))), buttons(n))
}

// Hidden lists the recipients a Short message does not name (nil when it
// names them all), for a reply in its thread: nothing is lost.
func Hidden(n notify.Notice) []string {
	_, named := shortFit(n)
	if len(n.Advice.Recipients) <= named && n.Advice.More == 0 {
		return nil
	}
	return n.Advice.Recipients[named:]
}

// ListBlocks renders a thread reply naming recipients a channel message
// could not show.
func ListBlocks(title string, addrs []string, more int) ([]slackgo.Block, string) {
	var lines []string
	for _, a := range addrs {
		lines = append(lines, "• "+code(a))
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("ほか %d 件（「詳細を見る」で一覧を表示します）", more))
	}
	blocks := []slackgo.Block{slackgo.NewHeaderBlock(plain(truncate(title, MaxHeaderText)))}
	blocks = append(blocks, sections(strings.Join(lines, "\n"))...)
	if len(blocks) > MaxBlocks {
		blocks = append(blocks[:MaxBlocks-1], slackgo.NewSectionBlock(mrkdwn("（長すぎるため一部を省略しました。）"), nil, nil))
	}
	return blocks, truncate(escape(title), MaxFallbackText)
}

// Digest renders one channel message for the recipient-side items of a
// batch (each item is one recipient's problem), grouped by what is to be
// done, one line per recipient: 「宛先の確認 3件 / 相手の受信箱 2件」. The
// explanations and actions are in DigestThread, posted in its thread.
func Digest(items []notify.Notice) ([]slackgo.Block, string) {
	for limit := digestLines; ; limit-- {
		blocks, fb := digestBlocks(items, limit)
		if limit <= 1 || VisibleLen(blocks) <= MaxVisible {
			return blocks, fb
		}
	}
}

// digestBlocks renders Digest with at most limit recipient lines.
func digestBlocks(items []notify.Notice, limit int) ([]slackgo.Block, string) {
	groups, order := notify.ByTask(items)
	title := notify.DigestTitle(items)
	// Lines are shared out between the groups in turn, so that every group
	// shows at least its first recipients.
	quota := map[string]int{}
	for left := limit; left > 0; {
		gave := false
		for _, t := range order {
			if left > 0 && quota[t] < len(groups[t]) {
				quota[t]++
				left--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	var lines []string
	hidden := false
	for _, t := range order {
		lines = append(lines, bold(escape(notify.TaskLabel(t))))
		for _, it := range groups[t][:quota[t]] {
			lines = append(lines, "• "+digestLineOf(it))
		}
		if rest := len(groups[t]) - quota[t]; rest > 0 {
			lines = append(lines, fmt.Sprintf("ほか %d 件", rest))
			hidden = true
		}
	}
	if hidden {
		lines = append(lines, "（全員の一覧はスレッドに）")
	}
	if c := notify.DigestCapped(items); c > 0 {
		lines = append(lines, escape(notify.CapNote(c)))
	}
	blocks := []slackgo.Block{slackgo.NewHeaderBlock(plain(truncate(title, MaxHeaderText)))}
	blocks = append(blocks, sections(strings.Join(lines, "\n"))...)
	blocks = append(blocks, slackgo.NewContextBlock("bw_context", mrkdwn("bouncewatch ・ 説明と対応はスレッドに ・ スレッドに返信すると各宛先の詳細をお知らせします")))
	return blocks, truncate(escape(title), MaxFallbackText)
}

// DigestThread renders the thread reply of a digest: per task, each
// distinct cause once (its explanation, where the mail stands and the
// actions), followed by the recipients it is true for, one line each with
// their provider.
func DigestThread(items []notify.Notice) ([]slackgo.Block, string) {
	return digestThread("説明と対応", items)
}

// maxThreadPart bounds the visible characters of one thread reply of a
// digest. Slack documents 50 blocks and 3,000 characters per section, and
// refuses a message's text beyond 40,000 (msg_too_long,
// https://api.slack.com/methods/chat.postMessage); a reply of at most
// 12,000 stays well inside and is still read on a phone.
const maxThreadPart = 12000

// DigestThreadParts is DigestThread cut into replies that each fit
// Slack's limits (MaxBlocks blocks, MaxSectionText per section), so that
// every recipient of a huge digest (one bounce naming 1,000) is named in
// its thread instead of the list being cut short. The first part has the
// header, the last the note on how to ask for the details.
func DigestThreadParts(items []notify.Notice) ([][]slackgo.Block, string) {
	title := "説明と対応"
	body := digestThreadBody(title, items)
	ask := slackgo.NewContextBlock("bw_context", mrkdwn(digestAsk))
	var parts [][]slackgo.Block
	for len(body) > 0 {
		var part []slackgo.Block
		if len(parts) > 0 {
			part = append(part, slackgo.NewHeaderBlock(plain(fmt.Sprintf("%s（つづき %d）", title, len(parts)+1))))
		}
		// At least one block per part; room for the note kept.
		size := 0
		n := 0
		for n < len(body) && len(part)+n < MaxBlocks-1 {
			l := VisibleLen(body[n : n+1])
			if n > 0 && size+l > maxThreadPart {
				break
			}
			size += l
			n++
		}
		part = append(part, body[:n]...)
		body = body[n:]
		parts = append(parts, part)
	}
	// Every part has room for one more block; body has the header at least.
	last := len(parts) - 1
	parts[last] = append(parts[last], ask)
	return parts, title
}

// DigestUpdate renders the thread reply that follows an edit of a digest:
// the explanation and actions of the items whose state changed (a delay
// that failed, more bounces), as they stand now, so that the thread never
// leaves an outdated advice as the last word.
func DigestUpdate(items []notify.Notice) ([]slackgo.Block, string) {
	return digestThread("状況が変わりました（説明と対応の最新版）", items)
}

func digestThread(title string, items []notify.Notice) ([]slackgo.Block, string) {
	body := digestThreadBody(title, items)
	body = append(body, slackgo.NewContextBlock("bw_context", mrkdwn(digestAsk)))
	if len(body) > MaxBlocks {
		body = append(body[:MaxBlocks-2], slackgo.NewSectionBlock(mrkdwn("（長すぎるため一部を省略しました。）"), nil, nil), body[len(body)-1])
	}
	return body, title
}

// digestThreadBody is the content of a digest's thread: the header, then
// per task each cause with its recipients, explanation and actions.
func digestThreadBody(title string, items []notify.Notice) []slackgo.Block {
	groups, order := notify.ByTask(items)
	body := []slackgo.Block{slackgo.NewHeaderBlock(plain(title))}
	for _, t := range order {
		lines := []string{bold(escape(notify.TaskLabel(t)) + fmt.Sprintf(" %d件", len(groups[t])))}
		for i, c := range notify.Causes(groups[t]) {
			if i > 0 {
				lines = append(lines, "")
			}
			lines = append(lines, bold(escape(c.Label))+fmt.Sprintf("（%d件）", len(c.Members)))
			for _, m := range c.Members {
				lines = append(lines, "• "+memberLine(m))
			}
			if e := c.Advice.Explanation; e != "" {
				lines = append(lines, escape(e))
			}
			if o := c.Advice.Outlook; o != "" {
				lines = append(lines, escape(o))
			}
			for i, a := range c.Advice.Actions {
				lines = append(lines, fmt.Sprintf("%d. %s", i+1, actionText(a)))
			}
		}
		body = append(body, sections(strings.Join(lines, "\n"))...)
	}
	return body
}

// DigestDetail renders the answer to a reply in a digest's thread: the
// note (who asked, and what could not be done), then the detail text of
// every item (advice.DetailText: each bounce with the receiver's words),
// shown exactly in code blocks.
func DigestDetail(note, detail string) ([]slackgo.Block, string) {
	const title = "詳細（各宛先のエラーメールの内容）"
	blocks := []slackgo.Block{slackgo.NewHeaderBlock(plain(title))}
	if note != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(note), nil, nil))
	}
	// One code block per bounce, so that a long list is cut between bounces.
	for _, part := range strings.Split(strings.TrimSpace(detail), "\n\n") {
		if part = strings.TrimSpace(part); part != "" {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(codeBlock("", part, MaxSectionText)), nil, nil))
		}
	}
	if len(blocks) > MaxBlocks {
		blocks = append(blocks[:MaxBlocks-1], slackgo.NewSectionBlock(mrkdwn("（長すぎるため一部を省略しました。）"), nil, nil))
	}
	return blocks, title
}

// digestAsk tells how to get the details of a digest's items.
const digestAsk = "このスレッドに「詳細」と書き込むと、各宛先のエラーメールの内容(相手サーバーの応答の原文など)をここに返信します。"

// memberLine is a cause's recipient: the address in code, then its
// provider and state.
func memberLine(m notify.CauseMember) string {
	line := code(m.Address)
	if rest := strings.TrimPrefix(m.Line(), m.Address); rest != "" {
		line += escape(rest)
	}
	return line
}

// digestLineOf is one recipient's line: the address, the cause and whether
// the mail may still arrive.
func digestLineOf(n notify.Notice) string {
	addr := ""
	if len(n.Advice.Recipients) > 0 {
		addr = n.Advice.Recipients[0]
	}
	return code(addr) + " " + escape(truncate(n.ReasonLabel()+"（"+n.DigestState()+"）", digestLine))
}

// whoDoesWhat is the one line of who does what: each actor once with the
// short form of their first action (advice.WhoDoesWhat), or else the first
// action cut to its first sentence.
func whoDoesWhat(n notify.Notice) string {
	if w := n.Advice.WhoDoesWhat(shortWho); w != "" && !strings.Contains(w, "】\u3000") && !strings.HasSuffix(w, "】") {
		return escape(w)
	}
	return firstAction(n.Advice.Actions)
}

// checksLine is the one line a channel message gives the sender checks
// (確認結果): how many findings and what follows; the section itself is
// posted in the thread (ChecksBlocks).
func checksLine(n notify.Notice) string {
	if n.Checks == nil || len(n.Checks.Lines) == 0 {
		return ""
	}
	first := escape(truncate(n.Checks.Lines[0], 80))
	if k := len(n.Checks.Lines) - 1; k > 0 {
		return bold(health.Heading) + " " + first + fmt.Sprintf("（ほか %d 件と対応はスレッドに）", k)
	}
	return bold(health.Heading) + " " + first
}

// ChecksBlocks renders the 確認結果 section as a thread reply (nil when the
// notice has no findings).
func ChecksBlocks(n notify.Notice) ([]slackgo.Block, string) {
	if n.Checks == nil || len(n.Checks.Lines) == 0 {
		return nil, ""
	}
	// As checks renders it, under the header instead of a bold heading.
	var lines []string
	if w := n.Checks.When(notify.JST()); w != "" {
		lines = append(lines, escape(w))
	}
	for _, l := range n.Checks.Lines {
		lines = append(lines, "• "+escape(l))
	}
	for _, a := range n.Checks.Actions {
		lines = append(lines, actionLine(*n.Checks, a))
	}
	blocks := append([]slackgo.Block{slackgo.NewHeaderBlock(plain(health.Heading))}, sections(strings.Join(lines, "\n"))...)
	if len(blocks) > MaxBlocks {
		blocks = blocks[:MaxBlocks]
	}
	return blocks, health.Heading
}

// firstAction is the first action, shortened to its first sentence.
func firstAction(as []advice.Action) string {
	if len(as) == 0 {
		return ""
	}
	a := as[0]
	a.Text = truncate(firstSentence(a.Text), shortAction)
	return actionText(a)
}

// actionText is "［who］text", escaped.
func actionText(a advice.Action) string {
	who := a.Label
	if who == "" {
		who = string(a.Actor)
	}
	s := ""
	if who != "" {
		s = "［" + escape(who) + "］"
	}
	return s + escape(a.Text)
}

// firstSentence is s up to its first 「。」 (inclusive).
func firstSentence(s string) string { return notify.FirstSentence(s) }

// inlineRecipients names the first addresses on one line, then ほか N 件.
func inlineRecipients(rs []string, more, named int) string {
	if len(rs) == 0 {
		return ""
	}
	more += len(rs) - named
	var parts []string
	for _, r := range rs[:named] {
		parts = append(parts, code(r))
	}
	s := strings.Join(parts, " ")
	if more > 0 {
		s = strings.TrimSpace(s + fmt.Sprintf(" ほか %d 件（スレッドに一覧）", more))
	}
	return s
}

// code shows untrusted text (an address) exactly as written, in inline code
// where no formatting applies; backticks inside become look-alikes so the
// text cannot close the span.
func code(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "ˋ", "\n", " ", "\r", "").Replace(strings.ToValidUTF8(s, "\uFFFD"))
	return "`" + truncate(s, 200) + "`"
}

// Visible is the text a person sees in blocks, without markup: headers,
// sections, fields, context texts and button labels, with mrkdwn marks,
// zero-width spaces and link targets removed and entities decoded. Its
// length is what MaxVisible bounds.
func Visible(blocks []slackgo.Block) string {
	var b strings.Builder
	add := func(t *slackgo.TextBlockObject) {
		if t == nil {
			return
		}
		s := t.Text
		if t.Type == slackgo.MarkdownType {
			s = visibleMrkdwn(s)
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for _, bl := range blocks {
		switch x := bl.(type) {
		case *slackgo.HeaderBlock:
			add(x.Text)
		case *slackgo.SectionBlock:
			add(x.Text)
			for _, f := range x.Fields {
				add(f)
			}
		case *slackgo.ContextBlock:
			for _, e := range x.ContextElements.Elements {
				if t, ok := e.(*slackgo.TextBlockObject); ok {
					add(t)
				}
			}
		case *slackgo.ActionBlock:
			for _, e := range x.Elements.ElementSet {
				if btn, ok := e.(*slackgo.ButtonBlockElement); ok {
					add(btn.Text)
				}
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// VisibleLen is the number of characters of VisibleText(blocks).
func VisibleLen(blocks []slackgo.Block) int { return utf8.RuneCountInString(Visible(blocks)) }

func visibleMrkdwn(s string) string {
	// <url|title> shows the title.
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			out.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			out.WriteString(s)
			break
		}
		out.WriteString(s[:i])
		link := s[i+1 : i+j]
		if _, title, ok := strings.Cut(link, "|"); ok {
			out.WriteString(title)
		} else {
			out.WriteString(link)
		}
		s = s[i+j+1:]
	}
	return strings.NewReplacer(zwsp, "", "*", "", "`", "", "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(out.String())
}
