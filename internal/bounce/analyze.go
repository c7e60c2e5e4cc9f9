package bounce

import (
	"fmt"
	"strings"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits bound the work Analyze does on one message.
type Limits struct {
	MaxBytes int // bytes of the message that are read at all (default 32 MiB)
	MaxParts int // MIME parts walked (default 1000)
	MaxDepth int // MIME nesting depth followed (default 20)
}

// DefaultLimits are used by Analyze.
var DefaultLimits = Limits{MaxBytes: 32 << 20, MaxParts: 1000, MaxDepth: 20}

// maxScan bounds the human-readable text the classifier reads per message:
// bounce explanations are short, a huge text part is a returned attachment.
const maxScan = 256 << 10

// Analyze parses and classifies one raw message. It never panics and always
// returns a Report; a message that cannot be parsed has Kind KindNone and a
// non-empty Error.
func Analyze(raw []byte) *Report {
	return AnalyzeWithLimits(raw, DefaultLimits)
}

// AnalyzeWithLimits is Analyze with explicit limits.
func AnalyzeWithLimits(raw []byte, lim Limits) (rep *Report) {
	defer func() {
		if v := recover(); v != nil {
			rep = &Report{Kind: KindNone, Recipients: []Recipient{}, Error: fmt.Sprintf("internal error: %v", v)}
		}
	}()
	if lim.MaxBytes <= 0 {
		lim = DefaultLimits
	}
	rep = &Report{Kind: KindNone, Recipients: []Recipient{}}
	if len(raw) == 0 {
		rep.Error = "empty message"
		return rep
	}
	if len(raw) > lim.MaxBytes {
		raw = raw[:lim.MaxBytes]
	}
	raw = normalize(raw)
	analyzeInto(rep, raw, lim, 0)
	return rep
}

// maxNested bounds how deep a report wrapped in a report is followed.
const maxNested = 2

func analyzeInto(rep *Report, raw []byte, lim Limits, depth int) {
	p, werr := walk(raw, lim)
	a := &analysis{p: p, rep: rep, depth: depth, lim: lim}
	a.run()
	if werr != nil && rep.Kind == KindNone && len(rep.Recipients) == 0 {
		rep.Error = werr.Error()
	}
}

type analysis struct {
	p     *parts
	rep   *Report
	depth int
	lim   Limits
	tf    textFacts // computed on first use

	from    string   // bounce's From address, lowercase
	fromRaw string   // bounce's From as written, lowercase
	to      string   // bounce's To address
	subject string   // bounce's Subject, lowercase
	text    string   // human-readable text of the bounce, before the returned message
	low     string   // text, lowercased (lowerASCII)
	tail    string   // text after the returned-message marker
	lines   []string // text split into lines, computed on first use

	glob     string // globalDiag of the text, once globDone
	globDone bool

	textCapped bool // textRecipients found more than maxRecipients addresses

	preamble, preambleDone bool // mtaPreamble's answer, once computed
}

// textLines returns the text split at "\n", splitting once per message.
func (a *analysis) textLines() []string {
	if a.lines == nil {
		a.lines = strings.Split(a.text, "\n")
	}
	return a.lines
}

func (a *analysis) run() {
	h := a.p.header
	a.headerFacts()
	a.buildText()

	switch {
	case a.p.reportTyp == "feedback-report" || a.p.feedback != "":
		a.feedback()
		return
	case a.readReceipt():
		return
	case a.nonARFComplaint():
		return
	}
	if a.forwardedByHuman() {
		return
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Apple-Unsubscribe")), "true") {
		// Apple Mail's one-click unsubscribe: a complaint-like opt-out.
		a.rep.Kind = KindFeedback
		a.rep.FeedbackType = "opt-out"
		a.rep.Recipients = []Recipient{{Address: a.from, Reason: ReasonFeedback, Provider: ProviderOf(a.from, "", ""), Diagnostic: "opt-out"}}
		return
	}

	var rcpts []Recipient
	if len(a.p.status) > 0 {
		rcpts = a.fromDSN()
	}
	if len(rcpts) == 0 {
		if r, ok := a.fromSES(); ok {
			if a.rep.Kind == KindFeedback {
				return
			}
			rcpts = r
		}
	}
	if len(rcpts) == 0 && a.inlineDSN() {
		rcpts = a.fromDSNText(a.text)
	}
	if len(rcpts) == 0 {
		if a.isAutoReply() {
			a.rep.Kind = KindAutoReply
			a.rep.Recipients = []Recipient{{Address: a.from, Action: "", Reason: ReasonVacation, Provider: ProviderOf(a.from, "", "")}}
			return
		}
		if r := a.fromFML(); r != nil {
			rcpts = r
		} else if !a.looksLikeBounce() {
			return
		} else {
			rcpts = a.fromText()
		}
	}
	if a.nestedReport(rcpts) {
		return
	}
	if len(rcpts) == 0 {
		return
	}
	a.finish(rcpts, h)
}

// headerFacts fills the report's own header facts.
func (a *analysis) headerFacts() {
	h := mailHeader(a.p.header)
	a.rep.Subject, _ = h.Subject()
	if a.rep.Subject == "" {
		a.rep.Subject = h.Get("Subject")
	}
	a.subject = lowerASCII(a.rep.Subject)
	a.fromRaw = lowerASCII(h.Get("From"))
	a.from = headerAddr(h, "From")
	a.rep.From = a.from
	a.to = headerAddr(h, "To")
	if v := h.Get("Date"); v != "" { // as h.Date(), faster
		if d, err := parseMailDate(v); err == nil {
			a.rep.Date = d
		}
	}
	a.rep.MessageID = strings.Trim(h.Get("Message-Id"), "<> ")
}

// headerAddr returns the first address of header field key, cleaned: as
// parsed by go-message when it can, else the first address-like word.
func headerAddr(h gomail.Header, key string) string {
	v := h.Get(key)
	if addr, ok := simpleAddress(v); ok {
		return cleanAddr(addr) // what h.AddressList(key) gives, without its cost
	}
	if list, err := h.AddressList(key); err == nil && len(list) > 0 {
		return cleanAddr(list[0].Address)
	}
	return firstAddr(v)
}

// simpleAddress returns the address of a header value that is one plain
// ASCII address, bare or in angle brackets ("a.b@example.com",
// " <a@example.com> "), which net/mail (and so go-message's AddressList)
// returns unchanged as the only address of the list; ok is false for any
// other value, which is left to the full parser.
func simpleAddress(v string) (addr string, ok bool) {
	s := strings.Trim(v, " \t")
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || !dotAtom(s[:at]) || !dotAtom(s[at+1:]) {
		return "", false
	}
	return s, true
}

// dotAtom reports whether s is a non-empty RFC 5322 dot-atom of ASCII
// characters: atext runs separated by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || strings.IndexByte("()<>[]:;@\\,\"", c) >= 0 {
			return false
		}
	}
	return true
}

