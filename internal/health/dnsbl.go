package health

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// List is one DNS blocklist zone.
type List struct {
	Zone   string // the zone queried, e.g. zen.spamhaus.org or KEY.zen.dq.spamhaus.net
	Domain bool   // a domain list (queried with the domain, e.g. Spamhaus DBL); else an IP list
	IPv6   bool   // the list answers IPv6 queries (nibble format)
}

// Display is the zone without a Spamhaus DQS key (the key is a secret and
// never shown): KEY.zen.dq.spamhaus.net shows as zen.dq.spamhaus.net.
func (l List) Display() string {
	z := strings.ToLower(l.Zone)
	if strings.HasSuffix(z, ".dq.spamhaus.net") || strings.HasSuffix(z, ".dq.spamhaus.com") {
		if parts := strings.SplitN(z, ".", 2); len(parts) == 2 && strings.Count(parts[1], ".") >= 3 {
			return parts[1]
		}
	}
	return z
}

// Kind says which list family a zone belongs to, for the meaning of its
// return codes and the way off it: zen, dbl, spamcop, barracuda,
// uceprotect, or "" for any other list.
func (l List) Kind() string {
	d := l.Display()
	switch {
	case d == "zen.spamhaus.org" || strings.HasPrefix(d, "zen.dq.spamhaus."):
		return "zen"
	case d == "dbl.spamhaus.org" || strings.HasPrefix(d, "dbl.dq.spamhaus."):
		return "dbl"
	case d == "bl.spamcop.net":
		return "spamcop"
	case d == "b.barracudacentral.org":
		return "barracuda"
	case strings.HasSuffix(d, ".uceprotect.net"):
		return "uceprotect"
	}
	return ""
}

// Name is the list's name for people, e.g. Spamhaus ZEN.
func (l List) Name() string {
	switch l.Kind() {
	case "zen":
		return "Spamhaus ZEN"
	case "dbl":
		return "Spamhaus DBL"
	case "spamcop":
		return "SpamCop"
	case "barracuda":
		return "Barracuda"
	case "uceprotect":
		if strings.HasPrefix(l.Display(), "dnsbl-1.") {
			return "UCEPROTECT レベル1"
		}
		return "UCEPROTECT"
	}
	return l.Display()
}

// DefaultLists are the lists checked when none are configured: Spamhaus ZEN,
// SpamCop, Barracuda and UCEPROTECT level 1 for the IP, Spamhaus DBL for
// the domain (KB.md 8.1, 8.3).
func DefaultLists() []List {
	return []List{
		{Zone: "zen.spamhaus.org", IPv6: true},
		{Zone: "bl.spamcop.net"},
		{Zone: "b.barracudacentral.org"},
		{Zone: "dnsbl-1.uceprotect.net"},
		{Zone: "dbl.spamhaus.org", Domain: true},
	}
}

// ParseLists reads a comma list of zones (BOUNCEWATCH_DNSBL). A zone with a
// "dbl" label is a domain list; Spamhaus ZEN zones (public or DQS) are also
// asked about IPv6 addresses. "" gives DefaultLists.
func ParseLists(s string) ([]List, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultLists(), nil
	}
	var out []List
	for i, z := range strings.Split(s, ",") {
		z = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(z), "."))
		if z == "" {
			continue
		}
		if !zoneRE.MatchString(z) {
			// Not quoted: a zone may hold a Spamhaus DQS key.
			return nil, fmt.Errorf("blocklist zone %d of the list is not a DNS name", i+1)
		}
		l := List{Zone: z}
		for _, label := range strings.Split(z, ".") {
			if label == "dbl" {
				l.Domain = true
			}
		}
		l.IPv6 = l.Kind() == "zen"
		out = append(out, l)
	}
	return out, nil
}

var zoneRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// lists are the configured lists plus those a bounce named, once each (a
// named list of a family already configured, e.g. public ZEN when a DQS ZEN
// zone is set, is not asked again).
func (c *Checker) lists(extra []string) []List {
	ls := c.Lists
	if ls == nil {
		ls = DefaultLists()
	}
	out := append([]List(nil), ls...)
	seen := map[string]bool{}
	for _, l := range out {
		seen[l.Display()] = true
		if k := l.Kind(); k != "" {
			seen["kind:"+k] = true
		}
	}
	for _, z := range extra {
		z = strings.ToLower(strings.TrimSuffix(z, "."))
		l := List{Zone: z, Domain: strings.HasPrefix(z, "dbl.")}
		if !zoneRE.MatchString(z) || seen[l.Display()] || l.Kind() != "" && seen["kind:"+l.Kind()] {
			continue
		}
		seen[l.Display()] = true
		out = append(out, l)
	}
	return out
}

// dnsbl asks one list about an IP or a domain (KB.md 8.3): NXDOMAIN is "not
// listed"; an answer in 127.0.0.0/8 is a listing, read per list; Spamhaus's
// 127.255.255.252/254/255 mean the query was refused (malformed, through a
// public resolver, or too many queries) and are never read as listed or not.
func (c *Checker) dnsbl(ctx context.Context, l List, subject string) Result {
	r := Result{Check: CheckDNSBL, List: l.Display(), Subject: subject}
	name := subject + "." + l.Zone
	if ip, err := netip.ParseAddr(subject); err == nil {
		name = reverse(ip) + "." + l.Zone
	}
	addrs, err := c.res().LookupIPAddr(ctx, name)
	r.At = c.now()
	if notFound(err) || err == nil && len(addrs) == 0 {
		r.Status, r.Finding, r.Detail = StatusOK, ListClear, fmt.Sprintf("%s is not listed on %s", subject, r.List)
		return r
	}
	if err != nil {
		f := c.failed(CheckDNSBL, subject, err)
		f.List = r.List
		// The error names the query, which holds a DQS key: show the zone without it.
		f.Detail = "could not check: " + strings.ReplaceAll(f.Detail, l.Zone, r.List)
		return f
	}
	var codes []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap().Is4() {
			codes = append(codes, ip.Unmap())
		}
	}
	var refused, listed []string
	for _, ip := range codes {
		b := ip.As4()
		switch {
		case b[0] != 127:
			// Not a blocklist answer (a wildcard or a parked zone).
		case b[1] == 255 && b[2] == 255 && b[3] >= 252:
			refused = append(refused, ip.String())
		default:
			listed = append(listed, meaning(l.Kind(), ip))
		}
	}
	switch {
	case len(listed) > 0:
		r.Status, r.Finding, r.Values = StatusFail, ListListed, dedup(listed)
		r.Detail = fmt.Sprintf("%s is listed on %s (%s)", subject, r.List, strings.Join(r.Values, ", "))
	case len(refused) > 0:
		r.Status, r.Finding, r.Values = StatusError, ListRefused, refused
		var why []string
		for _, code := range refused {
			why = append(why, code+": "+refusalReason(code))
		}
		r.Detail = fmt.Sprintf("could not check: %s refused the query (%s); not a listing", r.List, strings.Join(why, ", "))
	default:
		r.Status, r.Finding, r.Detail = StatusOK, ListClear, fmt.Sprintf("%s is not listed on %s (answer outside 127.0.0.0/8 ignored)", subject, r.List)
	}
	return r
}

// Spamhaus's answers that refuse a query (KB.md 8.3; Spamhaus's DNSBL
// usage terms): never a listing, never "not listed".
const (
	RefusedMalformed = "127.255.255.252" // the query was malformed (e.g. a typo in the zone)
	RefusedOpen      = "127.255.255.254" // the query came through a public or open resolver (8.8.8.8, 1.1.1.1 …)
	RefusedVolume    = "127.255.255.255" // too many queries from this resolver
)

// refusalReason says in English why a list refused, by its answer.
func refusalReason(code string) string {
	switch code {
	case RefusedMalformed:
		return "malformed query"
	case RefusedOpen:
		return "query through a public resolver"
	case RefusedVolume:
		return "too many queries from this resolver"
	}
	return "refused"
}

