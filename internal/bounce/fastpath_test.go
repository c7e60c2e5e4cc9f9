package bounce

import (
	"net/mail"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// sameDate reports whether parseMailDate agrees with mail.ParseDate on v:
// the same instant, zone name and offset, and the same error.
func sameDate(v string) (ok bool, got, want string) {
	t1, err1 := parseMailDate(v)
	t2, err2 := mail.ParseDate(v)
	n1, o1 := t1.Zone()
	n2, o2 := t2.Zone()
	e1, e2 := "", ""
	if err1 != nil {
		e1 = err1.Error()
	}
	if err2 != nil {
		e2 = err2.Error()
	}
	return t1.Equal(t2) && n1 == n2 && o1 == o2 && e1 == e2 && t1.Location().String() == t2.Location().String(),
		t1.String() + " " + e1, t2.String() + " " + e2
}

var dateSeeds = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Tue, 07 May 2024 09:15:00 +0900",
	"Tue, 07 May 2024 09:15:00 +0900 (JST)",
	"  Tue, 07 May 2024 09:15:00 +0900 (JST) (nested (comment))",
	"Tue, 07 May 2024 09:15:00 +0900 (unclosed",
	"Tue, 07 May 2024 09:15:00 +0900 (esc \\) ok)",
	"Tue, 07 May 2024 09:15:00 +0900 trailing words",
	"Wed, 31 Feb 2024 09:15:00 +0900",
	"Thu, 7 May 24 09:15:00 +0900",
	"Thu, 7 May 2024 09:15 +0900",
	"7 May 2024 09:15:00 +0900",
	"Thu, 20 Nov 1997 09:55:06 MDT",
	"Thu, 20 Nov 1997 09:55:06 GMT",
	"mon, 02 jan 2006 15:04:05 -0700",
	"Xyz, 02 Jan 2006 15:04:05 -0700",
	"Mon,  2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 +2500",
	"Mon, 2 Jan 2006 15:04:05 -07",
	"Mon, 2 Jan 2006 15:04:05 -0700\r\n",
	"Mon, 2 Jan 2006 15:04:05 -07\r\n00",
	"+0900",
	"-",
	"",
	"\t",
}

func TestParseMailDateMatchesNetMail(t *testing.T) {
	for _, v := range dateSeeds {
		if ok, got, want := sameDate(v); !ok {
			t.Errorf("parseMailDate(%q) = %s, mail.ParseDate = %s", v, got, want)
		}
	}
}

func FuzzParseMailDate(f *testing.F) {
	for _, v := range dateSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ok, got, want := sameDate(v); !ok {
			t.Errorf("parseMailDate(%q) = %s, mail.ParseDate = %s", v, got, want)
		}
	})
}

// FuzzMatchRules checks the compiled rule matcher against one
// strings.Contains per phrase.
func FuzzMatchRules(f *testing.F) {
	f.Add("550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in virtual mailbox table")
	f.Add("recipient address rejected: access denied")
	f.Add("Recipient address rejected: greylisted, try again")
	f.Add("boîte pleine")
	f.Fuzz(func(t *testing.T, s string) {
		low := maskData(lowerASCII(s))
		if got, want := rules.match(low, ruleQuery{}), naiveMatch(rules, low, ruleQuery{}); got != want {
			t.Errorf("match(%q) = %d, want %d", low, got, want)
		}
	})
}

// naiveUnwrap is unwrap as it was before it kept the lowered text in step
// by slicing.
func naiveUnwrap(d string) (core, host, command string) {
	low := lowerASCII(d)
	core = d
	// Postfix: "host mx.example.net[192.0.2.1] said: 550 ... (in reply to RCPT TO command)".
	if i := strings.Index(low, " said:"); i >= 0 {
		pre := low[:i]
		if k := strings.LastIndex(pre, "host "); k >= 0 {
			h := pre[k+5:]
			if b := strings.IndexAny(h, "[ "); b > 0 {
				h = h[:b]
			}
			host = strings.Trim(h, ".")
		}
		core = strings.TrimSpace(d[i+6:])
	}
	lc := lowerASCII(core)
	if i := strings.Index(lc, "(in reply to "); i >= 0 {
		rest := lc[i+13:]
		command = commandWord(rest)
		if j := strings.IndexByte(core[i:], ')'); j >= 0 {
			core = strings.TrimSpace(core[:i] + core[i+j+1:])
		}
	}
	// Exim: "SMTP error from remote mail server after RCPT TO:<a@b>: 550 ...". Also
	// "host mx.example.net [192.0.2.1]: 550 ...".
	lc = lowerASCII(core)
	if i := strings.Index(lc, "smtp error from remote mail"); i >= 0 {
		rest := core[i:]
		lr := lowerASCII(rest)
		if k := strings.Index(lr, "after "); k >= 0 {
			command = commandWord(lr[k+6:])
		}
		if j := strings.Index(rest, ">:"); j >= 0 {
			core = strings.TrimSpace(rest[j+2:])
		} else if j := strings.Index(lr, "data:"); j >= 0 {
			core = strings.TrimSpace(rest[j+5:])
		} else if j := strings.Index(lr, "connection:"); j >= 0 {
			core = strings.TrimSpace(rest[j+11:])
		} else if j := strings.Index(lr, "greeting:"); j >= 0 {
			core = strings.TrimSpace(rest[j+9:])
		}
	}
	lc = lowerASCII(core)
	for _, w := range []string{"remote host said:", "the response from the remote server was:", "the response was:", "remote server returned '", "remote server replied:", "said: "} {
		if i := strings.Index(lc, w); i >= 0 {
			core = strings.TrimSpace(core[i+len(w):])
			core = strings.TrimSuffix(core, "'")
			lc = lowerASCII(core)
		}
	}
	if host == "" {
		host = remoteFromText(lowerASCII(d))
	}
	if command == "" {
		command = commandOf(d)
	}
	return strings.TrimSpace(core), host, command
}