func mailHeader(h textproto.Header) gomail.Header {
	return gomail.Header{Header: messageHeader(h)}
}

// buildText joins the readable parts and splits off an inline returned message.
func (a *analysis) buildText() {
	var b strings.Builder
	for _, t := range a.p.texts {
		if b.Len() > maxScan {
			break
		}
		b.WriteString(t)
		b.WriteString("\n")
	}
	if strings.TrimSpace(b.String()) == "" {
		for _, t := range a.p.htmls {
			b.WriteString(stripHTML(t))
			b.WriteString("\n")
		}
	}
	text := b.String()
	if len(text) > maxScan {
		text = text[:maxScan]
	}
	a.text, a.tail = splitOriginal(text)
	a.low = lowerASCII(a.text)
	if !a.p.origFound && a.tail != "" {
		if h, ok := origHeader(skipToHeaders(a.tail)); ok {
			a.p.orig = &h
			a.p.origFound = true
		}
	}
}

// feedback reports an ARF complaint (RFC 5965).
func (a *analysis) feedback() {
	a.rep.Kind = KindFeedback
	fb := parseFields(a.p.feedback)
	a.rep.FeedbackType = strings.ToLower(fb.Get("Feedback-Type"))
	a.fillOriginal()
	var addrs []string
	for _, k := range []string{"Original-Rcpt-To", "Removal-Recipient"} {
		for _, v := range fb.Values(k) {
			if ad := firstAddr(v); ad != "" {
				addrs = append(addrs, ad)
			}
		}
	}
	if len(addrs) == 0 && a.rep.Original.To != "" {
		addrs = append(addrs, a.rep.Original.To)
	}
	if len(addrs) == 0 {
		addrs = append(addrs, "")
	}
	ip := strings.TrimSpace(fb.Get("Source-IP"))
	a.rep.SendingIP = ip
	a.rep.ReportingMTA = typedValue(fb.Get("Reporting-MTA"))
	for _, ad := range dedupe(addrs) {
		a.rep.Recipients = append(a.rep.Recipients, Recipient{
			Address: ad, Action: "", Reason: ReasonFeedback, Provider: ProviderOf(ad, "", ""),
			Diagnostic: strings.TrimSpace(a.rep.FeedbackType),
		})
	}
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0]
	for _, x := range xs {
		k := strings.ToLower(x)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, x)
	}
	return out
}

