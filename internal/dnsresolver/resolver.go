// Package dnsresolver owns bouncewatch's DNS lookups: it sends queries with
// the miekg/dns client to one configured server (BOUNCEWATCH_DNS_SERVER) or
// to the system's resolvers from /etc/resolv.conf, and caches the answers
// (and "no such name") for their TTL. It implements health.Resolver and
// knows nothing of what the answers mean.
package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Limits of the cache.
const (
	maxEntries  = 10000
	maxTTL      = time.Hour       // no answer is kept longer
	negativeTTL = 5 * time.Minute // "no such name" kept at most this long
)

// Resolver sends DNS queries and caches the answers. It is safe for
// concurrent use. Lookups end when their context does; the client's own
// timeout is a backstop.
type Resolver struct {
	servers []string // host:port, tried in order
	client  *dns.Client
	now     func() time.Time

	mu    sync.Mutex
	cache map[cacheKey]entry
}

type cacheKey struct {
	name  string
	qtype uint16
}

type entry struct {
	rrs     []dns.RR
	rcode   int // dns.RcodeSuccess with no rrs is NODATA
	expires time.Time
}

// New returns a resolver that asks server (host:port), or the nameservers
// of /etc/resolv.conf when server is "". now is the clock of the cache
// (nil: time.Now).
func New(server string, now func() time.Time) (*Resolver, error) {
	return newResolver(server, "/etc/resolv.conf", now)
}

func newResolver(server, resolvConf string, now func() time.Time) (*Resolver, error) {
	if now == nil {
		now = time.Now
	}
	var servers []string
	if server != "" {
		host, port, err := net.SplitHostPort(server)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("dns server %q: want host:port", server)
		}
		servers = []string{server}
	} else {
		cc, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("dns: system resolver: %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("dns: no nameserver in %s", resolvConf)
		}
	}
	return &Resolver{
		servers: servers,
		client:  &dns.Client{Timeout: 5 * time.Second, UDPSize: dns.DefaultMsgSize},
		now:     now,
		cache:   map[cacheKey]entry{},
	}, nil
}

// Servers returns the servers asked, in order.
func (r *Resolver) Servers() []string { return slices.Clone(r.servers) }

// query answers (name, qtype) from the cache or the servers.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name}
	}
	key := cacheKey{fqdn, qtype}
	if e, ok := r.cached(key); ok {
		return e.rrs, rcodeErr(e.rcode, name, "")
	}
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.RecursionDesired = true
	m.SetEdns0(dns.DefaultMsgSize, false)
	var lastErr error
	for _, srv := range r.servers {
		in, _, err := r.client.ExchangeContext(ctx, m, srv)
		if err == nil && in.Truncated {
			tcp := *r.client
			tcp.Net = "tcp"
			in, _, err = tcp.ExchangeContext(ctx, m, srv)
		}
		if err != nil {
			lastErr = netError(ctx, err, name, srv)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch in.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			rrs := answers(in, qtype)
			r.store(key, entry{rrs: rrs, rcode: in.Rcode, expires: r.now().Add(ttl(in, rrs))})
			return rrs, rcodeErr(in.Rcode, name, srv)
		default:
			lastErr = rcodeErr(in.Rcode, name, srv)
		}
	}
	return nil, lastErr
}

func (r *Resolver) cached(k cacheKey) (entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[k]
	if !ok || !r.now().Before(e.expires) {
		return entry{}, false
	}
	return e, true
}

func (r *Resolver) store(k cacheKey, e entry) {
	if !e.expires.After(r.now()) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= maxEntries {
		now := r.now()
		for k, v := range r.cache {
			if !now.Before(v.expires) {
				delete(r.cache, k)
			}
		}
		if len(r.cache) >= maxEntries {
			clear(r.cache)
		}
	}
	r.cache[k] = e
}

// answers returns the records of type qtype in the answer section (a
// recursive server puts the records at the end of any CNAME chain there).
func answers(m *dns.Msg, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out
}

// ttl is how long an answer is kept: the least TTL of its records, or for a
// negative answer the SOA's (RFC 2308), within limits.
func ttl(m *dns.Msg, rrs []dns.RR) time.Duration {
	var t uint32 = uint32(maxTTL / time.Second)
	if len(rrs) == 0 {
		t = uint32(negativeTTL / time.Second)
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				t = min(t, soa.Hdr.Ttl, soa.Minttl)
			}
		}
		return time.Duration(t) * time.Second
	}
	for _, rr := range m.Answer {
		t = min(t, rr.Header().Ttl)
	}
	return time.Duration(t) * time.Second
}

// rcodeErr turns an answer code into the error *net.Resolver would give.
func rcodeErr(rcode int, name, server string) error {
	switch rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNameError:
		return &net.DNSError{Err: "no such host", Name: name, Server: server, IsNotFound: true}
	case dns.RcodeServerFailure:
		return &net.DNSError{Err: "server misbehaving", Name: name, Server: server, IsTemporary: true}
	case dns.RcodeRefused:
		return &net.DNSError{Err: "query refused", Name: name, Server: server}
	}
	return &net.DNSError{Err: "server answered " + dns.RcodeToString[rcode], Name: name, Server: server}
}

func netError(ctx context.Context, err error, name, server string) error {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()
	return &net.DNSError{Err: err.Error(), Name: name, Server: server, IsTimeout: timeout, IsTemporary: true}
}

// notFound is the error of a name with no record of the asked type.
func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// LookupTXT returns the TXT records of name, the strings of each record
// joined (as *net.Resolver does).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	if len(out) == 0 {
		return nil, notFound(name)
	}
	return out, nil
}

// LookupMX returns the MX records of name, by preference.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []*net.MX
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	if len(out) == 0 {
		return nil, notFound(name)
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// LookupIPAddr returns the A and AAAA records of host (asked in parallel).
func (r *Resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IPAddr{{IP: ip}}, nil
	}
	type res struct {
		rrs []dns.RR
		err error
	}
	ch := make(chan res, 2)
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		go func() {
			rrs, err := r.query(ctx, host, t)
			ch <- res{rrs, err}
		}()
	}
	var out []net.IPAddr
	var errs []error
	for range 2 {
		x := <-ch
		if x.err != nil {
			errs = append(errs, x.err)
		}
		for _, rr := range x.rrs {
			switch v := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: v.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: v.AAAA})
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, err := range errs {
		var de *net.DNSError
		if errors.As(err, &de) && !de.IsNotFound {
			return nil, err
		}
	}
	return nil, notFound(host)
}

// LookupAddr returns the PTR names of an IP address.
func (r *Resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, err := r.query(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	if len(out) == 0 {
		return nil, notFound(addr)
	}
	return out, nil
}
