package bounce

import (
	"strings"
	"unicode"
)

// fromDSN reads recipients from message/delivery-status parts.
func (a *analysis) fromDSN() []Recipient {
	var out []Recipient
	for _, body := range a.p.status {
		out = append(out, a.dsnRecipients(body)...)
	}
	return out
}

// fromDSNText reads a delivery-status block written inline in the text.
func (a *analysis) fromDSNText(text string) []Recipient {
	low := lowerASCII(text)
	i := strings.Index(low, "reporting-mta:")
	j := strings.Index(low, "final-recipient:")
	if i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		i = strings.Index(low, "original-recipient:")
	}
	if i < 0 {
		return nil
	}
	ls := strings.LastIndexByte(text[:i], '\n') + 1
	return a.dsnRecipients(text[ls:])
}

func (a *analysis) dsnRecipients(body string) []Recipient {
	msg, blocks := parseDSN(body)
	if v := typedValue(msg["reporting-mta"]); v != "" && a.rep.ReportingMTA == "" {
		a.rep.ReportingMTA = strings.ToLower(v)
	}
	if a.rep.ArrivalDate.IsZero() {
		if d, err := parseDate(msg["arrival-date"]); err == nil {
			a.rep.ArrivalDate = d
		}
	}
	textRcpts := map[string]textRcpt{}
	if len(blocks) > 0 {
		for _, t := range a.textRecipients() {
			k := strings.ToLower(t.addr)
			if _, ok := textRcpts[k]; !ok {
				textRcpts[k] = t
			}
		}
	}
	var out []Recipient
	if len(blocks) > maxRecipients {
		blocks = blocks[:maxRecipients]
		a.rep.Truncated = true
	}
	for _, b := range blocks {
		addr := dsnAddress(b["final-recipient"], b["original-recipient"], b["x-actual-recipient"])
		if !plainAddress(addr) && len(blocks) == 1 && len(textRcpts) == 1 {
			// "Final-Recipient: rfc822; @mx.example.org": the text names the address.
			for _, t := range textRcpts {
				addr = t.addr
			}
		}
		action := ""
		if f := strings.Fields(strings.ToLower(b["action"])); len(f) > 0 {
			action = strings.TrimRight(f[0], "(;,")
		}
		status := findStatus(b["status"])
		diag := typedValue(b["diagnostic-code"])
		diagFrom := srcDSN
		// "Status: 5.2.1 (mailbox disabled, not accepting messages)": the
		// comment explains; it stands in for a missing Diagnostic-Code and
		// adds to a present one.
		if i := strings.IndexByte(b["status"], '('); i >= 0 {
			if c := strings.Trim(b["status"][i:], "() \n"); c != "" {
				if diag == "" {
					diag, diagFrom = c, srcComment
				} else if !genericComment(c) {
					diag += " (" + c + ")"
				}
			}
		}
		diag = unfoldSMTP(diag)
		remote := ""
		if f := strings.Fields(strings.ToLower(typedValue(b["remote-mta"]))); len(f) > 0 {
			remote = f[0]
		}
		if remote != "" && strings.HasPrefix(remote, "[") {
			remote = strings.Trim(remote, "[]")
		}
		t, haveText := textRcpts[strings.ToLower(addr)]
		if !haveText && len(textRcpts) == 1 && len(blocks) == 1 {
			for _, only := range textRcpts {
				t, haveText = only, true
			}
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(b["diagnostic-code"])), "x-unix") {
			// A local delivery program failed (RFC 3464 "X-Unix" diagnostic type).
			diag = "x-unix; " + diag
		}
		// The DSN's own words may be empty or say little ("255", "Service
		// unavailable"); the human-readable part often says more.
		dr := rules.reason(diag, ruleQuery{})
		weak := diag == "" || (findReplyCode(diag) == "" && findStatus(diag) == "" && dr == "") ||
			dr == ReasonSystemError || dr == ReasonOnHold
		if weak {
			extra := ""
			if haveText && t.diag != "" {
				extra = t.diag
			} else if len(blocks) == 1 {
				extra = a.globalText()
			}
			if extra != "" && !strings.Contains(extra, diag) && !strings.Contains(diag, extra) {
				diag, diagFrom = strings.TrimSpace(diag+" "+extra), srcText
			} else if diag == "" {
				diag, diagFrom = extra, srcText
			}
		}
		if haveText && remote == "" {
			remote = t.remote
		}
		r := a.recipient(found{addr: addr, action: action, status: status, diag: diag, remote: remote, command: t.command, from: diagFrom})
		out = append(out, r)
	}
	return out
}

