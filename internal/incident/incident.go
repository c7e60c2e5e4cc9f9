// Package incident owns the grouping of bounces into incidents and the
// decision, in the manner of Alertmanager, of when to tell people about an
// incident: a first notice after a group wait, updates when it changed, repeats
// while it lasts, and a resolved notice once it has been quiet.
//
// The package is pure: no I/O, no clock (the time is always passed in), no
// logging. The store persists incidents and the notification log and calls
// Decide; this package only says what to do.
package incident

import (
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// Family groups reasons that share one cause and one remedy, so that, for
// example, a "blocked" and a "badreputation" from the same provider for the
// same sending IP land in one incident.
type Family string

// Reason families. See FamilyOf for the mapping.
const (
	// FamilyReputation: the receiver refuses or throttles our sending IP or
	// domain (blocklists, reputation, rate limits). Remedy: the hosting
	// company / sending volume.
	FamilyReputation Family = "reputation"
	// FamilyAuthentication: SPF/DKIM/DMARC, PTR, TLS, or the envelope sender
	// itself refused. Remedy: DNS and server settings (the administrator).
	FamilyAuthentication Family = "authentication"
	// FamilyAddress: the recipient address does not work (unknown user or
	// domain, moved, suspended, does not accept mail, suppressed). Remedy:
	// correct the address. The sending IP is irrelevant to the cause but is
	// still part of the key.
	FamilyAddress Family = "address"
	// FamilyContent: the message itself was refused (spam, virus, policy,
	// malformed, recipient-side filters).
	FamilyContent Family = "content"
	// FamilySize: the message or the mailbox is too big or full.
	FamilySize Family = "size"
	// FamilyTransient: delivery may still succeed or failed for reasons that
	// usually pass (timeouts, network and system errors, greylisting, held).
	FamilyTransient Family = "transient"
	// FamilyOther: undefined or unexpected reasons.
	FamilyOther Family = "other"
)

// families maps each reason to its family. Reasons not listed are FamilyOther.
// toomanyconn is a reputation matter (the receiver throttles our IP), not a
// transient one, because the remedy is the same as for speeding.
var families = map[bounce.Reason]Family{
	bounce.ReasonBadReputation: FamilyReputation,
	bounce.ReasonBlocked:       FamilyReputation,
	bounce.ReasonSpeeding:      FamilyReputation,
	bounce.ReasonTooManyConn:   FamilyReputation,

	bounce.ReasonAuthFailure:    FamilyAuthentication,
	bounce.ReasonSecurityError:  FamilyAuthentication,
	bounce.ReasonRequirePTR:     FamilyAuthentication,
	bounce.ReasonFailedSTARTTLS: FamilyAuthentication,
	bounce.ReasonRejected:       FamilyAuthentication, // envelope sender refused
	bounce.ReasonNoRelaying:     FamilyAuthentication, // relaying denied: usually sender/auth setup

	bounce.ReasonUserUnknown: FamilyAddress,
	bounce.ReasonHostUnknown: FamilyAddress,
	bounce.ReasonHasMoved:    FamilyAddress,
	bounce.ReasonSuspend:     FamilyAddress,
	bounce.ReasonNotAccept:   FamilyAddress,
	bounce.ReasonSuppressed:  FamilyAddress,

	bounce.ReasonFiltered:        FamilyContent,
	bounce.ReasonSpamDetected:    FamilyContent,
	bounce.ReasonContentError:    FamilyContent,
	bounce.ReasonVirusDetected:   FamilyContent,
	bounce.ReasonPolicyViolation: FamilyContent,
	bounce.ReasonNotCompliantRFC: FamilyContent,

	bounce.ReasonMailboxFull: FamilySize,
	bounce.ReasonMesgTooBig:  FamilySize,
	bounce.ReasonExceedLimit: FamilySize,
	bounce.ReasonSystemFull:  FamilySize,

	bounce.ReasonExpired:      FamilyTransient,
	bounce.ReasonNetworkError: FamilyTransient,
	bounce.ReasonSystemError:  FamilyTransient,
	bounce.ReasonGreylisted:   FamilyTransient,
	bounce.ReasonOnHold:       FamilyTransient,
	bounce.ReasonMailerError:  FamilyTransient,
}

// FamilyOf returns the family of a reason; unknown reasons are FamilyOther.
func FamilyOf(r bounce.Reason) Family {
	if f, ok := families[bounce.Reason(strings.ToLower(string(r)))]; ok {
		return f
	}
	return FamilyOther
}

// Side says on whose side the cause of a failure lies, and so who acts.
type Side string

// Sides.
const (
	// SideSending: our sending server or domain is refused or throttled
	// (IP reputation, blocklists, rate limits, authentication, PTR). One
	// cause hits every mail to that provider: an incident keyed by origin
	// (sending IP, or sender domain for authentication) × provider × cause.
	SideSending Side = "sending"
	// SideRecipient: the problem is one recipient's (unknown address, full
	// mailbox, carrier filter, moved, too big for them, their own policy).
	// Each recipient is an item of its own, never merged into an incident
	// about our IP.
	SideRecipient Side = "recipient"
	// SidePath: the mail did not get through for reasons of the route or
	// the receiving system (delays, expiry, network, greylisting, unknown):
	// keyed like the sending side (origin × provider × cause).
	SidePath Side = "path"
)

// sides maps each reason to its side. Reasons not listed are SidePath.
// Sources: RFC 3463 (X.1.x address, X.2.x mailbox, X.3.x system, X.7.x
// security/policy) and KB.md's reason sections: badreputation, blocked,
// speeding, toomanyconn, authfailure, requireptr are "送信側の問題"; a
// "filtered" at a Japanese carrier is the recipient's reception setting
// (受信拒否設定); mesgtoobig is the size the recipient's server accepts.
var sides = map[bounce.Reason]Side{
	bounce.ReasonBadReputation:  SideSending,
	bounce.ReasonBlocked:        SideSending,
	bounce.ReasonSpeeding:       SideSending,
	bounce.ReasonTooManyConn:    SideSending,
	bounce.ReasonAuthFailure:    SideSending,
	bounce.ReasonSecurityError:  SideSending,
	bounce.ReasonRequirePTR:     SideSending,
	bounce.ReasonFailedSTARTTLS: SideSending,
	bounce.ReasonRejected:       SideSending,
	bounce.ReasonNoRelaying:     SideSending,
	bounce.ReasonSpamDetected:   SideSending,

	bounce.ReasonUserUnknown:     SideRecipient,
	bounce.ReasonHostUnknown:     SideRecipient,
	bounce.ReasonHasMoved:        SideRecipient,
	bounce.ReasonSuspend:         SideRecipient,
	bounce.ReasonNotAccept:       SideRecipient,
	bounce.ReasonSuppressed:      SideRecipient,
	bounce.ReasonMailboxFull:     SideRecipient,
	bounce.ReasonExceedLimit:     SideRecipient,
	bounce.ReasonMesgTooBig:      SideRecipient,
	bounce.ReasonFiltered:        SideRecipient,
	bounce.ReasonPolicyViolation: SideRecipient,
	bounce.ReasonContentError:    SideRecipient,
	bounce.ReasonVirusDetected:   SideRecipient,
	bounce.ReasonNotCompliantRFC: SideRecipient,
}

// SideOf returns the side of a reason; reasons not listed are SidePath.
func SideOf(r bounce.Reason) Side {
	if s, ok := sides[bounce.Reason(strings.ToLower(string(r)))]; ok {
		return s
	}
	return SidePath
}

// domainKeyed are the sending-side reasons about our domain rather than our
// IP (SPF/DKIM/DMARC; the envelope sender refused): keyed by sender domain.
var domainKeyed = map[bounce.Reason]bool{
	bounce.ReasonAuthFailure: true,
	bounce.ReasonRejected:    true,
}

// Task says what a recipient-side item asks for, so that a digest can group
// its lines by who acts.
type Task string

// Tasks of recipient-side items.
const (
	TaskAddress Task = "address" // check or correct the address (the sender)
	TaskMailbox Task = "mailbox" // the recipient must make room (tell them another way)
	TaskFilter  Task = "filter"  // the recipient's reception settings or policy
	TaskMessage Task = "message" // the mail itself (size, attachment, format)
)

// TaskOf returns the task of a recipient-side reason ("" for other sides).
func TaskOf(r bounce.Reason) Task {
	switch bounce.Reason(strings.ToLower(string(r))) {
	case bounce.ReasonUserUnknown, bounce.ReasonHostUnknown, bounce.ReasonHasMoved, bounce.ReasonSuspend,
		bounce.ReasonNotAccept, bounce.ReasonSuppressed:
		return TaskAddress
	case bounce.ReasonMailboxFull, bounce.ReasonExceedLimit:
		return TaskMailbox
	case bounce.ReasonFiltered, bounce.ReasonPolicyViolation:
		return TaskFilter
	case bounce.ReasonMesgTooBig, bounce.ReasonContentError, bounce.ReasonVirusDetected, bounce.ReasonNotCompliantRFC:
		return TaskMessage
	}
	return ""
}

// Provider values of a Key beside bounce's: Microsoft's consumer service
// (Outlook.com, Hotmail, outlook.jp) and Microsoft 365 tenants are different
// providers here, with different rules, forms and codes (S3140 and S775 are
// Outlook.com's; 5.7.606 is a tenant's ban list). KeyOf takes them from
// bounce.Recipient.ProviderVariant, the one rule that tells them apart.
const (
	ProviderOutlook      = bounce.ProviderMicrosoft
	ProviderMicrosoft365 = bounce.ProviderMicrosoft365
)

// Key identifies an incident. A sending-side or path incident has an origin
// (SendingIP; else SenderDomain for domain problems; else ReportingMTA), a
// Provider and a Cause. A recipient-side item has the Recipient and a Cause.
type Key struct {
	Side         Side
	SendingIP    string
	SenderDomain string // domain problems (authentication) only
	ReportingMTA string // set only when no other origin is known
	Recipient    string // recipient side only, lowercase
	Provider     string
	Family       Family
	Cause        bounce.Reason // the reason: one cause, one explanation
}

// KeyOf returns the grouping key of one recipient of a report.
func KeyOf(rep *bounce.Report, rc bounce.Recipient) Key {
	reason := bounce.Reason(strings.ToLower(strings.TrimSpace(string(rc.Reason))))
	if reason == "" {
		reason = bounce.ReasonUndefined
	}
	k := Key{Side: SideOf(reason), Family: FamilyOf(reason), Cause: reason, Provider: rc.ProviderVariant()}
	if k.Side == SideRecipient {
		k.Recipient = strings.ToLower(strings.TrimSpace(rc.Address))
		if k.Recipient != "" {
			return k
		}
		k.Side = SidePath // no address to hold the item: keep it with its origin
	}
	if rep == nil {
		return k
	}
	if domainKeyed[reason] {
		if d := domainOf(rep.Original.From); d != "" {
			k.SenderDomain = d
			return k
		}
	}
	k.SendingIP = strings.TrimSpace(rep.SendingIP)
	if k.SendingIP == "" {
		k.ReportingMTA = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(rep.ReportingMTA)), ".")
	}
	return k
}

