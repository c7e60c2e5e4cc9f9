package bounce

import (
	"net/netip"
	"strings"
)

// Complaint reports that are not in ARF (RFC 5965). ARF itself, a
// multipart/report with report-type=feedback-report or a
// message/feedback-report part, is read by feedback(); an ARF report whose
// feedback fields come in a text part is recognised while walking (see
// arfFields).

// complaintSubjects open the Subject of a non-ARF complaint report,
// lowercase, followed by the IP address the complained-about mail came
// from: Microsoft's Junk Mail Reporting Program (JMRP, Outlook.com/Hotmail
// feedback loop; Amazon SES forwards complaints in the same form) writes
// "complaint about message from 203.0.113.25"; AOL's feedback loop
// "Email Feedback Report for IP 203.0.113.25".
var complaintSubjects = []string{"complaint about message from ", "email feedback report for ip "}

// jmrpRecipientField is the header Outlook.com adds to the complained-about
// message it returns in a JMRP report: the address of the user who
// reported it as junk.
const jmrpRecipientField = "X-HmXmrOriginalRecipient"

// nonARFComplaint recognises a complaint report that is not ARF: the
// complained-about message returned as message/rfc822 with Outlook.com's
// X-HmXmrOriginalRecipient field, or with a complaint Subject
// (complaintSubjects). It fills the report and reports whether it did.
func (a *analysis) nonARFComplaint() bool {
	if a.p.origRaw == "" || len(a.p.status) > 0 {
		return false // nothing returned, or a delivery report
	}
	rcpt := firstAddr(origField(a.p.origRaw, jmrpRecipientField))
	ip := ""
	subj := strings.TrimSpace(a.subject)
	for _, cue := range complaintSubjects {
		if strings.HasPrefix(subj, cue) {
			ip = leadingIP(subj[len(cue):])
		}
	}
	if rcpt == "" && ip == "" {
		return false
	}
	a.rep.Kind = KindFeedback
	a.rep.FeedbackType = "abuse" // the only kind these programs report: "this is junk"
	a.rep.SendingIP = ip
	a.fillOriginal()
	if rcpt == "" {
		rcpt = a.rep.Original.To
	}
	a.rep.Recipients = []Recipient{{
		Address: rcpt, Reason: ReasonFeedback, Provider: ProviderOf(rcpt, "", ""), Diagnostic: a.rep.FeedbackType,
	}}
	return true
}

// origField returns field name from the header block at the start of a
// returned message, or "".
func origField(raw, name string) string {
	h, _ := parseFieldsKeep(headerBlock(raw), func(n string) bool { return strings.EqualFold(n, name) })
	return h.Get(name)
}

// headerBlock returns the header block at the start of s: up to the first
// blank line.
func headerBlock(s string) string {
	s = strings.TrimLeft(s, "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		return s[:i+1]
	}
	return s
}

// leadingIP returns the IP address that s starts with, or "".
func leadingIP(s string) string {
	s = strings.TrimLeft(s, " [")
	j := 0
	for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == ':' || isHex(s[j])) {
		j++
	}
	ip, err := netip.ParseAddr(s[:j])
	if err != nil {
		return ""
	}
	return ip.String()
}

// arfFields returns the ARF feedback fields (RFC 5965 section 3.1) that a
// text part carries when an ARF report's feedback part was sent under the
// wrong media type: a block of fields that opens with Feedback-Type, at the
// start of the part or at the start of a line after prose ("This is an
// abuse report ... Feedback-Type: abuse ..."), and that has the other
// required fields User-Agent and Version or, in a report that omits them,
// at least two of the fields that identify the complained-about mail
// (Original-Mail-From, Original-Rcpt-To, Arrival-Date, Source-IP,
// Reported-Domain). Lines quoted with ">" never count. It returns "" when
// the part has no such block.
func arfFields(body string) string {
	at := -1
	if hasPrefixFold(strings.TrimLeft(body, " \t\n"), "feedback-type:") {
		at = len(body) - len(strings.TrimLeft(body, " \t\n"))
	} else if i := indexFold(body, "\nfeedback-type:"); i >= 0 {
		at = i + 1
	}
	if at < 0 {
		return ""
	}
	block := headerBlock(body[at:])
	low := "\n" + lowerASCII(block)
	required := strings.Contains(low, "\nuser-agent:") && strings.Contains(low, "\nversion:")
	ident := 0
	for _, f := range []string{"\noriginal-mail-from:", "\noriginal-rcpt-to:", "\narrival-date:", "\nsource-ip:", "\nreported-domain:"} {
		if strings.Contains(low, f) {
			ident++
		}
	}
	if !required && ident < 2 {
		return ""
	}
	return block
}

// indexFold is strings.Index(lowerASCII(s), sub) for a lowercase sub,
// without lowering all of s.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if (s[i] == sub[0] || s[i]+('a'-'A') == sub[0]) && hasPrefixFold(s[i:], sub) {
			return i
		}
	}
	return -1
}