// found is what an extractor read about one recipient.
type found struct {
	addr, action, status, diag, remote, command string
	from                                        source // where diag was read
	weak                                        bool   // diag is only the report's own words
	mta                                         string // reporting software with its own vocabulary
	diagPrefix                                  string // read with diag but not the receiver's reply (fml's subject)
}

// recipient completes one recipient from what was read: it gathers the
// evidence and has decide judge it.
func (a *analysis) recipient(f found) Recipient {
	diag := strings.TrimSpace(f.diag)
	if len(diag) > maxDiagnostic {
		diag = strings.ToValidUTF8(diag[:maxDiagnostic], "") + " …"
	}
	ev := evidence{Status: f.status, Command: f.command, Action: f.action, RemoteMTA: f.remote,
		ReportingMTA: a.rep.ReportingMTA, MTA: f.mta, DiagnosticFrom: f.from, WeakText: f.weak}
	if f.status != "" {
		ev.StatusFrom = srcDSN
	}
	if f.action != "" {
		ev.ActionFrom = srcDSN
	}
	if f.command != "" {
		ev.CommandFrom = f.from
	}
	core, host, cmd := unwrap(diag)
	if core != diag {
		ev.DiagnosticFrom = srcReply
	}
	if ev.RemoteMTA == "" {
		ev.RemoteMTA = host
	}
	if ev.Command == "" && cmd != "" {
		ev.Command, ev.CommandFrom = cmd, srcTranscript
	}
	if ev.Command == "" {
		if ev.Command = a.textCommand(); ev.Command != "" {
			ev.CommandFrom = srcText
		}
	}
	status := ev.Status
	if st := statusOf(core); st != "" && (status == "" || strings.HasSuffix(status, ".0.0") || strings.HasSuffix(status, ".4.7") ||
		strings.HasSuffix(status, ".0") && st[0] == status[0] && !strings.HasSuffix(st, ".0") || (status[0] != st[0] && f.action != ActionDelayed)) {
		if !(status != "" && status[0] == '5' && st[0] == '4' && f.action == ActionFailed && !strings.HasSuffix(status, ".0.0")) {
			// The reply's own code is more specific than the DSN's, or the DSN has none.
			ev.Status, ev.StatusFrom = st, srcReply
		}
	}
	ev.ReplyCode = findReplyCode(core)
	switch ev.Action {
	case ActionFailed, ActionDelayed, ActionDelivered, ActionRelayed, ActionExpanded:
	default:
		ev.ActionFrom = srcDerived
		switch {
		case strings.HasPrefix(ev.Status, "2"):
			ev.Action = ActionDelivered
		case a.delayed():
			ev.Action = ActionDelayed
		default:
			ev.Action = ActionFailed
		}
	}
	if ev.Status == "" && strings.HasPrefix(ev.ReplyCode, "2") {
		ev.Status, ev.StatusFrom = "2.0.0", srcDerived
	}
	ev.Provider = ProviderOf(f.addr, ev.RemoteMTA, diag)
	ev.Diagnostic = core
	if f.diagPrefix != "" {
		ev.Diagnostic = f.diagPrefix + "\n" + core
	}
	if ev.Action != ActionDelivered && ev.Action != ActionRelayed && ev.Action != ActionExpanded {
		if core == "" {
			ev.ReportText = a.textRule()
		}
		ev.ReportExpired = a.expiredText()
		ev.GoogleGroups = domainOf(f.addr) == "googlegroups.com" || a.googleGroups()
	}
	v := decide(ev)
	status = ev.Status
	if status == "" {
		status = derivedStatus(v.Reason, ev.Action)
	}
	return Recipient{
		Address:    f.addr,
		Action:     ev.Action,
		Status:     status,
		ReplyCode:  ev.ReplyCode,
		Reason:     v.Reason,
		Hard:       v.Hard,
		Temporary:  v.Temporary,
		RemoteMTA:  ev.RemoteMTA,
		Provider:   ev.Provider,
		Diagnostic: diag,
		Command:    ev.Command,
	}
}

