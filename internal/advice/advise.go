package advice

import (
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// ProviderMicrosoft365 is the provider variant used in texts.yaml for
// Microsoft 365 / Exchange Online tenants. The bounce package reports them as
// bounce.ProviderMicrosoft, like the consumer service; the two differ in
// filters and delisting channels, so advice takes the variant from
// bounce.Recipient.ProviderVariant (by the remote MTA and the recipient
// domain).
const ProviderMicrosoft365 = bounce.ProviderMicrosoft365

// maxURL bounds the length of a URL taken from a bounce.
const maxURL = 2048

// maxDiagnostic bounds the receiver's words shown among the facts.
const maxDiagnostic = 300

// ForRecipient explains one recipient's outcome in rep. rep may be nil. An
// unknown lang falls back to Japanese.
func ForRecipient(rep *bounce.Report, rc bounce.Recipient, lang Lang, opts ...Option) Advice {
	if rep == nil {
		rep = &bounce.Report{}
	}
	o := makeOptions(opts)
	c := loadCatalog()
	lt := c.lang(lang)
	lang = normLang(lang)
	variant := rc.ProviderVariant()
	vals := values(rep, rc)
	vals["provider_name"] = providerName(c, lt, variant, vals["domain"], lang)
	vals["hosting"] = o.hostingName
	st := DeliveryOf(rep, rc)
	a := build(c, lt, lang, rc, variant, vals, st, o)
	vals["state"] = lt.Layout["state_"+string(st)]
	vals["headline"] = a.Headline
	a.Title = a.Headline
	a.Headline = fill(lt.Layout["recipient_headline"], vals, lt.Placeholders)
	if !o.noFacts {
		a.Facts = facts(lt, rep, rc, variant, vals, true)
	}
	return a
}

func makeOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// ForGroup explains a group of bounces with one cause. At most maxRecipients
// addresses are listed (all when maxRecipients <= 0); More counts the rest.
// Times are shown in the location they carry.
func ForGroup(g Group, lang Lang, maxRecipients int, opts ...Option) GroupAdvice {
	rep := g.Report
	if rep == nil {
		rep = &bounce.Report{}
	}
	o := makeOptions(opts)
	c := loadCatalog()
	lt := c.lang(lang)
	lang = normLang(lang)
	rc := g.Recipient
	variant := rc.ProviderVariant()

	// Unique addresses, oldest first.
	var addrs []string
	seen := map[string]bool{}
	for _, m := range g.Members {
		k := strings.ToLower(m.Address)
		if m.Address == "" || seen[k] {
			continue
		}
		seen[k] = true
		addrs = append(addrs, m.Address)
	}
	shown := addrs
	if maxRecipients > 0 && len(shown) > maxRecipients {
		shown = shown[:maxRecipients]
	}
	more := len(addrs) - len(shown)
	if g.Count > len(g.Members) {
		more += g.Count - len(g.Members)
	}
	count := g.Count
	if count < len(g.Members) {
		count = len(g.Members)
	}

	vals := values(rep, rc)
	// The texts speak of the group, not of one address.
	vals["recipient"] = ""
	if d := commonDomain(g.Members); d != "" {
		vals["domain"] = d
	} else if len(g.Members) > 1 {
		vals["domain"] = ""
	}
	vals["provider_name"] = providerName(c, lt, variant, vals["domain"], lang)
	vals["hosting"] = o.hostingName
	st := DeliveryOf(rep, rc)
	a := build(c, lt, lang, rc, variant, vals, st, o)

	hv := map[string]string{
		"state":         lt.Layout["state_"+string(st)],
		"headline":      a.Headline,
		"provider_name": vals["provider_name"],
		"count":         strconv.Itoa(count),
		"period":        period(lt, g.First, g.Last),
	}
	if variant == bounce.ProviderOther {
		// A domain or nothing: never the generic 相手のメールサービス.
		hv["provider_name"] = vals["domain"]
	}
	a.Title = a.Headline
	a.Headline = fill(lt.Layout["group_headline"], hv, lt.Placeholders)

	a.Facts = facts(lt, rep, rc, variant, vals, false)
	a.Facts = append(a.Facts, Fact{Label: lt.Facts["count"], Value: strconv.Itoa(count)})
	if p := hv["period"]; p != "" {
		a.Facts = append(a.Facts, Fact{Label: lt.Facts["period"], Value: p})
	}
	return GroupAdvice{Advice: a, Recipients: shown, More: more}
}

func normLang(l Lang) Lang {
	if l == English {
		return English
	}
	return Japanese
}

// build fills the explanation, outlook, actions and links of the matching
// entry for delivery state st. Actions that do not apply in st are left out.
func build(c *catalog, lt *langTexts, lang Lang, rc bounce.Recipient, variant string, vals map[string]string, st Delivery, o options) Advice {
	prc := rc
	if st == DeliveryDelivered {
		switch rc.Reason {
		case bounce.ReasonDelivered, bounce.ReasonVacation, bounce.ReasonFeedback:
		default:
			// A success report explains the delivery, whatever reason a
			// parser attached to it.
			prc.Reason = bounce.ReasonDelivered
		}
	}
	t := pick(c, prc, variant).text(lang)
	f := func(s string) string {
		out := fill(s, vals, lt.Placeholders)
		if lang == English {
			// A sentence may begin with a placeholder such as
			// "the recipient's mail service".
			out = upperFirst(out)
		}
		return out
	}
	a := Advice{
		Lang:        lang,
		Headline:    f(t.Headline),
		Delivery:    st,
		Explanation: f(t.Explanation),
		Retrying:    st == DeliveryRetrying,
	}
	general := maps.Clone(vals)
	for _, k := range []string{"recipient", "domain", "provider_name", "remote_mta"} {
		delete(general, k)
	}
	if a.General = fill(t.Explanation, general, lt.Placeholders); lang == English {
		a.General = upperFirst(a.General)
	}
	if s := t.Outlook.get(st); s != "" {
		a.Outlook = f(s)
	} else {
		a.Outlook = f(lt.Outlook.get(st))
	}
	usesHosting := false
	acts := t.Actions
	if !anyApplies(acts, st) {
		acts = lt.FallbackActions[st]
	}
	for _, at := range acts {
		if !at.appliesIn(st) {
			continue
		}
		if strings.Contains(at.Text, "{hosting") {
			usesHosting = true
		}
		text := f(at.Text)
		short := f(at.Short)
		if short == "" {
			short = shorten(text, ShortMax)
		}
		label := lt.Actors[at.Actor]
		if at.Actor == ActorHosting && o.hostingName != "" {
			label = o.hostingName // the office's own hosting company, by name
		}
		a.Actions = append(a.Actions, Action{Actor: at.Actor, Label: label, Text: text, Short: short, Topic: at.Topic})
	}
	if t.BounceLink != nil {
		if u := urlIn(rc.Diagnostic, t.BounceLink.Hosts); u != "" {
			a.Links = append(a.Links, Link{Title: f(t.BounceLink.Title), URL: u})
		}
	}
	for _, l := range t.Links {
		if len(a.Links) > 0 && sameURL(a.Links[0].URL, l.URL) {
			continue
		}
		a.Links = append(a.Links, Link{Title: f(l.Title), URL: l.URL})
	}
	if usesHosting && o.hostingURL != "" {
		a.Links = append([]Link{{Title: f(lt.Layout["hosting_link"]), URL: o.hostingURL}}, a.Links...)
	}
	a.Summary = truncateWidth(fill(lt.Layout["summary"], map[string]string{
		"state": lt.Layout["state_"+string(st)], "headline": a.Headline}, nil), SummaryMax)
	return a
}

// urlIn is the first http(s) URL in s whose host ends with one of hosts
// ("*" matches any host), as https (links are always https); "" when none.
// The URL is cut at the first character that cannot end one in running
// text (space, quote, bracket, trailing punctuation).
func urlIn(s string, hosts []string) string {
	lower := strings.ToLower(s) // same byte offsets: only ASCII letters change case here
	if len(lower) != len(s) {
		lower = asciiLower(s)
	}
	for off := 0; ; {
		i := strings.Index(lower[off:], "http")
		if i < 0 {
			return ""
		}
		start := off + i
		off = start + len("http")
		if !strings.HasPrefix(lower[start:], "http://") && !strings.HasPrefix(lower[start:], "https://") {
			continue
		}
		rest := s[start:]
		if len(rest) > maxURL {
			rest = rest[:maxURL] // bounds the work per candidate
		}
		end := strings.IndexFunc(rest, func(r rune) bool {
			return r <= ' ' || strings.ContainsRune("\"'<>()[]{}|`", r) || r >= 0x80
		})
		cand := rest
		if end >= 0 {
			cand = rest[:end]
		}
		cand = strings.TrimRight(cand, ".,;:!?")
		u, err := url.Parse(cand)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			continue
		}
		host := strings.ToLower(u.Hostname())
		for _, h := range hosts {
			if h == "*" || host == h || strings.HasSuffix(host, "."+h) {
				u.Scheme = "https"
				u.Host = strings.ToLower(u.Host)
				return u.String()
			}
		}
	}
}

