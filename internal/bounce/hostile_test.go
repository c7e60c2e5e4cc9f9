package bounce

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// postfixDSN builds a Postfix bounce for rcpt whose returned message carries
// an attachment of attach bytes (base64, 76-column lines). diag is the
// receiver's reply.
func postfixDSN(rcpt, diag string, attach int) []byte {
	var b bytes.Buffer
	b.WriteString("Return-Path: <>\n" +
		"From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)\n" +
		"To: taro@example.jp\n" +
		"Subject: Undelivered Mail Returned to Sender\n" +
		"Date: Wed, 15 May 2024 10:12:44 +0900 (JST)\n" +
		"Message-Id: <20240515011244.ABC@mail.example.jp>\n" +
		"Auto-Submitted: auto-replied\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"BND\"\n\n" +
		"This is a MIME-encapsulated message.\n\n" +
		"--BND\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n" +
		"This is the mail system at host mail.example.jp.\n\n" +
		"I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n" +
		"<" + rcpt + ">: host mx.example.net[198.51.100.7] said: " + diag + " (in reply to RCPT TO command)\n\n" +
		"--BND\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mail.example.jp\nArrival-Date: Wed, 15 May 2024 10:12:40 +0900 (JST)\n\n" +
		"Final-Recipient: rfc822; " + rcpt + "\nOriginal-Recipient: rfc822;" + rcpt + "\nAction: failed\nStatus: 5.1.1\n" +
		"Remote-MTA: dns; mx.example.net\nDiagnostic-Code: smtp; " + diag + "\n\n" +
		"--BND\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\n" +
		"From: Taro <taro@example.jp>\nTo: " + rcpt + "\nSubject: Quarterly report\n" +
		"Date: Wed, 15 May 2024 10:12:40 +0900\nMessage-ID: <q1@example.jp>\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"INNER\"\n\n" +
		"--INNER\nContent-Type: text/plain; charset=utf-8\n\nPlease find the report attached.\n\n" +
		"--INNER\nContent-Type: application/pdf; name=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n")
	if attach > 0 {
		r := rand.New(rand.NewPCG(1, 2))
		chunk := make([]byte, 57) // 57 bytes -> one 76-column base64 line
		line := make([]byte, 76)
		for n := 0; n < attach; n += 76 {
			for i := range chunk {
				chunk[i] = byte(r.Uint32())
			}
			base64.StdEncoding.Encode(line, chunk)
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	b.WriteString("\n--INNER--\n\n--BND--\n")
	return b.Bytes()
}

// Bounds on what Analyze may return for any input.
const (
	maxDiagnosticBound = 64 << 10 // one recipient's diagnostic
	maxReportJSON      = 1 << 20  // the whole report as JSON
)

// analyzeSafely runs Analyze and checks the properties every result must have.
func analyzeSafely(t *testing.T, raw []byte) *Report {
	t.Helper()
	return analyzeWithGap(t, raw, "")
}

// analyzeWithGap is analyzeSafely for an input with a known defect: the
// bounds on output size and allocation (only those) are expected to be exceeded, gap says why;
// the test fails once they hold, so that the note gets removed.
func analyzeWithGap(t *testing.T, raw []byte, gap string) *Report {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep := Analyze(raw)
	runtime.ReadMemStats(&after)
	hard, bounds := reportProblems(rep)
	for _, p := range hard {
		t.Error(p)
	}
	// A generous sanity bound on allocation, not a performance assertion.
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, uint64(10*len(raw))+64<<20; alloc > limit {
		bounds = append(bounds, fmt.Sprintf("Analyze of %d bytes allocated %d bytes (limit %d)", len(raw), alloc, limit))
	}
	switch {
	case gap == "":
		for _, p := range bounds {
			t.Error(p)
		}
	case len(bounds) == 0:
		t.Errorf("known gap %q is fixed now: remove the note", gap)
	default:
		t.Logf("known gap (%s): %s", gap, strings.Join(bounds, "; "))
	}
	return rep
}

// checkReport asserts the invariants of a report.
func checkReport(t testing.TB, rep *Report) {
	t.Helper()
	hard, bounds := reportProblems(rep)
	for _, p := range append(hard, bounds...) {
		t.Error(p)
	}
}

// reportProblems lists broken invariants of a report: hard ones, and
// exceeded bounds on the output size.
func reportProblems(rep *Report) (hard, bounds []string) {
	if rep == nil {
		return []string{"Analyze returned nil"}, nil
	}
	if strings.HasPrefix(rep.Error, "internal error") {
		hard = append(hard, "Analyze recovered from a panic: "+rep.Error)
	}
	if rep.Recipients == nil {
		hard = append(hard, "Recipients is nil; want an empty slice")
	}
	switch rep.Kind {
	case KindBounce, KindDelay, KindAutoReply, KindFeedback, KindDelivered, KindNone:
	default:
		hard = append(hard, fmt.Sprintf("Kind %q is not one of the six", rep.Kind))
	}
	if rep.Error != "" && rep.Kind != KindNone {
		hard = append(hard, fmt.Sprintf("Error %q with Kind %s; want KindNone", rep.Error, rep.Kind))
	}
	for i, r := range rep.Recipients {
		if r.Reason == "" {
			hard = append(hard, fmt.Sprintf("recipient %d (%q) has no reason", i, r.Address))
		}
		if len(r.Diagnostic) > maxDiagnosticBound {
			bounds = append(bounds, fmt.Sprintf("recipient %d diagnostic is %d bytes (bound %d)", i, len(r.Diagnostic), maxDiagnosticBound))
		}
	}
	js, err := json.Marshal(rep)
	if err != nil {
		hard = append(hard, "marshal: "+err.Error())
	}
	if len(js) > maxReportJSON {
		bounds = append(bounds, fmt.Sprintf("report JSON is %d bytes (bound %d)", len(js), maxReportJSON))
	}
	return hard, bounds
}

func TestHostileLargeAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB input")
	}
	raw := postfixDSN("kondo@example.org", "550 5.1.1 <kondo@example.org>: Recipient address rejected: User unknown", 20<<20)
	rep := analyzeSafely(t, raw)
	// The report is small and in front: a big attachment must not hide it.
	if rep.Kind != KindBounce || len(rep.Recipients) != 1 || rep.Recipients[0].Reason != ReasonUserUnknown {
		t.Errorf("20 MB bounce: kind %s, recipients %+v; want one userunknown bounce", rep.Kind, rep.Recipients)
	}
}

func TestHostileBeyondMaxBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("40 MB input")
	}
	// Larger than DefaultLimits.MaxBytes: cut, still read up front.
	raw := postfixDSN("kondo@example.org", "550 5.1.1 user unknown", DefaultLimits.MaxBytes+(8<<20))
	rep := analyzeSafely(t, raw)
	if rep.Kind != KindBounce {
		t.Errorf("kind %s, want bounce (the report comes before the cut)", rep.Kind)
	}
}

func TestHostileManyParts(t *testing.T) {
	for _, n := range []int{1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("From: MAILER-DAEMON@mail.example.jp\nSubject: Undelivered Mail Returned to Sender\n" +
				"Content-Type: multipart/mixed; boundary=\"P\"\n\n")
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, "--P\nContent-Type: text/plain\n\npart %d\n", i)
			}
			b.WriteString("--P--\n")
			analyzeSafely(t, []byte(b.String()))
		})
	}
}

// TestHostileManyRecipients: a report with many recipient blocks and a long
// text must cost about as much as its size. Today every recipient rescans
// the whole text (lowerASCII, commandOf, expiredText, delayed), so work and
// allocation grow with recipients x text.
func TestHostileManyRecipients(t *testing.T) {
	const n = 500
	rep := analyzeWithGap(t, manyRecipients(n), "")
	if rep.Kind != KindBounce || len(rep.Recipients) != n {
		t.Errorf("kind %s with %d recipients, want a bounce with %d", rep.Kind, len(rep.Recipients), n)
	}
}

// manyRecipients is a report with n recipient blocks and a 200 KB text.
func manyRecipients(n int) []byte {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mail.example.jp\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n")
	b.WriteString(strings.Repeat("The Mail System could not deliver your message to some recipients.\n", 3000))
	b.WriteString("\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.jp\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Final-Recipient: rfc822; u%d@example.com\nAction: failed\nStatus: 5.1.1\n\n", i)
	}
	b.WriteString("--B--\n")
	return []byte(b.String())
}

func TestHostileDeepNesting(t *testing.T) {
	for _, depth := range []int{50, 500} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("From: MAILER-DAEMON@mail.example.jp\nSubject: failure notice\n")
			for i := 0; i < depth; i++ {
				fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"B%d\"\n\n--B%d\n", i, i)
			}
			b.WriteString("Content-Type: text/plain\n\n<a@example.com>: 550 5.1.1 user unknown\n")
			for i := depth - 1; i >= 0; i-- {
				fmt.Fprintf(&b, "--B%d--\n", i)
			}
			analyzeSafely(t, []byte(b.String()))
		})
	}
	// message/rfc822 inside message/rfc822, 50 deep.
	var b strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "From: MAILER-DAEMON@mail.example.jp\nSubject: Undelivered %d\nContent-Type: message/rfc822\n\n", i)
	}
	b.WriteString("From: a@example.com\nSubject: end\n\nbody\n")
	analyzeSafely(t, []byte(b.String()))
}

