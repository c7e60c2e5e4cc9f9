// Package dnstest is an in-process DNS server for tests (miekg/dns on
// 127.0.0.1, UDP and TCP). It answers from records given as zone-file lines
// and, by default, serves two offices and a recipient domain:
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
// It imports nothing of bouncewatch.
package dnstest

import (
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
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

// Server is a running DNS server. Close it, or let the test's cleanup do it.
type Server struct {
	Addr string // host:port, UDP and TCP

	udp, tcp *dns.Server
	mu       sync.Mutex
	rrs      map[string][]dns.RR // by lowercase owner name
	silent   atomic.Bool
	queries  atomic.Int64
}

// Start starts a server with the default zones and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{rrs: map[string][]dns.RR{}}
	for _, line := range Records() {
		if err := s.Add(line); err != nil {
			t.Fatal(err)
		}
	}
	pc, ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	t.Cleanup(s.Close)
	return s
}

// listen opens UDP and TCP on one loopback port. The port UDP got may be
// taken for TCP by another process: then it tries another.
func listen() (net.PacketConn, net.Listener, error) {
	var err error
	for range 50 {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, err
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// Add serves one more record, a zone-file line such as
// "example.com. 300 IN TXT \"v=spf1 -all\"".
func (s *Server) Add(line string) error {
	rr, err := dns.NewRR(line)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(rr.Header().Name)
	s.rrs[name] = append(s.rrs[name], rr)
	return nil
}

// Silence makes the server read queries and never answer (a dead resolver),
// or answer again.
func (s *Server) Silence(on bool) { s.silent.Store(on) }

// Queries is the number of queries received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ServeDNS answers from the records: the records of the asked type (CNAME
// not supported), NODATA when the name has others, NXDOMAIN otherwise.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	if s.silent.Load() || len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	s.mu.Lock()
	rrs, ok := s.rrs[strings.ToLower(q.Name)]
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	s.mu.Unlock()
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		soa, _ := dns.NewRR(". 60 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60")
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
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
