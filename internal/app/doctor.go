package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// DoctorOptions are what `bouncewatch doctor` checks; empty fields take the
// defaults: the domain of the mailbox (IMAP username) and the sending IPs
// of the bounces of the last 30 days (from the database, when it exists).
type DoctorOptions struct {
	Domain    string
	IPs       []string
	Selectors []string // DKIM selectors of Domain to check
	Logger    *slog.Logger
	Now       func() time.Time
}

// DoctorReport is what doctor found.
type DoctorReport struct {
	Domain  string
	IPs     []string
	Results []health.Result
}

// doctorSince is how far back doctor looks for sending IPs by default.
const doctorSince = 30 * 24 * time.Hour

// Doctor checks the office's sender domain and sending IPs. It needs only
// the DNS settings of cfg (and IMAP_USERNAME and DB for the defaults); it
// never writes to a database that does not exist yet.
func Doctor(ctx context.Context, cfg Config, o DoctorOptions) (DoctorReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rep := DoctorReport{Domain: strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o.Domain), "."))}
	if rep.Domain == "" {
		rep.Domain = addrDomain(cfg.IMAPUsername)
	}
	if rep.Domain == "" {
		return rep, errors.New("no domain to check: give --domain or set BOUNCEWATCH_IMAP_USERNAME")
	}
	var ips []netip.Addr
	for _, s := range o.IPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return rep, fmt.Errorf("--ip %q: not an IP address", s)
		}
		ips = append(ips, ip.Unmap())
	}
	var dkim []health.DKIMRef
	for _, s := range o.Selectors {
		dkim = append(dkim, health.DKIMRef{Domain: rep.Domain, Selector: strings.TrimSpace(s)})
	}
	if (len(o.IPs) == 0 || len(dkim) == 0) && cfg.DB != "" {
		if _, err := os.Stat(cfg.DB); err == nil {
			seenIPs, seenDKIM, err := fromStore(ctx, cfg.DB, rep.Domain, o)
			if err != nil {
				return rep, err
			}
			if len(o.IPs) == 0 {
				ips = seenIPs
			}
			if len(dkim) == 0 {
				dkim = seenDKIM
			}
		}
	}
	if strings.EqualFold(cfg.DNSServer, DNSServerOff) {
		cfg.DNSServer = "" // doctor always checks; "off" is for notices
	}
	c, _, noResolver, err := newChecker(cfg, o.Now)
	if err == nil && noResolver != nil {
		err = fmt.Errorf("no DNS resolver (set BOUNCEWATCH_DNS_SERVER): %w", noResolver)
	}
	if err != nil {
		return rep, err
	}
	// The first run checks the domain (DMARC, DKIM, DBL, MX) with the first
	// IP; each further IP only what depends on it.
	first := health.Target{Domain: rep.Domain, DKIM: dkim, RecipientDomain: rep.Domain}
	if len(ips) > 0 {
		first.IP = ips[0]
	}
	rep.Results = c.Run(ctx, first)
	for _, ip := range ips {
		rep.IPs = append(rep.IPs, ip.String())
	}
	for _, ip := range ips[min(1, len(ips)):] {
		rep.Results = append(rep.Results, c.Run(ctx, health.Target{MailFrom: rep.Domain, IP: ip})...)
	}
	return rep, nil
}

// fromStore reads the defaults from the database: the sending IPs of the
// recent bounces, and the DKIM signatures of domain on the originals
// returned in the open incidents' bounces.
func fromStore(ctx context.Context, path, domain string, o DoctorOptions) ([]netip.Addr, []health.DKIMRef, error) {
	db, err := store.Open(ctx, path, o.Logger)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	seen, err := db.RecentSendingIPs(ctx, o.Now().Add(-doctorSince), 5)
	if err != nil {
		return nil, nil, err
	}
	var ips []netip.Addr
	for _, s := range seen {
		if ip, err := netip.ParseAddr(s); err == nil && ip.IsGlobalUnicast() && !ip.IsPrivate() {
			ips = append(ips, ip.Unmap())
		}
	}
	incs, err := db.OpenIncidents(ctx)
	if err != nil {
		return nil, nil, err
	}
	var dkim []health.DKIMRef
	for i, inc := range incs {
		if i >= 20 || len(dkim) >= 3 {
			break
		}
		sel, err := db.RawBouncesOf(ctx, inc.ID, anySender, 1, store.MaxRawBytes)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range sel.Messages {
			dkim = append(dkim, health.DKIMRefs(r.Data, domain)...)
		}
	}
	return ips, dkim, nil
}
