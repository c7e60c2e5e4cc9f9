package bounce

import (
	"net/netip"
	"strings"
)

// Complaint reports that are not in ARF (RFC 5965). ARF itself, a
// multipart/report with report-type=feedback-report or a
// message/feedback-report part, is read by feedback(); an ARF report whose
// feedback part is mislabelled text/plain is recognised while walking (see
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

// arfFields reports whether a text part is an ARF feedback report sent
// under the wrong media type (text/plain instead of
// message/feedback-report): its first field is Feedback-Type (RFC 5965
// section 3.1, the first required field) and it has the required
// User-Agent or Version field.
func arfFields(body string) bool {
	s := strings.TrimLeft(body, " \t\n")
	if !hasPrefixFold(s, "feedback-type:") {
		return false
	}
	low := lowerASCII(headerBlock(s))
	return strings.Contains(low, "\nuser-agent:") || strings.Contains(low, "\nversion:")
}