var unwrapSeeds = []string{
	"host mx.example.net[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
	"SMTP error from remote mail server after RCPT TO:<a@example.com>: 550 5.1.1 No such user",
	"SMTP error from remote mail server after end of data: 552 Message too large",
	"smtp error from remote mail server after initial connection: 421 Too many connections",
	"SMTP ERROR FROM REMOTE MAIL SERVER AFTER GREETING: 554 go away",
	"Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'",
	"The response from the remote server was:\u00a0 550 5.2.1 The email account is disabled",
	"  Remote Host Said:  \t 550 unknown  ",
	"host MX.EXAMPLE.NET said: 451 (in reply to end of data",
	"said: said: said: '",
}

func FuzzUnwrap(f *testing.F) {
	for _, s := range unwrapSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d string) {
		c1, h1, m1 := unwrap(d)
		c2, h2, m2 := naiveUnwrap(d)
		if c1 != c2 || h1 != h2 || m1 != m2 {
			t.Errorf("unwrap(%q) = %q, %q, %q; want %q, %q, %q", d, c1, h1, m1, c2, h2, m2)
		}
	})
}

func TestUnwrapMatchesNaive(t *testing.T) {
	for _, d := range unwrapSeeds {
		c1, h1, m1 := unwrap(d)
		c2, h2, m2 := naiveUnwrap(d)
		if c1 != c2 || h1 != h2 || m1 != m2 {
			t.Errorf("unwrap(%q) = %q, %q, %q; want %q, %q, %q", d, c1, h1, m1, c2, h2, m2)
		}
	}
}

// naiveOrigHeader is the returned message's header as it was read before
// origHeader: every field kept.
func naiveOrigHeader(s string) textproto.Header {
	s = strings.TrimLeft(s, "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i+1]
	}
	var h textproto.Header
	var name, val string
	flush := func() {
		if name != "" {
			h.Add(name, strings.TrimSpace(val))
		}
		name, val = "", ""
	}
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && name != "" {
			val += " " + strings.TrimSpace(line)
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			flush()
			continue
		}
		flush()
		name, val = line[:i], line[i+1:]
	}
	flush()
	return h
}

func checkOrigHeader(t *testing.T, s string) {
	t.Helper()
	got, ok := origHeader(s)
	want := naiveOrigHeader(s)
	if ok != (want.Len() > 0) {
		t.Errorf("origHeader(%q) ok = %v, want %v", s, ok, want.Len() > 0)
	}
	for _, k := range []string{"Message-Id", "From", "To", "Subject", "Date"} {
		if g, w := got.Values(k), want.Values(k); strings.Join(g, "\x00") != strings.Join(w, "\x00") || len(g) != len(w) {
			t.Errorf("origHeader(%q) %s = %q, want %q", s, k, g, w)
		}
	}
	// parseFields keeps every field, as before.
	all := parseFields(s)
	if all.Len() != naiveFieldCount(s) {
		t.Errorf("parseFields(%q) has %d fields, want %d", s, all.Len(), naiveFieldCount(s))
	}
}

// naiveFieldCount counts the fields of the header block the old way, over
// the whole of s.
func naiveFieldCount(s string) int {
	var h textproto.Header
	var name string
	for _, line := range strings.Split(s, "\n") {
		if line == "" || (line[0] == ' ' || line[0] == '\t') && name != "" {
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			name = ""
			continue
		}
		name = line[:i]
		h.Add(name, "")
	}
	return h.Len()
}

var origHeaderSeeds = []string{
	"From: a@example.com\nTo: b@example.org\nSubject: hi\n there\nDate: Mon, 2 Jan 2006 15:04:05 -0700\nMessage-ID: <x@example.com>\n\nbody\n",
	"\n\nfrom: a@example.com\nTO: b@example.org\nX-Other: y\n\tfolded\nSUBJECT: s\n",
	" lead\nnot a field\nFrom : spaced\nFrom: first\nFrom: second\n",
	"\u017fubject: long s\nSubject: ok\n",
	"",
	"\n",
	":\n",
}