// Bounds on what one report yields: real reports name a few recipients and
// quote a few lines; more is a returned attachment or hostile input.
const (
	maxRecipients = 1000
	maxDiagnostic = 8 << 10
)

// derivedStatus gives the status code implied by a reason when the bounce
// carries none.
func derivedStatus(r Reason, action string) string {
	c := "5"
	if action == ActionDelayed {
		c = "4"
	}
	switch r {
	case ReasonUserUnknown:
		return c + ".1.1"
	case ReasonHostUnknown:
		return c + ".1.2"
	case ReasonHasMoved:
		return c + ".1.6"
	case ReasonMailboxFull:
		return c + ".2.2"
	case ReasonMesgTooBig:
		return c + ".3.4"
	case ReasonExceedLimit:
		return c + ".2.3"
	case ReasonSuspend:
		return c + ".2.1"
	case ReasonNoRelaying:
		return c + ".7.1"
	case ReasonExpired:
		return "4.4.7"
	case ReasonNetworkError:
		return "4.4.1"
	case ReasonSystemFull:
		return c + ".3.1"
	case ReasonNotAccept:
		return c + ".3.2"
	}
	return ""
}

// textFacts are what the classifier asks of the report's whole text. Each
// is computed on first use, once per message, not once per recipient: each
// costs a pass over the text, and many messages need only some of them.
type textFacts struct {
	done         uint8  // which facts below are computed (factCommand, ...)
	command      string // SMTP command the text says failed
	rule         Reason // the first rule the text matches
	delayed      bool   // the text or subject says the mail is still being retried
	expired      bool   // the text says the retry period ran out
	googleGroups bool   // the text names groups.google.com
}

// Bits of textFacts.done.
const (
	factCommand uint8 = 1 << iota
	factRule
	factDelayed
	factExpired
	factGoogleGroups
)

// fact reports whether fact bit is computed yet and marks it computed.
func (f *textFacts) fact(bit uint8) (known bool) {
	known = f.done&bit != 0
	f.done |= bit
	return known
}

func (a *analysis) textCommand() string {
	if !a.tf.fact(factCommand) {
		a.tf.command = commandOf(a.low)
	}
	return a.tf.command
}

func (a *analysis) textRule() Reason {
	if !a.tf.fact(factRule) {
		a.tf.rule = rules.reason(a.low, ruleQuery{})
	}
	return a.tf.rule
}

func (a *analysis) delayed() bool {
	if !a.tf.fact(factDelayed) {
		a.tf.delayed = delayedSubjectSet.any(a.subject) || retryingSet.any(a.low) && !givenUpSet.any(a.low)
	}
	return a.tf.delayed
}

func (a *analysis) expiredText() bool {
	if !a.tf.fact(factExpired) {
		a.tf.expired = expiredTextSet.any(a.low)
	}
	return a.tf.expired
}

func (a *analysis) googleGroups() bool {
	if !a.tf.fact(factGoogleGroups) {
		a.tf.googleGroups = strings.Contains(a.low, "groups.google.com")
	}
	return a.tf.googleGroups
}

// Phrases of the text facts, compiled for one-pass matching.
var (
	// The subject says the mail is delayed.
	delayedSubjectSet = newPhraseSet([]string{"delayed", "delay", "warning: could not send", "still being retried", "遅延"})
	// The text says the mail is still being retried...
	retryingSet = newPhraseSet([]string{"will continue to try", "will keep trying", "still trying", "is still being retried",
		"will be retried", "delivery attempts will continue", "no action is required on your part", "message delayed"})
	// ...unless it says it was given up.
	givenUpSet = newPhraseSet([]string{"permanent", "given up", "gave up", "will not try again", "will not be retried"})
	// The text says the retry period ran out.
	expiredTextSet = newPhraseSet([]string{"retry timeout exceeded", "could not be delivered for", "in the queue too long",
		"message expired", "queue too long", "retry time not reached", "has not been delivered for", "delivery time expired",
		"too long in the queue", "was not delivered within", "for more than", "timeout has expired", "unable to deliver for",
		"given up", "gave up", "message has been in the queue", "expired", "queued too long"})
)

