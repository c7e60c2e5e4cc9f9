// Package notify owns what the Slack and email senders share: the input of
// one notification (Notice), the error type with which they say whether a
// failure is worth retrying (Error), and the few Japanese labels both render
// the same way. It decides nothing about when to notify: the app's outbox
// loop does. It is pure: no I/O, no clock.
package notify

import (
	"errors"
	"fmt"
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
	// Detail is the long version (every bounce with its words, the timeline),
	// pre-rendered by the advice package; shown only in detail notices.
	Detail string
	// Checks are the sender checks (SPF, DMARC, PTR, blocklists) made for
	// this notice, rendered in Japanese; nil when none were made. Shown as
	// the 「確認結果」 section.
	Checks *health.Summary
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

// Tag is the bracketed prefix: 【配信エラー】, 【配信遅延】 (the sending server
// is still retrying) or 【解決済み】.
func (n Notice) Tag() string {
	switch {
	case n.Kind == KindResolved:
		return "【解決済み】"
	case n.Advice.Retrying:
		return "【配信遅延】"
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
