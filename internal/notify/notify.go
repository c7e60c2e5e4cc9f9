// Package notify owns what the Slack and email senders share: the input of
// one notification (Notice), the error type with which they say whether a
// failure is worth retrying (Error), and the few Japanese labels both render
// the same way. It decides nothing about when to notify: the app's outbox
// loop does. It is pure: no I/O, no clock.
package notify

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/health"
)

// Kind says why a notification is sent.
type Kind string

// Kinds of notification.
const (
	KindFirst    Kind = "first"    // a new incident
	KindUpdate   Kind = "update"   // more bounces in a known incident (Slack edits in place)
	KindRepeat   Kind = "repeat"   // a reminder about a known incident
	KindResolved Kind = "resolved" // the incident was marked resolved
	KindDetail   Kind = "detail"   // the long version, sent on request (thread reply, reply mail)
)

// Notice is everything a sender needs to render one notification about one
// incident. Strings taken from bounces (addresses, diagnostics, facts) are
// untrusted; the senders escape them.
type Notice struct {
	IncidentID   int64
	Kind         Kind
	Advice       advice.GroupAdvice
	SendingIP    string // our egress IP as the receiver saw it; "" when unknown
	Provider     string // provider slug, e.g. microsoft
	ProviderName string // display name, e.g. Microsoft(Outlook); falls back to Provider
	Reason       string // short display text of the cause, e.g. 送信サーバーのIP評価低下
	Diagnostic   string // the receiver's own words for one representative bounce
	Count        int    // number of bounces in the incident
	First, Last  time.Time
	// Task is set for a recipient-side item (one recipient's problem): what
	// it asks for, one of incident's tasks (address, mailbox, filter,
	// message). Such items share one digest message; "" for incidents about
	// our sending server, which get a message each.
	Task string
	// Detail is the long version (every bounce with its words, the timeline),
	// pre-rendered by the advice package; shown only in detail notices.
	Detail string
	// Checks are the sender checks (SPF, DMARC, PTR, blocklists) made for
	// this notice, rendered in Japanese; nil when none were made. Shown as
	// the 「確認結果」 section.
	Checks *health.Summary
	// Capped is set when a bounce of this notice named more recipients
	// than are recorded (bounce.Report.Truncated): how many were recorded,
	// the first ones. 0 when nothing was left out. Shown as CapNote.
	Capped int
}

// CapNote is the line that says a bounce named more recipients than the
// recorded first n: none of the others is notified, so it is never silent.
func CapNote(n int) string {
	return fmt.Sprintf("このエラーメールには %d 件を超える宛先があり、最初の %d 件だけを記録しました。", n, n)
}

// DigestCapped is the largest Capped of items: 0 when every bounce of a
// digest had all its recipients recorded.
func DigestCapped(items []Notice) int {
	m := 0
	for _, n := range items {
		m = max(m, n.Capped)
	}
	return m
}

// Title is the one-line summary used as the Slack header and fallback text,
// e.g. "【配信エラー】Microsoft(Outlook)宛て 5件 送信サーバーのIP評価低下".
func (n Notice) Title() string {
	s := n.Tag() + n.ProviderLabel() + "宛て"
	if n.Count > 0 {
		s += fmt.Sprintf(" %d件", n.Count)
	}
	if r := n.ReasonLabel(); r != "" {
		s += " " + r
	}
	return s
}

// Tag is the bracketed prefix: 【配信エラー】, 【配送遅延】 (the sending server
// is still retrying) or 【解決済み】.
func (n Notice) Tag() string {
	switch {
	case n.Kind == KindResolved:
		return "【解決済み】"
	case n.Advice.Retrying:
		return "【配送遅延】"
	default:
		return "【配信エラー】"
	}
}

// ProviderLabel is the display name of the recipients' provider.
func (n Notice) ProviderLabel() string {
	switch {
	case n.ProviderName != "":
		return n.ProviderName
	case n.Provider != "" && n.Provider != "other":
		return n.Provider
	default:
		return "各社"
	}
}

// ReasonLabel is the display text of the cause: Reason, else the advice headline.
func (n Notice) ReasonLabel() string {
	if n.Reason != "" {
		return n.Reason
	}
	return n.Advice.Headline
}

