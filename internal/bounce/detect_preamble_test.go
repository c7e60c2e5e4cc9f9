package bounce

import (
	"strings"
	"testing"
)

// TestReportWithoutDaemonSender: a report is recognised by its MTA's
// documented preamble when its From is an ordinary-looking mailbox (no
// mailer-daemon, no null Return-Path, sometimes a "Re:" subject), and a
// person's mail that quotes or forwards the same text is not a report.
func TestReportWithoutDaemonSender(t *testing.T) {
	const rcpt = "mori.example@partner.example.net"
	bodies := map[string]string{
		"postfix": "This is the mail system at host mail.example.jp.\n\nI'm sorry to have to inform you that your message could not\n" +
			"be delivered to one or more recipients.\n\n<" + rcpt + ">: host mx.partner.example.net[192.0.2.21] said: 550 5.1.1\n" +
			"    <" + rcpt + ">: Recipient address rejected: User unknown (in reply to RCPT TO command)\n",
		"qmail": "Hi. This is the qmail-send program at mail.example.jp.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n" +
			"This is a permanent error; I've given up. Sorry it didn't work out.\n\n<" + rcpt + ">:\n" +
			"192.0.2.21 does not like recipient.\nRemote host said: 550 5.1.1 <" + rcpt + ">... User unknown\nGiving up on 192.0.2.21.\n",
		"exim": "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\n" +
			"recipients. This is a permanent error. The following address(es) failed:\n\n  " + rcpt + "\n" +
			"    SMTP error from remote mail server after RCPT TO:<" + rcpt + ">:\n    host mx.partner.example.net [192.0.2.21]: 550 5.1.1 User unknown\n",
		"sendmail": "The original message was received at Mon, 8 Jul 2024 10:00:00 +0900\nfrom [192.0.2.5]\n\n" +
			"   ----- The following addresses had permanent fatal errors -----\n<" + rcpt + ">\n    (reason: 550 5.1.1 User unknown)\n\n" +
			"   ----- Transcript of session follows -----\n... while talking to mx.partner.example.net.:\n>>> RCPT To:<" + rcpt + ">\n<<< 550 5.1.1 User unknown\n",
		"exchange2003": "Your message\n\n  To:      " + rcpt + "\n  Subject: Quotation\n  Sent:    Mon, 8 Jul 2024 10:00:00 +0900\n\n" +
			"did not reach the following recipient(s):\n\n" + rcpt + " on Mon, 8 Jul 2024 10:00:01 +0900\n" +
			"    The e-mail account does not exist at the organization this message was sent to.\n    <mx.partner.example.net #5.1.1>\n",
		"dma": "This is the DragonFly Mail Agent v0.13 at mail.example.jp.\n\nThere was an error delivering your mail to <" + rcpt + ">.\n\n" +
			"mx.partner.example.net [192.0.2.21] did not like our RCPT TO:\n550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown\n",
		"opensmtpd": "    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n" +
			"    An error has occurred while attempting to deliver a message for\n    the following list of recipients:\n\n" + rcpt + ": 550 5.1.1 User unknown\n",
		"domino": "Your message\n\n  Subject: Quotation\n\nwas not delivered to:\n\n  " + rcpt + "\n\nbecause:\n\n" +
			"  User " + rcpt + " (" + rcpt + ") not listed in Domino Directory\n",
		"james": "Error: Invalid user address\n\nError message below:\n550 - Requested action not taken: no such user here\n\n" +
			"Message details:\n  Subject: Quotation\n  MAIL FROM: eigyo@example.co.jp\n  RCPT TO: " + rcpt + "\n  From: eigyo@example.co.jp\n",
	}
	for name, body := range bodies {
		for _, subject := range []string{"Re: Quotation", "Notice", "Mail delivery failed: returning message to sender"} {
			raw := "From: Spam Team <spam1@example.net>\nTo: eigyo@example.co.jp\nSubject: " + subject +
				"\nAuto-Submitted: auto-replied\nContent-Type: text/plain; charset=us-ascii\n\n" + body
			rep := Analyze([]byte(raw))
			if rep.Kind != KindBounce || len(rep.Recipients) != 1 || rep.Recipients[0].Address != rcpt {
				t.Errorf("%s, Subject %q: kind %s %s, want a bounce for %s", name, subject, rep.Kind, addrs(rep), rcpt)
			}
			// The same text quoted in a colleague's reply, or below a
			// forward's header block, or after a person's own lines.
			quoted := "> " + strings.ReplaceAll(strings.TrimRight(body, "\n"), "\n", "\n> ") + "\n"
			for form, text := range map[string]string{
				"quoted":    "このアドレスは間違いでした。\n\n" + quoted,
				"forwarded": "---------- Forwarded message ---------\nFrom: Mail Delivery System <MAILER-DAEMON@mail.example.jp>\nDate: Mon, 8 Jul 2024\n\n" + body,
				"below":     "佐藤さん\n\n先ほどのメールが届かなかったようです。\n下のエラーが来ました。\nアドレスを確認してもらえますか。\nよろしくお願いします。\n\n山田\n\n" + body,
			} {
				raw := "From: Taro Yamada <yamada.example@example.co.jp>\nTo: sato.example@example.co.jp\nSubject: " + subject +
					"\nContent-Type: text/plain; charset=utf-8\n\n" + text
				if rep := Analyze([]byte(raw)); rep.Kind != KindNone && subject != "Mail delivery failed: returning message to sender" {
					t.Errorf("%s %s by a person, Subject %q: kind %s %s, want none", name, form, subject, rep.Kind, addrs(rep))
				}
			}
		}
	}
}
