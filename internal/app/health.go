package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/dnsresolver"
	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// DNSServerOff as BOUNCEWATCH_DNS_SERVER turns the sender checks off.
const DNSServerOff = "off"

// checkedReason says whether a reason concerns our own IP or domain: the
// notices of such incidents carry the sender checks.
func checkedReason(r bounce.Reason) bool {
	switch r {
	case bounce.ReasonBlocked, bounce.ReasonBadReputation, bounce.ReasonAuthFailure, bounce.ReasonRequirePTR,
		bounce.ReasonRejected, bounce.ReasonSpeeding, bounce.ReasonTooManyConn:
		return true
	}
	return false
}

// memoFor is how long one set of check results is reused: the Slack post,
// the mail and stdout of one notice share them, and a dead resolver is
// waited for once.
const memoFor = 2 * time.Minute

// senderChecks runs the sender checks for notices, within the deadline.
type senderChecks struct {
	c        *health.Checker
	deadline time.Duration
	server   string
	log      *slog.Logger
	now      func() time.Time

	mu   sync.Mutex
	memo map[string]memoEntry
}

type memoEntry struct {
	s  health.Summary
	at time.Time
}

// newChecker builds the checks' resolver and checker from the configuration;
// nil when they are off. noResolver is set when the system resolver cannot
// be read (no /etc/resolv.conf): not a configuration error.
func newChecker(cfg Config, now func() time.Time) (c *health.Checker, server string, noResolver, err error) {
	if strings.EqualFold(cfg.DNSServer, DNSServerOff) {
		return nil, "", nil, nil
	}
	lists, err := health.ParseLists(cfg.DNSBL)
	if err != nil {
		// The zones may hold a DQS key: the error names the bad zone only.
		return nil, "", nil, fmt.Errorf("BOUNCEWATCH_DNSBL: %w", err)
	}
	r, err := dnsresolver.New(cfg.DNSServer, now)
	if err != nil && cfg.DNSServer == "" {
		return nil, "", err, nil
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("BOUNCEWATCH_DNS_SERVER: %w", err)
	}
	timeout := cfg.DNSTimeout
	if timeout <= 0 {
		timeout = health.DefaultTimeout
	}
	return &health.Checker{Resolver: r, Now: now, Timeout: timeout, Lists: lists}, strings.Join(r.Servers(), ","), nil, nil
}

// buildChecks sets up the sender checks. Without a system resolver they
// are off, with one log line: notices go out without them.
func (a *App) buildChecks() error {
	c, server, noResolver, err := newChecker(a.cfg, a.opts.Now)
	if err != nil {
		return err
	}
	if noResolver != nil {
		a.log.Warn("sender checks are off: no DNS resolver (set BOUNCEWATCH_DNS_SERVER)", "err", noResolver)
		return nil
	}
	if c == nil {
		return nil
	}
	a.checks = &senderChecks{c: c, deadline: c.Timeout, server: server, log: a.log.With("component", "checks"),
		now: a.opts.Now, memo: map[string]memoEntry{}}
	return nil
}

// checksFunc is App.withChecks as the senders hold it.
type checksFunc func(ctx context.Context, det *store.Detail, n *notify.Notice)

// withChecks adds the sender checks to the notice of an incident that
// concerns our IP or domain. It returns within the deadline whatever DNS
// does; a failure leaves the notice as it was, with one log line.
func (a *App) withChecks(ctx context.Context, det *store.Detail, n *notify.Notice) {
	if a.checks == nil || !checkedReason(det.Reason) || n.Kind == notify.KindResolved {
		return
	}
	t := a.checkTarget(ctx, det)
	if !t.IP.IsValid() && t.Domain == "" {
		return
	}
	s := a.checks.run(ctx, det.ID, t)
	if len(s.Lines) == 0 {
		return
	}
	s = s.ForHosting(a.cfg.HostingName) // as the advice names it (AdviceOptions)
	n.Checks = &s
	if s.Clear {
		n.Advice.Actions = withoutAuthChecks(n.Advice.Actions)
	}
}

