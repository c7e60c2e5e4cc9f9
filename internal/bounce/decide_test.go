package bounce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestTruncatedRecipients: a report naming more recipients than the cap
// lists the first maxRecipients and says so; one within the cap does not.
func TestTruncatedRecipients(t *testing.T) {
	for _, n := range []int{maxRecipients, maxRecipients + 5} {
		rep := Analyze(manyRecipients(n))
		want := min(n, maxRecipients)
		if len(rep.Recipients) != want {
			t.Fatalf("n=%d: %d recipients, want %d", n, len(rep.Recipients), want)
		}
		if rep.Truncated != (n > maxRecipients) {
			t.Errorf("n=%d: Truncated = %v", n, rep.Truncated)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), `"truncated":true`); got != (n > maxRecipients) {
			t.Errorf("n=%d: JSON has truncated:true = %v", n, got)
		}
	}
}

// TestTruncatedTextRecipients: the same for a plain-text report.
func TestTruncatedTextRecipients(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mail.example.jp\nTo: sender@example.jp\nSubject: Returned mail: see transcript for details\n\n" +
		"The following addresses had permanent fatal errors:\n\n")
	for i := 0; i < maxRecipients+3; i++ {
		fmt.Fprintf(&b, "<u%d@example.com>... User unknown\n", i)
	}
	rep := Analyze([]byte(b.String()))
	if rep.Kind != KindBounce || len(rep.Recipients) != maxRecipients || !rep.Truncated {
		t.Errorf("kind %s, %d recipients, truncated %v; want bounce, %d, true", rep.Kind, len(rep.Recipients), rep.Truncated, maxRecipients)
	}
}