// asciiLower lowercases the ASCII letters of s only, keeping byte offsets.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sameURL reports whether a and b name the same page, up to the scheme and
// a trailing slash.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		return strings.TrimSuffix(s, "/")
	}
	return norm(a) == norm(b)
}

func anyApplies(acts []actionText, st Delivery) bool {
	for _, at := range acts {
		if at.appliesIn(st) {
			return true
		}
	}
	return false
}

// DeliveryOf says where the mail to rc stands, from the recipient's Action
// (RFC 3464 section 2.3.3), its status class and the kind of report. A final
// report with a 4.x.x status (or a 4xx reply) means the server retried until
// its retry period ran out: expired, not delivered.
func DeliveryOf(rep *bounce.Report, rc bounce.Recipient) Delivery {
	if rep == nil {
		rep = &bounce.Report{}
	}
	switch rc.Reason {
	case bounce.ReasonDelivered, bounce.ReasonVacation, bounce.ReasonFeedback:
		// A success report, an auto-reply or a complaint is about a mail
		// that arrived.
		return DeliveryDelivered
	}
	switch strings.ToLower(rc.Action) {
	case bounce.ActionDelayed:
		return DeliveryRetrying
	case bounce.ActionDelivered, bounce.ActionRelayed, bounce.ActionExpanded:
		return DeliveryDelivered
	case "":
		switch rep.Kind {
		case bounce.KindDelay:
			return DeliveryRetrying
		case bounce.KindDelivered, bounce.KindAutoReply, bounce.KindFeedback:
			return DeliveryDelivered
		}
	}
	if rc.Reason == bounce.ReasonExpired {
		return DeliveryExpired
	}
	temporary := strings.HasPrefix(rc.Status, "4.") || (rc.Status == "" && strings.HasPrefix(rc.ReplyCode, "4"))
	permanent := strings.HasPrefix(rc.Status, "5.") || (rc.Status == "" && strings.HasPrefix(rc.ReplyCode, "5"))
	switch {
	case temporary:
		return DeliveryExpired
	case permanent:
		return DeliveryFailed
	case strings.EqualFold(rc.Action, bounce.ActionFailed) || rep.Kind == bounce.KindBounce:
		return DeliveryFailed
	}
	return DeliveryUnknown
}