// checkTarget is what the checks look at for an incident: its sending IP
// (when public), the domain of the original sender (else the mailbox's),
// the envelope sender's domain for SPF (X-Postfix-Sender or the returned
// Return-Path, else the sender domain), DKIM signatures of that domain on
// a returned original, the recipient domain (for its MX) and the
// blocklists the bounce names.
func (a *App) checkTarget(ctx context.Context, det *store.Detail) health.Target {
	var t health.Target
	if ip, err := netip.ParseAddr(det.Key.SendingIP); err == nil && ip.IsGlobalUnicast() && !ip.IsPrivate() {
		t.IP = ip.Unmap()
	}
	var rc bounce.Recipient
	for i := len(det.Members) - 1; i >= 0; i-- {
		m := det.Members[i]
		if m.Report == nil {
			continue
		}
		if t.Domain == "" {
			t.Domain = addrDomain(m.Report.Original.From)
		}
		if rc.Address == "" {
			rc = m.Recipient
		}
	}
	t.MailFromSource = health.SPFSourceFrom
	if t.Domain == "" {
		t.Domain = addrDomain(a.cfg.IMAPUsername)
		t.MailFromSource = health.SPFSourceMailbox
	}
	if rc.Address != "" {
		switch rc.Provider {
		case bounce.ProviderMicrosoft, bounce.ProviderGoogle, bounce.ProviderOther, "":
			t.RecipientDomain = addrDomain(rc.Address)
		}
		t.ExtraLists = health.ListsNamed(rc.Diagnostic)
	}
	if sel, err := a.db.RawBouncesOf(ctx, det.ID, anySender, 1, store.MaxRawBytes); err == nil && len(sel.Messages) > 0 {
		t.DKIM = health.DKIMRefs(sel.Messages[0].Data, t.Domain)
		// SPF is checked for the envelope sender when the bounce shows
		// it (RFC 7208 2.4), else for the From domain.
		if d := health.EnvelopeSenderDomain(sel.Messages[0].Data); d != "" {
			t.MailFrom, t.MailFromSource = d, health.SPFSourceEnvelope
		}
	}
	return t
}

// anySender selects the bounces of anyone's mail.
func anySender(string) bool { return true }

func addrDomain(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.Trim(addr[at+1:], "<> ."))
}

// run runs the checks of t within the deadline, or reuses recent results.
func (s *senderChecks) run(ctx context.Context, incident int64, t health.Target) health.Summary {
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%v|%v", t.IP, t.Domain, t.MailFrom, t.MailFromSource, t.RecipientDomain, t.DKIM, t.ExtraLists)
	now := s.now()
	s.mu.Lock()
	for k, e := range s.memo {
		if now.Sub(e.at) > memoFor {
			delete(s.memo, k)
		}
	}
	e, ok := s.memo[key]
	s.mu.Unlock()
	if ok {
		return e.s
	}
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()
	rs := s.c.Run(ctx, t)
	sum := health.Summarize(rs)
	var unanswered []string
	for _, r := range rs {
		if r.Finding == health.LookupFailed {
			name := string(r.Check)
			if r.List != "" {
				name += ":" + r.List
			}
			unanswered = append(unanswered, name)
		}
	}
	if len(unanswered) > 0 {
		s.log.Warn("sender checks incomplete: DNS did not answer within the deadline; the notice says which checks could not be done",
			"incident", incident, "dns_server", s.server, "deadline", s.deadline, "unanswered", strings.Join(unanswered, ","))
	} else {
		s.log.Debug("sender checks", "incident", incident, "ip", t.IP, "domain", t.Domain, "clear", sum.Clear)
	}
	s.mu.Lock()
	s.memo[key] = memoEntry{s: sum, at: now}
	s.mu.Unlock()
	return sum
}

// withoutAuthChecks drops the advice's actions that ask the office to check
// its SPF, DKIM and DMARC (topic auth-check in texts.yaml), once the checks
// found them in order (the notice says so instead).
func withoutAuthChecks(as []advice.Action) []advice.Action {
	var out []advice.Action
	for _, a := range as {
		if a.Topic == advice.TopicAuthCheck {
			continue
		}
		out = append(out, a)
	}
	return out
}

// checksText renders the 「確認結果」 section for the stdout text notice;
// "" without checks.
func checksText(n notify.Notice) string {
	if n.Checks == nil {
		return ""
	}
	return "\n" + health.Heading + ":\n" + strings.Join(n.Checks.TextLines(notify.JST()), "\n") + "\n"
}
