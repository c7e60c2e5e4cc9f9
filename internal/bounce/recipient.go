package bounce

// From what an extractor found to a Recipient: the evidence record of one
// recipient, the facts of the whole report it draws on, and the bounds on
// what one report yields.

import "strings"

// found is what an extractor read about one recipient.
type found struct {
	addr, action, status, diag, remote, command string
	from                                        source // where diag was read
	weak                                        bool   // diag is only the report's own words
	mta                                         string // reporting software with its own vocabulary
	diagPrefix                                  string // read with diag but not the receiver's reply (fml's subject)
}

// recipient completes one recipient from what was read: it gathers the
// evidence and has decide judge it.
func (a *analysis) recipient(f found) Recipient {
	diag := strings.TrimSpace(f.diag)
	if len(diag) > maxDiagnostic {
		diag = strings.ToValidUTF8(diag[:maxDiagnostic], "") + " …"
	}
	ev := evidence{Status: f.status, Command: f.command, Action: f.action, RemoteMTA: f.remote,
		ReportingMTA: a.rep.ReportingMTA, MTA: f.mta, DiagnosticFrom: f.from, WeakText: f.weak}
	if f.status != "" {
		ev.StatusFrom = srcDSN
	}
	if f.action != "" {
		ev.ActionFrom = srcDSN
	}
	if f.command != "" {
		ev.CommandFrom = f.from
	}
	core, host, cmd := unwrap(diag)
	if core != diag {
		ev.DiagnosticFrom = srcReply
	}
	if ev.RemoteMTA == "" {
		ev.RemoteMTA = host
	}
	if ev.Command == "" && cmd != "" {
		ev.Command, ev.CommandFrom = cmd, srcTranscript
	}
	if ev.Command == "" {
		if ev.Command = a.textCommand(); ev.Command != "" {
			ev.CommandFrom = srcText
		}
	}
	status := ev.Status
	// The receiver's own enhanced code in its reply says more than the one
	// the reporting MTA wrote in Status (RFC 3464 §2.3.4: Status is the
	// reporting MTA's summary; §2.3.6: the Diagnostic-Code is the remote
	// MTA's), unless the reply's is only x.0.0.
	sameClass := func(st string) bool {
		return status != "" && st[0] == status[0] && (!strings.HasSuffix(st, ".0.0") || strings.HasSuffix(status, ".0.0"))
	}
	if st := statusOf(core); st != "" && (status == "" || strings.HasSuffix(status, ".0.0") || strings.HasSuffix(status, ".4.7") || sameClass(st) ||
		(status[0] != st[0] && f.action != ActionDelayed)) {
		if !(status != "" && status[0] == '5' && st[0] == '4' && f.action == ActionFailed && !strings.HasSuffix(status, ".0.0")) &&
			// A success code quoted in a failure (a gateway took the mail, then
			// could not deliver it: an SMS gateway) never makes it a success.
			!(st[0] == '2' && (status != "" || f.action == ActionFailed || f.action == ActionDelayed || f.from == srcText)) {
			// The reply's own code is more specific than the DSN's, or the DSN has none.
			ev.Status, ev.StatusFrom = st, srcReply
		}
	}
	ev.ReplyCode = findReplyCode(core)
	switch ev.Action {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
	default:
		ev.ActionFrom = srcDerived
		switch {
		case strings.HasPrefix(ev.Status, "2") && (ev.StatusFrom == srcDSN || f.from == srcSES):
			// A success only when a structured report says so.
			ev.Action = ActionDelivered
		case a.delayed():
			ev.Action = ActionDelayed
		default:
			ev.Action = ActionFailed
		}
	}
	if ev.Status == "" && strings.HasPrefix(ev.ReplyCode, "2") && !ev.failing() {
		ev.Status, ev.StatusFrom = "2.0.0", srcDerived
	}
	ev.Provider = ProviderOf(f.addr, ev.RemoteMTA, diag)
	ev.Diagnostic = core
	if f.diagPrefix != "" {
		ev.Diagnostic = f.diagPrefix + "\n" + core
	}
	if ev.Action != ActionDelivered && ev.Action != ActionRelayed && ev.Action != ActionExpanded {
		ev.GoogleGroup = domainOf(f.addr) == "googlegroups.com"
		ev.Report = a
	}
	v := decide(ev)
	status = ev.Status
	if status == "" {
		status = derivedStatus(v.Reason, ev.Action)
	}
	return Recipient{
		Address:    f.addr,
		Action:     ev.Action,
		Status:     status,
		ReplyCode:  ev.ReplyCode,
		Reason:     v.Reason,
		Hard:       v.Hard,
		Temporary:  v.Temporary,
		RemoteMTA:  ev.RemoteMTA,
		Provider:   ev.Provider,
		Diagnostic: diag,
		Command:    ev.Command,
	}
}

// Bounds on what one report yields: real reports name a few recipients and
// quote a few lines; more is a returned attachment or hostile input.
const (
	maxRecipients = 1000
	maxDiagnostic = 8 << 10
)

