package bounce

import "testing"

// TestCleanAddrOtherScripts: punctuation of another script written after
// an address belongs to the sentence.
func TestCleanAddrOtherScripts(t *testing.T) {
	for in, want := range map[string]string{
		"taro@example.jp،":      "taro@example.jp",
		"taro@example.jp。":      "taro@example.jp",
		"<taro@Example.JP>,":    "taro@example.jp",
		"taro@例え.jp":            "taro@例え.jp",
		"\"a..b\"@example.org>": "\"a..b\"@example.org",
	} {
		if got := cleanAddr(in); got != want {
			t.Errorf("cleanAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTextRecipientsNotTheSender: a prose report that greets the sender,
// offers a contact address and copies the returned header names only the
// failed recipient.
func TestTextRecipientsNotTheSender(t *testing.T) {
	const raw = "From: Mail Delivery System <MAILER-DAEMON@mail.example.jp>\n" +
		"To: eigyo@example.co.jp\nSubject: Mail delivery failed\nContent-Type: text/plain; charset=utf-8\n\n" +
		"eigyo@example.co.jp 様\n\n" +
		"This message was created automatically by mail delivery software.\n\n" +
		"A message that you have sent could not be delivered to one or more\nrecipients.  This is a permanent error.  The following address failed:\n\n" +
		"  <mori.example@partner.example.net>: 550 unknown user\n\n" +
		"For further assistance, please contact <support@mail.example.jp>\n\n" +
		"解決しない場合は <helpdesk@mail.example.jp>\nへご連絡ください。\n\n" +
		"Included is a copy of the message header:\n-----------------------------------------\n" +
		"Received: from mail.example.jp\n    for <eigyo@example.co.jp>; Mon, 8 Jul 2024 10:00:00 +0900\n" +
		"From: eigyo@example.co.jp\nTo: mori.example@partner.example.net\nSubject: Quotation\n\nbody\n"
	rep := Analyze([]byte(raw))
	if rep.Kind != KindBounce || len(rep.Recipients) != 1 || rep.Recipients[0].Address != "mori.example@partner.example.net" {
		t.Fatalf("kind %s, recipients %s; want one bounce for mori.example@partner.example.net", rep.Kind, addrs(rep))
	}
	if rep.Original.Subject != "Quotation" {
		t.Errorf("original subject %q, want Quotation (the header copy is the returned message)", rep.Original.Subject)
	}
}
