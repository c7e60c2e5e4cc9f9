package bounce

// Free-text recipients: reports without a delivery-status part name the
// failed addresses and the receiver's words in prose and transcripts.

import "strings"

// textRcpt is a recipient read from the human-readable text.
type textRcpt struct {
	addr, diag, remote, command string
	weak                        bool // diag is only the report's first words, not the receiver's
}

// fromText reads recipients from the text of a non-standard report.
func (a *analysis) fromText() []Recipient {
	var out []Recipient
	ts := a.textRecipients()
	if a.textCapped {
		a.rep.Truncated = true
	}
	for _, t := range ts {
		weak := t.weak || strings.Trim(t.diag, "<>* ") == t.addr || boilerplate(t.diag)
		out = append(out, a.recipient(found{addr: t.addr, diag: t.diag, remote: t.remote, command: t.command, from: srcText, weak: weak}))
	}
	return out
}

// excluded addresses are never failed recipients: the report's own From and To,
// mail-system mailboxes, and the original sender.
func (a *analysis) excluded(addr string, structured bool) bool {
	la := strings.ToLower(addr)
	if la == a.from || (!structured && la == strings.ToLower(a.to)) {
		return true
	}
	local := la
	if i := strings.IndexByte(la, '@'); i >= 0 {
		local = la[:i]
	}
	switch local {
	case "mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "mailerdaemon", "abuse", "root":
		return true
	}
	return false
}

// textRecipients finds failed recipients and their diagnostics in the text.
func (a *analysis) textRecipients() []textRcpt {
	lines := a.textLines()
	seen := map[string]int{}
	var out []textRcpt

	// The envelope sender a transcript shows (">>> MAIL From:<a@b>") is ours,
	// never a failed recipient, whatever replies quote it.
	senders := map[string]bool{}
	for _, l := range lines {
		ll := lowerASCII(strings.TrimSpace(l))
		ll = strings.TrimLeft(ll, "> ")
		if strings.HasPrefix(ll, "mail from:") {
			if ad := firstAddr(ll); ad != "" {
				senders[ad] = true
			}
		}
	}
	structured := true
	add := func(addr, diag, remote, cmd string) {
		addr = cleanAddr(addr)
		if addr == "" || !strings.Contains(addr, "@") || a.excluded(addr, structured) || senders[strings.ToLower(addr)] {
			return
		}
		k := strings.ToLower(addr)
		if i, ok := seen[k]; ok {
			if out[i].diag == "" {
				out[i].diag = diag
			}
			return
		}
		if len(out) >= maxRecipients {
			a.textCapped = true
			return
		}
		seen[k] = len(out)
		out = append(out, textRcpt{addr: addr, diag: diag, remote: remote, command: cmd})
	}

	for _, v := range a.p.header.Values("X-Failed-Recipients") {
		for _, s := range findAddrs(v) {
			add(s.addr, "", "", "")
		}
	}

	// Pass 1: lines that lead with an address ("<a@b>:", "a@b", "<a@b>... User unknown").
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || !strings.Contains(line, "@") {
			continue
		}
		addr, rest, ok := leadingAddr(line)
		if !ok {
			addr, rest, ok = cuedAddr(line)
		}
		if !ok {
			continue
		}
		if i := strings.Index(lowerASCII(rest), "malformed address: "); i >= 0 {
			// Exim: "a@b <c@d>: malformed address: <c@d> may not follow a@b": c@d failed.
			if m := firstAddr(rest[i:]); m != "" {
				addr = m
			}
		}
		next := ""
		if i+1 < len(lines) {
			next = lines[i+1]
		}
		if looksLikeHeaderLine(line) || contactLine(line, next) {
			continue
		}
		diag := strings.TrimSpace(strings.TrimLeft(rest, ":.> "))
		diag = strings.TrimPrefix(diag, "..")
		// Following lines up to a blank line belong to this recipient.
		var b strings.Builder
		b.WriteString(diag)
		for j := i + 1; j < len(lines) && j < i+40; j++ {
			n := strings.TrimSpace(lines[j])
			if n == "" {
				if b.Len() > 0 && strings.TrimSpace(b.String()) != "" {
					break
				}
				continue
			}
			if next, _, ok := leadingAddr(n); ok && !strings.EqualFold(next, addr) && !strings.Contains(lowerASCII(n), "said") && !startsSMTP(n) {
				break
			}
			if isSeparator(n) {
				break
			}
			b.WriteString("\n")
			b.WriteString(n)
		}
		d := unfoldSMTP(b.String())
		if startsSMTP(line) {
			// A reply line of a transcript: the lines just above belong to it
			// ("mail.local: unknown user: x" before "554 <x@y>... Service unavailable").
			if p := prevParagraph(lines, i); p != "" && !strings.HasPrefix(p, "-") {
				d = unfoldSMTP(p + "\n" + b.String())
			}
		}
		if d == "" {
			// The explanation may stand above the address (au, some gateways).
			d = unfoldSMTP(prevParagraph(lines, i))
		}
		add(addr, d, "", "")
	}

	// Pass 2: transcripts and any address in the text.
	if len(out) == 0 || allEmptyDiag(out) {
		structured = false
		for i, raw := range lines {
			line := strings.TrimSpace(raw)
			if !strings.Contains(line, "@") {
				continue
			}
			ll := lowerASCII(line)
			if strings.HasPrefix(ll, ">>> rcpt to:") || strings.HasPrefix(ll, "rcpt to:") || strings.HasPrefix(ll, "<<< ") || strings.Contains(ll, "rcpt to:<") {
				addr := firstAddr(line)
				diag := collectSMTP(lines, i+1)
				add(addr, diag, "", "RCPT")
				continue
			}
			if looksLikeHeaderLine(line) || strings.Contains(ll, "message-id") || strings.Contains(ll, "http") {
				continue
			}
			for _, s := range findAddrs(line) {
				add(s.addr, unfoldSMTP(paragraphAround(lines, i)), "", "")
			}
		}
	}
	out = a.dropSenderSide(out)
	if len(out) == 0 && a.rep != nil {
		a.fillOriginal()
		if to := a.rep.Original.To; to != "" && !a.excluded(to, false) {
			add(to, "", "", "")
		}
	}
	// A single recipient without its own words gets the report's SMTP lines.
	glob := a.globalText()
	for i := range out {
		if findReplyCode(out[i].diag) == "" && findStatus(out[i].diag) == "" && glob != "" {
			if out[i].diag == "" || rules.reason(out[i].diag, ruleQuery{}) == "" || (len(out) == 1 && findReplyCode(glob) != "") {
				out[i].diag = strings.TrimSpace(out[i].diag + " " + glob)
			}
		}
		if out[i].diag == "" {
			out[i].diag = unfoldSMTP(firstParagraph(lines))
			out[i].weak = true
		}
	}
	return out
}

