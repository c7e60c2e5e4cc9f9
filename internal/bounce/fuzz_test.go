package bounce

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Run a target with, for example:
//
//	go test -run '^$' -fuzz '^FuzzAnalyze$' -fuzztime 60s ./internal/bounce
//
// Crashers land in testdata/fuzz/<Target>/ and are replayed by go test.

// syntheticSeeds are small inputs that reach the less common paths.
var syntheticSeeds = []string{
	"",
	"\n",
	"From: MAILER-DAEMON@example.jp\nSubject: failure notice\n\n<a@example.com>:\n198.51.100.7 does not like recipient.\nRemote host said: 550 5.1.1 no mailbox\n",
	"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.jp\n\nFinal-Recipient: rfc822; a@example.com\nAction: delayed\nStatus: 4.7.650\nDiagnostic-Code: smtp; 451-4.7.650 The mail server [203.0.113.25] has been\n 451 4.7.650 temporarily rate limited\n--b--\n",
	"Content-Type: multipart/report; report-type=feedback-report; boundary=f\n\n--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nSource-IP: 203.0.113.25\nOriginal-Rcpt-To: a@example.com\n--f--\n",
	"From: hanako@example.com\nSubject: Out of Office\nAuto-Submitted: auto-replied\n\nI am away.\n",
	"From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message\n\n{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"a@example.com\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]},\"mail\":{}}\n",
	"Subject: =?ISO-2022-JP?B?GyRCR1s/LiUoJWkhPBsoQg==?=\nFrom: postmaster@example.jp\nContent-Type: text/plain; charset=us-ascii\n\n\x1b$B08@h$,8+$D$+$j$^$;$s\x1b(B\n<a@example.jp>: 550 5.1.1 User unknown\n",
	"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: multipart/mixed; boundary=x\n\n--x\n--x--\n",
	"Content-Type: text/plain; charset=x-bogus\nContent-Transfer-Encoding: base64\n\n!!!!====\n",
}

func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range syntheticSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep := Analyze(raw)
		// Bounds on output size only matter for large inputs; the fuzzer's
		// are small. The hard invariants hold for every input.
		hard, _ := reportProblems(rep)
		for _, p := range hard {
			t.Error(p)
		}
	})
}

func FuzzParseDSN(f *testing.F) {
	f.Add("Reporting-MTA: dns; mx.example.jp\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1\n  user unknown\n")
	f.Add("Final-Recipient: rfc822; a@example.com\nAction: failed\nFinal-Recipient: rfc822; b@example.com\nAction: failed\n")
	f.Add(" folded first\n:\n\t\nAction:\nX: y\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		msg, rcpts := parseDSN(body)
		if msg == nil {
			t.Fatal("per-message fields are nil")
		}
		for i, b := range rcpts {
			if !b.isRecipient() {
				t.Errorf("block %d is not a recipient block: %v", i, b)
			}
		}
		for _, b := range append([]dsnFields{msg}, rcpts...) {
			for k := range b {
				if k == "" || k != strings.ToLower(k) || strings.ContainsAny(k, " \t\n:") {
					t.Errorf("bad field name %q", k)
				}
			}
		}
	})
}

func FuzzUnfoldSMTP(f *testing.F) {
	f.Add("550-5.7.26 This mail...\n550-5.7.26 ...\n550 5.7.26 ... - gsmtp")
	f.Add("451-4.7.650 a\r\n  451 4.7.650 b")
	f.Add("550-\n550-\n550 ")
	f.Add("\t\t  \n")
	f.Fuzz(func(t *testing.T, s string) {
		got := unfoldSMTP(s)
		if strings.ContainsAny(got, "\r\n\t") {
			t.Errorf("unfoldSMTP(%q) = %q keeps a line break or tab", s, got)
		}
		if strings.Contains(got, "  ") {
			t.Errorf("unfoldSMTP(%q) = %q keeps a run of spaces", s, got)
		}
		if len(got) > len(s) {
			t.Errorf("unfoldSMTP(%q) = %q is longer than its input", s, got)
		}
		if again := unfoldSMTP(got); again != got {
			t.Errorf("unfoldSMTP is not idempotent: %q -> %q -> %q", s, got, again)
		}
	})
}

func FuzzSendingIP(f *testing.F) {
	f.Add("host mx.example.net[198.51.100.7] said: 451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited")
	f.Add("550-5.7.1 [203.0.113.25      12] Our system has detected")
	f.Add("[2001:db8::25 12] x")
	f.Add("Client host [203.0.113.9] blocked using zen.spamhaus.org")
	f.Add("Messages from 203.0.113.5 temporarily deferred")
	f.Add("connect to mx.example.net[192.0.2.10]:25: Connection timed out")
	f.Fuzz(func(t *testing.T, s string) {
		got := sendingIP(s)
		if got == "" {
			return
		}
		ip, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("sendingIP(%q) = %q: not an IP: %v", s, got, err)
		}
		if ip.IsLoopback() || ip.IsUnspecified() {
			t.Errorf("sendingIP(%q) = %q: loopback or unspecified", s, got)
		}
		if ip.Is4() && !strings.Contains(s, got) {
			t.Errorf("sendingIP(%q) = %q: not in the text", s, got)
		}
	})
}

func FuzzCandidate(f *testing.F) {
	f.Add([]byte("From: MAILER-DAEMON@example.jp\nSubject: Undelivered Mail Returned to Sender\n"))
	f.Add([]byte("From: a@example.com\nSubject: =?utf-8?B?5LiN5Zyo?=\n"))
	f.Add([]byte("Subject\n: x\n\n"))
	f.Fuzz(func(t *testing.T, header []byte) {
		_ = Candidate(header) // must not panic
	})
}
