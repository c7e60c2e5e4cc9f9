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
// only the help and postmaster hosts are. A known http:// link is shown as
// https://, as the advice's own links are (advice.Link).
var knownLinkHosts = []string{
	// Microsoft (KB.md §2, §3): the S3140 text names
	// http://mail.live.com/mail/troubleshooting.aspx; Microsoft 365 NDRs
	// link go.microsoft.com/fwlink and aka.ms.
	"postmaster.live.com", "mail.live.com", "aka.ms", "sendersupport.olc.protection.outlook.com", "sender.office.com",
	"learn.microsoft.com", "support.microsoft.com", "go.microsoft.com", "techcommunity.microsoft.com",
	// Google (§4)
	"support.google.com", "postmaster.google.com",
	// Yahoo Inc (§5.1) and Yahoo! JAPAN (§5.2: yahoo-help.jp [895])
	"senders.yahooinc.com", "postmaster.yahooinc.com", "yahoo-help.jp",
	// Apple (§6)
	"support.apple.com",
	// Blocklists (§8.1), including Barracuda's bbl.barracudacentral.com
	"spamhaus.org", "barracudacentral.org", "barracudacentral.com", "spamcop.net", "proofpoint.com",
	"csi.cloudmark.com", "uceprotect.net",
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
		if knownLink(trimmed) {
			if strings.EqualFold(trimmed[:min(len(trimmed), 7)], "http://") {
				return "https://" + trimmed[7:] + tail
			}
			return link
		}
		return defang(trimmed) + tail
	})
}

// knownLink says whether a link goes to one of knownLinkHosts over http(s).
func knownLink(link string) bool {
	raw := link
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	for _, k := range knownLinkHosts {
		if host == k || strings.HasSuffix(host, "."+k) {
			return true
		}
	}
	return false
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
