package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// spf evaluates the SPF policy of domain for ip with the SPF library
// (RFC 7208: include chains, redirects, macros, the 10-lookup limit).
func (c *Checker) spf(ctx context.Context, ip netip.Addr, domain string) Result {
	r := Result{Check: CheckSPF, Subject: domain, Values: []string{ip.String()}}
	res, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), domain, "postmaster@"+domain,
		spf.WithContext(ctx), spf.WithResolver(c.res()))
	r.At = c.now()
	switch res {
	case spf.Pass:
		r.Status, r.Finding, r.Detail = StatusOK, SPFPass, fmt.Sprintf("pass: %s is authorised by the SPF of %s", ip, domain)
	case spf.Fail:
		r.Status, r.Finding, r.Detail = StatusFail, SPFFail, fmt.Sprintf("fail: the SPF of %s does not include %s (-all)", domain, ip)
	case spf.SoftFail:
		r.Status, r.Finding, r.Detail = StatusFail, SPFSoftFail, fmt.Sprintf("softfail: the SPF of %s does not include %s (~all)", domain, ip)
	case spf.Neutral:
		r.Status, r.Finding, r.Detail = StatusWarn, SPFNeutral, fmt.Sprintf("neutral: the SPF of %s neither authorises nor refuses %s (?all)", domain, ip)
	case spf.None:
		r.Status, r.Finding, r.Detail = StatusFail, SPFNone, "none: "+domain+" publishes no SPF record"
	case spf.PermError:
		r.Status, r.Finding, r.Detail = StatusFail, SPFPermError, "permerror: the SPF record of "+domain+" is invalid"
		if err != nil {
			r.Detail += " (" + err.Error() + ")"
		}
	default: // temperror
		f := c.failed(CheckSPF, domain, errOr(err, "temperror"))
		f.Values = r.Values
		return f
	}
	return r
}

func errOr(err error, text string) error {
	if err != nil {
		return err
	}
	return errors.New(text)
}

// dmarc reads the DMARC record of the From domain, falling back to its
// organisational domain (RFC 7489 6.6.3), and checks that the SPF domain or a
// DKIM d= domain aligns with it (6.3 adkim/aspf).
func (c *Checker) dmarc(ctx context.Context, from, mailFrom string, sigs []DKIMRef) Result {
	r := Result{Check: CheckDMARC, Subject: from}
	res := c.res()
	lookup := func(domain string) (*dmarc.Record, error) {
		return dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
			return res.LookupTXT(ctx, name)
		}})
	}
	rec, err := lookup(from)
	org, _ := publicsuffix.EffectiveTLDPlusOne(from)
	if errors.Is(err, dmarc.ErrNoPolicy) && org != "" && !strings.EqualFold(org, from) {
		rec, err = lookup(org)
	}
	r.At = c.now()
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		r.Status, r.Finding, r.Detail = StatusWarn, DMARCMissing, "no DMARC record at _dmarc."+from
		return r
	case dmarc.IsTempFail(err) || ctx.Err() != nil || err != nil && strings.HasPrefix(err.Error(), "dmarc: failed to lookup"):
		return c.failed(CheckDMARC, from, errOr(ctx.Err(), err.Error()))
	case err != nil:
		r.Status, r.Finding, r.Detail = StatusFail, DMARCInvalid, "invalid DMARC record: "+err.Error()
		return r
	}
	policy := string(rec.Policy)
	r.Values = []string{policy}
	var aligned []string
	if mailFrom != "" && alignedWith(from, mailFrom, rec.SPFAlignment == dmarc.AlignmentStrict) {
		aligned = append(aligned, "SPF "+mailFrom)
	}
	for _, s := range sigs {
		if alignedWith(from, s.Domain, rec.DKIMAlignment == dmarc.AlignmentStrict) {
			aligned = append(aligned, "DKIM "+s.Domain)
		}
	}
	if len(aligned) == 0 {
		r.Status, r.Finding = StatusFail, DMARCUnaligned
		r.Detail = fmt.Sprintf("p=%s, but neither the SPF domain nor a DKIM domain aligns with %s", policy, from)
		return r
	}
	r.Status, r.Finding = StatusOK, DMARCPolicy
	r.Detail = fmt.Sprintf("p=%s, aligned: %s", policy, strings.Join(aligned, ", "))
	return r
}

// alignedWith reports DMARC identifier alignment: the same domain (strict),
// or the same organisational domain (relaxed).
func alignedWith(from, other string, strict bool) bool {
	from, other = strings.ToLower(strings.TrimSuffix(from, ".")), strings.ToLower(strings.TrimSuffix(other, "."))
	if from == other {
		return true
	}
	if strict {
		return false
	}
	a, err1 := publicsuffix.EffectiveTLDPlusOne(from)
	b, err2 := publicsuffix.EffectiveTLDPlusOne(other)
	return err1 == nil && err2 == nil && a == b
}