// TestMaskData: data gives way to placeholders, the receiver's words stay.
func TestMaskData(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"550 5.1.1 <spam.user@example.jp>: Recipient address rejected", "550 5.1.1 <_addr_>: Recipient address rejected"},
		{"host mx.example.net[192.0.2.1] said: 554 blocked", "host _host_[_ip_] said: 554 blocked"},
		{"see https://www.example.com/query/ip/192.0.2.9.", "see _iplookup_."},
		{"see http://www.example.com/help.", "see _url_."},
		{"Message-ID: <rbl3.x@mail.example.org>", "Message-ID: <_addr_>"},
		{"from [2001:db8::1] at 10:22:33", "from [_ip_] at 10:22:33"},
		{"550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"},
		{"example.jp does not exist", "_host_ does not exist"},
		{"ユーザが存在しません", "ユーザが存在しません"},
	} {
		if got := maskData(c.in); got != c.want {
			t.Errorf("maskData(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestDecideNamedCases are the wrong answers named in issue 10, each in our
// own words: the reply as an MTA would quote it, the evidence a DSN gives.
func TestDecideNamedCases(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   evidence
		want Reason
	}{
		{"5.1.1 to a mailbox named spam", evidence{Status: "5.1.1", ReplyCode: "550", Command: "RCPT", Action: ActionFailed,
			Diagnostic: "550 5.1.1 <spam.user@example.jp>... User unknown"}, ReasonUserUnknown},
		{"an address that contains rbl", evidence{Status: "5.1.1", ReplyCode: "550", Command: "RCPT", Action: ActionFailed,
			Diagnostic: "550 5.1.1 <garbled@example.com>: Recipient address rejected: User unknown in virtual mailbox table"}, ReasonUserUnknown},
		{"delivery time limit", evidence{Status: "4.4.7", ReplyCode: "451", Action: ActionFailed,
			Diagnostic: "451 4.4.7 Delivery time limit exceeded"}, ReasonExpired},
		{"sender domain does not exist", evidence{Status: "5.1.8", ReplyCode: "553", Command: "MAIL", Action: ActionFailed,
			Diagnostic: "553 5.1.8 <sender@example.net>: Sender domain does not exist"}, ReasonRejected},
		{"sender domain does not exist, no command", evidence{Status: "5.1.8", ReplyCode: "553", Action: ActionFailed,
			Diagnostic: "553 5.1.8 Sender domain does not exist"}, ReasonRejected},
		{"not listed in public directory", evidence{Status: "5.1.1", ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "550 5.1.1 User taro@example.co.jp not listed in public directory"}, ReasonUserUnknown},
		{"Yahoo dd no account after DATA", evidence{ReplyCode: "554", Command: "DATA", Action: ActionFailed, Provider: ProviderYahooJapan,
			Diagnostic: "554 delivery error: dd This user doesn't have a example.co.jp account (taro@example.co.jp) [-5] - mta1.example.co.jp"}, ReasonUserUnknown},
		{"host does not exist", evidence{ReplyCode: "553", Command: "RCPT", Action: ActionFailed,
			Diagnostic: "553 example.org does not exist"}, ReasonHostUnknown},
		{"blocklist link", evidence{ReplyCode: "554", Action: ActionFailed,
			Diagnostic: "554 Blocked - see https://dnsbl.example.net/lookup.cgi?ip=192.0.2.7"}, ReasonBlocked},
		{"blocklist link beside no such user", evidence{Status: "5.1.1", ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "550 5.1.1 see https://postmaster.example.com/codes?ip=192.0.2.7 Recipient address does not exist"}, ReasonUserUnknown},
		{"a specific status decides", evidence{Status: "5.2.2", ReplyCode: "552", Action: ActionFailed,
			Diagnostic: "552 5.2.2 Message content rejected: mailbox over its limit"}, ReasonMailboxFull},
		{"a loose status leaves the words to decide", evidence{Status: "5.1.1", ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "550 5.1.1 Client host [192.0.2.1] blocked using bl.example.net"}, ReasonBlocked},
		{"Exchange's 5.1.10 is an unknown recipient", evidence{Status: "5.1.10", ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}, ReasonUserUnknown},
		{"Gmail likely unsolicited mail, blocked", evidence{Status: "5.7.1", ReplyCode: "550", Command: "DATA", Action: ActionFailed, Provider: ProviderGoogle,
			Diagnostic: "550-5.7.1 Gmail has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked."}, ReasonSpamDetected},
		{"Gmail blocked IP", evidence{Status: "5.7.1", ReplyCode: "550", Action: ActionFailed, Provider: ProviderGoogle,
			Diagnostic: "550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked."}, ReasonBlocked},
		{"user unknown answering RCPT", evidence{ReplyCode: "550", Command: "RCPT", Action: ActionFailed,
			Diagnostic: "550 Unknown user taro@example.com"}, ReasonUserUnknown},
		{"user unknown with 5.1.1", evidence{Status: "5.1.1", ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "550 5.1.1 Unknown user taro@example.com"}, ReasonUserUnknown},
		{"user unknown after DATA", evidence{ReplyCode: "550", Command: "DATA", Action: ActionFailed,
			Diagnostic: "550 Unknown user taro@example.com"}, ReasonFiltered},
		{"user unknown, no command, no status (Sisimai::Reason::Filtered)", evidence{ReplyCode: "550", Action: ActionFailed,
			Diagnostic: "Invalid Address, ERROR_CODE :550, ERROR_CODE :Requested action not taken: mailbox unavailable"}, ReasonFiltered},
		{"user unknown at MAIL FROM", evidence{ReplyCode: "550", Command: "MAIL", Action: ActionFailed,
			Diagnostic: "550 Unknown user sender@example.jp"}, ReasonRejected},
		{"Microsoft code only at Microsoft", evidence{ReplyCode: "550", Action: ActionFailed, Provider: ProviderOther,
			Diagnostic: "550 SC-001 Unfortunately, messages from 192.0.2.1 weren't sent"}, ReasonOnHold},
		{"Microsoft code at Microsoft", evidence{ReplyCode: "550", Action: ActionFailed, Provider: ProviderMicrosoft,
			Diagnostic: "550 SC-001 Unfortunately, messages from 192.0.2.1 weren't sent"}, ReasonBlocked},
	} {
		if got := decide(c.ev).Reason; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestGreylistingIsTemporary: "try again later" beside a refused
// recipient is greylisting on a 4xx reply only (KB.md §8).
func TestGreylistingIsTemporary(t *testing.T) {
	diag := "<taro@example.com>: Recipient address rejected: Please try again later"
	if got := decide(evidence{Status: "4.7.1", ReplyCode: "450", Command: "RCPT", Action: ActionDelayed, Diagnostic: "450 4.7.1 " + diag}).Reason; got != ReasonGreylisted {
		t.Errorf("450 4.7.1: %s, want greylisted", got)
	}
	if got := decide(evidence{Status: "5.7.1", ReplyCode: "550", Command: "RCPT", Action: ActionFailed, Diagnostic: "550 5.7.1 " + diag}).Reason; got == ReasonGreylisted {
		t.Errorf("550 5.7.1: greylisted, want a permanent reason")
	}
}

// TestReplyStatusOverDSNStatus: the receiver's enhanced code in its
// reply is the recipient's status when it says more than the DSN's Status
// of the same class; an x.0.0 in the reply does not replace a specific one.
func TestReplyStatusOverDSNStatus(t *testing.T) {
	for _, c := range []struct{ dsn, reply, want string }{
		{"5.1.1", "550 5.7.1 IP address blacklisted by recipient", "5.7.1"},
		{"5.1.1", "552 5.2.2 Over quota", "5.2.2"},
		{"5.1.1", "550 5.0.0 User unknown", "5.1.1"},
		{"5.0.0", "550 5.1.1 User unknown", "5.1.1"},
	} {
		rep := Analyze(reportDSN("taro@example.com", c.dsn, c.reply, "RCPT TO"))
		if len(rep.Recipients) != 1 || rep.Recipients[0].Status != c.want {
			t.Errorf("Status %s, reply %q: %+v; want status %s", c.dsn, c.reply, rep.Recipients, c.want)
		}
	}
}

// TestZohoReplyCode: Zoho Mail writes the reply code as "ERROR_CODE :550".
func TestZohoReplyCode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Invalid Address, ERROR_CODE :550, ERROR_CODE :Requested action not taken: mailbox unavailable", "550"},
		{"Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable.", "421"},
		{"at 10:55:02 the host said nothing", ""},
	} {
		if got := findReplyCode(c.in); got != c.want {
			t.Errorf("findReplyCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestUnwrapSES: Amazon SES quotes the receiver's reply after its own words.
func TestUnwrapSES(t *testing.T) {
	core, _, _ := unwrap("5.1.0 - Unknown address error 550-'5.7.1 <x@example.com>... Access denied' (delivery attempts: 0)")
	if core != "550 5.7.1 <x@example.com>... Access denied" {
		t.Errorf("core = %q", core)
	}
	ev := evidence{Status: statusOf(core), ReplyCode: findReplyCode(core), Action: ActionFailed, Diagnostic: core}
	if got := decide(ev).Reason; got != ReasonSecurityError {
		t.Errorf("reason %s, want securityerror (5.7.1, nothing more specific)", got)
	}
}

// TestReadDSN: the typed model of a delivery-status body.
func TestReadDSN(t *testing.T) {
	m := readDSN("Reporting-MTA: dns; MX1.example.jp\nArrival-Date: Thu, 3 Dec 2026 10:00:00 +0900\n\n" +
		"Final-Recipient: rfc822; taro@example.com\nOriginal-Recipient: rfc822;taro@example.com\nAction: Failed\n" +
		"Status: 5.2.1 (mailbox disabled)\nRemote-MTA: dns; [192.0.2.5]\nDiagnostic-Code: X-Unix; 550 5.2.1\n account\n disabled\n\n" +
		"Final-Recipient: rfc822; hanako@example.com\nAction: delayed\nStatus: 4.4.1\n")
	if m.ReportingMTA != "mx1.example.jp" || m.ArrivalDate.IsZero() || len(m.Recipients) != 2 {
		t.Fatalf("message: %+v", m)
	}
	r := m.Recipients[0]
	if r.Action != ActionFailed || r.Status != "5.2.1" || r.StatusComment != "mailbox disabled" || r.DiagnosticType != "x-unix" ||
		r.Diagnostic != "550 5.2.1\naccount\ndisabled" || r.RemoteMTA != "192.0.2.5" || r.FinalRecipient != "rfc822; taro@example.com" {
		t.Errorf("first recipient: %+v", r)
	}
	if r := m.Recipients[1]; r.Action != ActionDelayed || r.Status != "4.4.1" || r.Diagnostic != "" {
		t.Errorf("second recipient: %+v", r)
	}
}

// TestAddressesAreNotEvidence: mailboxes named like reasons (as mutate.py's
// addr variant names them) change nothing, in a DSN and in a plain-text
// report.
func TestAddressesAreNotEvidence(t *testing.T) {
	for _, trap := range []string{"spam", "blocked", "rbl", "virus", "quota", "full", "expired", "relay", "policy",
		"filter", "suspend", "unknown", "reject", "toobig", "greylist", "timeout", "delayed"} {
		rcpt := trap + "1@example.org"
		rep := Analyze(postfixDSN(rcpt, "550 5.1.1 <"+rcpt+">: Recipient address rejected: User unknown in local recipient table", 0))
		if len(rep.Recipients) != 1 || rep.Recipients[0].Reason != ReasonUserUnknown {
			t.Errorf("DSN to %s: %+v", rcpt, rep.Recipients)
		}
		text := "From: MAILER-DAEMON@mail.example.jp\nTo: " + trap + "2@example.jp\nSubject: Returned mail: see transcript for details\n\n" +
			"The original message was received from " + trap + "3.example.jp [192.0.2.9]\n\n" +
			"   ----- The following addresses had permanent fatal errors -----\n<" + rcpt + ">\n" +
			"    (reason: 550 5.2.2 <" + rcpt + ">... Mailbox full)\n"
		rep = Analyze([]byte(text))
		if len(rep.Recipients) != 1 || rep.Recipients[0].Reason != ReasonMailboxFull {
			t.Errorf("text report to %s: %+v", rcpt, rep.Recipients)
		}
	}
}

// TestSuccessCodeInFailure: an SMS gateway that took the mail (250) and then
// could not deliver the text message reports a failure, never a delivery.
func TestSuccessCodeInFailure(t *testing.T) {
	dsn := postfixDSN("09012345678@sms.example.jp", "250 2.0.0 Ok: queued; SMS delivery to the handset failed", 0)
	dsn = bytes.Replace(dsn, []byte("Status: 5.1.1"), []byte("Status: 5.0.0"), 1)
	rep := Analyze(dsn)
	if rep.Kind != KindBounce || len(rep.Recipients) != 1 {
		t.Fatalf("DSN: kind %s, %d recipients", rep.Kind, len(rep.Recipients))
	}
	if r := rep.Recipients[0]; r.Reason == ReasonDelivered || r.Action != ActionFailed || r.Status != "5.0.0" {
		t.Errorf("DSN: %+v", r)
	}
	text := "From: MAILER-DAEMON@sms.example.jp\nTo: taro@example.jp\nSubject: Undeliverable: SMS\n\n" +
		"Your message could not be delivered to the following recipient:\n\n" +
		"<09012345678@sms.example.jp>: 250 OK, but the SMS could not be sent to the handset\n"
	rep = Analyze([]byte(text))
	if rep.Kind == KindDelivered {
		t.Fatalf("text report: kind delivered: %+v", rep.Recipients)
	}
	for _, r := range rep.Recipients {
		if r.Reason == ReasonDelivered || r.Action == ActionDelivered {
			t.Errorf("text report: %+v", r)
		}
	}
}

// TestShortPhrasesAreWords: short phrases ("rbl", "uce", "mime") match as
// words, not inside other words.
func TestShortPhrasesAreWords(t *testing.T) {
	for text, want := range map[string]Reason{
		"554 5.7.1 Rejected by RBL check":                  ReasonBlocked,
		"554 5.7.1 RBL: 192.0.2.1 is listed":               ReasonBlocked,
		"554 5.6.0 Message garbled in transit, try again":  ReasonContentError,
		"554 5.7.1 Message refused as UCE (spam)":          ReasonSpamDetected,
		"452 4.5.3 Please reduce the number of recipients": ReasonTooManyConn,
		"550 5.7.1 Rejected by Mimecast policy":            ReasonPolicyViolation,
	} {
		ev := evidence{Diagnostic: text, Status: statusOf(text), ReplyCode: findReplyCode(text), Action: ActionFailed}
		if got := decide(ev).Reason; got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

// TestMaskLower: maskLower is lowerASCII(maskData(s)).
func TestMaskLower(t *testing.T) {
	for _, s := range []string{"", "plain words", "UPPER Words", "550 5.1.1 <Spam.User@Example.JP>: User Unknown",
		"Host MX.Example.NET[192.0.2.1] said: 554 Blocked - see https://DNSBL.example.net/q?ip=192.0.2.1.", "ユーザ Unknown"} {
		if got, want := maskLower(s), lowerASCII(maskData(s)); got != want {
			t.Errorf("maskLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzMaskLower(f *testing.F) {
	f.Add("550 5.1.1 <Spam.User@Example.JP>: User Unknown at MX.example.net [2001:DB8::1]")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := maskLower(s), lowerASCII(maskData(s)); got != want {
			t.Errorf("maskLower(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestPlaceholdersHoldNoTextPhrase: the shortcut in delayed and expiredText
// holds only while no placeholder contains a phrase of their sets.
func TestPlaceholdersHoldNoTextPhrase(t *testing.T) {
	for _, tok := range []string{maskAddr, maskHost, maskIP, maskURL, maskIPLookup} {
		for _, set := range []*phraseSet{delayedSubjectSet, retryingSet, givenUpSet, expiredTextSet} {
			for _, p := range set.phrases {
				if strings.Contains(tok, p) || strings.Contains(p, tok) || strings.Contains(p, "_") {
					t.Errorf("placeholder %q and phrase %q overlap", tok, p)
				}
			}
		}
	}
}

// reportDSN is a Postfix-style report for one recipient with the given
// status, reply and SMTP command.
func reportDSN(rcpt, status, reply, command string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.jp (Mail Delivery System)\nTo: sender@example.jp\n" +
		"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n" +
		"--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.jp.\n\n" +
		"<" + rcpt + ">: host mx.example.com[192.0.2.5] said: " + reply + " (in reply to " + command + " command)\n\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.jp\n\n" +
		"Final-Recipient: rfc822; " + rcpt + "\nAction: failed\nStatus: " + status + "\n" +
		"Remote-MTA: dns; mx.example.com\nDiagnostic-Code: smtp; " + reply + "\n\n--B--\n")
}

// TestNamedCasesEndToEnd: issue 10's wrong answers, as whole reports whose
// recipients are named like other reasons.
func TestNamedCasesEndToEnd(t *testing.T) {
	for _, c := range []struct {
		status, reply, command string
		want                   Reason
	}{
		{"5.1.8", "553 5.1.8 <sender@example.jp>: Sender domain does not exist", "MAIL FROM", ReasonRejected},
		{"4.4.7", "451 4.4.7 Delivery time limit exceeded", "RCPT TO", ReasonExpired},
		{"5.1.1", "550 5.1.1 User {R} not listed in public directory", "RCPT TO", ReasonUserUnknown},
		{"5.0.0", "554 delivery error: dd This user doesn't have a example.co.jp account ({R}) [-5] - mta1.example.co.jp", "end of DATA", ReasonUserUnknown},
		{"5.1.1", "550 5.1.1 <{R}>... User unknown", "RCPT TO", ReasonUserUnknown},
		{"5.2.0", "550 Unknown user {R}", "end of DATA", ReasonFiltered},
	} {
		for _, name := range []string{"spam.user", "garbled", "blocked2", "quota3", "expired4", "relay5"} {
			rcpt := name + "@example.com"
			rep := Analyze(reportDSN(rcpt, c.status, strings.ReplaceAll(c.reply, "{R}", rcpt), c.command))
			if rep.Kind != KindBounce || len(rep.Recipients) != 1 || rep.Recipients[0].Reason != c.want {
				t.Errorf("%s to %s: kind %s, %+v; want %s", c.reply, rcpt, rep.Kind, rep.Recipients, c.want)
			}
		}
	}
}

// TestReadDSNSpaceBeforeColon: a field name followed by a space still names
// the field.
func TestReadDSNSpaceBeforeColon(t *testing.T) {
	m := readDSN("Reporting-MTA : dns; mx.example.jp\n\nFinal-Recipient : rfc822; taro@example.com\nAction : failed\nStatus : 5.2.2\n")
	if len(m.Recipients) != 1 || m.Recipients[0].Status != "5.2.2" || m.Recipients[0].Action != ActionFailed || m.ReportingMTA != "mx.example.jp" {
		t.Errorf("%+v", m)
	}
}
