package notify

import (
	"net/url"
	"regexp"
	"strings"
)

// Links in the text of a bounce are the sender's words, not ours: anyone can
// mail the shared mailbox a "bounce" that names a staff member as the sender
// and carries a link, and bouncewatch would pass it on to staff from a
// trusted address. So links in bounce text are shown as plain text
// ("hxxps://login[.]example[.]net/…", which no mail client or Slack turns
// into a link), except those to the few sites whose pages bounces quote to
// explain themselves: the postmaster and sender-help pages of the large
// providers and the blocklists (KB.md sections 2–8.1). A host counts when it
// is one of these or below one of them. Hosts that also serve pages written
// by their users (sites.google.com, onedrive.live.com, …) are not listed:
// only the help and postmaster hosts are.
var knownLinkHosts = []knownHost{
	// Microsoft (KB.md §2, §3): the S3140 text names
	// http://mail.live.com/mail/troubleshooting.aspx; Microsoft 365 NDRs
	// link go.microsoft.com/fwlink and aka.ms.
	{"postmaster.live.com", true}, {"mail.live.com", true}, {"aka.ms", true},
	{"sendersupport.olc.protection.outlook.com", true}, {"sender.office.com", true},
	{"learn.microsoft.com", true}, {"support.microsoft.com", true}, {"go.microsoft.com", true},
	{"techcommunity.microsoft.com", true},
	// Google (§4)
	{"support.google.com", true}, {"postmaster.google.com", true},
	// Yahoo Inc (§5.1) and Yahoo! JAPAN (§5.2: yahoo-help.jp [895])
	{"senders.yahooinc.com", true}, {"postmaster.yahooinc.com", true}, {"yahoo-help.jp", true},
	// Apple (§6)
	{"support.apple.com", true},
	// Blocklists (§8.1). Barracuda's bbl.barracudacentral.com and
	// UCEPROTECT are quoted with http:// and kept as written.
	{"spamhaus.org", true}, {"barracudacentral.org", true}, {"spamcop.net", true}, {"proofpoint.com", true},
	{"csi.cloudmark.com", true}, {"barracudacentral.com", false}, {"uceprotect.net", false},
}

// knownHost is a host whose links stay links, and whether an http:// link
// to it is shown as https:// (the site serves it).
type knownHost struct {
	host  string
	https bool
}

// linkRe finds URLs with a scheme and bare "www." hosts, which mail clients
// also turn into links.
var linkRe = regexp.MustCompile(`(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>"'()\[\]{}、。「」（）]+`)

// PlainLinks rewrites the links of untrusted text so that they are not
// clickable, keeping those to known provider and blocklist sites.
func PlainLinks(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(strings.ToLower(s), "www.") {
		return s
	}
	return linkRe.ReplaceAllStringFunc(s, func(link string) string {
		// A sentence's closing punctuation is not part of the link.
		trimmed := strings.TrimRight(link, ".,;:!?")
		if !linkRe.MatchString(trimmed) {
			trimmed = link
		}
		tail := link[len(trimmed):]
		if k, ok := knownLinkHost(trimmed); ok {
			if k.https && strings.EqualFold(trimmed[:min(len(trimmed), 7)], "http://") {
				return "https://" + trimmed[7:] + tail
			}
			return link
		}
		return defang(trimmed) + tail
	})
}

// knownLink says whether a link goes to one of knownLinkHosts over http(s).
func knownLink(link string) bool {
	_, ok := knownLinkHost(link)
	return ok
}

// knownLinkHost is the entry of knownLinkHosts a link goes to over http(s).
func knownLinkHost(link string) (knownHost, bool) {
	raw := link
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return knownHost{}, false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, k := range knownLinkHosts {
		if host == k.host || strings.HasSuffix(host, "."+k.host) {
			return k, true
		}
	}
	return knownHost{}, false
}

// schemeRe finds the schemes inside a link (a redirect may carry another).
var schemeRe = regexp.MustCompile(`(?i)(?:https?|ftp)://`)

// defang turns a link into plain text: hxxp(s):// and fxp:// for every
// scheme in it and [.] for every dot, so that neither the link nor a host
// inside it ("…?next=www.example.com") is clickable any more.
func defang(link string) string {
	link = schemeRe.ReplaceAllStringFunc(link, func(s string) string {
		l := strings.ToLower(s)
		if strings.HasPrefix(l, "ftp") {
			return "fxp://"
		}
		return "hxxp" + strings.TrimPrefix(strings.TrimSuffix(l, "://"), "http") + "://"
	})
	return strings.ReplaceAll(link, ".", "[.]")
}

// WithPlainLinks returns n with the links of every text taken from bounces
// (the diagnostic, the detail, the facts) made plain text; links of our own
// advice are left alone.
func (n Notice) WithPlainLinks() Notice {
	n.Diagnostic = PlainLinks(n.Diagnostic)
	n.Detail = PlainLinks(n.Detail)
	if len(n.Advice.Facts) > 0 {
		facts := append(n.Advice.Facts[:0:0], n.Advice.Facts...)
		for i := range facts {
			facts[i].Value = PlainLinks(facts[i].Value)
		}
		n.Advice.Facts = facts
	}
	n.Advice.Explanation = PlainLinks(n.Advice.Explanation)
	return n
}