// Summary is the short shape every channel shows first, in plain text
// (unescaped; each sender escapes for its medium) under the Title, which
// says what happened and how many: whether
// the mail arrived or may still arrive, who does what first, and whom it
// hit. The details follow it (or are in Slack's thread).
func (n Notice) Summary() []string {
	var out []string
	if n.Kind == KindResolved {
		out = append(out, "この件は解決済みになりました。")
	}
	if n.Capped > 0 {
		out = append(out, CapNote(n.Capped))
	}
	if o := FirstSentence(n.Advice.Outlook); o != "" {
		out = append(out, "見通し: "+o)
	}
	if w := n.Advice.WhoDoesWhat(140); w != "" && !strings.HasSuffix(w, "】") {
		line := "対応: " + w
		if len(n.Advice.Actions) > 1 {
			line += "（詳しくは下に）"
		}
		out = append(out, line)
	} else if len(n.Advice.Actions) > 0 {
		a := n.Advice.Actions[0]
		who := a.Label
		if who == "" {
			who = string(a.Actor)
		}
		line := "対応: "
		if who != "" {
			line += "［" + who + "］"
		}
		line += FirstSentence(a.Text)
		if k := len(n.Advice.Actions) - 1; k > 0 {
			line += fmt.Sprintf("（ほか %d 件は下に）", k)
		}
		out = append(out, line)
	}
	if rs := n.Advice.Recipients; len(rs) > 0 {
		shown, more := rs, n.Advice.More
		if len(shown) > 6 {
			more += len(shown) - 6
			shown = shown[:6]
		}
		line := "宛先: " + strings.Join(shown, ", ")
		if more > 0 {
			line += fmt.Sprintf(" ほか %d 件", more)
		}
		out = append(out, line)
	}
	return out
}

// FirstSentence is s up to its first 「。」 (inclusive), trimmed.
func FirstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "。"); i >= 0 {
		return s[:i+len("。")]
	}
	return s
}

// TaskLabel is the heading under which a digest lists the items of a task,
// saying what is to be done: 宛先の確認, 相手の受信箱, 相手の受信設定, メールの内容.
func TaskLabel(task string) string {
	switch task {
	case "address":
		return "宛先の確認"
	case "mailbox":
		return "相手の受信箱"
	case "filter":
		return "相手の受信設定"
	case "message":
		return "メールの内容"
	}
	return "その他"
}

// ByTask groups recipient-side items by task: the known tasks in a fixed
// order (address, mailbox, filter, message), others after them by name.
func ByTask(items []Notice) (map[string][]Notice, []string) {
	groups := map[string][]Notice{}
	for _, it := range items {
		groups[it.Task] = append(groups[it.Task], it)
	}
	known := []string{"address", "mailbox", "filter", "message"}
	var order, rest []string
	for _, t := range known {
		if len(groups[t]) > 0 {
			order = append(order, t)
		}
	}
	for t := range groups {
		if !slices.Contains(known, t) {
			rest = append(rest, t)
		}
	}
	sort.Strings(rest)
	return groups, append(order, rest...)
}

// DigestTitle is the one line heading a digest of recipient-side items,
// e.g. 【宛先ごとの配信エラー】5件：宛先の確認 3件 / 相手の受信箱 2件.
func DigestTitle(items []Notice) string {
	groups, order := ByTask(items)
	var heads []string
	for _, t := range order {
		heads = append(heads, fmt.Sprintf("%s %d件", TaskLabel(t), len(groups[t])))
	}
	return fmt.Sprintf("【宛先ごとの配信エラー】%d件：%s", len(items), strings.Join(heads, " / "))
}

// Cause is one explanation shared by several recipient-side items, with the
// recipients it applies to.
type Cause struct {
	Label   string        // ReasonLabel of the items
	Advice  advice.Advice // the shared explanation, outlook and actions
	Members []CauseMember // the recipients, in the items' order
}

// CauseMember is one recipient of a Cause, with its provider's display
// name ("" for a provider without a name of its own: the address's domain
// says it) and what the cause's outlook does not say: 解決済み, or the
// number of mails when several.
type CauseMember struct {
	Address  string
	Provider string
	Note     string
}

// Recipients are the addresses of the cause's members.
func (c Cause) Recipients() []string {
	out := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		out = append(out, m.Address)
	}
	return out
}

