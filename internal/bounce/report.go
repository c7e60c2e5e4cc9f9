// Package bounce owns the domain of bouncewatch: it reads one raw RFC 5322
// message and says what it is (a bounce, a delay notice, an auto-reply, a
// complaint report, a delivery confirmation or ordinary mail) and, for each
// failed recipient, what happened, why, at which provider and from which of
// our sending IPs.
//
// The package is pure: no network, no database, no clock, no logging. Every
// function is safe for concurrent use. Work is bounded on hostile input: see
// Limits.
package bounce

import (
	"encoding/json"
	"time"
)

// Kind says what a message is.
type Kind string

// The kinds of message, as in the triage JSON contract.
const (
	KindBounce    Kind = "bounce"    // at least one recipient failed for good
	KindDelay     Kind = "delay"     // delivery delayed; the mail may still arrive
	KindAutoReply Kind = "autoreply" // vacation, out-of-office (RFC 3834)
	KindFeedback  Kind = "feedback"  // ARF complaint report (RFC 5965)
	KindDelivered Kind = "delivered" // a success DSN (Action: delivered/relayed/expanded)
	KindNone      Kind = "none"      // ordinary mail, read receipts, forwarded bounces, unparseable
)

// Reason is a cause of failure in Sisimai's vocabulary (lowercase), plus
// ReasonGreylisted.
type Reason string

// Reasons, in Sisimai's vocabulary plus greylisted.
const (
	ReasonAuthFailure     Reason = "authfailure"
	ReasonBadReputation   Reason = "badreputation"
	ReasonBlocked         Reason = "blocked"
	ReasonContentError    Reason = "contenterror"
	ReasonDelivered       Reason = "delivered"
	ReasonExceedLimit     Reason = "exceedlimit"
	ReasonExpired         Reason = "expired"
	ReasonFailedSTARTTLS  Reason = "failedstarttls"
	ReasonFeedback        Reason = "feedback"
	ReasonFiltered        Reason = "filtered"
	ReasonGreylisted      Reason = "greylisted"
	ReasonHasMoved        Reason = "hasmoved"
	ReasonHostUnknown     Reason = "hostunknown"
	ReasonMailboxFull     Reason = "mailboxfull"
	ReasonMailerError     Reason = "mailererror"
	ReasonMesgTooBig      Reason = "mesgtoobig"
	ReasonNetworkError    Reason = "networkerror"
	ReasonNoRelaying      Reason = "norelaying"
	ReasonNotAccept       Reason = "notaccept"
	ReasonNotCompliantRFC Reason = "notcompliantrfc"
	ReasonOnHold          Reason = "onhold"
	ReasonPolicyViolation Reason = "policyviolation"
	ReasonRejected        Reason = "rejected"
	ReasonRequirePTR      Reason = "requireptr"
	ReasonSecurityError   Reason = "securityerror"
	ReasonSpamDetected    Reason = "spamdetected"
	ReasonSpeeding        Reason = "speeding"
	ReasonSuppressed      Reason = "suppressed"
	ReasonSuspend         Reason = "suspend"
	ReasonSyntaxError     Reason = "syntaxerror"
	ReasonSystemError     Reason = "systemerror"
	ReasonSystemFull      Reason = "systemfull"
	ReasonTooManyConn     Reason = "toomanyconn"
	ReasonUndefined       Reason = "undefined"
	ReasonUserUnknown     Reason = "userunknown"
	ReasonVacation        Reason = "vacation"
	ReasonVirusDetected   Reason = "virusdetected"
)

// AllReasons lists every reason the classifier can return, in a stable order.
var AllReasons = []Reason{
	ReasonAuthFailure, ReasonBadReputation, ReasonBlocked, ReasonContentError, ReasonDelivered,
	ReasonExceedLimit, ReasonExpired, ReasonFailedSTARTTLS, ReasonFeedback, ReasonFiltered,
	ReasonGreylisted, ReasonHasMoved, ReasonHostUnknown, ReasonMailboxFull, ReasonMailerError,
	ReasonMesgTooBig, ReasonNetworkError, ReasonNoRelaying, ReasonNotAccept, ReasonNotCompliantRFC,
	ReasonOnHold, ReasonPolicyViolation, ReasonRejected, ReasonRequirePTR, ReasonSecurityError,
	ReasonSpamDetected, ReasonSpeeding, ReasonSuppressed, ReasonSuspend, ReasonSyntaxError,
	ReasonSystemError, ReasonSystemFull, ReasonTooManyConn, ReasonUndefined, ReasonUserUnknown,
	ReasonVacation, ReasonVirusDetected,
}

