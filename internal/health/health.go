// Package health owns the sender health checks: whether the office's sender
// domain and sending IP meet what receivers check before they accept mail
// (SPF, DMARC, DKIM keys, reverse DNS, DNS blocklists) and which provider
// hosts a recipient domain (MX). It answers each check with ok, warn, fail
// or error, a short detail and the time, and renders the findings in
// Japanese with the actions that follow from them (render.go).
//
// It also reads, from a raw bounce, what the checks need to know of the
// returned mail: the envelope sender's domain for SPF (envelope.go) and
// the DKIM signatures (dkimrefs.go).
//
// The package is pure over what it is given: every DNS answer comes from
// the Resolver passed in, the time from the clock passed in. It does no
// other I/O and keeps no state; caching is the resolver's business.
package health

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver answers the DNS questions the checks ask. Its methods behave like
// those of *net.Resolver: a name that does not exist, or has no record of the
// type, gives a *net.DNSError with IsNotFound set; a timeout or server failure
// a *net.DNSError with IsTimeout or IsTemporary. It is the same interface the
// SPF library takes.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Check names a kind of check, as in doctor's JSON.
type Check string

// The checks.
const (
	CheckSPF   Check = "spf"
	CheckDMARC Check = "dmarc"
	CheckDKIM  Check = "dkim"
	CheckPTR   Check = "ptr"
	CheckDNSBL Check = "dnsbl"
	CheckMX    Check = "mx"
)

// Status is the answer of one check.
type Status string

// Statuses, from good to bad. Error means the check could not be done (the
// resolver did not answer, or a list refused the query): nothing is known.
const (
	StatusOK    Status = "ok"
	StatusWarn  Status = "warn"
	StatusFail  Status = "fail"
	StatusError Status = "error"
)

// Finding says precisely what a check found; the Japanese rendering and the
// actions follow from it.
type Finding string

// Findings.
const (
	SPFPass      Finding = "spf-pass"
	SPFFail      Finding = "spf-fail"     // -all: the IP is not authorised
	SPFSoftFail  Finding = "spf-softfail" // ~all: the IP is not authorised
	SPFNeutral   Finding = "spf-neutral"
	SPFNone      Finding = "spf-none" // no SPF record
	SPFPermError Finding = "spf-permerror"

	DMARCMissing   Finding = "dmarc-missing"
	DMARCPolicy    Finding = "dmarc-policy"    // a record; Values[0] is the policy
	DMARCUnaligned Finding = "dmarc-unaligned" // a record, but neither SPF nor DKIM domain aligns with From
	DMARCInvalid   Finding = "dmarc-invalid"

	DKIMKey     Finding = "dkim-key"
	DKIMNoKey   Finding = "dkim-nokey"
	DKIMBadKey  Finding = "dkim-badkey"
	DKIMRevoked Finding = "dkim-revoked"

	PTRConfirmed Finding = "ptr-ok"        // Values: the names
	PTRMissing   Finding = "ptr-missing"   // no PTR record
	PTRMismatch  Finding = "ptr-mismatch"  // PTR names do not resolve back to the IP; Values: the names
	ListListed   Finding = "dnsbl-listed"  // Values: the sub-lists or return codes
	ListClear    Finding = "dnsbl-clear"   // not listed
	ListRefused  Finding = "dnsbl-refused" // the list refused to answer (public resolver, rate limit)
	MXProvider   Finding = "mx-provider"   // Values[0]: Microsoft 365, Google, or the first MX host
	MXMissing    Finding = "mx-missing"

	LookupFailed Finding = "lookup-failed" // the resolver did not answer in time, or failed
)

// Result is the answer of one check.
type Result struct {
	Check   Check
	List    string // the blocklist's display name, e.g. zen.spamhaus.org (dnsbl only)
	Subject string // what was checked: an IP or a domain
	Status  Status
	Finding Finding
	Values  []string // details of the finding (see Finding)
	Detail  string   // short, for people and logs, in English
	// SPFSource says where the domain checked for SPF came from (spf only).
	SPFSource SPFSource
	At        time.Time
}

// IP is the sending IP a result is about: the IP checked by spf, ptr and
// the IP blocklists; "" for the checks of a domain.
func (r Result) IP() string {
	switch r.Check {
	case CheckSPF:
		if len(r.Values) > 0 {
			return r.Values[0]
		}
	case CheckPTR, CheckDNSBL:
		if ip, err := netip.ParseAddr(r.Subject); err == nil {
			return ip.String()
		}
	}
	return ""
}

