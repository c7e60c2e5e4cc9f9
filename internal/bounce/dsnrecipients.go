package bounce

// Recipients of delivery-status parts (RFC 3464): the per-recipient
// fields of the typed DSN model (dsn.go) become found records for recipient.

import "strings"

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

// dsnRecipients reads the recipients of one delivery-status body.
func (a *analysis) dsnRecipients(body string) []Recipient {
	msg := readDSN(body)
	if msg.ReportingMTA != "" && a.rep.ReportingMTA == "" {
		a.rep.ReportingMTA = msg.ReportingMTA
	}
	if a.rep.ArrivalDate.IsZero() {
		a.rep.ArrivalDate = msg.ArrivalDate
	}
	blocks := msg.Recipients
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
		addr := dsnAddress(b.FinalRecipient, b.OriginalRecipient, b.ActualRecipient)
		if !plainAddress(addr) && len(blocks) == 1 && len(textRcpts) == 1 {
			// "Final-Recipient: rfc822; @mx.example.org": the text names the address.
			for _, t := range textRcpts {
				addr = t.addr
			}
		}
		action, status := b.Action, b.Status
		diag := b.Diagnostic
		diagFrom := srcDSN
		// "Status: 5.2.1 (mailbox disabled, not accepting messages)": the
		// comment explains; it stands in for a missing Diagnostic-Code and
		// adds to a present one.
		if c := b.StatusComment; c != "" {
			if diag == "" {
				diag, diagFrom = c, srcComment
			} else if !genericComment(c) {
				diag += " (" + c + ")"
			}
		}
		diag = unfoldSMTP(diag)
		remote := b.RemoteMTA
		t, haveText := textRcpts[strings.ToLower(addr)]
		if !haveText && len(textRcpts) == 1 && len(blocks) == 1 {
			for _, only := range textRcpts {
				t, haveText = only, true
			}
		}
		if b.DiagnosticType == "x-unix" {
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