// dkim looks up and parses the key of one signature with the DKIM library.
// The library exposes key lookup only through verification, so a stub
// message signed with (d, s) and a body hash that cannot match is verified:
// the library fetches and parses the key first, and answers a permanent
// failure for a missing, revoked or malformed key, and a plain failure
// ("body hash did not verify") once the key was good.
func (c *Checker) dkim(ctx context.Context, ref DKIMRef) Result {
	name := ref.Selector + "._domainkey." + ref.Domain
	r := Result{Check: CheckDKIM, Subject: name}
	res := c.res()
	opts := &dkim.VerifyOptions{LookupTXT: func(n string) ([]string, error) { return res.LookupTXT(ctx, n) }}
	var err error
	for _, algo := range []string{"rsa-sha256", "ed25519-sha256"} {
		msg := "DKIM-Signature: v=1; a=" + algo + "; c=relaxed/relaxed; d=" + ref.Domain + "; s=" + ref.Selector +
			"; h=from; bh=AAAA; b=AAAA\r\nFrom: <postmaster@" + ref.Domain + ">\r\n\r\n"
		var vs []*dkim.Verification
		vs, err = dkim.VerifyWithOptions(strings.NewReader(msg), opts)
		if err == nil && len(vs) == 1 {
			err = vs[0].Err
		}
		if err == nil || !strings.Contains(err.Error(), "inappropriate key algorithm") {
			break
		}
	}
	r.At = c.now()
	switch {
	case err != nil && dkim.IsTempFail(err) || ctx.Err() != nil:
		return c.failed(CheckDKIM, name, errOr(ctx.Err(), errOr(err, "temporary failure").Error()))
	case err != nil && dkim.IsPermFail(err) && strings.Contains(err.Error(), "no key for signature"):
		r.Status, r.Finding, r.Detail = StatusFail, DKIMNoKey, "no DKIM key at "+name
	case err != nil && dkim.IsPermFail(err) && strings.Contains(err.Error(), "key revoked"):
		r.Status, r.Finding, r.Detail = StatusFail, DKIMRevoked, "the DKIM key at "+name+" is revoked (empty p=)"
	case err != nil && dkim.IsPermFail(err):
		r.Status, r.Finding, r.Detail = StatusFail, DKIMBadKey, "the DKIM key at "+name+" is unusable: "+err.Error()
	default:
		r.Status, r.Finding, r.Detail = StatusOK, DKIMKey, "a DKIM key is published at "+name
	}
	return r
}

// ptr checks forward-confirmed reverse DNS (FCrDNS): a PTR name for the IP
// whose A/AAAA records include the IP again.
func (c *Checker) ptr(ctx context.Context, ip netip.Addr) Result {
	ip = ip.Unmap()
	r := Result{Check: CheckPTR, Subject: ip.String()}
	res := c.res()
	names, err := res.LookupAddr(ctx, ip.String())
	if notFound(err) || err == nil && len(names) == 0 {
		r.Status, r.Finding, r.Detail, r.At = StatusFail, PTRMissing, "no PTR record for "+ip.String(), c.now()
		return r
	}
	if err != nil {
		return c.failed(CheckPTR, ip.String(), err)
	}
	var lastErr error
	for i, n := range names {
		if i >= 5 {
			break
		}
		addrs, err := res.LookupIPAddr(ctx, n)
		if err != nil && !notFound(err) {
			lastErr = err
			continue
		}
		for _, a := range addrs {
			if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
				r.Status, r.Finding, r.Values, r.At = StatusOK, PTRConfirmed, []string{strings.TrimSuffix(n, ".")}, c.now()
				r.Detail = fmt.Sprintf("%s has PTR %s, which resolves back to it", ip, strings.TrimSuffix(n, "."))
				return r
			}
		}
	}
	if lastErr != nil {
		return c.failed(CheckPTR, ip.String(), lastErr)
	}
	for _, n := range names {
		r.Values = append(r.Values, strings.TrimSuffix(n, "."))
	}
	r.Status, r.Finding, r.At = StatusFail, PTRMismatch, c.now()
	r.Detail = fmt.Sprintf("%s has PTR %s, which does not resolve back to it", ip, strings.Join(r.Values, ", "))
	return r
}

// mx names the provider that receives mail for domain, from its MX hosts
// (KB.md section 2: *.mail.protection.outlook.com and *.mx.microsoft are
// Microsoft 365; *.google.com and *.googlemail.com are Google).
func (c *Checker) mx(ctx context.Context, domain string) Result {
	r := Result{Check: CheckMX, Subject: domain}
	mxs, err := c.res().LookupMX(ctx, domain)
	r.At = c.now()
	if notFound(err) || err == nil && len(mxs) == 0 {
		r.Status, r.Finding, r.Detail = StatusWarn, MXMissing, "no MX record for "+domain
		return r
	}
	if err != nil {
		return c.failed(CheckMX, domain, err)
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	host := strings.ToLower(strings.TrimSuffix(mxs[0].Host, "."))
	provider := MXProviderOf(host)
	r.Status, r.Finding = StatusOK, MXProvider
	if provider == "" {
		r.Values = []string{host}
		r.Detail = "MX " + host
	} else {
		r.Values = []string{provider}
		r.Detail = "MX " + host + " (" + provider + ")"
	}
	return r
}

// Providers named from MX hosts.
const (
	ProviderMicrosoft365 = "Microsoft 365"
	ProviderGoogle       = "Google Workspace"
)

// MXProviderOf names the provider of an MX host, or "".
func MXProviderOf(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case strings.HasSuffix(host, ".mail.protection.outlook.com"), strings.HasSuffix(host, ".mx.microsoft"):
		return ProviderMicrosoft365
	case host == "smtp.google.com", strings.HasSuffix(host, ".aspmx.l.google.com"), host == "aspmx.l.google.com",
		strings.HasSuffix(host, ".googlemail.com"):
		return ProviderGoogle
	}
	return ""
}
