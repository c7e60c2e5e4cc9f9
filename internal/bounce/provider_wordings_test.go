package bounce

import "testing"

// TestProviderWordings: further fixed wordings of the MTAs and providers
// bouncewatch meets (Postfix smtpd/smtp/local, Exim routers and transports,
// sendmail, qmail-remote/qmail-send, Exchange 2003-2019 and Exchange
// Online enhanced-status texts, Gmail's and Yahoo's documented replies,
// Oracle Messaging Server, OpenSMTPD, Domino, GMX, mail.ru, Zoho, iCloud)
// classify as those MTAs mean them, in the phase they answer. Each wording
// is the MTA's own fixed text, with RFC 2606/5737 names in it.
func TestProviderWordings(t *testing.T) {
	cases := []struct {
		st, diag, cmd string
		want          Reason
	}{
		{"", "mail for example.jp loops back to myself", "", ReasonNetworkError},
		{"5.1.2", "Host or domain name not found. Name service error for name=example.jp type=MX: Host not found", "", ReasonHostUnknown},
		{"", "conversation with mx.example.jp[192.0.2.1] timed out while sending end of data -- message may be sent more than once", "", ReasonExpired},
		{"5.1.1", "550 5.1.1 <a@example.jp>: Recipient address rejected: User unknown in virtual alias table", "RCPT", ReasonUserUnknown},
		{"5.1.1", "550 5.1.1 <a@example.jp>: Recipient address rejected: User unknown in virtual mailbox table", "RCPT", ReasonUserUnknown},
		{"5.7.1", "554 5.7.1 <a@example.jp>: Relay access denied", "RCPT", ReasonNoRelaying},
		{"5.7.1", "554 5.7.1 <mx.example.jp>: Helo command rejected: Host not found", "RCPT", ReasonBlocked},
		{"5.0.0", "message size 20480000 exceeds size limit 10240000 of server mx.example.jp[192.0.2.1]", "", ReasonMesgTooBig},
		{"5.2.2", "cannot update mailbox /var/mail/a for user a. error writing message: Disk quota exceeded", "", ReasonMailboxFull},
		{"", "retry time not reached for any host after a long failure period", "", ReasonExpired},
		{"", "all hosts for 'example.jp' have been failing for a long time (and retry time not reached)", "", ReasonExpired},
		{"", "all host address lookups failed permanently", "", ReasonHostUnknown},
		{"", "an MX or SRV record indicated no SMTP service", "", ReasonNotAccept},
		{"", "mailbox is full: retry timeout exceeded", "", ReasonMailboxFull},
		{"", "error: quota exceed", "", ReasonMailboxFull},
		{"", "delivery to pipe forbidden", "", ReasonSystemError},
		{"", "delivery to file forbidden", "", ReasonSystemError},
		{"", "Message size exceeds maximum permitted", "", ReasonMesgTooBig},
		{"5.7.1", "550 5.7.1 Relaying denied. IP name possibly forged [192.0.2.1]", "RCPT", ReasonRequirePTR},
		{"5.7.1", "550 5.7.1 Relaying denied. IP name lookup failed [192.0.2.1]", "RCPT", ReasonRequirePTR},
		{"5.7.1", "550 5.7.1 <a@example.jp>... Relaying denied", "RCPT", ReasonNoRelaying},
		{"4.0.0", "Deferred: Connection refused by mx.example.jp.", "", ReasonNetworkError},
		{"4.0.0", "Deferred: Connection timed out with mx.example.jp.", "", ReasonExpired},
		{"5.2.1", "550 5.2.1 <a@example.jp>... Mailbox disabled for this recipient", "RCPT", ReasonSuspend},
		{"5.3.4", "552 5.3.4 Message is too large; 10485760 bytes max", "DATA", ReasonMesgTooBig},
		{"5.4.6", "554 5.4.6 Hop count exceeded - possible mail loop", "", ReasonNetworkError},
		{"5.0.0", "unknown mailer error 1", "", ReasonMailerError},
		{"", "Sorry, I couldn't find any host by that name. (#4.1.2)", "", ReasonHostUnknown},
		{"", "Sorry. Although I'm listed as a best-preference MX or A for that host, it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)", "", ReasonSystemError},
		{"", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)", "", ReasonNetworkError},
		{"", "I'm not going to try again; this message has been in the queue too long.", "", ReasonExpired},
		{"", "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)", "", ReasonNotAccept},
		{"", "The recipient's mailbox is full, message returned to sender. (#5.2.2)", "", ReasonMailboxFull},
		{"", "Recipient's mailbox is full", "", ReasonMailboxFull},
		{"5.1.1", "The e-mail account does not exist at the organization this message was sent to.", "", ReasonUserUnknown},
		{"5.4.0", "The destination server for this recipient could not be found in Domain Name Service (DNS).", "", ReasonHostUnknown},
		{"5.4.4", "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "", ReasonHostUnknown},
		{"5.4.4", "554 5.4.4 SMTPSEND.DNS.MxLoopback; DNS records for this domain are configured in a loop", "", ReasonNetworkError},
		{"5.5.3", "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients", "", ReasonTooManyConn},
		{"5.7.1", "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required", "", ReasonSecurityError},
		{"5.7.1", "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized", "", ReasonRejected},
		{"4.4.7", "550 4.4.7 QUEUE.Expired; message expired", "", ReasonExpired},
		{"5.4.316", "550 5.4.316 Message expired, connection refused(Socket error code 10061)", "", ReasonExpired},
		{"5.7.606", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]", "RCPT", ReasonBlocked},
		{"5.7.708", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP", "RCPT", ReasonBlocked},
		{"5.7.1", "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", "", ReasonBlocked},
		{"5.2.2", "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", "", ReasonMailboxFull},
		{"5.4.300", "550 5.4.300 Message expired", "", ReasonExpired},
		{"5.7.57", "530 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM", "MAIL", ReasonSecurityError},
		{"5.0.0", "552 5.3.4 Your message exceeded Google's message size limits. Please visit https://support.google.com/mail/?answer=8770 to review our size guidelines.", "DATA", ReasonMesgTooBig},
		{"5.7.1", "550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.", "DATA", ReasonPolicyViolation},
		{"4.7.0", "421 4.7.0 [192.0.2.1] Our system has detected that this message is suspicious due to the very low reputation of the sending IP address.", "DATA", ReasonBadReputation},
		{"5.4.5", "550 5.4.5 Daily user sending quota exceeded.", "MAIL", ReasonSpeeding},
		{"5.7.1", "550 5.7.1 Messages missing a valid messageId header are not accepted.", "DATA", ReasonNotCompliantRFC},
		{"5.7.0", "550 5.7.0 Mail relay denied", "RCPT", ReasonNoRelaying},
		{"5.7.1", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html", "CONN", ReasonBlocked},
		{"5.0.0", "552 1 Requested mail action aborted, mailbox not found", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 30 Sorry, your message size exceeds 41943040 bytes.", "DATA", ReasonMesgTooBig},
		{"5.0.0", "554 Transaction Failed spam message not queued.", "DATA", ReasonSpamDetected},
		{"5.0.0", "550 5.1.1 <a@example.com>: unknown or illegal alias: a@example.com", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Message was not accepted -- invalid mailbox. Local mailbox a@example.ru is unavailable: user not found", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Message was not accepted -- mailbox is frozen", "RCPT", ReasonSuspend},
		{"5.0.0", "550 spam message rejected. Please visit http://help.example.ru/notspam-support/id?c=abc", "DATA", ReasonSpamDetected},
		{"4.0.0", "451 Ratelimit exceeded for mailbox a@example.ru. Try again later.", "RCPT", ReasonSpeeding},
		{"5.0.0", "550 5.1.1 Mailbox does not exist", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 5.7.7 Email policy violation detected", "DATA", ReasonPolicyViolation},
		{"5.0.0", "Unknown host or domain", "", ReasonHostUnknown},
		{"5.0.0", "Illegal host/domain name found", "", ReasonHostUnknown},
		{"5.0.0", "Envelope expired after too many retries", "", ReasonExpired},
		{"5.0.0", "Network error on destination MXs", "", ReasonNetworkError},
		{"5.0.0", "No MX found for domain", "", ReasonNotAccept},
		{"5.0.0", "Domain not found", "", ReasonHostUnknown},
		{"5.0.0", "User's mailbox is full", "", ReasonMailboxFull},
		{"5.0.0", "No such user", "", ReasonUserUnknown},
		{"5.0.0", "Mailbox quota exceeded", "", ReasonMailboxFull},
		{"5.0.0", "550 Requested action not taken: mailbox unavailable", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 5.2.1 Mailbox is inactive", "RCPT", ReasonSuspend},
		{"5.0.0", "554 delivery error: dd Sorry your message to a@example.com cannot be delivered. This mailbox is disabled (554.30)", "DATA", ReasonSuspend},
		{"5.0.0", "550 5.7.1 Mail from IP 192.0.2.1 was rejected due to listing in Spamhaus SBL", "RCPT", ReasonBlocked},
		{"5.0.0", "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.example.com/HT204137", "DATA", ReasonPolicyViolation},
		{"5.0.0", "552 5.2.2 <a@example.com>: user is over quota", "RCPT", ReasonMailboxFull},
		{"5.0.0", "550 5.7.1 Client host rejected: cannot find your reverse hostname", "RCPT", ReasonRequirePTR},
		{"5.0.0", "Mailbox has exceeded the limit", "", ReasonMailboxFull},
		{"5.0.0", "The recipient's e-mail address was not found in the recipient's e-mail system.", "", ReasonUserUnknown},
		{"5.0.0", "Unable to deliver message: no such user", "", ReasonUserUnknown},
		{"5.0.0", "Sender verify failed", "", ReasonRejected},
		{"5.0.0", "550-Verification failed for <s@example.jp> 550-Unrouteable address 550 Sender verify failed", "RCPT", ReasonRejected},
		{"5.0.0", "Message rejected under suspicion of SPAM", "DATA", ReasonSpamDetected},
		{"5.0.0", "550 5.7.1 Your email was rejected due to bad reputation", "DATA", ReasonBadReputation},
		{"5.0.0", "550 Denied by policy", "", ReasonPolicyViolation},
		{"5.0.0", "554 5.7.1 <a@example.com>: Recipient address rejected: Access denied", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Host unknown", "", ReasonHostUnknown},
		{"5.0.0", "550 5.0.0 Message too big", "DATA", ReasonMesgTooBig},
		{"4.0.0", "host lookup did not complete", "", ReasonNetworkError},
		{"5.0.0", "550 5.1.0 Address rejected. <a@example.com>", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 5.7.1 Rejected: this message looks like spam", "DATA", ReasonSpamDetected},
		{"5.0.0", "451 4.3.0 Mail server temporarily rejected message.", "", ReasonSystemError},
		{"5.5.0", "503 5.5.0 <a@example.jp>: Data command rejected: Improper use of SMTP command pipelining", "DATA", ReasonSyntaxError},
		{"5.4.6", "mail forwarding loop for a@example.jp", "", ReasonNetworkError},
		{"4.4.1", "delivery temporarily suspended: connect to mx.example.jp[192.0.2.1]:25: Connection refused", "", ReasonNetworkError},
		{"4.4.2", "delivery temporarily suspended: lost connection with mx.example.jp[192.0.2.1] while sending RCPT TO", "", ReasonNetworkError},
		{"4.3.0", "451 4.3.0 <a@example.jp>: Temporary lookup failure", "RCPT", ReasonSystemError},
		{"5.0.0", "Remote host mx.example.jp [192.0.2.1] closed connection in response to end of data", "", ReasonNetworkError},
		{"4.4.1", "451 4.4.1 reply: read error from mx.example.jp.", "", ReasonNetworkError},
		{"5.3.5", "554 5.3.5 Local configuration error", "", ReasonSystemError},
		{"5.7.1", "550 5.7.1 <a@example.jp>... Relaying denied. Proper authentication required.", "RCPT", ReasonNoRelaying},
		{"", "Connected to 192.0.2.1 but greeting failed.", "", ReasonBlocked},
		{"", "Connected to 192.0.2.1 but my name was rejected.", "", ReasonBlocked},
		{"", "Unable to chdir to maildir. (#4.2.1)", "", ReasonSystemError},
		{"5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)", "RCPT", ReasonUserUnknown},
		{"5.1.8", "550 5.1.8 Access denied, bad outbound sender", "MAIL", ReasonRejected},
		{"5.6.11", "550 5.6.11 SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds", "DATA", ReasonContentError},
		{"5.7.64", "550 5.7.64 TenantAttribution; Relay Access Denied", "RCPT", ReasonNoRelaying},
		{"5.4.1", "550 5.4.1 Relay Access Denied", "RCPT", ReasonNoRelaying},
		{"5.7.1", "550 5.7.1 Messages missing a valid address in From: header, or having no From: header, are not accepted.", "DATA", ReasonNotCompliantRFC},
		{"5.7.0", "550 5.7.0 Mail Sending denied. This error occurs if the sender account is disabled or not registered within your Google Workspace domain.", "MAIL", ReasonRejected},
		{"5.0.0", "550 Message was not accepted -- invalid mailbox. Local mailbox a@example.ru is unavailable: account is disabled", "RCPT", ReasonSuspend},
		{"5.0.0", "550 Message was not accepted -- mailbox is full", "RCPT", ReasonMailboxFull},
		{"5.0.0", "554-Transaction failed 554-Reject due to policy restrictions. 554 For explanation visit https://www.example.net/mail/senderguidelines?c=sp", "DATA", ReasonPolicyViolation},
		{"5.1.1", "550 5.1.1 <a@example.com>: User is unknown", "RCPT", ReasonUserUnknown},
		{"5.0.0", "553 Relaying disallowed", "RCPT", ReasonNoRelaying},
		{"5.2.0", "550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]", "DATA", ReasonSpamDetected},
		{"4.2.0", "421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR005_505 [505]", "", ReasonSystemError},
		{"4.2.1", "421 4.2.1 Service refuse. Veuillez essayer plus tard. Service refused, please try later. LPN006_107", "CONN", ReasonBlocked},
		{"5.7.1", "554 5.7.1 <client.example.net[192.0.2.1]>: Client host rejected: #216 lpn LPN000_630", "RCPT", ReasonPolicyViolation},
		{"5.3.4", "552 5.3.4 Taille limite du message atteinte. Message size limit reached. OFR_514 [514]", "DATA", ReasonMesgTooBig},
		{"5.2.1", "550 5.2.1 Boite du destinataire archivee. Archived recipient. LPN007_420", "RCPT", ReasonSuspend},
		{"5.1.1", "552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]", "RCPT", ReasonMailboxFull},
		{"5.1.1", "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 rejected because 192.0.2.1 is in a black list at zen.example.org", "RCPT", ReasonBlocked},
		{"5.0.0", "Child process of address_pipe transport returned 1 from command: /usr/local/bin/filter", "", ReasonMailerError},
		{"5.0.0", "mailbox is full (MTA-imposed quota exceeded while writing to file /var/mail/a)", "", ReasonMailboxFull},
		{"5.0.0", "Unrouteable mail domain \"example.jp\"", "", ReasonHostUnknown},
		{"5.0.0", "Too many hops 26 (25 max): from <s@example.jp> via mx.example.jp, to <a@example.com>", "", ReasonNetworkError},
		{"4.2.2", "Deferred: 452 4.2.2 Over quota", "", ReasonMailboxFull},
		{"5.0.0", "550 No such domain at this location", "RCPT", ReasonHostUnknown},
		{"5.0.0", "554 5.7.1 Policy rejection on Target Address", "RCPT", ReasonPolicyViolation},
		{"5.0.0", "550 Mailbox not found", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Ip frequency limited", "CONN", ReasonTooManyConn},
		{"5.0.0", "Maximum hop count exceeded. Message probably in a routing loop.", "", ReasonNetworkError},
		{"5.0.0", "User a (a@example.com) not listed in Domino Directory", "", ReasonUserUnknown},
		{"5.0.0", "550 5.7.1 Unable to deliver to a@example.com: mailbox is disabled", "RCPT", ReasonSuspend},
		{"5.0.0", "511 sorry, no mailbox here by that name (#5.1.1 - chkuser)", "RCPT", ReasonUserUnknown},
		{"5.0.0", "552 sorry, the recipient's mailbox is full (#5.1.1 - chkuser)", "RCPT", ReasonMailboxFull},
		{"5.0.0", "553 sorry, this recipient is not in my validrcptto list (#5.7.1)", "RCPT", ReasonUserUnknown},
		{"5.0.0", "451 qq temporary problem (#4.3.0)", "DATA", ReasonSystemError},
		{"5.0.0", "451 qq trouble creating files in queue (#4.3.0)", "DATA", ReasonSystemError},
		{"5.0.0", "550 5.7.1 Rejected by header based Anti-Spoofing policy", "DATA", ReasonPolicyViolation},
		{"5.0.0", "550 5.1.1 Mailbox does not exist", "RCPT", ReasonUserUnknown},
		{"5.0.0", "550 Invalid recipient <a@example.com> (#5.1.1)", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 5.7.1 The message from (<s@example.jp>) with the subject of ( x ) matches a profile the Internet community may consider spam.", "DATA", ReasonSpamDetected},
		{"5.0.0", "550 5.7.1 Command rejected", "RCPT", ReasonOnHold},
		{"5.0.0", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34", "", ReasonNetworkError},
		{"5.0.0", "550 5.1.1 Recipient not found: a@example.com", "RCPT", ReasonUserUnknown},
		{"4.0.0", "451 4.7.1 Please try again later (in reply to RCPT TO command)", "RCPT", ReasonGreylisted},
		{"5.0.0", "550 Address a@example.com does not exist", "RCPT", ReasonUserUnknown},
		{"5.0.0", "554 The mail server has detected that your message contains a virus", "DATA", ReasonVirusDetected},
		{"5.7.136", "550 5.7.136 RESOLVER.RST.SenderNotAuthenticatedForMailbox; authentication required", "RCPT", ReasonRejected},
		{"4.4.0", "451 4.4.0 DNS query failed. The error was: DNS query failed with error: ErrorRetry", "", ReasonNetworkError},
	}
	for _, c := range cases {
		ev := evidence{Status: c.st, Command: c.cmd, Action: ActionFailed, Diagnostic: c.diag, ReplyCode: findReplyCode(c.diag)}
		if got := decide(ev).Reason; got != c.want {
			t.Errorf("%q (%s %s): %s, want %s", c.diag, c.st, c.cmd, got, c.want)
		}
	}
}

// TestMultiSignalPrecedence: documented texts that carry two signals
// decide as RFC 3463 and KB.md §10 read them. A 5.1.1 whose words also say
// the user is unknown is userunknown even when spam is mentioned; 5.1.1
// with only spam words is the filter's verdict (x.1.1 is used loosely,
// KB.md §3). 5.7.1 decides nothing alone (KB.md §10): relay words are
// norelaying, a blocklist is blocked. A 4.4.7 expiry whose last attempt was
// refused for a full mailbox is mailboxfull (the cause); without a cause
// it is expired. "quota" is the recipient's mailbox only when the words say
// so: a sending quota is the sender's rate.
func TestMultiSignalPrecedence(t *testing.T) {
	cases := []struct {
		st, diag, cmd string
		want          Reason
	}{
		{"5.1.1", "550 5.1.1 <a@example.jp>: User unknown; message also scored as spam", "RCPT", ReasonUserUnknown},
		{"5.1.1", "550 5.1.1 Message rejected as spam by content filter", "DATA", ReasonSpamDetected},
		{"5.7.1", "554 5.7.1 <a@example.jp>: Relay access denied", "RCPT", ReasonNoRelaying},
		{"5.7.1", "550 5.7.1 Unable to relay for a@example.jp", "RCPT", ReasonNoRelaying},
		{"5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using relays.example.org", "RCPT", ReasonBlocked},
		{"4.4.7", "451 4.4.7 Delivery time limit exceeded; last attempt: 452 4.2.2 Mailbox full", "", ReasonMailboxFull},
		{"4.4.7", "451 4.4.7 Delivery time limit exceeded", "", ReasonExpired},
		{"5.7.1", "550 5.7.1 Daily sending quota exceeded", "MAIL", ReasonSpeeding},
		{"5.7.1", "550 5.7.1 Rejected by policy: mailbox quota exceeded", "RCPT", ReasonMailboxFull},
		{"5.2.2", "552 5.2.2 Message rejected by policy: quota", "RCPT", ReasonMailboxFull},
		{"5.7.1", "550 5.7.1 Message rejected by policy", "DATA", ReasonPolicyViolation},
		{"5.1.1", "550 5.1.1 Recipient address rejected: spam trap", "RCPT", ReasonSpamDetected},
	}
	for _, c := range cases {
		ev := evidence{Status: c.st, Command: c.cmd, Action: ActionFailed, Diagnostic: c.diag, ReplyCode: findReplyCode(c.diag)}
		if got := decide(ev).Reason; got != c.want {
			t.Errorf("%q (%s %s): %s, want %s", c.diag, c.st, c.cmd, got, c.want)
		}
	}
}
