package demo

import "github.com/bouncewatch/bouncewatch/internal/dnsserver"

// Zones are the DNS records of the demo's world, served by an in-process
// DNS server (package dnsserver) so that the sender checks of the notices
// find something true to report without any network. The office sends as
// example.jp through its hosting company's server 203.0.113.25, and its
// DNS has the faults the 「確認結果」 are meant to show:
//
//   - SPF (RFC 7208): example.jp includes only the hosting company's
//     range 192.0.2.0/25, which lacks 203.0.113.25, ending in ~all: the
//     check finds a softfail.
//   - DMARC (RFC 7489): no _dmarc.example.jp record.
//   - PTR: no reverse name for 203.0.113.25 (Outlook and Gmail expect one).
//   - Spamhaus ZEN: 203.0.113.25 answers 127.0.0.4, a listing on the XBL
//     (an infected machine seen sending from that IP; KB.md §8.1); the other
//     lists, and the DBL for example.jp, answer NXDOMAIN (not listed).
//
// The recipients' Outlook.com domains have an MX under
// olc.protection.outlook.com, the consumer service's suffix (KB.md §2), as
// the bounces' Remote-MTA say, so the MX check does not report them missing.
// Every other name is NXDOMAIN.
func Zones() []string {
	return []string{
		`example.jp. 300 IN TXT "v=spf1 include:_spf.hosting.example.net ~all"`,
		`_spf.hosting.example.net. 300 IN TXT "v=spf1 ip4:192.0.2.0/25 -all"`,
		`example.jp. 300 IN MX 10 mail.example.jp.`,
		`mail.example.jp. 300 IN A 203.0.113.25`,
		`25.113.0.203.zen.spamhaus.org. 300 IN A 127.0.0.4`,
		`25.113.0.203.zen.spamhaus.org. 300 IN TXT "https://check.spamhaus.org/query/ip/203.0.113.25"`,

		`outlook.jp. 300 IN MX 10 outlook-jp.olc.protection.outlook.com.`,
		`outlook.com. 300 IN MX 5 outlook-com.olc.protection.outlook.com.`,
		`hotmail.co.jp. 300 IN MX 10 hotmail-co-jp.olc.protection.outlook.com.`,
		`live.jp. 300 IN MX 10 live-jp.olc.protection.outlook.com.`,
	}
}

// startDNS serves Zones on loopback; Close the server when the demo ends.
func startDNS() (*dnsserver.Server, error) { return dnsserver.Start(Zones()) }