// contactLine reports a line that offers a mailbox to write to, not a
// failed recipient: Postfix's "For further assistance, please contact
// <postmaster@...>" and the like, and the Japanese "…<support@...>" whose
// sentence ends "へご連絡ください" / "までお問い合わせください", on the
// line or the next.
func contactLine(line, next string) bool {
	if containsAny(lowerASCII(line), "please contact", "for further assistance", "for assistance", "please send mail to") {
		return true
	}
	for _, l := range []string{line, next} {
		if containsAny(l, "ご連絡ください", "お問い合わせください", "お問合せください", "ご連絡下さい") {
			return true
		}
	}
	return false
}

// dropSenderSide removes, from several recipients read in prose, the
// addresses of the sending side: the report's To (the original sender, to
// whom the report is addressed) and the returned message's From. Reports
// greet or quote the sender ("sender@example.jp 様", "From: ..."); the
// sender is a failed recipient only when nothing else is named.
func (a *analysis) dropSenderSide(out []textRcpt) []textRcpt {
	if len(out) < 2 {
		return out
	}
	side := map[string]bool{}
	if a.to != "" {
		side[strings.ToLower(a.to)] = true
	}
	if a.p.orig != nil {
		if f := headerAddr(mailHeader(*a.p.orig), "From"); f != "" {
			side[strings.ToLower(f)] = true
		}
	}
	kept := out[:0:0]
	for _, t := range out {
		if !side[strings.ToLower(t.addr)] {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		return out
	}
	return kept
}

func allEmptyDiag(rs []textRcpt) bool {
	for _, r := range rs {
		if r.diag != "" {
			return false
		}
	}
	return true
}

// leadingAddr reports whether line starts with an address, possibly in <>,
// quoted or after a display name with <mailto:>, and returns the rest.
func leadingAddr(line string) (addr, rest string, ok bool) {
	s := line
	s = strings.TrimLeft(s, "*-•# \t")
	for _, p := range []string{"recipient address:", "recipient:", "to:", "address:", "original-recipient:", "final-recipient:", "rcpt to:", "宛先:", "宛先："} {
		if hasPrefixFold(s, p) && !hasPrefixFold(s, "to: ") {
			s = strings.TrimSpace(s[len(p):])
			break
		}
	}
	as := findAddrs(s)
	if len(as) == 0 {
		return "", "", false
	}
	first := as[0]
	pre := strings.TrimSpace(s[:first.start])
	pre = strings.TrimRight(pre, "<\"'( ")
	pre = strings.TrimSuffix(pre, "mailto:")
	pre = strings.TrimRight(pre, "<\"'( ")
	if startsSMTP(pre + " ") {
		// "550 5.1.1 <a@b>: Recipient address rejected": the whole line is the diagnostic.
		return first.addr, s, true
	}
	if strings.HasSuffix(pre, ":") || strings.HasSuffix(pre, "：") {
		// A short label: "Recipient:", "宛先      :", "Failed recipient :".
		label := strings.TrimSpace(strings.TrimRight(pre, ":："))
		ll := lowerASCII(label)
		if strings.Contains(ll, "from") || ll == "cc" || ll == "sender" || ll == "reply-to" || ll == "差出人" || ll == "送信者" {
			return "", "", false // the sender's own address, not a failed recipient
		}
		if len(label) <= 24 && !strings.ContainsAny(label, "0123456789@") {
			pre = ""
		}
	}
	if pre != "" {
		// "Name<mailto:a@b>" (Exchange) is a leading address; other text is not.
		if !(strings.Contains(s[:first.start], "<") && len(pre) < 60 && !strings.ContainsAny(pre, ":") && !containsAny(lowerASCII(pre), " to ", " for ", " from ", "said", " at ", "message")) {
			return "", "", false
		}
	}
	rest = s[first.end:]
	rest = strings.TrimLeft(rest, ">\"') ")
	return first.addr, rest, true
}

func looksLikeHeaderLine(line string) bool {
	for _, p := range []string{"from:", "to:", "cc:", "reply-to:", "return-path:", "sender:", "message-id:", "received:", "envelope-to:", "delivered-to:", "x-", "date:", "subject:", "in-reply-to:", "references:", "list-"} {
		if hasPrefixFold(line, p) {
			return true
		}
	}
	return false
}

func isSeparator(s string) bool {
	if len(s) < 4 {
		return false
	}
	if strings.HasPrefix(s, "--") && !strings.ContainsAny(s, " \t") {
		return true // a MIME boundary left in the text
	}
	c := s[0]
	if c != '-' && c != '=' && c != '_' && c != '*' && c != '#' {
		return false
	}
	return strings.Count(s, string(c)) >= 4
}

func startsSMTP(s string) bool {
	return len(s) > 3 && (s[0] == '4' || s[0] == '5') && isDigit(s[1]) && isDigit(s[2]) && (s[3] == ' ' || s[3] == '-')
}

// collectSMTP gathers "<<< 550 ..." style reply lines after a transcript command.
func collectSMTP(lines []string, from int) string {
	var b strings.Builder
	for j := from; j < len(lines) && j < from+12; j++ {
		n := strings.TrimSpace(lines[j])
		if n == "" {
			if b.Len() > 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(n, ">>>") {
			if b.Len() > 0 {
				break
			}
			continue
		}
		n = strings.TrimSpace(strings.TrimPrefix(n, "<<<"))
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(n)
	}
	return unfoldSMTP(b.String())
}

// paragraphAround returns the block of non-empty lines around index i.
func paragraphAround(lines []string, i int) string {
	s, e := i, i
	for s > 0 && strings.TrimSpace(lines[s-1]) != "" && i-s < 6 {
		s--
	}
	for e+1 < len(lines) && strings.TrimSpace(lines[e+1]) != "" && e-i < 10 {
		e++
	}
	para := strings.Join(lines[s:e+1], "\n")
	if e == i && s == i && e+2 < len(lines) {
		// An address alone on its line: its explanation is the next paragraph.
		j := e + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		k := j
		for k < len(lines) && strings.TrimSpace(lines[k]) != "" && k-j < 8 {
			k++
		}
		if j < len(lines) {
			para += "\n" + strings.Join(lines[j:k], "\n")
		}
	}
	return para
}

// globalDiagCues introduce a receiver's words on a line of a report; the
// first in this order that occurs in a line is used.
var globalDiagCues = []string{"remote host said:", "said:", "remote server returned", "the error that the other server returned was:", "the response from the remote server was:", "the response was:", "diagnostic-code:", "reason:", "error:", "smtp error", "remote server replied:"}

var globalDiagCueSet = newPhraseSet(globalDiagCues)

// globalDiag collects the SMTP replies quoted anywhere in the report.
func globalDiag(lines []string) string {
	var parts []string
	for i := 0; i < len(lines); i++ {
		n := strings.TrimSpace(lines[i])
		if strings.HasPrefix(n, "<<< ") {
			t := strings.TrimSpace(n[4:])
			if startsSMTP(t) && (t[0] == '5' || t[0] == '4') {
				parts = append(parts, t)
			}
			continue
		}
		// The first cue of globalDiagCues that occurs, at its first place.
		if id, k := globalDiagCueSet.firstAt(n); id >= 0 {
			rest := strings.TrimSpace(n[k+len(globalDiagCues[id]):])
			if rest == "" && i+1 < len(lines) {
				rest = strings.TrimSpace(lines[i+1])
				if rest == "" && i+2 < len(lines) {
					rest = strings.TrimSpace(lines[i+2])
				}
			}
			if rest != "" {
				parts = append(parts, rest)
			}
		}
		if startsSMTP(n) && (strings.Contains(n, " ") || strings.Contains(n, "-")) && len(parts) < 6 {
			parts = append(parts, n)
		} else if k := strings.Index(n, ": "); k > 0 && k+2 < len(n) && startsSMTP(n[k+2:]) && findStatus(n[k+2:]) != "" {
			// "SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@b>... No such user here"
			parts = append(parts, n[k+2:])
		}
	}
	if len(parts) > 6 {
		parts = parts[:6]
	}
	return unfoldSMTP(strings.Join(parts, "\n"))
}

// firstParagraph is the first block of text with substance.
func firstParagraph(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			if b.Len() > 0 {
				break
			}
			continue
		}
		b.WriteString(t)
		b.WriteByte('\n')
		if b.Len() > 2000 {
			break
		}
	}
	return b.String()
}