func TestOrigHeaderMatchesNaive(t *testing.T) {
	for _, s := range origHeaderSeeds {
		checkOrigHeader(t, s)
	}
}

func FuzzOrigHeader(f *testing.F) {
	for _, s := range origHeaderSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkOrigHeader(t, s)
	})
}

var simpleAddressSeeds = []string{
	"a@example.com", " <a.b+c@Example.COM>\t", "<a@example.com", "a@example.com>", "a..b@example.com",
	".a@example.com", "a.@example.com", "a@example.com.", "a@[192.0.2.1]", "\"a b\"@example.com",
	"a@b@example.com", "<>", "", "Name <a@example.com>", "a@example.com (comment)", "a@example.com, b@example.org",
	"< a@example.com>", "a@ example.com", "ä@example.com", "a@example.com\r\n", "=?utf-8?q?x?= <a@example.com>",
}

// checkSimpleAddress: whenever simpleAddress accepts a value, go-message's
// parser must return exactly that address as the first of the list.
func checkSimpleAddress(t *testing.T, v string) {
	t.Helper()
	addr, ok := simpleAddress(v)
	if !ok {
		return
	}
	list, err := gomail.ParseAddressList(v)
	if err != nil || len(list) == 0 || list[0].Address != addr {
		t.Errorf("simpleAddress(%q) = %q, but ParseAddressList gives %v, %v", v, addr, list, err)
	}
}

func TestSimpleAddressMatchesParser(t *testing.T) {
	accepted := 0
	for _, v := range simpleAddressSeeds {
		checkSimpleAddress(t, v)
		if _, ok := simpleAddress(v); ok {
			accepted++
		}
	}
	if accepted != 2 {
		t.Errorf("simpleAddress accepted %d seeds, want 2 (the fast path must stay in use)", accepted)
	}
}

func FuzzSimpleAddress(f *testing.F) {
	for _, v := range simpleAddressSeeds {
		f.Add(v)
	}
	f.Fuzz(checkSimpleAddress)
}

// naiveSplitOriginal is splitOriginal as it was: strings.Index per marker
// over the whole lowered text.
func naiveSplitOriginal(text string) (head, tail string) {
	low := lowerASCII(text)
	best := -1
	for _, m := range originalMarkers {
		i := strings.Index(low, m)
		if i < 0 {
			continue
		}
		if m == "the original message was" && strings.Contains(low[i:min(len(low), i+40)], "received") {
			continue
		}
		if best < 0 || i < best {
			best = i
		}
	}
	if best < 0 {
		return text, ""
	}
	ls := strings.LastIndexByte(text[:best], '\n') + 1
	return text[:ls], text[ls:]
}

var splitSeeds = []string{
	"",
	"Hi.\n----- Original message -----\nFrom: a@example.com\n",
	"The original message was received at Mon, 2 Jan 2006\n--- Below this line is a copy of the message.\n",
	"the original message was attached\nRETURNED MESSAGE FOLLOWS\n",
	"x original message header original message headers\n",
	"The original message was received\nthe original message was kept\n",
	"以下は元のメッセージです\n元のメッセージ\n",
	"content-type: message/rfc822 -----original message-----",
}

func TestSplitOriginalMatchesNaive(t *testing.T) {
	for _, s := range splitSeeds {
		h1, t1 := splitOriginal(s)
		h2, t2 := naiveSplitOriginal(s)
		if h1 != h2 || t1 != t2 {
			t.Errorf("splitOriginal(%q) = %q, %q; want %q, %q", s, h1, t1, h2, t2)
		}
	}
}

func FuzzSplitOriginal(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h1, t1 := splitOriginal(s)
		h2, t2 := naiveSplitOriginal(s)
		if h1 != h2 || t1 != t2 {
			t.Errorf("splitOriginal(%q) = %q, %q; want %q, %q", s, h1, t1, h2, t2)
		}
	})
}

// naiveLowerASCII is lowerASCII one byte at a time.
func naiveLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TestLowerASCIIEveryByte puts every byte value at every offset modulo 8
// (lowerASCII works eight bytes at a time) among letters and UTF-8.
func TestLowerASCIIEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 9; pos++ {
			s := strings.Repeat("x", pos) + string([]byte{byte(c)}) + "ÄAb\xff\x80Z[@`{" + strings.Repeat("Q", pos)
			if got, want := lowerASCII(s), naiveLowerASCII(s); got != want {
				t.Fatalf("lowerASCII(%q) = %q, want %q", s, got, want)
			}
		}
	}
}

func FuzzLowerASCII(f *testing.F) {
	f.Add("Hello, WORLD — Grüße ÄÖÜ")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := lowerASCII(s), naiveLowerASCII(s); got != want {
			t.Errorf("lowerASCII(%q) = %q, want %q", s, got, want)
		}
	})
}
