package bounce

import (
	"net/mail"
	"strings"
	"time"
)

// dsnFields is one block of "Name: value" fields of a delivery-status body
// (RFC 3464 section 2.1): the first block is per-message, the rest per recipient.
type dsnFields map[string]string

// parseDSN splits a message/delivery-status body into the per-message fields
// and the per-recipient blocks. Field names are lowercased; folded lines are
// joined with "\n" (a folded Diagnostic-Code keeps its SMTP line structure
// for unfoldSMTP); a repeated field keeps its first value. Per-message fields
// not followed by a blank line before the first recipient are still kept
// apart.
func parseDSN(body string) (dsnFields, []dsnFields) {
	var blocks []dsnFields
	cur := dsnFields{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, cur)
		}
		cur = dsnFields{}
		last = ""
	}
	for rest := body; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			// Keep the line break: a folded Diagnostic-Code may carry a
			// multi-line SMTP reply ("550-5.7.1 ...") that unfoldSMTP joins.
			cur[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		i := strings.IndexByte(line, ':')
		// "Final-Recipient : rfc822; ..." (space before the colon, as some
		// gateways write it) is the field all the same.
		if i <= 0 || strings.ContainsAny(strings.TrimRight(line[:i], " \t"), " \t") || strings.TrimSpace(line[:i]) == "" {
			// Some MTAs put a new recipient block right after the previous one
			// without a blank line; anything else is noise.
			last = ""
			continue
		}
		name := dsnFieldName(strings.TrimRight(line[:i], " \t"))
		if _, dup := cur[name]; dup && isRecipientField(name) && cur.isRecipient() {
			flush()
		}
		if isRecipientField(name) && len(cur) > 0 && !cur.isRecipient() && cur.isMessage() {
			flush() // per-message fields ran straight into the first recipient
		}
		if _, dup := cur[name]; !dup {
			cur[name] = strings.TrimSpace(line[i+1:])
		}
		last = name
	}
	flush()
	if len(blocks) == 0 {
		return dsnFields{}, nil
	}
	var msg dsnFields
	var rcpts []dsnFields
	for _, b := range blocks {
		if b.isRecipient() {
			rcpts = append(rcpts, b)
			continue
		}
		if msg == nil {
			msg = b
		} else {
			for k, v := range b {
				if _, ok := msg[k]; !ok {
					msg[k] = v
				}
			}
		}
	}
	if msg == nil {
		msg = dsnFields{}
	}
	return msg, rcpts
}

// dsnFieldNames are the field names of RFC 3464 and common extensions,
// lowercase; dsnFieldName returns these constants rather than lowering
// (and allocating) each name it reads.
var dsnFieldNames = []string{"final-recipient", "original-recipient", "action", "status", "diagnostic-code",
	"remote-mta", "reporting-mta", "arrival-date", "last-attempt-date", "received-from-mta", "original-envelope-id",
	"dsn-gateway", "will-retry-until", "x-actual-recipient", "x-postfix-queue-id", "x-postfix-sender"}

func dsnFieldName(s string) string {
	for _, n := range dsnFieldNames {
		if len(n) == len(s) && strings.EqualFold(n, s) {
			return n
		}
	}
	return strings.ToLower(s)
}

func isRecipientField(name string) bool {
	switch name {
	case "final-recipient", "original-recipient", "action", "status":
		return true
	}
	return false
}

func (f dsnFields) isMessage() bool {
	for _, k := range []string{"reporting-mta", "arrival-date", "received-from-mta", "original-envelope-id", "dsn-gateway", "x-postfix-queue-id", "x-postfix-sender"} {
		if _, ok := f[k]; ok {
			return true
		}
	}
	return false
}

func (f dsnFields) isRecipient() bool {
	_, a := f["final-recipient"]
	_, b := f["original-recipient"]
	_, c := f["action"]
	return a || b || c
}

