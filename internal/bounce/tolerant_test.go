package bounce

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

// tolerantDir holds reports broken on purpose (see its README.md).
const tolerantDir = "testdata/tolerant"

// TestTolerantReading: a broken part costs only what is broken in it; the
// rest of the report is read as if it were whole.
func TestTolerantReading(t *testing.T) {
	tests := []struct {
		file   string
		defect string // what the MIME walk reports: proves the fixture is broken as its README says
		kind   Kind
		rcpt   string
		reason Reason
		status string
		text   string // a phrase of the readable text that must come through decoded
	}{
		{"jpisp-no-closing-boundary.eml", "unexpected EOF", KindBounce, "yoshida.example@isp.example.ne.jp", ReasonUserUnknown, "5.1.1", "宛先のメールアドレスが見つかりません"},
		{"dsn-cut-in-attachment.eml", "unexpected EOF", KindBounce, "mori.example@partner.example.net", ReasonMailboxFull, "5.2.2", "Recipient address\n    rejected: Mailbox full"},
		{"part-header-not-a-field.eml", "malformed MIME header", KindBounce, "mori.example@partner.example.net", ReasonMailboxFull, "5.2.2", "Final-Recipient: rfc822; mori.example@partner.example.net"},
		{"part-without-blank-line.eml", "malformed MIME header", KindBounce, "mori.example@partner.example.net", ReasonMailboxFull, "5.2.2", "This is the mail system at host"},
		{"base64-damaged-line.eml", "illegal base64", KindBounce, "nakamura.example@partner.example.org", ReasonUserUnknown, "5.1.1", "User unknown in virtual mailbox table"},
		{"qp-raw-escapes.eml", "quotedprintable", KindBounce, "kimura.example@partner.example.com", ReasonUserUnknown, "5.1.1", "宛先をご確認ください"},
		{"charset-sjis-labelled-latin1.eml", "", KindBounce, "sasaki.example@partner.example.jp", ReasonUserUnknown, "5.1.1", "宛先のメールアドレスが見つかりません"},
		{"charset-utf8-labelled-iso2022jp.eml", "", KindBounce, "endo.example@partner.example.jp", ReasonMailboxFull, "5.2.2", "理由: 550 5.2.2 Mailbox full"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(tolerantDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			p, werr := walk(normalize(raw), DefaultLimits)
			switch {
			case tc.defect == "" && werr != nil:
				t.Errorf("walk: %v; want no error", werr)
			case tc.defect != "" && (werr == nil || !strings.Contains(werr.Error(), tc.defect)):
				t.Errorf("walk error = %v; want one about %q (is the fixture still broken?)", werr, tc.defect)
			}
			read := strings.Join(append(append([]string{}, p.texts...), p.status...), "\n")
			if !strings.Contains(read, tc.text) {
				t.Errorf("readable text lost %q; read:\n%s", tc.text, read)
			}
			if !utf8.ValidString(read) {
				t.Errorf("decoded text is not valid UTF-8")
			}
			rep := Analyze(raw)
			checkReport(t, rep)
			if rep.Kind != tc.kind {
				t.Fatalf("kind = %s, want %s (error %q)", rep.Kind, tc.kind, rep.Error)
			}
			if len(rep.Recipients) != 1 {
				t.Fatalf("recipients = %s, want only %s", addrs(rep), tc.rcpt)
			}
			r := rep.Recipients[0]
			if r.Address != tc.rcpt || r.Reason != tc.reason || r.Status != tc.status {
				t.Errorf("recipient = %s %s %s, want %s %s %s", r.Address, r.Reason, r.Status, tc.rcpt, tc.reason, tc.status)
			}
		})
	}
}

// TestTolerantSameAsWhole: cutting a report after its delivery-status part
// (the closing boundary and the returned message lost) changes nothing but
// the returned message's facts.
func TestTolerantSameAsWhole(t *testing.T) {
	for _, f := range fixtures(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw = normalize(raw)
		i := bytes.Index(raw, []byte("\nContent-Type: message/rfc822"))
		if i < 0 || !bytes.Contains(raw[:i], []byte("message/delivery-status")) {
			continue
		}
		cut := raw[:i+len("\nContent-Type: message/rfc822")+1+200]
		if len(cut) > len(raw) {
			continue
		}
		whole, part := Analyze(raw), Analyze(cut)
		if part.Kind != whole.Kind || len(part.Recipients) != len(whole.Recipients) {
			t.Errorf("%s cut: kind %s %s, whole: %s %s", filepath.Base(f), part.Kind, addrs(part), whole.Kind, addrs(whole))
			continue
		}
		for k := range whole.Recipients {
			w, p := whole.Recipients[k], part.Recipients[k]
			if w.Address != p.Address || w.Reason != p.Reason || w.Status != p.Status || w.Diagnostic != p.Diagnostic {
				t.Errorf("%s cut: recipient %d = %+v, whole: %+v", filepath.Base(f), k, p, w)
			}
		}
	}
}