// Provider slugs: who runs the recipient's mailbox.
const (
	ProviderMicrosoft  = "microsoft"
	ProviderGoogle     = "google"
	ProviderYahoo      = "yahoo"
	ProviderYahooJapan = "yahoo-japan"
	ProviderApple      = "apple"
	ProviderDocomo     = "docomo"
	ProviderAU         = "au"
	ProviderSoftBank   = "softbank"
	ProviderRakuten    = "rakuten"
	ProviderNifty      = "nifty"
	ProviderBiglobe    = "biglobe"
	ProviderOCN        = "ocn"
	ProviderSoNet      = "so-net"
	ProviderPlala      = "plala"
	ProviderOther      = "other"
)

// Action values of RFC 3464 section 2.3.3.
const (
	ActionFailed    = "failed"
	ActionDelayed   = "delayed"
	ActionDelivered = "delivered"
	ActionRelayed   = "relayed"
	ActionExpanded  = "expanded"
)

// Report is what one message says. It is the unit the rest of bouncewatch
// stores, groups and explains.
type Report struct {
	Kind         Kind        `json:"kind"`
	SendingIP    string      `json:"sending_ip"`    // our egress IP as the receiver saw it; "" when unknown
	ReportingMTA string      `json:"reporting_mta"` // the MTA that wrote the report
	ArrivalDate  time.Time   `json:"-"`             // when the reporting MTA received the original
	Date         time.Time   `json:"-"`             // Date of the report itself
	Subject      string      `json:"-"`             // Subject of the report itself (decoded)
	From         string      `json:"-"`             // From address of the report itself
	MessageID    string      `json:"-"`             // Message-ID of the report itself
	FeedbackType string      `json:"-"`             // ARF Feedback-Type (abuse, opt-out, ...)
	Original     Original    `json:"original"`      // the returned message, as far as it came back
	Recipients   []Recipient `json:"recipients"`
	Truncated    bool        `json:"truncated,omitempty"` // more recipients than Limits allow were named; only the first are listed
	Error        string      `json:"error"`               // why the message could not be parsed; Kind is then KindNone
}

// Original describes the message that bounced.
type Original struct {
	MessageID string    `json:"message_id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Date      time.Time `json:"-"`
}

// MarshalJSON writes Date as RFC 3339, or "" when unknown.
func (o Original) MarshalJSON() ([]byte, error) {
	type plain Original
	v := struct {
		plain
		Date string `json:"date"`
	}{plain: plain(o)}
	if !o.Date.IsZero() {
		v.Date = o.Date.Format(time.RFC3339)
	}
	return json.Marshal(v)
}

// Recipient is one recipient's outcome.
type Recipient struct {
	Address    string `json:"address"`
	Action     string `json:"action"`     // failed, delayed, delivered, ...
	Status     string `json:"status"`     // enhanced status code, e.g. 5.1.1; "" when none
	ReplyCode  string `json:"reply_code"` // SMTP reply code, e.g. 550; "" when none
	Reason     Reason `json:"reason"`
	Hard       bool   `json:"hard"`      // the address itself is bad (Sisimai's hard bounce)
	Temporary  bool   `json:"temporary"` // transient failure (4xx or a delayed DSN)
	RemoteMTA  string `json:"remote_mta"`
	Provider   string `json:"provider"`
	Diagnostic string `json:"diagnostic"`        // the receiver's words, unfolded to one line
	Command    string `json:"command,omitempty"` // SMTP command that failed: CONN, HELO, MAIL, RCPT, DATA
}

// Failed reports whether the recipient was given up on (not merely delayed).
func (r Recipient) Failed() bool {
	return r.Action != ActionDelayed && r.Action != ActionDelivered && r.Action != ActionRelayed && r.Action != ActionExpanded
}