// unwrap strips MTA wrappers around the receiver's words and returns them
// with the remote host and the SMTP command when the wrapper names them.
func unwrap(d string) (core, host, command string) {
	// low and lc are lowerASCII(d) and lowerASCII(core), kept in step with
	// d and core by slicing (lowerASCII keeps every byte offset).
	low := lowerASCII(d)
	core, lc := d, low
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
		core, lc = trimSpaceLow(d[i+6:], low[i+6:])
	}
	if i := strings.Index(lc, "(in reply to "); i >= 0 {
		rest := lc[i+13:]
		command = commandWord(rest)
		if j := strings.IndexByte(core[i:], ')'); j >= 0 {
			core = strings.TrimSpace(core[:i] + core[i+j+1:])
			lc = lowerASCII(core)
		}
	}
	// Exim: "SMTP error from remote mail server after RCPT TO:<a@b>: 550 ...". Also
	// "host mx.example.net [192.0.2.1]: 550 ...".
	if i := strings.Index(lc, "smtp error from remote mail"); i >= 0 {
		rest, lr := core[i:], lc[i:]
		if k := strings.Index(lr, "after "); k >= 0 {
			command = commandWord(lr[k+6:])
		}
		if j := strings.Index(rest, ">:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+2:], lr[j+2:])
		} else if j := strings.Index(lr, "data:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+5:], lr[j+5:])
		} else if j := strings.Index(lr, "connection:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+11:], lr[j+11:])
		} else if j := strings.Index(lr, "greeting:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+9:], lr[j+9:])
		}
	}
	// Amazon SES: "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access
	// denied' (delivery attempts: 0)": SES's own words, then the receiver's
	// reply in quotes.
	if i := strings.Index(lc, "(delivery attempts:"); i > 0 {
		if c, ok := sesReply(core[:i]); ok {
			core, lc = c, lowerASCII(c)
		}
	}
	for _, w := range []string{"remote host said:", "the response from the remote server was:", "the response was:", "remote server returned '", "remote server replied:", "said: "} {
		if i := strings.Index(lc, w); i >= 0 {
			core, lc = trimSpaceLow(core[i+len(w):], lc[i+len(w):])
			core = strings.TrimSuffix(core, "'")
			lc = lc[:len(core)]
		}
	}
	if host == "" {
		host = remoteFromText(low)
	}
	if command == "" {
		command = commandOf(d)
	}
	return strings.TrimSpace(core), host, command
}

// sesReply returns the quoted SMTP reply of an Amazon SES diagnostic
// ("... 550-'5.7.1 ...' "), with its reply code, and whether there was one.
func sesReply(s string) (string, bool) {
	k := strings.LastIndexByte(s, '\'')
	for j := 4; j < k; j++ {
		if s[j] == '\'' && (s[j-1] == '-' || s[j-1] == ' ') && isDigit(s[j-4]) && isDigit(s[j-3]) && isDigit(s[j-2]) {
			return s[j-4:j-1] + " " + strings.TrimSpace(s[j+1:k]), true
		}
	}
	return "", false
}

// trimSpaceLow returns strings.TrimSpace(s) and the same span of low, where
// low is lowerASCII(s) (or any text of the same byte offsets).
func trimSpaceLow(s, low string) (string, string) {
	l := strings.TrimLeftFunc(s, unicode.IsSpace)
	off := len(s) - len(l)
	t := strings.TrimRightFunc(l, unicode.IsSpace)
	return t, low[off : off+len(t)]
}

func commandWord(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "rcpt"):
		return "RCPT"
	case strings.HasPrefix(s, "mail"):
		return "MAIL"
	case strings.HasPrefix(s, "end of data"), strings.HasPrefix(s, "data"), strings.HasPrefix(s, "end of message"):
		return "DATA"
	case strings.HasPrefix(s, "helo"), strings.HasPrefix(s, "ehlo"):
		return "HELO"
	case strings.HasPrefix(s, "initial connection"), strings.HasPrefix(s, "connect"), strings.HasPrefix(s, "greeting"), strings.HasPrefix(s, "banner"):
		return "CONN"
	case strings.HasPrefix(s, "starttls"):
		return "STARTTLS"
	}
	return ""
}