// fillOriginal reads the returned message's header.
func (a *analysis) fillOriginal() {
	if a.p.orig == nil {
		return
	}
	h := mailHeader(*a.p.orig)
	o := &a.rep.Original
	o.MessageID = strings.Trim(h.Get("Message-Id"), "<> ")
	o.From = headerAddr(h, "From")
	o.To = headerAddr(h, "To")
	if s, err := h.Subject(); err == nil && s != "" {
		o.Subject = s
	} else {
		o.Subject = h.Get("Subject")
	}
	if d, err := parseMailDate(h.Get("Date")); err == nil {
		o.Date = d
	}
}

// subjectFromText finds the original subject quoted in a report's text
// ("The subject of the message is: ..."), for reports that return no headers.
func (a *analysis) subjectFromText() string {
	low := a.low
	for _, cue := range []string{"the subject of the message is:", "subject of the message:", "original subject:"} {
		if i := strings.Index(low, cue); i >= 0 {
			rest := a.text[i+len(cue):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				rest = rest[:j]
			}
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// finish completes recipients and the report.
func (a *analysis) finish(rcpts []Recipient, h textproto.Header) {
	a.fillOriginal()
	if a.rep.Original.Subject == "" {
		a.rep.Original.Subject = a.subjectFromText()
	}
	rep := a.rep
	failed, delayed, delivered := 0, 0, 0
	for _, r := range rcpts {
		switch r.Action {
		case ActionDelayed:
			delayed++
		case ActionDelivered, ActionRelayed, ActionExpanded:
			delivered++
		default:
			failed++
		}
	}
	switch {
	case failed > 0:
		rep.Kind = KindBounce
	case delayed > 0:
		rep.Kind = KindDelay
	default:
		rep.Kind = KindDelivered
	}
	// Keep only the recipients of the message's kind: a report that confirms
	// one delivery and one failure is about the failure.
	out := rcpts[:0]
	for _, r := range rcpts {
		switch rep.Kind {
		case KindBounce:
			// Failed and still-delayed recipients both matter; confirmations do not.
			if r.Action == ActionDelivered || r.Action == ActionRelayed || r.Action == ActionExpanded {
				continue
			}
		case KindDelay:
			if r.Action != ActionDelayed {
				continue
			}
		}
		out = append(out, r)
	}
	rep.Recipients = out
	if rep.SendingIP == "" {
		for _, r := range rep.Recipients {
			if ip := sendingIP(r.Diagnostic); ip != "" {
				rep.SendingIP = ip
				break
			}
		}
	}
	if rep.SendingIP == "" {
		rep.SendingIP = sendingIPLow(a.low)
	}
	if rep.ReportingMTA == "" {
		rep.ReportingMTA = a.reportingFromText()
	}
}

func (a *analysis) reportingFromText() string {
	low := a.low
	for _, cue := range []string{"this is the mail system at host ", "this is the qmail-send program at ", "generating server: ", "reporting-mta: dns; ", "reporting-mta: dns;", "the following message to <"} {
		if i := strings.Index(low, cue); i >= 0 {
			rest := a.text[i+len(cue):]
			j := 0
			for j < len(rest) && isDomainChar(rest[j]) {
				j++
			}
			host := strings.Trim(strings.ToLower(rest[:j]), ".")
			if strings.Contains(host, ".") {
				return host
			}
		}
	}
	if h := mailHeader(a.p.header); true {
		for _, v := range h.Values("Received") {
			lv := lowerASCII(v)
			if i := strings.Index(lv, " by "); i >= 0 {
				rest := strings.TrimSpace(lv[i+4:])
				j := 0
				for j < len(rest) && isDomainChar(rest[j]) {
					j++
				}
				if host := strings.Trim(rest[:j], "."); strings.Contains(host, ".") {
					return host
				}
			}
			break
		}
	}
	return ""
}

// nestedReport handles a report that carries the real report as its
// attachment (some gateways wrap the DSN they received). It reports whether
// the nested report was used.
func (a *analysis) nestedReport(rcpts []Recipient) bool {
	if a.depth >= maxNested || a.p.origRaw == "" {
		return false
	}
	for _, r := range rcpts {
		if r.Reason != ReasonUndefined && r.Reason != ReasonOnHold {
			return false
		}
	}
	inner := &Report{Kind: KindNone, Recipients: []Recipient{}}
	analyzeInto(inner, []byte(a.p.origRaw), a.lim, a.depth+1)
	if inner.Kind != KindBounce && inner.Kind != KindDelay {
		return false
	}
	*a.rep = *inner
	return true
}
