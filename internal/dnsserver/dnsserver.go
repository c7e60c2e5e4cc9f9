// Package dnsserver is a small in-process DNS server (miekg/dns on
// 127.0.0.1, UDP and TCP) that answers from records given as zone-file
// lines. It owns its sockets and the goroutines serving them until Close.
//
// It is what the demo points the sender checks at, so that they find the
// demo office's made-up records without any network, and what the tests
// serve their zones with (package dnstest adds the test zones). It answers
// for every name it holds as if authoritative and with recursion available;
// it does not follow CNAMEs and does not forward anything.
//
// It imports nothing of bouncewatch.
package dnsserver

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Server is a running DNS server. Close stops it.
type Server struct {
	Addr string // host:port on 127.0.0.1, UDP and TCP

	udp, tcp *dns.Server
	mu       sync.Mutex
	rrs      map[string][]dns.RR // by lowercase owner name
	silent   atomic.Bool
	queries  atomic.Int64
}

// Start parses the records (zone-file lines such as
// "example.com. 300 IN TXT \"v=spf1 -all\"") and serves them on a free
// loopback port. It returns once both listeners serve.
func Start(records []string) (*Server, error) {
	s := &Server{rrs: map[string][]dns.RR{}}
	for _, line := range records {
		if err := s.Add(line); err != nil {
			return nil, err
		}
	}
	pc, ln, err := listen()
	if err != nil {
		return nil, fmt.Errorf("dnsserver: %w", err)
	}
	s.Addr = pc.LocalAddr().String()
	started := make(chan struct{}, 2)
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: func() { started <- struct{}{} }}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
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

// Close stops the server and waits for its goroutines to return.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// Add serves one more record, a zone-file line such as
// "example.com. 300 IN TXT \"v=spf1 -all\"".
func (s *Server) Add(line string) error {
	rr, err := dns.NewRR(line)
	if err != nil {
		return fmt.Errorf("dnsserver: record %q: %w", line, err)
	}
	if rr == nil {
		return fmt.Errorf("dnsserver: record %q: empty", line)
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