// typedValue strips the "type;" prefix of a DSN value such as "rfc822; a@b"
// or "dns; mx.example.net".
func typedValue(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 12 && !strings.ContainsAny(v[:i], " @<") {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// parseDate reads an RFC 5322 date as used in Arrival-Date and Date.
func parseDate(s string) (time.Time, error) {
	return parseMailDate(strings.TrimSpace(s))
}

// parseMailDate is mail.ParseDate with a fast path for the usual form
// "Mon, 2 Jan 2006 15:04:05 -0700", optionally followed by comments.
// mail.ParseDate tries its layouts in turn and every failed time.Parse
// allocates an error; for the usual form the first twelve layouts (without
// a day of the week) fail before the one that fits. The fast path repeats
// mail.ParseDate's preparation of the text, and when that text starts with a
// non-digit (so those twelve layouts cannot match) tries the thirteenth
// layout directly; anything else goes to mail.ParseDate. The result is
// always what mail.ParseDate returns.
func parseMailDate(v string) (time.Time, error) {
	if !strings.Contains(v, "\r") {
		s := strings.TrimLeft(v, " \t")
		if ind := strings.IndexAny(s, "+-"); ind > 0 && len(s) >= ind+5 && !isDigit(s[0]) && skipsCFWS(s[ind+5:]) {
			if t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", s[:ind+5]); err == nil {
				return t, nil
			}
		}
	}
	return mail.ParseDate(v)
}

// skipsCFWS reports whether net/mail's date parser accepts s after the zone:
// spaces and well-formed (possibly nested) comments, then anything.
func skipsCFWS(s string) bool {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" || s[0] != '(' {
			return true
		}
		s = s[1:]
		depth := 1
		for s != "" && depth > 0 {
			switch {
			case s[0] == '\\' && len(s) > 1:
				s = s[1:]
			case s[0] == '(':
				depth++
			case s[0] == ')':
				depth--
			}
			s = s[1:]
		}
		if depth > 0 {
			return false
		}
	}
}

// dsnMessage is a message/delivery-status body as a typed model (RFC 3464
// section 2): the per-message fields and one record per recipient. The raw
// fields stay beside the parsed ones.
type dsnMessage struct {
	ReportingMTA string    // section 2.2.2, the name without its type, lowercase
	ArrivalDate  time.Time // section 2.2.5; zero when absent or unreadable
	Fields       dsnFields // every per-message field, names lowercased
	Recipients   []dsnRecipient
}

// dsnRecipient is one per-recipient block (RFC 3464 section 2.3).
type dsnRecipient struct {
	FinalRecipient    string // section 2.3.2, as written ("rfc822; a@b")
	OriginalRecipient string // section 2.3.1, as written
	ActualRecipient   string // X-Actual-Recipient (sendmail, Exim), as written
	Action            string // section 2.3.3: the first word, lowercase
	Status            string // section 2.3.4: the code, e.g. 5.1.1; "" when none is readable
	StatusComment     string // the comment after the code, "(mailbox disabled)" without parentheses
	DiagnosticType    string // section 2.3.6: smtp, x-unix, ... lowercase
	Diagnostic        string // section 2.3.6: the text after the type; folded lines joined with "\n"
	RemoteMTA         string // section 2.3.5: the host name without type or brackets, lowercase
	Fields            dsnFields
}

// readDSN reads a message/delivery-status body into the typed model.
func readDSN(body string) dsnMessage {
	msg, blocks := parseDSN(body)
	m := dsnMessage{ReportingMTA: strings.ToLower(typedValue(msg["reporting-mta"])), Fields: msg}
	if d, err := parseDate(msg["arrival-date"]); err == nil {
		m.ArrivalDate = d
	}
	m.Recipients = make([]dsnRecipient, 0, len(blocks))
	for _, b := range blocks {
		r := dsnRecipient{FinalRecipient: b["final-recipient"], OriginalRecipient: b["original-recipient"],
			ActualRecipient: b["x-actual-recipient"], Status: findStatus(b["status"]),
			Diagnostic: typedValue(b["diagnostic-code"]), Fields: b}
		if f := strings.Fields(strings.ToLower(b["action"])); len(f) > 0 {
			r.Action = strings.TrimRight(f[0], "(;,")
		}
		if i := strings.IndexByte(b["status"], '('); i >= 0 {
			r.StatusComment = strings.Trim(b["status"][i:], "() \n")
		}
		if d := strings.TrimSpace(b["diagnostic-code"]); d != "" {
			if i := strings.IndexByte(d, ';'); i > 0 && i < 12 && !strings.ContainsAny(d[:i], " @<") {
				r.DiagnosticType = strings.ToLower(strings.TrimSpace(d[:i]))
			}
		}
		if f := strings.Fields(strings.ToLower(typedValue(b["remote-mta"]))); len(f) > 0 {
			r.RemoteMTA = strings.Trim(f[0], "[]")
		}
		m.Recipients = append(m.Recipients, r)
	}
	return m
}
