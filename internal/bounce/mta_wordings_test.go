package bounce

import "testing"

// TestMTAWordings: the fixed wordings of common MTAs (Postfix smtpd and
// bounce texts, Exim, sendmail, qmail-remote and qmail-send, amavisd-new,
// Gmail's and Microsoft's documented replies, RFC 3463/7505/7372 codes)
// classify as those MTAs mean them, each in the SMTP phase it answers.
func TestMTAWordings(t *testing.T) {
	runWordings(t, []wordingCase{
		{"5.1.1", "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in local recipient table", "RCPT", ReasonUserUnknown},
		{"4.7.1", "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]", "RCPT", ReasonRequirePTR},
		{"4.7.1", "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", "RCPT", ReasonRequirePTR},
		{"5.7.1", "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied", "RCPT", ReasonBlocked},
		{"4.1.8", "450 4.1.8 <s@example.jp>: Sender address rejected: Domain not found", "RCPT", ReasonRejected},
		{"5.3.4", "552 5.3.4 Message size exceeds fixed limit", "DATA", ReasonMesgTooBig},
		{"4.3.1", "452 4.3.1 Insufficient system storage", "MAIL", ReasonSystemFull},
		{"5.5.2", "504 5.5.2 <s>: Sender address rejected: need fully-qualified address", "MAIL", ReasonRejected},
		{"5.7.1", "550 5.7.1 <s@example.jp>: Sender address rejected: Access denied", "MAIL", ReasonRejected},
		{"5.0.0", "550 Unrouteable address", "", ReasonHostUnknown},
		{"5.0.0", "all relevant MX records point to non-existent hosts", "", ReasonHostUnknown},
		{"4.0.0", "retry timeout exceeded", "", ReasonExpired},
		{"5.0.0", "550 Sender verify failed", "MAIL", ReasonRejected},
		{"5.1.2", "550 Host unknown (Name server: example.com: host not found)", "", ReasonHostUnknown},
		{"4.4.7", "Cannot send message for 5 days", "", ReasonExpired},
		{"5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)", "", ReasonUserUnknown},
		{"5.1.2", "Sorry, I couldn't find any host named example.com. (#5.1.2)", "", ReasonHostUnknown},
		{"5.2.2", "The users mailfolder is over the allowed quota (size). (#5.2.2)", "", ReasonMailboxFull},
		{"5.7.1", "Sorry, that domain isn't in my list of allowed rcpthosts. (#5.7.1)", "RCPT", ReasonNoRelaying},
		{"5.0.0", "Connected to 192.0.2.1 but sender was rejected.", "MAIL", ReasonRejected},
		{"5.4.6", "This message is looping: it already has my Delivered-To line. (#5.4.6)", "", ReasonNetworkError},
		{"5.0.0", "550 5.0.0 Domain of sender address s@example.jp does not exist", "MAIL", ReasonRejected},
		{"5.4.6", "554 5.4.6 Too many hops", "", ReasonNetworkError},
		{"4.3.1", "452 4.3.1 Insufficient disk space; try again later", "", ReasonSystemFull},
		{"5.5.4", "501 5.5.4 Invalid Address", "RCPT", ReasonUserUnknown},
		{"5.7.1", "550 5.7.1 Message rejected as spam", "DATA", ReasonSpamDetected},
		{"5.7.1", "550 5.7.1 Sender IP reverse lookup rejected", "RCPT", ReasonRequirePTR},
		{"5.2.1", "550 5.2.1 The email account that you tried to reach is disabled.", "RCPT", ReasonSuspend},
		{"4.2.2", "452 4.2.2 The email account that you tried to reach is over quota.", "RCPT", ReasonMailboxFull},
		{"5.1.1", "550 5.1.1 The email account that you tried to reach does not exist.", "RCPT", ReasonUserUnknown},
		{"5.7.1", "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "RCPT", ReasonBlocked},
		{"4.7.0", "421 4.7.0 Too many connections from your IP", "CONN", ReasonTooManyConn},
		{"4.5.3", "452 4.5.3 Too many recipients", "RCPT", ReasonTooManyConn},
		{"5.7.0", "554 5.7.0 Reject, id=1 - SPAM", "DATA", ReasonSpamDetected},
		{"5.7.1", "554 5.7.1 Message rejected: virus found", "DATA", ReasonVirusDetected},
		{"5.0.0", "554 Transaction failed", "DATA", ReasonSystemError},
		{"5.1.6", "551 5.1.6 User has moved; please try <b@example.com>", "RCPT", ReasonHasMoved},
		{"5.1.10", "556 5.1.10 Recipient address has null MX", "RCPT", ReasonNotAccept},
		{"5.7.27", "550 5.7.27 Sender address has null MX", "MAIL", ReasonRejected},
		{"5.7.25", "550 5.7.25 The IP address sending this message does not have a PTR record setup", "RCPT", ReasonRequirePTR},
		{"4.4.2", "Connected to 192.0.2.1 but connection died. (#4.4.2)", "", ReasonNetworkError},
		{"5.0.0", "mailbox unavailable", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Requested action not taken: mailbox unavailable", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 5.7.1 This message has been blocked because it contains a banned attachment", "DATA", ReasonPolicyViolation},
		{"5.0.0", "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)", "MAIL", ReasonRejected},
		{"5.0.0", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "RCPT", ReasonNoRelaying},
		{"5.0.0", "550 Message was not accepted -- invalid mailbox.", "RCPT", ReasonUserUnknown},
		{"4.0.0", "451 Temporary local problem - please try later", "", ReasonSystemError},
		{"5.0.0", "550 relay not permitted", "RCPT", ReasonNoRelaying},
		{"4.0.0", "421 Service not available, closing transmission channel", "CONN", ReasonBlocked},
	})
}

// wordingCase is one fixed MTA or provider wording: the status and SMTP
// command it answers, the diagnostic text, and the reason it means.
type wordingCase struct {
	st, diag, cmd string
	want          Reason
}

// runWordings decides each wording as a failed recipient whose reply code
// is read from the text, and reports every case whose reason differs.
func runWordings(t *testing.T, cases []wordingCase) {
	t.Helper()
	for _, c := range cases {
		ev := evidence{Status: c.st, Command: c.cmd, Action: ActionFailed, Diagnostic: c.diag, ReplyCode: findReplyCode(c.diag)}
		if got := decide(ev).Reason; got != c.want {
			t.Errorf("%q (%s %s): %s, want %s", c.diag, c.st, c.cmd, got, c.want)
		}
	}
}