// Target is what to check.
type Target struct {
	Domain   string // the sender domain (From); DMARC, DBL
	MailFrom string // the envelope-from domain for SPF; "" means Domain
	// MailFromSource says where the domain checked for SPF (MailFrom, else
	// Domain) came from; the SPF finding says so. SPFSourceGiven ("") for a
	// domain a person gave (doctor).
	MailFromSource SPFSource
	IP             netip.Addr // the sending IP; invalid means IP checks are skipped
	// DKIM are the signatures seen on the returned original (d= and s=);
	// DMARC alignment counts their domains, and each key is looked up.
	DKIM []DKIMRef
	// RecipientDomain is looked up in MX to name its provider; "" skips it.
	RecipientDomain string
	// ExtraLists are blocklist zones a bounce named, checked besides the
	// configured ones.
	ExtraLists []string
}

// DKIMRef is the domain and selector of one DKIM-Signature.
type DKIMRef struct {
	Domain   string
	Selector string
}

// Checker runs the checks. Its zero value is not usable: set Resolver.
type Checker struct {
	Resolver Resolver
	Now      func() time.Time // default time.Now
	// Timeout bounds each lookup (default 2s). All checks run in parallel.
	Timeout time.Duration
	// Lists are the blocklist zones (IP lists and domain lists); default
	// DefaultLists. See ParseLists.
	Lists []List
}

// DefaultTimeout is the deadline of one lookup.
const DefaultTimeout = 2 * time.Second

// Run runs every check that applies to t in parallel and returns the results
// in a stable order: spf, dmarc, dkim, ptr, dnsbl (configured lists first),
// mx. It returns within about Timeout per dependent lookup, and never later
// than ctx allows: a check cut short answers StatusError.
func (c *Checker) Run(ctx context.Context, t Target) []Result {
	var jobs []func(context.Context) []Result
	mailFrom := t.MailFrom
	if mailFrom == "" {
		mailFrom = t.Domain
	}
	if t.IP.IsValid() && mailFrom != "" {
		jobs = append(jobs, func(ctx context.Context) []Result {
			r := c.spf(ctx, t.IP, mailFrom)
			r.SPFSource = t.MailFromSource
			return []Result{r}
		})
	}
	if t.Domain != "" {
		jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.dmarc(ctx, t.Domain, mailFrom, t.DKIM)} })
	}
	for _, ref := range dedupDKIM(t.DKIM) {
		jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.dkim(ctx, ref)} })
	}
	if t.IP.IsValid() {
		jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.ptr(ctx, t.IP)} })
	}
	for _, l := range c.lists(t.ExtraLists) {
		switch {
		case l.Domain && t.Domain != "":
			jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.dnsbl(ctx, l, t.Domain)} })
		case !l.Domain && t.IP.IsValid() && (t.IP.Is4() || t.IP.Is4In6() || l.IPv6):
			jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.dnsbl(ctx, l, t.IP.Unmap().String())} })
		}
	}
	if t.RecipientDomain != "" {
		jobs = append(jobs, func(ctx context.Context) []Result { return []Result{c.mx(ctx, t.RecipientDomain)} })
	}
	out := make([][]Result, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { out[i] = j(ctx) })
	}
	wg.Wait()
	var rs []Result
	for _, r := range out {
		rs = append(rs, r...)
	}
	return rs
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// res is the resolver with the per-lookup deadline applied.
func (c *Checker) res() Resolver { return deadline{r: c.Resolver, d: c.timeout()} }

// deadline gives every lookup its own deadline.
type deadline struct {
	r Resolver
	d time.Duration
}

func (d deadline) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.r.LookupTXT(ctx, name)
}

func (d deadline) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.r.LookupMX(ctx, name)
}

func (d deadline) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.r.LookupIPAddr(ctx, host)
}

func (d deadline) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.d)
	defer cancel()
	return d.r.LookupAddr(ctx, addr)
}

// notFound says whether err means the name or record does not exist.
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// failed is the result of a check whose lookup failed.
func (c *Checker) failed(check Check, subject string, err error) Result {
	detail := "lookup failed: " + err.Error()
	var de *net.DNSError
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) && de.IsTimeout {
		detail = "DNS did not answer in time"
	}
	return Result{Check: check, Subject: subject, Status: StatusError, Finding: LookupFailed, Detail: detail, At: c.now()}
}

func dedupDKIM(refs []DKIMRef) []DKIMRef {
	var out []DKIMRef
	seen := map[DKIMRef]bool{}
	for _, r := range refs {
		r = DKIMRef{Domain: strings.ToLower(strings.TrimSuffix(r.Domain, ".")), Selector: strings.ToLower(r.Selector)}
		if r.Domain == "" || r.Selector == "" || seen[r] || len(out) >= 3 {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out
}

// Unverified reports whether no check could be made at all (every result is
// an error: the resolver did not answer, say). Such a run proves nothing,
// so doctor does not report it as a success.
func Unverified(rs []Result) bool {
	for _, r := range rs {
		if r.Status != StatusError {
			return false
		}
	}
	return len(rs) > 0
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == StatusFail {
			return true
		}
	}
	return false
}
