// Package dnstest is the in-process DNS server of package dnsserver
// (miekg/dns on 127.0.0.1, UDP and TCP) with the test zones. By default it
// serves two offices and a recipient domain:
//
//   - Bad (example.co.jp, 203.0.113.25): SPF includes the hosting company's
//     range, which lacks the IP (softfail); no DMARC; no PTR; listed on
//     Spamhaus ZEN with 127.0.0.4 (XBL); not on the other lists.
//   - Healthy (healthy.example.com, 198.51.100.25): SPF authorises the IP,
//     DMARC p=reject, PTR mail.healthy.example.com confirmed by its A record,
//     a DKIM key at sel1._domainkey, on no list.
//   - RefusedIP (192.0.2.99): Spamhaus answers 127.255.255.254 (the query
//     came through a public resolver).
//   - M365Domain (partner.example.com): MX at Microsoft 365.
//
// Every other name is NXDOMAIN. All names are RFC 2606/5737 ones (and the
// public blocklist zones the checks ask).
//
// The server is package dnsserver (the demo uses it too); this package adds
// the test zones and closes the server when the test ends.
package dnstest

import (
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/dnsserver"
)

// The offices served.
const (
	BadDomain       = "example.co.jp"
	BadIP           = "203.0.113.25"
	HealthyDomain   = "healthy.example.com"
	HealthyIP       = "198.51.100.25"
	HealthyPTR      = "mail.healthy.example.com"
	HealthySelector = "sel1"
	RefusedIP       = "192.0.2.99"
	M365Domain      = "partner.example.com"
)

// Server is a running DNS server (package dnsserver); the test's cleanup
// closes it.
type Server = dnsserver.Server

// Start starts a server with the default zones and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := dnsserver.Start(Records())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Records are the default zones as zone-file lines.
func Records() []string {
	return []string{
		// The bad office: its SPF includes the hosting company's range only.
		`example.co.jp. 300 IN TXT "v=spf1 include:_spf.hosting.example.net ~all"`,
		`_spf.hosting.example.net. 300 IN TXT "v=spf1 ip4:192.0.2.0/25 -all"`,
		`example.co.jp. 300 IN MX 10 mail.example.co.jp.`,
		`25.113.0.203.zen.spamhaus.org. 300 IN A 127.0.0.4`,
		`25.113.0.203.zen.spamhaus.org. 300 IN TXT "https://check.spamhaus.org/query/ip/203.0.113.25"`,

		// The healthy office.
		`healthy.example.com. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"`,
		`healthy.example.com. 300 IN MX 10 healthy-example-com.mail.protection.outlook.com.`,
		`_dmarc.healthy.example.com. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@healthy.example.com"`,
		`25.100.51.198.in-addr.arpa. 300 IN PTR mail.healthy.example.com.`,
		`mail.healthy.example.com. 300 IN A 198.51.100.25`,
		`sel1._domainkey.healthy.example.com. 300 IN TXT "v=DKIM1; k=ed25519; p=` + ed25519Key() + `"`,

		// Spamhaus refusing a query that came through a public resolver.
		`99.2.0.192.zen.spamhaus.org. 300 IN A 127.255.255.254`,

		// A recipient domain hosted at Microsoft 365.
		`partner.example.com. 300 IN MX 0 partner-example-com.mail.protection.outlook.com.`,
	}
}

// ed25519Key is a public key in DKIM's form (RFC 8463: the raw 32 bytes).
func ed25519Key() string {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "bouncewatch dnstest dkim key...")
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	return base64.StdEncoding.EncodeToString(pub)
}

// Blackhole returns the address of a UDP socket that never answers: a dead
// resolver. It is closed when the test ends.
func Blackhole(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}