// domainOf is the lowercase domain of an address, possibly with a display
// name ("名前 <a@example.jp>"); "" when there is none.
func domainOf(addr string) string {
	addr = strings.TrimSpace(addr)
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = strings.TrimSuffix(addr[i+1:], ">")
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(addr[at+1:])), ".")
}

// String renders the key as, for example, "ip:192.0.2.1|microsoft|badreputation",
// "domain:example.jp|google|authfailure", "mta:relay.example.jp|other|expired"
// or "rcpt:a@example.com|userunknown". It is stable: the store uses it as
// the incident's grouping column.
func (k Key) String() string {
	if k.Side == SideRecipient {
		return "rcpt:" + k.Recipient + "|" + string(k.Cause)
	}
	var origin string
	switch {
	case k.SendingIP != "":
		origin = "ip:" + k.SendingIP
	case k.SenderDomain != "":
		origin = "domain:" + k.SenderDomain
	case k.ReportingMTA != "":
		origin = "mta:" + k.ReportingMTA
	default:
		origin = "unknown"
	}
	provider := k.Provider
	if provider == "" {
		provider = bounce.ProviderOther
	}
	return origin + "|" + provider + "|" + string(k.Cause)
}

// State is an incident's life cycle state.
type State string

// Incident states.
const (
	StateOpen     State = "open"
	StateResolved State = "resolved" // quiet for ResolveAfter, or closed by a person
)

