package bounce

import "strings"

// A delivery report is recognised by its structure and by the fixed text its
// MTA writes, never by the local part of its From address (a report may come
// from any mailbox name, e.g. Apache James' "post_master@", a rental
// server's "bounce-handler@", or a renamed one).

// mtaPreambles are the fixed opening sentences MTAs write at the top of
// their delivery reports, lowercase. Each is read from the MTA's own
// template (the form the MTA writes, not one message):
var mtaPreambles = []string{
	// Postfix bounce(8) templates (bounce_template.c): "This is the mail
	// system at host mx.example.jp." and its postmaster notices
	// ("Transcript of session follows.").
	"this is the mail system at host",
	// qmail-send (qmail-send.c): "Hi. This is the qmail-send program at
	// example.net." and netqmail's "I'm afraid I wasn't able to deliver ...".
	"this is the qmail-send program",
	"i'm afraid i wasn't able to deliver your message to the following addresses",
	// Exim (deliver.c, moan.c): "This message was created automatically by
	// mail delivery software.", "A message that you sent could not be
	// delivered to one or more of its recipients.", and its malformed
	// address notice "A message that you sent contained one or more
	// recipient addresses that were incorrectly constructed:".
	"this message was created automatically by mail delivery software",
	"a message that you sent could not be delivered to one or more of its recipients",
	"a message that you sent contained one or more recipient addresses that were",
	// sendmail (savemail.c): "The original message was received at ...",
	// "----- The following addresses had permanent fatal errors -----",
	// "----- Transcript of session follows -----", older sendmail's
	// "----- The following addresses had delivery problems -----".
	"the original message was received at",
	"the following addresses had permanent fatal errors",
	"the following addresses had transient non-fatal errors",
	"the following addresses had delivery problems",
	"transcript of session follows",
	// Microsoft Exchange 2007 and later / Exchange Online NDR: "Delivery
	// has failed to these recipients or groups:", "Your message to
	// user@example.com couldn't be delivered."; Exchange 2000/2003: "Your
	// message did not reach some or all of the intended recipients.",
	// "did not reach the following recipient(s):".
	"delivery has failed to these recipients or groups",
	"your message did not reach some or all of the intended recipients",
	"did not reach the following recipient(s)",
	// Courier MTA (courierdsn): "This is a delivery status notification
	// from mx.example.com, running the Courier mail server".
	"running the courier mail server",
	// Gmail's reports as the sending MTA: "** Address not found **",
	// "** Message not delivered **", older "Delivery to the following
	// recipient failed permanently:".
	"** address not found **",
	"** message not delivered **",
	"** message blocked **",
	"delivery to the following recipient failed permanently",
	"delivery to the following recipients failed permanently",
	"delivery to the following recipient has been delayed",
	// Yahoo Mail as the sending MTA: "Sorry, we were unable to deliver your
	// message to the following address."
	"sorry, we were unable to deliver your message to the following address",
	// The generic RFC 3464 human part many gateways write: "This is an
	// automatically generated Delivery Status Notification".
	"this is an automatically generated delivery status notification",
	// Postfix before 2.3 (bounce_template's old text): "This is the Postfix
	// program at host mx.example.jp."
	"this is the postfix program at host",
	// DragonFly Mail Agent (dma, net.c/mail.c bounce): "This is the
	// DragonFly Mail Agent v0.13 at mx.example.jp."
	"this is the dragonfly mail agent",
	// OpenSMTPD (smtpd/bounce.c): "This is the MAILER-DAEMON, please DO NOT
	// REPLY to this e-mail." / "An error has occurred while attempting to
	// deliver a message for the following list of recipients:".
	"this is the mailer-daemon, please do not reply",
	"an error has occurred while attempting to deliver a message for",
	// Lotus Notes/Domino's report: "------- Failure Reasons --------".
	"------- failure reasons",
	// MailFoundry: "Unable to deliver message to: <address>" then "Delivery
	// failed for the following reason:".
	"delivery failed for the following reason",
	// MailMarshal SMTP: "Your message: From: ... Subject: ..." then "Could
	// not be delivered because of".
	"could not be delivered because of",
	// Gateways that write "Unable to deliver message to the following
	// address(es)." under a "Message from <domain>." line (the qmail-style
	// reports Sisimai reads as X2).
	"unable to deliver message to the following address",
	// au (KDDI) EZweb and au one net, KB.md §7: "Each of the following
	// recipients was rejected by a remote mail server.", "次のあて先への
	// メッセージはエラーのため送信できませんでした。", "※本メールはau one net
	// のメールシステムより配信しております。"
	"each of the following recipients was rejected by a remote mail server",
	"次のあて先へのメッセージはエラーのため送信できませんでした",
	"本メールはau one netのメールシステムより配信",
	// m-FILTER (Digital Arts): "このメールは「m-FILTER」が自動的に生成して
	// 送信しています。"
	"「m-filter」が自動的に生成して送信しています",
	// Verizon's SMS/MMS gateway: "Message could not be delivered to mobile."
	"message could not be delivered to mobile",
	// Trend Micro InterScan MSS: "Message from InterScan Messaging Security
	// Suite".
	"message from interscan messaging security suite",
	// qmail-ldap style reports: "Your mail message to the following
	// address(es) could not be delivered."
	"your mail message to the following address(es) could not be delivered",
	// Zoho Mail: "This message was created automatically by mail delivery
	// system."
	"this message was created automatically by mail delivery system",
}