// shorten is the first sentence of s, cut to n display columns.
func shorten(s string, n int) string {
	for _, stop := range []string{"。", ". "} {
		if i := strings.Index(s, stop); i >= 0 {
			s = s[:i+len(stop)]
			break
		}
	}
	return truncateWidth(strings.TrimSpace(s), n)
}

// truncateWidth cuts s to at most n display columns, ending with … when cut.
func truncateWidth(s string, n int) string {
	if Width(s) <= n {
		return s
	}
	w := 0
	for i, r := range s {
		w += runeWidth(r)
		if w > n-1 { // room for …
			return s[:i] + "…"
		}
	}
	return s
}

// Width is the display width of s in columns: East Asian wide characters
// (kana, kanji, full-width forms) count two, others one.
func Width(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

func runeWidth(r rune) int {
	if r >= 0x1100 && (r <= 0x115f || (r >= 0x2e80 && r <= 0xa4cf) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe4f) || (r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x20000 && r <= 0x3fffd)) {
		return 2
	}
	return 1
}

// pick chooses the entry for rc: the first matching entry of its reason; for
// an undecided reason, the fallback of its status class (x.1 … x.7) or of its
// reply class (4xx, 5xx).
func pick(c *catalog, rc bounce.Recipient, variant string) *entry {
	reason := string(rc.Reason)
	entries, known := c.Reasons[reason]
	if !known || rc.Reason == "" || rc.Reason == bounce.ReasonUndefined || rc.Reason == bounce.ReasonOnHold {
		if e := fallback(c, rc); e != nil {
			return e
		}
		if !known {
			entries = c.Reasons[string(bounce.ReasonUndefined)]
		}
	}
	for _, e := range entries {
		if e.matches(variant, rc.Status, rc.Diagnostic) {
			return e
		}
	}
	// Every reason ends with an unconditional entry (checked by the tests);
	// this is only reached if texts.yaml was broken.
	return c.Reasons[string(bounce.ReasonUndefined)][0]
}