// refusalJapanese says in Japanese why a list refused, by its answer.
func refusalJapanese(code string) string {
	switch code {
	case RefusedMalformed:
		return "問い合わせの形式が正しくありません（BOUNCEWATCH_DNSBL のゾーン名の誤りなど）"
	case RefusedOpen:
		return "公開DNSリゾルバー（8.8.8.8 や 1.1.1.1 など）経由の問い合わせは断られます"
	case RefusedVolume:
		return "このDNSサーバーからの問い合わせが多すぎます"
	}
	return "問い合わせが拒否されました"
}

// refusedJapanese is the reason of a refused result, in Japanese.
func refusedJapanese(r Result) string {
	var why []string
	for _, c := range r.Values {
		why = append(why, refusalJapanese(c))
	}
	if len(why) == 0 {
		why = append(why, refusalJapanese(""))
	}
	return strings.Join(dedup(why), "。")
}

// refusedAction is what the IT person does about a refused query: fix the
// zone (malformed), or ask through another resolver or with a DQS key.
func refusedAction(r Result) Action {
	for _, c := range r.Values {
		if c == RefusedMalformed {
			return Action{Role: RoleIT, Text: "BOUNCEWATCH_DNSBL のゾーン名（Spamhaus DQS のキーを含む）に誤りがないか確認してください。"}
		}
	}
	return Action{Role: RoleIT, Text: "ブロックリストを確実に確認するには、BOUNCEWATCH_DNS_SERVER に自社またはプロバイダのDNSサーバーを指定するか、Spamhaus DQS のキー（条件を満たせば無料）を BOUNCEWATCH_DNSBL に設定してください。"}
}

// meaning names the sub-list a return code stands for, per the list's
// documentation (KB.md 8.1, 8.3): Spamhaus ZEN 127.0.0.2 SBL, .3 CSS,
// .4-.7 XBL, .9 DROP, .10/.11 PBL; DBL 127.0.1.2 spam, .4 phishing,
// .5 malware, .6 botnet C&C, .102-.106 abused legitimate domain. Other
// lists and unknown codes give the code itself.
func meaning(kind string, ip netip.Addr) string {
	b := ip.As4()
	switch kind {
	case "zen":
		if b[1] == 0 && b[2] == 0 {
			switch {
			case b[3] == 2:
				return "SBL"
			case b[3] == 3:
				return "CSS"
			case b[3] >= 4 && b[3] <= 7:
				return "XBL"
			case b[3] == 9:
				return "DROP"
			case b[3] == 10 || b[3] == 11:
				return "PBL"
			}
		}
	case "dbl":
		if b[1] == 0 && b[2] == 1 {
			switch b[3] {
			case 2:
				return "spam"
			case 4:
				return "phish"
			case 5:
				return "malware"
			case 6:
				return "botnet"
			case 102, 103, 104, 105, 106:
				return "abused-legit"
			}
		}
	}
	return ip.String()
}

// reverse writes an IP in DNSBL order: the octets of an IPv4 address
// reversed, or the nibbles of an IPv6 address reversed (RFC 5782 2.1, 2.4).
func reverse(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	b := ip.As16()
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 63)
	for i := len(b) - 1; i >= 0; i-- {
		if len(out) > 0 {
			out = append(out, '.')
		}
		out = append(out, hex[b[i]&0xf], '.', hex[b[i]>>4])
	}
	return string(out)
}

func dedup(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Lists named in a bounce, by the MTAs' documented wordings: Postfix's
// reject_rbl_client "blocked using ZONE", Exim's "is in a black list at
// ZONE", sendmail's dnsbl feature "listed at ZONE" (also "listed on/in/by").
var namedListRE = regexp.MustCompile(`(?i)(?:blocked using|in a black ?list at|listed (?:at|on|in|by))\s+([a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)+)`)

// ListsNamed returns the blocklist zones a bounce's words name, at most 3;
// names of web sites (www.) are skipped.
func ListsNamed(diagnostic string) []string {
	var out []string
	for _, m := range namedListRE.FindAllStringSubmatch(diagnostic, -1) {
		z := strings.ToLower(strings.TrimRight(m[1], ".-"))
		if strings.HasPrefix(z, "www.") || !strings.Contains(z, ".") {
			continue
		}
		out = append(out, z)
		if len(out) == 3 {
			break
		}
	}
	return dedup(out)
}
