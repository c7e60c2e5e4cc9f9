package bounce

import "strings"

// decide judges one recipient's evidence: the reason, whether the address
// itself is bad, whether the failure is temporary. It is the only place in
// the package that decides a reason. It is pure: it reads ev, the rule
// table (rules.yaml) and the status table (status.go); the report facts it
// may ask ev.Report for depend on the report's text alone and are computed
// once per message.
func decide(ev evidence) verdict {
	r := decideReason(ev)
	st := ev.Status
	if st == "" {
		st = derivedStatus(r, ev.Action)
	}
	return verdict{
		Reason:    r,
		Hard:      isHard(r, st),
		Temporary: ev.Action == ActionDelayed || strings.HasPrefix(st, "4") || (st == "" && strings.HasPrefix(ev.ReplyCode, "4")),
	}
}

func decideReason(ev evidence) Reason {
	switch ev.Action {
	case ActionDelivered, ActionRelayed, ActionExpanded:
		return ReasonDelivered
	}
	r := fromWords(ev)
	if r == ReasonUndefined || r == ReasonOnHold || r == ReasonSystemError && !strings.HasPrefix(ev.Status, "4") {
		if ev.Diagnostic == "" {
			if t := ev.reportText(); t != "" {
				// The receiver's words are missing: the report's own text says why.
				r = t
			}
		}
	}
	if (r == ReasonUndefined || r == ReasonOnHold || r == ReasonUserUnknown && ev.Status == "") && ev.googleGroups() {
		// Google Groups refuses posts from non-members: the sender is rejected.
		r = ReasonRejected
	}
	if (r == ReasonUndefined || ev.Action == ActionFailed && (r == ReasonOnHold || r == ReasonHostUnknown && strings.HasPrefix(ev.Status, "4"))) &&
		ev.reportExpired() {
		// Given up on after the retry period, with nothing more specific to show.
		r = ReasonExpired
	}
	if r == ReasonOnHold && ev.WeakText {
		r = ReasonUndefined // nothing the receiver said to go by
	}
	return r
}