// Incident is what Decide needs to know about one incident.
type Incident struct {
	Key        Key
	State      State
	FirstAt    time.Time // first member seen
	LastAt     time.Time // last member seen
	Count      int       // members so far
	MutedUntil time.Time // no notices before this time; zero when not muted
	ResolvedBy string    // the person who closed it; "" when open or closed automatically
}

// Kind is the kind of a notice.
type Kind string

// Notice kinds decided here. The store's log may hold other kinds (muted,
// detail, ...); Decide ignores them.
const (
	KindFirst    Kind = "first"    // the incident is new
	KindUpdate   Kind = "update"   // more members since the last notice
	KindRepeat   Kind = "repeat"   // still going on, nothing new, RepeatInterval passed
	KindResolved Kind = "resolved" // quiet for ResolveAfter (or closed by a person)
)

// IsNotice reports whether k is one of the kinds Decide emits.
func (k Kind) IsNotice() bool {
	switch k {
	case KindFirst, KindUpdate, KindRepeat, KindResolved:
		return true
	}
	return false
}

// Notification is one entry of an incident's notification log: a notice
// decided (and enqueued for every target) at At, when the incident had Count
// members.
type Notification struct {
	Kind  Kind
	At    time.Time
	Count int
}

// Timing configures Decide. Zero fields take the defaults below.
type Timing struct {
	// GroupWait is how long to wait after the first member before the first
	// notice, so that a burst becomes one notice. Default 60s.
	GroupWait time.Duration
	// GroupInterval is the minimum time between a notice and an update that
	// reports new members. Default 10m.
	GroupInterval time.Duration
	// RepeatInterval is how long after the last notice an unchanged, still
	// active incident is notified again. Default 24h.
	RepeatInterval time.Duration
	// ResolveAfter is how long an incident must be quiet (no new member)
	// before it is closed with a resolved notice (収束). Default 24h: a small
	// office may not mail a provider for hours, so a short quiet period says
	// little; a day without a bounce says the cause is probably gone.
	ResolveAfter time.Duration
}