func TestLenientBase64(t *testing.T) {
	text := []byte(strings.Repeat("0123456789 abcdefghij ABCDEFGHIJ 550 5.1.1 user unknown\n", 6))
	enc := base64.StdEncoding.EncodeToString(text)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	whole := strings.Join(lines, "\r\n")
	if got := lenientBase64([]byte(whole)); !bytes.Equal(got, text) {
		t.Fatalf("clean input: got %q, want %q", got, text)
	}
	// Damage line 2 (57 bytes each): lines 1 and 3.. must decode as before.
	damaged := append([]string{}, lines...)
	damaged[1] = damaged[1][:20] + "*!~" + damaged[1][23:]
	got := lenientBase64([]byte(strings.Join(damaged, "\n")))
	if !bytes.HasPrefix(got, text[:57]) {
		t.Errorf("line before the damage lost: %q", got)
	}
	if !bytes.HasSuffix(got, text[114:]) {
		t.Errorf("lines after the damage lost: %q", got)
	}
	if len(got) >= len(text) {
		t.Errorf("damaged line decoded whole: %d bytes of %d", len(got), len(text))
	}
	// Padding in the middle (two encoded pieces glued together).
	glued := base64.StdEncoding.EncodeToString([]byte("ab")) + "\n" + base64.StdEncoding.EncodeToString([]byte("cdef"))
	if got := lenientBase64([]byte(glued)); string(got) != "abcdef" {
		t.Errorf("glued pieces = %q, want abcdef", got)
	}
	// A cut-off quantum keeps the bytes it holds.
	if got := lenientBase64([]byte("NTUwIDUuMS4xIHU")); string(got) != "550 5.1.1 u" {
		t.Errorf("cut quantum = %q", got)
	}
}