// prevParagraph returns the non-empty lines directly above index i that are
// not addresses or separators.
func prevParagraph(lines []string, i int) string {
	var got []string
	j0 := i - 1
	for j0 >= 0 && i-j0 <= 3 && strings.TrimSpace(lines[j0]) == "" {
		j0--
	}
	for j := j0; j >= 0 && j0-j < 4; j-- {
		t := strings.TrimSpace(lines[j])
		if t == "" || isSeparator(t) || strings.Contains(t, "@") {
			break
		}
		got = append([]string{t}, got...)
	}
	return strings.Join(got, "\n")
}

// Phrases after which a report names the failed recipient, lowercase.
var recipientCues = []string{
	"undeliverable to ", "not delivered to ", "wasn't delivered to ", "could not be delivered to ",
	"unable to deliver to ", "failed to deliver to ", "delivery failed for ", "could not deliver to ",
	"delivery to the following recipient failed permanently: ", "error delivering your mail to ",
}

// cuedAddr finds "<cue> a@b" in a line: the recipient and the words after it.
func cuedAddr(line string) (addr, rest string, ok bool) {
	low := lowerASCII(line)
	for _, c := range recipientCues {
		i := strings.Index(low, c)
		if i < 0 {
			continue
		}
		after := line[i+len(c):]
		as := findAddrs(after)
		if len(as) == 0 || strings.TrimLeft(after[:as[0].start], "<\"' ") != "" {
			continue
		}
		return as[0].addr, strings.TrimLeft(after[as[0].end:], ">\"' .:"), true
	}
	return "", "", false
}

// globalText is the SMTP replies quoted anywhere in the report's text,
// computed once per message.
func (a *analysis) globalText() string {
	if !a.globDone {
		a.glob, a.globDone = globalDiag(a.textLines()), true
	}
	return a.glob
}

// boilerplate: the report's own words about failing, with nothing of the
// receiver's (no code, no reason): "Delivery to the following recipients
// failed permanently:".
func boilerplate(diag string) bool {
	if findReplyCode(diag) != "" || findStatus(diag) != "" {
		return false
	}
	return containsAny(lowerASCII(diag), "following recipient", "following address", "failed permanently",
		"could not be delivered", "automatically generated", "delivery has failed")
}
