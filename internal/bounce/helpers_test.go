package bounce

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// checkGap runs one table case. A case with gap == "" must hold. A case with
// a gap is a known defect of the code under test: it is still checked, its
// failure is logged, and the test fails when it starts to hold, so that the
// gap note gets removed.
func checkGap(t *testing.T, name, gap string, ok bool, got, want any) {
	t.Helper()
	switch {
	case gap == "" && !ok:
		t.Errorf("%s: got %#v, want %#v", name, got, want)
	case gap != "" && ok:
		t.Errorf("%s: known gap %q is fixed now (got %#v): remove the gap note", name, gap, got)
	case gap != "":
		t.Logf("%s: known gap (%s): got %#v, want %#v", name, gap, got, want)
	}
}

func TestFindStatus(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"5.1.1", "5.1.1"},
		{"Status: 5.1.10 (unknown user)", "5.1.10"},
		{"smtp; 451 4.7.650 The mail server", "4.7.650"},
		{"2.0.0", "2.0.0"},
		{"x 5.123.456 y", "5.123.456"},
		{"550 5.7.26 unauthenticated", "5.7.26"},
		{"#5.1.1 smtp;550", "5.1.1"},
		{"(5.2.2)", "5.2.2"},
		{"", ""},
		{"5.1", ""},
		{"3.1.1 is not a class", ""},
		{"1.2.3.4", ""},                    // an IPv4 address
		{"192.5.1.1", ""},                  // the tail of an IPv4 address
		{"host 198.51.100.7 said", ""},     // an IP, not a status
		{"5.1.1.1", ""},                    // four groups: an address, not a status
		{"55.1.1", ""},                     // class is one digit
		{"5.1234.1", ""},                   // subject has at most three digits
		{"version 2.5.1.4 of the MTA", ""}, // a version number
		{"550 user unknown", ""},
	}
	for _, tc := range tests {
		if got := findStatus(tc.in); got != tc.want {
			t.Errorf("findStatus(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFindReplyCode(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"550 5.1.1 user unknown", "550"},
		{"550-5.7.1 [203.0.113.25      12] Our system", "550"},
		{"smtp; 451 4.7.650 rate limited", "451"},
		{"421,", "421"},
		{"(552)", "552"},
		{"550", "550"},
		{"said: 554 rejected", "554"},
		{"", ""},
		{"5500 bytes", ""},              // part of a longer number
		{"port 5500", ""},               //
		{"a550 x", ""},                  // glued to a word
		{"#550 x", ""},                  // Exchange "#5.x.x" style
		{"5.5.0 x", ""},                 // a status, not a reply code
		{"250 2.0.0 Ok: queued", "250"}, // success code when there is no failure
		{"600 x", ""},                   // no such class
		{"560 x", ""},                   // second digit is at most 5
		{"550-", ""},                    // a dangling continuation
		{"message size 45000000", ""},
	}
	for _, tc := range tests {
		if got := findReplyCode(tc.in); got != tc.want {
			t.Errorf("findReplyCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnfoldSMTP(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"gmail multi-line", "550-5.7.26 This mail has been blocked because the sender is\n550-5.7.26 unauthenticated. Gmail requires all senders to authenticate\n550 5.7.26 with either SPF or DKIM. - gsmtp",
			"550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp"},
		{"crlf and indentation", "451-4.7.650 The mail server [203.0.113.25] has been\r\n    451 4.7.650 temporarily rate limited",
			"451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited"},
		{"continuation without status", "550-first line\n550 second line", "550 first line second line"},
		{"blank lines and spaces", "  a\n\n  b  ", "a b"},
		{"tabs and runs of spaces", "550 5.1.1\t<a@example.com>:   no such   user", "550 5.1.1 <a@example.com>: no such user"},
		{"one line untouched", "550 5.1.1 user unknown", "550 5.1.1 user unknown"},
		{"first line hyphen", "550-5.1.1 user unknown", "550 5.1.1 user unknown"},
		{"empty", "", ""},
		{"only newlines", "\n\r\n\n", ""},
	}
	for _, tc := range tests {
		got := unfoldSMTP(tc.in)
		if got != tc.want {
			t.Errorf("%s: unfoldSMTP(%q)\n got %q\nwant %q", tc.name, tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: unfoldSMTP left a line break: %q", tc.name, got)
		}
	}
	// The Gmail case must start with the final code, whatever the folding.
	in := "550-5.7.26 This mail...\n550-5.7.26 ...\n550 5.7.26 ... - gsmtp"
	if got := unfoldSMTP(in); !strings.HasPrefix(got, "550 5.7.26 ") || strings.Count(got, "5.7.26") != 1 {
		t.Errorf("unfoldSMTP(%q) = %q, want one line starting \"550 5.7.26\" with the status once", in, got)
	}
}

func TestSendingIP(t *testing.T) {
	tests := []struct {
		name, in, want, gap string
	}{
		{"microsoft rate limit after postfix host", "host mx.example.net[198.51.100.7] said: 451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited due to IP reputation.", "203.0.113.25", ""},
		{"exim receiver bracket", "host mx.example.net [198.51.100.7]: 550 5.1.1 <a@example.net>: Recipient address rejected", "", ""},
		{"postfix receiver bracket only", "host mx.example.net[198.51.100.7] said: 550 5.1.1 user unknown (in reply to RCPT TO command)", "", ""},
		{"gmail bracket with code", "[203.0.113.25      12] Our system has detected an unusual rate of unsolicited mail", "203.0.113.25", ""},
		{"gmail bracket after reply and status", "550-5.7.1 [203.0.113.25      12] Our system has detected an unusual rate", "203.0.113.25", ""},
		{"gmail bracket after unfolding", "550 5.7.1 [203.0.113.25 12] Our system has detected an unusual rate", "203.0.113.25", ""},
		{"gmail ipv6 bracket", "[2001:db8::25      12] Our system has detected", "2001:db8::25", ""},
		{"spamhaus client host", "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org", "203.0.113.9", ""},
		{"connect timeout", "connect to mx.example.net[192.0.2.10]:25: Connection timed out", "", ""},
		{"yahoo deferred", "421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints", "203.0.113.5", ""},
		{"microsoft weren't sent", "550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent. Please contact your Internet service provider", "203.0.113.25", ""},
		{"microsoft banned", "550 5.7.606 Access denied, banned sending IP [203.0.113.25]. To request removal", "203.0.113.25", ""},
		{"dnsbl url", "554 rejected, see https://www.spamhaus.org/query/ip/203.0.113.7", "203.0.113.7", ""},
		{"mail from ip", "550 Mail from IP 203.0.113.5 was rejected", "203.0.113.5", ""},
		{"qmail connected to", "Connected to 198.51.100.7 but sender was rejected.", "", ""},
		{"qmail does not like", "198.51.100.7 does not like recipient.", "", ""},
		{"loopback is never ours", "client host [127.0.0.1] blocked", "", ""},
		{"no ip", "550 5.1.1 user unknown", "", ""},
		{"status is not an ip", "Status: 5.1.1", "", ""},
		{"empty", "", "", ""},
	}
	for _, tc := range tests {
		got := sendingIP(tc.in)
		checkGap(t, tc.name, tc.gap, got == tc.want, got, tc.want)
	}
}

func TestProviderOf(t *testing.T) {
	tests := []struct {
		name, addr, remote, diag, want string
	}{
		{"gmail domain", "user@gmail.com", "", "", ProviderGoogle},
		{"domain case", "User@GMail.COM", "", "", ProviderGoogle},
		{"outlook.jp", "user@outlook.jp", "", "", ProviderMicrosoft},
		{"hotmail.co.jp", "user@hotmail.co.jp", "", "", ProviderMicrosoft},
		{"yahoo.com", "user@yahoo.com", "", "", ProviderYahoo},
		{"yahoo.co.jp", "user@yahoo.co.jp", "", "", ProviderYahooJapan},
		{"icloud", "user@icloud.com", "", "", ProviderApple},
		{"docomo", "user@docomo.ne.jp", "", "", ProviderDocomo},
		{"au ezweb", "user@ezweb.ne.jp", "", "", ProviderAU},
		{"softbank i", "user@i.softbank.jp", "", "", ProviderSoftBank},
		{"rakuten", "user@rakumail.jp", "", "", ProviderRakuten},
		{"nifty", "user@nifty.com", "", "", ProviderNifty},
		{"biglobe", "user@biglobe.ne.jp", "", "", ProviderBiglobe},
		{"ocn subdomain", "user@xa2.ocn.ne.jp", "", "", ProviderOCN},
		{"so-net subdomain", "user@ab.so-net.ne.jp", "", "", ProviderSoNet},
		{"plala subdomain", "user@ab.plala.or.jp", "", "", ProviderPlala},
		{"unknown custom domain", "user@example.co.jp", "", "", ProviderOther},
		{"no address at all", "", "", "", ProviderOther},
		{"google workspace by mx", "user@example.co.jp", "aspmx.l.google.com", "", ProviderGoogle},
		{"google workspace by mx with dot", "user@example.co.jp", "ALT1.ASPMX.L.GOOGLE.COM.", "", ProviderGoogle},
		{"m365 tenant host", "user@example.jp", "example-jp.mail.protection.outlook.com", "", ProviderMicrosoft},
		{"m365 dnssec host", "user@example.jp", "example-jp.o-v1.mx.microsoft", "", ProviderMicrosoft},
		{"yahoo mx", "user@example.com", "mta7.am0.yahoodns.net", "", ProviderYahoo},
		{"yahoo japan mx", "user@example.jp", "mx.mail.yahoo.co.jp", "", ProviderYahooJapan},
		{"icloud mx", "user@example.com", "mx01.mail.icloud.com", "", ProviderApple},
		{"lookalike mx is not google", "user@example.com", "mx.evilgoogle.com", "", ProviderOther},
		{"lookalike mx is not microsoft", "user@example.com", "mx.notoutlook.com", "", ProviderOther},
		{"gsmtp fingerprint", "user@example.co.jp", "", "550 5.1.1 The email account that you tried to reach does not exist. a1b2c3 - gsmtp", ProviderGoogle},
		{"outlook fingerprint", "user@example.co.jp", "", "550 5.4.1 Recipient address rejected: Access denied. [TYO1EPF00000000.jpnprd01.prod.outlook.com]", ProviderMicrosoft},
		{"domain beats remote mta", "user@gmail.com", "example-jp.mail.protection.outlook.com", "", ProviderGoogle},
	}
	for _, tc := range tests {
		if got := ProviderOf(tc.addr, tc.remote, tc.diag); got != tc.want {
			t.Errorf("%s: ProviderOf(%q, %q, %q) = %q, want %q", tc.name, tc.addr, tc.remote, tc.diag, got, tc.want)
		}
	}
}

func TestParseDSN(t *testing.T) {
	type want struct {
		msg   map[string]string   // per-message fields that must be present
		rcpts []map[string]string // per recipient, fields that must be present
	}
	tests := []struct {
		name, in string
		want     want
		gap      string
	}{
		{
			name: "postfix with folding",
			in: "Reporting-MTA: dns; mail.example.jp\nArrival-Date: Wed, 15 May 2024 10:12:40 +0900 (JST)\n\n" +
				"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n" +
				"Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach\n    does not exist.\n",
			want: want{
				msg: map[string]string{"reporting-mta": "dns; mail.example.jp", "arrival-date": "Wed, 15 May 2024 10:12:40 +0900 (JST)"},
				rcpts: []map[string]string{{"final-recipient": "rfc822; a@example.com", "action": "failed", "status": "5.1.1",
					"diagnostic-code": "smtp; 550-5.1.1 The email account that you tried to reach does not exist."}},
			},
		},
		{
			name: "field names are case-insensitive",
			in:   "REPORTING-MTA: dns; mail.example.jp\n\nfinal-recipient: rfc822; a@example.com\nACTION: failed\nstatus: 5.1.1\n",
			want: want{
				msg:   map[string]string{"reporting-mta": "dns; mail.example.jp"},
				rcpts: []map[string]string{{"final-recipient": "rfc822; a@example.com", "action": "failed", "status": "5.1.1"}},
			},
		},
		{
			name: "two recipient blocks",
			in: "Reporting-MTA: dns; mail.example.jp\n\n" +
				"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n\n" +
				"Final-Recipient: rfc822; b@example.net\nAction: delayed\nStatus: 4.2.2\n\n",
			want: want{
				msg: map[string]string{"reporting-mta": "dns; mail.example.jp"},
				rcpts: []map[string]string{
					{"final-recipient": "rfc822; a@example.com", "action": "failed", "status": "5.1.1"},
					{"final-recipient": "rfc822; b@example.net", "action": "delayed", "status": "4.2.2"},
				},
			},
		},
		{
			name: "recipient blocks without a blank line between them",
			in: "Reporting-MTA: dns; mail.example.jp\n\n" +
				"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n" +
				"Final-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.2.2\n",
			want: want{
				msg: map[string]string{"reporting-mta": "dns; mail.example.jp"},
				rcpts: []map[string]string{
					{"final-recipient": "rfc822; a@example.com", "status": "5.1.1"},
					{"final-recipient": "rfc822; b@example.net", "status": "5.2.2"},
				},
			},
		},
		{
			name: "per-message fields without a blank line before the recipient",
			in: "Reporting-MTA: dns; mail.example.jp\n" +
				"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n",
			want: want{
				msg:   map[string]string{"reporting-mta": "dns; mail.example.jp"},
				rcpts: []map[string]string{{"final-recipient": "rfc822; a@example.com", "status": "5.1.1"}},
			},
		},
		{
			name: "noise lines are skipped",
			in:   "Reporting-MTA: dns; mail.example.jp\nthis line is not a field\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\n",
			want: want{
				msg:   map[string]string{"reporting-mta": "dns; mail.example.jp"},
				rcpts: []map[string]string{{"final-recipient": "rfc822; a@example.com", "action": "failed"}},
			},
		},
		{
			name: "empty",
			in:   "",
			want: want{msg: map[string]string{}},
		},
	}
	for _, tc := range tests {
		msg, rcpts := parseDSN(tc.in)
		var problems []string
		if msg == nil {
			problems = append(problems, "per-message fields are nil")
		}
		for k, v := range tc.want.msg {
			if msg[k] != v {
				problems = append(problems, "msg["+k+"] = "+msg[k]+", want "+v)
			}
		}
		if len(rcpts) != len(tc.want.rcpts) {
			problems = append(problems, "wrong number of recipient blocks")
		} else {
			for i, w := range tc.want.rcpts {
				for k, v := range w {
					// Folded lines belong to the field; whether they are
					// joined with a space or kept as lines is the parser's choice.
					if oneLine(rcpts[i][k]) != v {
						problems = append(problems, "rcpt "+string(rune('0'+i))+" "+k+" = "+rcpts[i][k]+", want "+v)
					}
				}
			}
		}
		checkGap(t, tc.name, tc.gap, len(problems) == 0, problems, "no problems")
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestDecodeText(t *testing.T) {
	const ja = "宛先のメールアドレスが見つかりません。ユーザ不明です。"
	enc := func(e encoding.Encoding, s string) []byte {
		b, err := e.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		in    []byte
		label string
		want  string
	}{
		{"iso-2022-jp without label", enc(japanese.ISO2022JP, ja), "", ja},
		{"iso-2022-jp labelled us-ascii", enc(japanese.ISO2022JP, "550 "+ja), "us-ascii", "550 " + ja},
		{"shift_jis without label", enc(japanese.ShiftJIS, ja), "", ja},
		{"shift_jis labelled iso-8859-1", enc(japanese.ShiftJIS, ja), "iso-8859-1", ja},
		{"euc-jp without label", enc(japanese.EUCJP, ja), "", ja},
		{"euc-jp mixed with ascii", enc(japanese.EUCJP, "550 5.1.1 "+ja), "", "550 5.1.1 " + ja},
		{"utf-8 untouched", []byte(ja), "", ja},
		{"ascii untouched", []byte("550 5.1.1 user unknown"), "", "550 5.1.1 user unknown"},
		{"empty", nil, "", ""},
	}
	for _, tc := range tests {
		if got := decodeText(tc.in, tc.label); got != tc.want {
			t.Errorf("%s: decodeText = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Broken bytes: whatever comes out is valid UTF-8 and keeps the ASCII.
	for _, in := range [][]byte{
		{0xff, 0xfe, 'a', 0x81, 0x1b, '$', 'B', 0x80},
		{'5', '5', '0', ' ', 0x82, 0xa0, 0xff, 0xff, 'x'},
		append([]byte("ok \x1b$B"), 0xff, 0x00, 0x7f),
		{0xc3},
	} {
		got := decodeText(in, "")
		if !utf8.ValidString(got) {
			t.Errorf("decodeText(%q) = %q: not valid UTF-8", in, got)
		}
		if len(in) > 0 && in[0] == '5' && !strings.HasPrefix(got, "550 ") {
			t.Errorf("decodeText(%q) = %q: lost the ASCII prefix", in, got)
		}
	}
}

func TestCandidate(t *testing.T) {
	tests := []struct {
		name, header string
		want         bool
	}{
		{"postfix bounce", "Return-Path: <>\r\nFrom: MAILER-DAEMON@mail.example.jp (Mail Delivery System)\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
			"To: taro@example.jp\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"x\"\r\n", true},
		{"multipart/report alone", "From: someone@example.net\nSubject: hello\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n", true},
		{"x-failed-recipients", "From: a@example.net\nSubject: hi\nX-Failed-Recipients: b@example.com\n", true},
		{"japanese bounce subject", "From: system@example.net\nSubject: =?ISO-2022-JP?B?GyRCR1s/LiUoJWkhPBsoQg==?=\n", true},
		{"out of office", "From: Hanako <hanako@example.com>\nTo: taro@example.jp\nSubject: Automatic reply: Meeting on Friday\nAuto-Submitted: auto-replied\n", true},
		{"out of office by subject only", "From: Hanako <hanako@example.com>\nTo: taro@example.jp\nSubject: Out of Office: Meeting on Friday\n", true},
		{"japanese out of office", "From: hanako@example.com\nSubject: =?UTF-8?B?5LiN5Zyo44Gu44GK55+l44KJ44Gb?=\n", true},
		{"ordinary mail", "From: Taro Yamada <taro@example.jp>\r\nTo: hanako@example.com\r\nSubject: Minutes of the meeting\r\n" +
			"Date: Wed, 15 May 2024 10:12:40 +0900\r\nMessage-ID: <abc@example.jp>\r\nContent-Type: text/plain; charset=UTF-8\r\n", false},
		{"ordinary japanese mail", "From: taro@example.jp\nTo: hanako@example.com\nSubject: =?UTF-8?B?5omT44Gh5ZCI44KP44Gb44Gu5Lu2?=\n", false},
		{"header block with the blank line", "From: taro@example.jp\nSubject: lunch\n\n", false},
		{"amazon sns notification", "From: AWS Notifications <notify@example.com>\nSubject: AWS Notification Message\nx-amz-sns-message-id: 0c1d2e3f\n", true},
		{"a renamed mailbox with a null return path", "Return-Path: <>\nFrom: helpdesk@mail.example.net\nSubject: Re: Quotation\n", true},
		{"broken header is read leniently", "From: MAILER-DAEMON@example.net\nthis is not a field\nSubject: failure notice\n", true},
	}
	for _, tc := range tests {
		if got := Candidate([]byte(tc.header)); got != tc.want {
			t.Errorf("%s: Candidate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