// Default timing values.
const (
	DefaultGroupWait      = 60 * time.Second
	DefaultGroupInterval  = 10 * time.Minute
	DefaultRepeatInterval = 24 * time.Hour
	DefaultResolveAfter   = 24 * time.Hour
)

// WithDefaults returns t with zero or negative fields set to their defaults.
func (t Timing) WithDefaults() Timing {
	if t.GroupWait <= 0 {
		t.GroupWait = DefaultGroupWait
	}
	if t.GroupInterval <= 0 {
		t.GroupInterval = DefaultGroupInterval
	}
	if t.RepeatInterval <= 0 {
		t.RepeatInterval = DefaultRepeatInterval
	}
	if t.ResolveAfter <= 0 {
		t.ResolveAfter = DefaultResolveAfter
	}
	return t
}

// Decision is the outcome of Decide.
type Decision struct {
	Notify bool // enqueue a notice of Kind now
	Kind   Kind // set when Notify
	// Close says the incident must be marked resolved now (always together
	// with a resolved notice).
	Close bool
	// NextCheck is when Decide may decide differently without a new member
	// arriving, assuming the notice (if any) was recorded at now. Zero means
	// never (the incident is closed).
	NextCheck time.Time
}

// Decide says whether to notify about inc now, given its notification log
// (any order) and the timing. The rules, in order:
//
//  1. A resolved incident (by a person or automatically) gets nothing, ever.
//  2. While muted (now before MutedUntil) nothing; check again when the mute ends.
//  3. No first notice yet: a first notice once GroupWait has passed since
//     FirstAt. The first notice is sent even when the incident is already
//     quiet (e.g. after downtime), so that nobody misses a bounce; the resolved
//     notice follows at the next check.
//  4. Quiet for ResolveAfter since LastAt: a resolved notice, and close.
//  5. New members since the last notice and GroupInterval passed since the
//     last notice: an update.
//  6. RepeatInterval passed since the last notice: a repeat.
//
// "Last notice" is the latest log entry of a notice kind; entries of other
// kinds are ignored.
func Decide(inc Incident, log []Notification, now time.Time, t Timing) Decision {
	t = t.WithDefaults()
	if inc.State == StateResolved {
		return Decision{}
	}
	if now.Before(inc.MutedUntil) {
		return Decision{NextCheck: inc.MutedUntil}
	}

	var last Notification
	noticed := false
	for _, n := range log {
		if !n.Kind.IsNotice() {
			continue
		}
		if !noticed || n.At.After(last.At) {
			last = n
		}
		noticed = true
	}

	if !noticed {
		due := inc.FirstAt.Add(t.GroupWait)
		if now.Before(due) {
			return Decision{NextCheck: due}
		}
		return notify(inc, log, now, t, KindFirst)
	}

	quietAt := inc.LastAt.Add(t.ResolveAfter)
	if !now.Before(quietAt) {
		return Decision{Notify: true, Kind: KindResolved, Close: true}
	}
	changed := inc.Count > last.Count
	updateAt := last.At.Add(t.GroupInterval)
	if changed && !now.Before(updateAt) {
		return notify(inc, log, now, t, KindUpdate)
	}
	repeatAt := last.At.Add(t.RepeatInterval)
	if !now.Before(repeatAt) {
		return notify(inc, log, now, t, KindRepeat)
	}

	next := quietAt
	if changed && updateAt.Before(next) {
		next = updateAt
	}
	if repeatAt.Before(next) {
		next = repeatAt
	}
	return Decision{NextCheck: next}
}

// notify returns a decision to send a notice of kind k now, with NextCheck as
// it will be once the notice is in the log.
func notify(inc Incident, log []Notification, now time.Time, t Timing, k Kind) Decision {
	after := append(log[:len(log):len(log)], Notification{Kind: k, At: now, Count: inc.Count})
	next := Decide(inc, after, now, t)
	if next.Notify {
		// Another notice is due at once (a first notice for an incident that
		// is already quiet): check again immediately.
		return Decision{Notify: true, Kind: k, NextCheck: now}
	}
	return Decision{Notify: true, Kind: k, NextCheck: next.NextCheck}
}