// mtaLinePrefixes open a line of an MTA's report (the line starts with
// them): Lotus Domino's "was not delivered to:" (after "Your message /
// Subject: ..."), KDDI/au's "Your mail sent on: <date>" followed by
// "Could not be delivered to: <address>", InterScan's transcript lines.
var mtaLinePrefixes = []string{"was not delivered to:", "your mail sent on:", "could not be delivered to:",
	// Trend Micro InterScan MSS writes the SMTP transcript at the top of
	// its report: "Sent <<< RCPT TO:<address>", "Received >>> 550 ...".
	"sent <<< rcpt to:", "sent <<< mail from:", "sent <<< data", "received >>> "}

// forwardLine reports a line that opens a forwarded or quoted copy inside a
// person's mail: quoting ("> "), the separators mail clients write before a
// forward ("---------- Forwarded message ---------", "-----Original
// Message-----", "Begin forwarded message:", Japanese "転送メッセージ"), or
// the From/Date/Sent header lines a client copies above the forwarded text.
func forwardLine(low string) bool {
	if strings.HasPrefix(low, ">") || strings.HasPrefix(low, "|") {
		return true
	}
	if containsAny(low, "forwarded message", "original message", "転送", "元のメッセージ") {
		return true
	}
	return headerLine(low)
}

// headerLine reports a lowercase line that copies a header field of a
// forwarded mail ("From: ...", "Subject: ...", Japanese "件名: ...").
func headerLine(low string) bool {
	return hasAnyPrefix(low, []string{"from:", "date:", "sent:", "to:", "cc:", "subject:", "差出人:", "送信者:", "件名:", "日付:", "宛先:"})
}

// preambleLines is how many non-blank lines from the top of the text an MTA
// preamble may start on (a report may open with a title line or two, such
// as James' "Error: Invalid user address"); a person who pastes a bounce
// below their own lines has written more than that.
const preambleLines = 3

// mtaPreamble reports that the text opens as an MTA writes a delivery
// report: one of mtaPreambles or mtaLinePrefixes within its first
// preambleLines non-blank lines, with no quoted or forwarded line before it.
// Apache James's report ("Error message below:" then "Message details:")
// counts when both are there. A person who forwards or quotes a bounce
// writes, or their client inserts, something above it; that is not a
// report.
func (a *analysis) mtaPreamble() bool {
	if a.preambleDone {
		return a.preamble
	}
	a.preambleDone = true
	rest := a.low
	yourMessage := false // Exchange 2003, Domino and MailMarshal open with "Your message" and its To/Subject/Sent lines
	fields := 0
	for n := 0; n < preambleLines && rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if n == 0 && (line == "your message" || line == "your message:") {
			yourMessage = true
			continue
		}
		if yourMessage && headerLine(line) && fields < 8 {
			fields++
			continue // the returned message's To/Subject/Sent, not counted
		}
		n++
		if strings.HasPrefix(line, ">") || strings.HasPrefix(line, "|") {
			return false // quoted
		}
		if hasAnyPrefix(line, mtaLinePrefixes) || containsAny(line, mtaPreambles...) ||
			(strings.HasPrefix(line, "error message below:") && strings.Contains(rest, "message details:")) {
			a.preamble = true
			return true
		}
		if forwardLine(line) {
			return false
		}
	}
	return false
}

// reportStructure reports the signals that make a message a delivery
// report on their own, whoever sent it: X-Failed-Recipients (Exim, Gmail),
// or an MTA preamble at the top of the text.
func (a *analysis) reportStructure() bool {
	return a.p.header.Get("X-Failed-Recipients") != "" || a.mtaPreamble()
}