// derivedStatus gives the status code implied by a reason when the bounce
// carries none.
func derivedStatus(r Reason, action string) string {
	c := "5"
	if action == ActionDelayed {
		c = "4"
	}
	switch r {
	case ReasonUserUnknown:
		return c + ".1.1"
	case ReasonHostUnknown:
		return c + ".1.2"
	case ReasonHasMoved:
		return c + ".1.6"
	case ReasonMailboxFull:
		return c + ".2.2"
	case ReasonMesgTooBig:
		return c + ".3.4"
	case ReasonExceedLimit:
		return c + ".2.3"
	case ReasonSuspend:
		return c + ".2.1"
	case ReasonNoRelaying:
		return c + ".7.1"
	case ReasonExpired:
		return "4.4.7"
	case ReasonNetworkError:
		return "4.4.1"
	case ReasonSystemFull:
		return c + ".3.1"
	case ReasonNotAccept:
		return c + ".3.2"
	}
	return ""
}

// textFacts are what the classifier asks of the report's whole text. Each
// is computed on first use, once per message, not once per recipient: each
// costs a pass over the text, and many messages need only some of them.
type textFacts struct {
	done         uint8  // which facts below are computed (factCommand, ...)
	command      string // SMTP command the text says failed
	rule         Reason // the first rule the text matches
	delayed      bool   // the text or subject says the mail is still being retried
	expired      bool   // the text says the retry period ran out
	googleGroups bool   // the text names groups.google.com
	masked       string // the lowered text with its data masked
}

// Bits of textFacts.done.
const (
	factCommand uint8 = 1 << iota
	factRule
	factDelayed
	factExpired
	factGoogleGroups
	factMasked
)

// fact reports whether fact bit is computed yet and marks it computed.
func (f *textFacts) fact(bit uint8) (known bool) {
	known = f.done&bit != 0
	f.done |= bit
	return known
}

func (a *analysis) textCommand() string {
	if !a.tf.fact(factCommand) {
		a.tf.command = commandOf(a.low)
	}
	return a.tf.command
}

// The analysis answers decide's questions about the whole report.
var _ reportFacts = (*analysis)(nil)

func (a *analysis) textReason() Reason { return a.textRule() }
func (a *analysis) expired() bool      { return a.expiredText() }
func (a *analysis) namesGroups() bool  { return a.googleGroups() }

// maskedLow is the report's lowered text with its data masked (mask.go),
// computed once per message: the phrases of the text facts are matched
// against it, so that a mailbox named "expired3@" says nothing.
func (a *analysis) maskedLow() string {
	if !a.tf.fact(factMasked) {
		a.tf.masked = maskData(a.low)
	}
	return a.tf.masked
}

func (a *analysis) textRule() Reason {
	if !a.tf.fact(factRule) {
		if i := rules.match(a.maskedLow(), ruleQuery{}); i >= 0 {
			a.tf.rule = rules.Rules[i].Reason
		}
	}
	return a.tf.rule
}

// Masking only takes text away (a placeholder holds none of these phrases),
// so a phrase set that finds nothing in the unmasked text finds nothing in
// the masked one: the text is masked only to confirm a match.

func (a *analysis) delayed() bool {
	if !a.tf.fact(factDelayed) {
		a.tf.delayed = delayedSubjectSet.any(a.subject) && delayedSubjectSet.any(maskData(a.subject)) ||
			retryingSet.any(a.low) && retryingSet.any(a.maskedLow()) && !givenUpSet.any(a.maskedLow())
	}
	return a.tf.delayed
}

func (a *analysis) expiredText() bool {
	if !a.tf.fact(factExpired) {
		a.tf.expired = expiredTextSet.any(a.low) && expiredTextSet.any(a.maskedLow())
	}
	return a.tf.expired
}

func (a *analysis) googleGroups() bool {
	if !a.tf.fact(factGoogleGroups) {
		a.tf.googleGroups = strings.Contains(a.low, "groups.google.com")
	}
	return a.tf.googleGroups
}

// Phrases of the text facts, compiled for one-pass matching.
var (
	// The subject says the mail is delayed.
	delayedSubjectSet = newPhraseSet([]string{"delayed", "delay", "warning: could not send", "still being retried", "遅延"})
	// The text says the mail is still being retried...
	retryingSet = newPhraseSet([]string{"will continue to try", "will keep trying", "still trying", "is still being retried",
		"will be retried", "delivery attempts will continue", "no action is required on your part", "message delayed"})
	// ...unless it says it was given up.
	givenUpSet = newPhraseSet([]string{"permanent", "given up", "gave up", "will not try again", "will not be retried"})
	// The text says the retry period ran out.
	expiredTextSet = newPhraseSet([]string{"retry timeout exceeded", "could not be delivered for", "in the queue too long",
		"message expired", "queue too long", "retry time not reached", "has not been delivered for", "delivery time expired",
		"too long in the queue", "was not delivered within", "for more than", "timeout has expired", "unable to deliver for",
		"given up", "gave up", "message has been in the queue", "expired", "queued too long"})
)