func TestHostileLongLine(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	t.Run("text part", func(t *testing.T) {
		raw := "From: MAILER-DAEMON@mail.example.jp\nSubject: Undelivered Mail Returned to Sender\n\n" +
			"<a@example.com>: 550 5.1.1 user unknown " + long + "\n"
		analyzeWithGap(t, []byte(raw), "")
	})
	t.Run("header", func(t *testing.T) {
		raw := "From: MAILER-DAEMON@mail.example.jp\nSubject: " + long + "\n\n<a@example.com>: 550 5.1.1 user unknown\n"
		analyzeSafely(t, []byte(raw))
	})
	t.Run("diagnostic code", func(t *testing.T) {
		raw := postfixDSN("a@example.com", "550 5.1.1 user unknown "+long, 0)
		analyzeWithGap(t, raw, "")
	})
	t.Run("no newline at all", func(t *testing.T) {
		analyzeSafely(t, []byte("From: a@example.com "+long))
	})
}

func TestHostileBrokenStructure(t *testing.T) {
	good := string(postfixDSN("a@example.com", "550 5.1.1 user unknown", 2000))
	cases := map[string]string{
		"boundary never opened": strings.ReplaceAll(good, "--BND\n", "--OTHER\n"),
		"boundary never closed": strings.ReplaceAll(good, "--BND--", ""),
		"no boundary parameter": strings.Replace(good, "; boundary=\"BND\"", "", 1),
		"empty boundary":        strings.Replace(good, "boundary=\"BND\"", "boundary=\"\"", 1),
		"cut in a header":       good[:strings.Index(good, "Content-Type: message/delivery-status")+20],
		"broken base64": strings.Replace(good, "Content-Type: text/plain; charset=us-ascii\n",
			"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: base64\n", 1),
		"broken quoted-printable": strings.Replace(good, "Content-Type: text/plain; charset=us-ascii\n",
			"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n", 1) + "=ZZ=\n=",
		"bad charset label":     strings.Replace(good, "charset=us-ascii", "charset=x-no-such-charset", 1),
		"unknown encoding":      strings.Replace(good, "Content-Type: message/delivery-status\n", "Content-Type: message/delivery-status\nContent-Transfer-Encoding: x-uuencode\n", 1),
		"bad encoded-word":      strings.Replace(good, "Subject: Quarterly report", "Subject: =?ISO-2022-JP?B?GyRC$$$?= =?x-bogus?Q?=ZZ?= =?utf-8?B?", 1),
		"null bytes":            strings.ReplaceAll(good, "Status: 5.1.1", "Status: 5.1.1\x00\x00"),
		"only a header":         "From: MAILER-DAEMON@mail.example.jp\nSubject: Undelivered Mail Returned to Sender\n",
		"only a blank line":     "\n",
		"header without colon":  "this is not a header\nnor this\n\nbody\n",
		"crlf and lone cr":      strings.ReplaceAll(strings.ReplaceAll(good, "\n", "\r\n"), "Action", "\rAction"),
		"delivery-status alone": "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) { analyzeSafely(t, []byte(raw)) })
	}
}

func TestHostileEmptyAndGarbage(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		rep := analyzeSafely(t, nil)
		if rep.Kind != KindNone || rep.Error == "" {
			t.Errorf("empty input: kind %s, error %q; want none with an error", rep.Kind, rep.Error)
		}
	})
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 17, 4096, 1 << 20} {
		t.Run(fmt.Sprint("garbage ", n), func(t *testing.T) {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			rep := analyzeSafely(t, b)
			if rep.Kind != KindNone {
				t.Errorf("random bytes came out as %s", rep.Kind)
			}
		})
	}
}

// TestLimits: AnalyzeWithLimits honours small limits and still returns a report.
func TestLimits(t *testing.T) {
	raw := postfixDSN("a@example.com", "550 5.1.1 user unknown", 4000)
	rep := AnalyzeWithLimits(raw, Limits{MaxBytes: 200, MaxParts: 1, MaxDepth: 0})
	checkReport(t, rep)
	if rep.Kind == KindBounce {
		t.Errorf("with MaxBytes 200 the report part is cut off, yet kind is bounce: %+v", rep.Recipients)
	}
	rep = AnalyzeWithLimits(raw, Limits{})
	checkReport(t, rep)
	if rep.Kind != KindBounce {
		t.Errorf("zero Limits should mean the defaults; kind %s", rep.Kind)
	}
}