// commandCues are the wordings that name the SMTP command a text says
// failed; the first in this order that occurs wins.
var commandCues = []struct{ cue, cmd string }{
	{"in reply to rcpt to", "RCPT"}, {"<<< rcpt to", "RCPT"}, {"[rcpt_to]", "RCPT"}, {"rcpt to:<", "RCPT"}, {"after rcpt to", "RCPT"}, {">>> rcpt to", "RCPT"}, {"did not like our rcpt to", "RCPT"},
	{"in reply to end of data", "DATA"}, {"after end of data", "DATA"}, {"in reply to data", "DATA"}, {"after data", "DATA"}, {">>> data", "DATA"},
	{"in reply to mail from", "MAIL"}, {"[mail_from]", "MAIL"}, {"after mail from", "MAIL"}, {">>> mail from", "MAIL"}, {"did not like our mail from", "MAIL"},
	{"in reply to helo", "HELO"}, {"in reply to ehlo", "HELO"}, {"after helo", "HELO"}, {"after ehlo", "HELO"},
	{"after initial connection", "CONN"}, {"greeting", "CONN"},
}

var commandCueSet = func() *phraseSet {
	cues := make([]string, len(commandCues))
	for i, c := range commandCues {
		cues[i] = c.cue
	}
	return newPhraseSet(cues)
}()

// commandOf finds the SMTP command a text says failed. The text may be in
// any case (the cues are matched with ASCII case folding).
func commandOf(low string) string {
	if i := commandCueSet.first(low); i >= 0 {
		return commandCues[i].cmd
	}
	return ""
}

// remoteFromText finds the receiver's host name in a report's text.
func remoteFromText(low string) string {
	for _, cue := range []string{"while talking to ", "host ", "remote-mta: dns; ", "remote-mta: dns;", "remote server: ", "connected to "} {
		off := 0
		for {
			i := strings.Index(low[off:], cue)
			if i < 0 {
				break
			}
			i += off
			rest := low[i+len(cue):]
			j := 0
			for j < len(rest) && isDomainChar(rest[j]) {
				j++
			}
			h := strings.Trim(rest[:j], ".")
			if strings.Count(h, ".") >= 1 && !isIPWord(h) && !strings.HasSuffix(h, ".") {
				if j < len(rest) && (rest[j] == '[' || rest[j] == ' ' || rest[j] == ':' || rest[j] == '.' || rest[j] == '\n' || rest[j] == '(') {
					return h
				}
			}
			off = i + len(cue)
		}
	}
	return ""
}

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
		if looksLikeHeaderLine(line) {
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
var globalDiagCues = []string{"remote host said:", "said:", "the error that the other server returned was:", "the response from the remote server was:", "the response was:", "diagnostic-code:", "reason:", "error:", "smtp error", "remote server replied:"}

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

// dsnAddress picks the recipient of a DSN block: the first of the given
// fields that holds a plain address. Final-Recipient may instead hold a
// pipe, a file or a source route ("@relay:user@host").
func dsnAddress(fields ...string) string {
	var loose string
	for _, f := range fields {
		v := strings.TrimSpace(typedValue(f))
		if v == "" {
			continue
		}
		v = strings.Trim(v, "<> ")
		if strings.HasPrefix(v, "@") {
			if i := strings.IndexByte(v, ':'); i > 0 {
				v = v[i+1:]
			}
		}
		a := cleanAddr(v)
		if plainAddress(a) {
			return a
		}
		if loose == "" {
			if found := firstAddr(v); found != "" {
				loose = found
			}
		}
	}
	if loose != "" {
		return loose
	}
	for _, f := range fields {
		if v := cleanAddr(typedValue(f)); v != "" {
			return v
		}
	}
	return ""
}

// plainAddress reports local@domain.tld with nothing else around it.
func plainAddress(a string) bool {
	i := strings.LastIndexByte(a, '@')
	if i <= 0 || i == len(a)-1 || strings.ContainsAny(a, " \t/|,;<>") {
		return false
	}
	return strings.Contains(a[i+1:], ".")
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

// genericComment: a Status comment that only restates the class.
func genericComment(c string) bool {
	switch strings.ToLower(c) {
	case "permanent failure", "temporary failure", "delivery failed", "failed", "other or undefined status":
		return true
	}
	return false
}

// statusOf is the enhanced status code of a reply: the one right after the
// reply code ("550-'5.7.1 ...", "550 5.7.1 ...") when there is one, else the
// first in the text.
func statusOf(s string) string {
	if rc := findReplyCode(s); rc != "" {
		if i := strings.Index(s, rc); i >= 0 {
			rest := strings.TrimLeft(s[i+3:], " -'\"")
			if st := findStatus(rest); st != "" && strings.HasPrefix(rest, st) {
				return st
			}
		}
	}
	return findStatus(s)
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