// fromWords decides from the receiver's words, the status, the reply code,
// the SMTP command and the action.
func fromWords(ev evidence) Reason {
	// Padded, so that a phrase written with its spaces (" ube ") also
	// matches a word at the start or end of the reply.
	low := " " + maskLower(ev.Diagnostic) + " "
	q := ruleQuery{command: ev.Command, provider: ev.Provider, mta: ev.MTA, action: ev.Action}
	switch {
	case ev.Status != "":
		q.class = ev.Status[0]
	case ev.ReplyCode != "":
		q.class = ev.ReplyCode[0]
	}
	r := Reason("")
	row := rules.match(low, q)
	if row >= 0 {
		r = rules.Rules[row].Reason
	}
	fromText := r != ""
	byCode := byStatus(ev.Status)
	if byCode == ReasonDelivered {
		byCode = "" // a success code on a recipient that failed says nothing of why
	}
	if byCode != r && rules.statusDecides(byCode) && (row < 0 || !rules.Rules[row].BeatsStatus) {
		// A specific enhanced status (RFC 3463) says what happened, whatever
		// else the words mention, unless the row names an exception.
		r = byCode
	}
	if r == "" {
		r = byCode
	}
	status, reply := ev.Status, ev.ReplyCode
	if r == ReasonSpeeding && strings.HasPrefix(status, "5") && containsAny(low, "unsolicited", "your ip", "from your") {
		// The same rate problem, answered with a permanent code: blocked.
		r = ReasonBlocked
	}
	if r == ReasonSpamDetected && strings.HasSuffix(status, ".1.1") && rules.fires(low, q, ReasonUserUnknown) {
		// x.1.1 (RFC 3463 §3.2: the mailbox does not exist) and words that
		// say the same: the address is bad; a spam remark beside it is not
		// why the mail failed (Sisimai reads user-unknown words before spam).
		r = ReasonUserUnknown
	}
	if r == ReasonMesgTooBig && strings.HasSuffix(status, ".2.3") {
		// 5.2.3 (RFC 3463 §3.3): over the recipient's own size limit.
		r = ReasonExceedLimit
	}
	if strings.HasSuffix(status, ".4.7") && (r == ReasonNetworkError || r == ReasonSystemError) {
		// x.4.7 (RFC 3463 §3.5): the delivery time expired; the network trouble was the cause.
		r = ReasonExpired
	}
	if r == ReasonHostUnknown && (strings.HasPrefix(status, "4") || ev.Action == ActionDelayed) {
		// A temporary DNS failure does not prove the domain is gone.
		r = ReasonNetworkError
	}
	if ev.Action == ActionDelayed && (r == "" || !fromText) {
		// Still queued: the cause is not the receiver's verdict on us.
		r = ReasonExpired
	}
	if r == "" || r == ReasonRejected || r == ReasonPolicyViolation || r == ReasonSystemError || r == ReasonSecurityError {
		if ev.Command == "HELO" || ev.Command == "CONN" {
			// Refused before any address was given: the receiver refuses our server.
			r = ReasonBlocked
		}
	}
	if ev.Action == ActionFailed && r == "" &&
		(strings.HasPrefix(status, "4") || status == "" && strings.HasPrefix(reply, "4")) && ev.reportExpired() {
		// A temporary failure that lasted until the queue lifetime ran out.
		r = ReasonExpired
	}
	if ev.Action == ActionFailed && status == "" && strings.HasPrefix(reply, "4") && (r == "" || r == ReasonNetworkError) {
		// Given up on with only a temporary reply to show: the retry period ran out.
		r = ReasonExpired
	}
	switch {
	case r == ReasonUserUnknown && ev.Provider == ProviderAU && strings.Contains(low, "550 : user unknown"),
		r == ReasonUserUnknown && !beforeData(ev.Command) && byCode != ReasonUserUnknown && !rules.addressOnly.any(low) &&
			(ev.Command == "DATA" || status == "" || strings.HasSuffix(status, ".2.1") || strings.HasSuffix(status, ".2.0")):
		// "User unknown" that does not answer RCPT TO and is not backed by a
		// 5.1.x status is a filter refusing the mail: after DATA, a 5.2.x
		// mailbox status, au's empty-bracket form "550 : User unknown" in
		// any phase (KB.md §7, au only: the address is not echoed), or
		// a report that records neither command nor status. The last is
		// Sisimai's rule (Sisimai::Reason::UserUnknown is true only on an
		// x.1.1 status or a reply to RCPT; Sisimai::Reason::Filtered takes
		// user-unknown words under any other command but the pre-DATA ones,
		// an unknown one included), which labels the gateways and filters
		// that write no command (mFILTER, McAfee, X1, Zoho, Apache James):
		// without it the development corpus drops from 0.957 to 0.915.
		r = ReasonFiltered
	case ev.Command == "MAIL" && (r == "" || r == ReasonUserUnknown || r == ReasonHostUnknown || r == ReasonFiltered ||
		r == ReasonNotAccept || r == ReasonSuspend || r == ReasonOnHold):
		// Refused at MAIL FROM: the receiver objects to our sender address or domain.
		r = ReasonRejected
	}
	if r == "" {
		switch {
		case status != "" || reply != "" || strings.TrimSpace(ev.Diagnostic) != "":
			// The receiver answered, in words we cannot place.
			r = ReasonOnHold
		default:
			r = ReasonUndefined
		}
	}
	return r
}

// beforeData reports an SMTP command sent before DATA: a refusal there
// cannot have read the message (Sisimai::SMTP::Command's BeforeData).
func beforeData(cmd string) bool {
	switch cmd {
	case "CONN", "HELO", "EHLO", "MAIL", "RCPT":
		return true
	}
	return false
}