func TestLooksBase64(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"VGhpcyBpcyB0aGUgbWFpbCBzeXN0ZW0=\n", true},
		{"\n\nVGhpcyBp\r\nY2M=\n", true},
		{"This is the mail system at host mx.example.jp.\n\n<a@example.com>: 550 5.1.1 unknown\n", false},
		{"*damaged*\nVGhpcyBpcyB0aGUgbWFpbCBzeXN0ZW0=\n", true},
		{"", false},
	}
	for _, tc := range tests {
		if got := looksBase64([]byte(tc.in)); got != tc.want {
			t.Errorf("looksBase64(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// Plain text labelled base64 is read as text.
	raw := "From: MAILER-DAEMON@mx.example.ne.jp\nSubject: failure notice\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
		"Hi. This is the qmail-send program at mx.example.ne.jp.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n\n" +
		"<mori.example@partner.example.net>:\nRemote host said: 550 5.1.1 <mori.example@partner.example.net>... User unknown\n"
	rep := Analyze([]byte(raw))
	if rep.Kind != KindBounce || len(rep.Recipients) != 1 || rep.Recipients[0].Status != "5.1.1" {
		t.Errorf("text labelled base64: %s %s, want a bounce of mori.example@partner.example.net 5.1.1", rep.Kind, addrs(rep))
	}
}

// TestDecodeTextLabels: the label is followed unless the bytes contradict
// it (see decodeText).
func TestDecodeTextLabels(t *testing.T) {
	const ja = "宛先のメールアドレスが見つかりません。"
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
		{"euc-jp labelled", enc(japanese.EUCJP, ja), "EUC-JP", ja},
		{"shift_jis labelled", enc(japanese.ShiftJIS, ja), "Shift_JIS", ja},
		{"euc-jp labelled shift_jis", enc(japanese.EUCJP, ja), "shift_jis", ja},
		{"shift_jis labelled euc-jp", enc(japanese.ShiftJIS, ja), "euc-jp", ja},
		{"utf-8 labelled shift_jis", []byte(ja), "shift_jis", ja},
		{"latin-1 text stays latin-1", []byte("Gr\xfc\xdfe, caf\xe9"), "iso-8859-1", "Grüße, café"},
		{"utf-16le labelled", enc(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "550 "+ja), "utf-16le", "550 " + ja},
		{"unknown label", enc(japanese.ShiftJIS, ja), "x-no-such-charset", ja},
	}
	for _, tc := range tests {
		if got := decodeText(tc.in, tc.label); got != tc.want {
			t.Errorf("%s: decodeText = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTrimBeforeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"From: a@example.com\n\nbody", "From: a@example.com\n\nbody"},
		{"\x1b$B@bL@\x1b(B\n\nReceived: x\nFrom: a@example.com\n\nbody", "Received: x\nFrom: a@example.com\n\nbody"},
		{"just text\n\nmore text", "just text\n\nmore text"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := trimBeforeHeader(tc.in); got != tc.want {
			t.Errorf("trimBeforeHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLenientQP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"caf=C3=A9 =\nsoft", "café soft"},
		{"=1b$B$\"=1b(B", "\x1b$B$\"\x1b(B"},
		{"raw \x1b$B$\"\x1b(B escapes", "raw \x1b$B$\"\x1b(B escapes"},
		{"100=ZZ sign =", "100=ZZ sign "},
		{"trailing = \r\nnext", "trailing next"},
		{"cut =E", "cut =E"},
	}
	for _, tc := range tests {
		if got := string(lenientQP([]byte(tc.in))); got != tc.want {
			t.Errorf("lenientQP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitPartHeader(t *testing.T) {
	tests := []struct {
		in, ct, body string
	}{
		{"Content-Type: text/plain\n\nhello\n", "text/plain", "hello\n"},
		{"Content-Type: text/plain\nhello there\n", "text/plain", "hello there\n"},
		{"\nhello\n", "", "hello\n"},
		{"Your mail: was not delivered\n", "", "Your mail: was not delivered\n"},
		{"Content-Type: message/delivery-status\n\x1b$B@bL@\x1b(B\n\nReporting-MTA: dns; x\n", "message/delivery-status", "\x1b$B@bL@\x1b(B\n\nReporting-MTA: dns; x\n"},
		{"Content-Type: text/plain;\n charset=us-ascii\n\nx", "text/plain; charset=us-ascii", "x"},
		// An unindented parameter after a field ending with ";" (Apache James).
		{"Content-Type: multipart/alternative;\nboundary=\"b:1\"\n\nx", "multipart/alternative; boundary=\"b:1\"", "x"},
		// Without the ";" such a line is body.
		{"Content-Type: text/plain\nname=value\n", "text/plain", "name=value\n"},
	}
	for _, tc := range tests {
		h, body := splitPartHeader([]byte(tc.in))
		if got := h.Get("Content-Type"); got != tc.ct || string(body) != tc.body {
			t.Errorf("splitPartHeader(%q) = %q, %q; want %q, %q", tc.in, got, body, tc.ct, tc.body)
		}
	}
}

// FuzzTolerant drives the tolerant paths: the line-level part split, the
// lenient decoders and the charset repair. Run it for at most 30 s:
//
//	go test -run '^$' -fuzz '^FuzzTolerant$' -fuzztime 30s ./internal/bounce
func FuzzTolerant(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(tolerantDir, "*.eml"))
	more, _ := filepath.Glob(filepath.Join(detectDir, "*.eml"))
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, "B1", "iso-8859-1")
		}
	}
	f.Add([]byte("--b\nContent-Type: text/plain\nx\n--b\n\n--b--\n"), "b", "utf-8")
	f.Add([]byte("QUJD\nRE*F\n=RUZH==\n"), "", "shift_jis")
	f.Add([]byte("=1b$B=\n$\"\x1b(B=4"), "x", "iso-2022-jp")
	f.Fuzz(func(t *testing.T, body []byte, boundary, label string) {
		if len(boundary) > 70 { // RFC 2046: at most 70 characters
			boundary = boundary[:70]
		}
		p := &parts{}
		lim := Limits{MaxBytes: 1 << 20, MaxParts: 50, MaxDepth: 5}
		_ = p.splitParts(body, boundary, 0, 0, lim)
		if p.nparts > lim.MaxParts+1 {
			t.Errorf("split read %d parts, limit %d", p.nparts, lim.MaxParts)
		}
		for _, s := range append(append(p.texts, p.htmls...), p.status...) {
			if !utf8.ValidString(s) {
				t.Errorf("part text %q is not valid UTF-8", s)
			}
		}
		if b := lenientBase64(body); len(b) > len(body)*3/4+2 {
			t.Errorf("lenientBase64 made %d bytes of %d", len(b), len(body))
		}
		if q := lenientQP(body); len(q) > len(body) {
			t.Errorf("lenientQP made %d bytes of %d", len(q), len(body))
		}
		if s := decodeText(body, label); !utf8.ValidString(s) {
			t.Errorf("decodeText(%q, %q) is not valid UTF-8", body, label)
		}
		rep := Analyze(body)
		hard, _ := reportProblems(rep)
		for _, p := range hard {
			t.Error(p)
		}
	})
}

// TestTolerantHostile: the fallback split is bounded by Limits like the
// normal walk: many broken parts, and broken parts nested deep.
func TestTolerantHostile(t *testing.T) {
	var many bytes.Buffer
	many.WriteString("From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < 50000; i++ {
		many.WriteString("--b\nnot a header line\n")
	}
	var deep bytes.Buffer
	deep.WriteString("From: a@example.com\nSubject: x\nContent-Type: multipart/mixed; boundary=b0\n\n")
	for i := 0; i < 200; i++ {
		deep.WriteString("--b" + itoa(i) + "\nContent-Type: multipart/mixed; boundary=b" + itoa(i+1) + "\nbroken line\n")
	}
	for name, raw := range map[string][]byte{"many": many.Bytes(), "deep": deep.Bytes()} {
		t.Run(name, func(t *testing.T) {
			p, err := walk(raw, DefaultLimits)
			if err == nil {
				t.Errorf("walk of broken input: no error")
			}
			if p.nparts > DefaultLimits.MaxParts+1 {
				t.Errorf("walked %d parts, limit %d", p.nparts, DefaultLimits.MaxParts)
			}
			analyzeSafely(t, raw)
		})
	}
}