// Causes groups items by what is true for all of them (the cause's label,
// the delivery state, the explanation with the provider left generic, the
// outlook and the actions), in the items' order: each explanation is told
// once, naming the recipients it is true for. When the recipients are at
// different providers the generic explanation is told (advice.Advice.General);
// each member carries its own provider instead.
func Causes(items []Notice) []Cause {
	var out []Cause
	index := map[string]int{}
	for _, it := range items {
		general := it.Advice.General
		if general == "" {
			general = it.Advice.Explanation
		}
		var k strings.Builder
		fmt.Fprintf(&k, "%s\x00%s\x00%t\x00%s\x00%s", it.ReasonLabel(), it.Advice.Delivery, it.Advice.Retrying, general, it.Advice.Outlook)
		for _, a := range it.Advice.Actions {
			k.WriteString("\x00" + string(a.Actor) + "\x00" + a.Text)
		}
		i, ok := index[k.String()]
		if !ok {
			i = len(out)
			index[k.String()] = i
			out = append(out, Cause{Label: it.ReasonLabel(), Advice: it.Advice.Advice})
		} else if out[i].Advice.Explanation != it.Advice.Explanation {
			out[i].Advice.Explanation = general
		}
		prov := ""
		if it.Provider != "" && it.Provider != "other" {
			prov = it.ProviderLabel()
		}
		for _, r := range it.Advice.Recipients {
			out[i].Members = append(out[i].Members, CauseMember{Address: r, Provider: prov, Note: it.memberNote()})
		}
	}
	return out
}

// Line is the list line of one member: the address, its provider when it
// has a name, and its note, e.g. 「ishii@client.example.com（Google(Gmail)・2通）」.
func (m CauseMember) Line() string {
	var notes []string
	for _, s := range []string{m.Provider, m.Note} {
		if s != "" {
			notes = append(notes, s)
		}
	}
	if len(notes) == 0 {
		return m.Address
	}
	return m.Address + "（" + strings.Join(notes, "・") + "）"
}

// memberNote is what a cause's member line adds to the cause's outlook.
func (n Notice) memberNote() string {
	var notes []string
	if n.Kind == KindResolved {
		notes = append(notes, "解決済み")
	}
	if n.Count > 1 {
		notes = append(notes, fmt.Sprintf("%d通", n.Count))
	}
	return strings.Join(notes, "・")
}

// DigestState says, for one line of a digest, where the mail stands:
// 届いていません, 再送中 or 解決済み, with the number of mails when several.
func (n Notice) DigestState() string {
	state := "届いていません"
	if n.Advice.Retrying {
		state = "再送中"
	}
	if n.Kind == KindResolved {
		state = "解決済み"
	}
	if n.Count > 1 {
		state += fmt.Sprintf("・%d通", n.Count)
	}
	return state
}

// JST is Japan Standard Time. Japan has no daylight saving time, so a fixed
// zone is exact and needs no tzdata.
func JST() *time.Location { return time.FixedZone("JST", 9*60*60) }

// Period renders First..Last in JST, e.g. "2026/11/27 09:05〜11:30" or
// "2026/11/27 09:05〜2026/11/28 08:00". Zero times render as "".
func Period(first, last time.Time) string {
	const day, clock = "2006/01/02", "15:04"
	switch {
	case first.IsZero() && last.IsZero():
		return ""
	case first.IsZero():
		first = last
	case last.IsZero():
		last = first
	}
	f, l := first.In(JST()), last.In(JST())
	if f.Equal(l) {
		return f.Format(day + " " + clock)
	}
	if f.Format(day) == l.Format(day) {
		return f.Format(day+" "+clock) + "〜" + l.Format(clock)
	}
	return f.Format(day+" "+clock) + "〜" + l.Format(day+" "+clock)
}

// Error is a delivery failure classified by the adapter that saw it.
type Error struct {
	Retryable  bool          // trying again later may succeed
	RetryAfter time.Duration // the receiver's hint; 0 when it gave none
	Err        error
}

func (e *Error) Error() string {
	if e.Retryable {
		if e.RetryAfter > 0 {
			return fmt.Sprintf("temporary failure (retry after %s): %v", e.RetryAfter, e.Err)
		}
		return fmt.Sprintf("temporary failure: %v", e.Err)
	}
	return fmt.Sprintf("permanent failure: %v", e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotAttempted marks (wrapped in a retryable Error) a notification that
// was not tried at all: the receiver is paused as a whole, e.g. a Slack
// workspace during its Retry-After. The caller postpones the item without
// counting an attempt.
var ErrNotAttempted = errors.New("not attempted")

// Temporary wraps err as retryable, with the receiver's hint (0 for none).
func Temporary(err error, after time.Duration) error {
	return &Error{Retryable: true, RetryAfter: after, Err: err}
}

// Permanent wraps err as not worth retrying.
func Permanent(err error) error { return &Error{Err: err} }

// Retryable says whether err is worth retrying and after how long at least
// (0: the caller's own backoff). nil is not retryable. An error that no
// adapter classified counts as retryable, so a notification is not lost to an
// unforeseen failure; callers cap attempts. Context cancellation and
// deadlines are retryable: the notification was not delivered.
func Retryable(err error) (bool, time.Duration) {
	if err == nil {
		return false, 0
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Retryable, e.RetryAfter
	}
	return true, 0
}