func fallback(c *catalog, rc bounce.Recipient) *entry {
	if parts := strings.Split(rc.Status, "."); len(parts) == 3 && (parts[0] == "4" || parts[0] == "5") {
		if e := c.Fallbacks["x."+parts[1]]; e != nil {
			return e
		}
		return c.Fallbacks[parts[0]+"xx"]
	}
	if len(rc.ReplyCode) == 3 && (rc.ReplyCode[0] == '4' || rc.ReplyCode[0] == '5') {
		return c.Fallbacks[rc.ReplyCode[:1]+"xx"]
	}
	return nil
}

// values are the placeholder values taken from the bounce.
func values(rep *bounce.Report, rc bounce.Recipient) map[string]string {
	code := strings.TrimSpace(rc.ReplyCode + " " + rc.Status)
	return map[string]string{
		"ip":            rep.SendingIP,
		"remote_mta":    rc.RemoteMTA,
		"reporting_mta": rep.ReportingMTA,
		"status":        rc.Status,
		"reply_code":    rc.ReplyCode,
		"code":          code,
		"recipient":     rc.Address,
		"domain":        domainOf(rc.Address),
		"sender_domain": domainOf(rep.Original.From),
	}
}

// facts lists what the bounce says. withRecipient adds the address and the
// subject (a group lists its addresses separately).
func facts(lt *langTexts, rep *bounce.Report, rc bounce.Recipient, variant string, vals map[string]string, withRecipient bool) []Fact {
	var fs []Fact
	add := func(key, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fs = append(fs, Fact{Label: lt.Facts[key], Value: v})
		}
	}
	if withRecipient {
		add("recipient", rc.Address)
	}
	add("ip", rep.SendingIP)
	prov := vals["provider_name"]
	if variant == bounce.ProviderOther || prov == "" {
		prov = lt.Facts["provider_other"]
		if d := vals["domain"]; d != "" {
			prov += " (" + d + ")"
		}
	}
	add("provider", prov)
	add("remote_mta", rc.RemoteMTA)
	switch {
	case rc.Status != "" && rc.ReplyCode != "":
		add("code", rc.Status+" / "+rc.ReplyCode)
	default:
		add("code", rc.Status+rc.ReplyCode)
	}
	add("diagnostic", truncate(rc.Diagnostic, maxDiagnostic))
	add("reporting_mta", rep.ReportingMTA)
	if withRecipient {
		add("subject", rep.Original.Subject)
	}
	return fs
}

// period renders "first〜last"; "" when unknown.
func period(lt *langTexts, first, last time.Time) string {
	const layout = "01/02 15:04"
	switch {
	case first.IsZero() && last.IsZero():
		return ""
	case first.IsZero():
		first = last
	case last.IsZero():
		last = first
	}
	a, b := first.Format(layout), last.Format(layout)
	if a == b {
		return a
	}
	return fill(lt.Layout["period"], map[string]string{"first": a, "last": b}, nil)
}

// providerName is the display name of the recipient's provider; for other
// providers, a phrase naming the recipient's domain ("" when unknown, so
// the texts fall back to a generic wording).
func providerName(c *catalog, lt *langTexts, variant, domain string, lang Lang) string {
	if n := c.Providers[variant].get(lang); n != "" {
		return n
	}
	if domain == "" {
		return ""
	}
	return fill(lt.Layout["other_provider"], map[string]string{"domain": domain}, nil)
}

// commonDomain is the recipients' domain when they all share one.
func commonDomain(ms []Member) string {
	d := ""
	for _, m := range ms {
		md := domainOf(m.Address)
		if md == "" || (d != "" && md != d) {
			return ""
		}
		d = md
	}
	return d
}

// domainOf is the lowercased domain of an address, which may be in
// "Name <local@domain>" form; "" when there is none.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = addr[i+1:]
	}
	addr = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(addr), ">"))
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// ProviderName is the display name of rc's provider in lang (e.g.
// Microsoft(Outlook)), telling Microsoft 365 tenants from Outlook.com; for
// other providers a phrase naming the recipient's domain.
func ProviderName(rc bounce.Recipient, lang Lang) string {
	c := loadCatalog()
	return providerName(c, c.lang(lang), rc.ProviderVariant(), domainOf(rc.Address), lang)
}
