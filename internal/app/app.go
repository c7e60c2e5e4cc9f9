package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/logging"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// Options are what an embedder (main, the demo, tests) gives besides the
// configuration.
type Options struct {
	Logger     *slog.Logger
	Stdout     io.Writer        // where the stdout target writes; default os.Stdout
	StdoutText bool             // stdout target writes readable text instead of JSON Lines
	Now        func() time.Time // default Clock.Now
	// Clock gives the loops their time and timers; default the system
	// clock (with Now, when given, as its time).
	Clock      Clock
	HTTPClient *http.Client // for OAuth2 and Slack; default http.DefaultClient
	IMAPTLS    *tls.Config  // overrides BOUNCEWATCH_IMAP_CA_FILE (tests)
	SMTPTLS    *tls.Config  // for the email target (tests)
	// Idle is called (from the sender loop) each time the outbox is empty
	// and the watcher has delivered everything it saw; the demo uses it.
	Idle func()
	// RetryBase is the first delay before a failed notification is retried
	// (doubling up to 10 minutes, jittered); default 5s. Tests shorten it.
	RetryBase time.Duration
}

// App runs bouncewatch. Create it with New, run it with Run.
type App struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	db      *store.DB
	timing  incident.Timing
	targets []string
	watcher *imapwatch.Watcher
	sink    *sink
	senders map[string]sender
	metrics *metrics
	checks  *senderChecks // nil when the sender checks are off

	replies *replies // nil unless email notifications are on

	kickTick chan struct{}
	kickSend chan struct{}
	stdoutMu sync.Mutex
}

// sender delivers one outbox row. It returns a reference to what it made
// (a Slack ts, a Message-ID) and an error classified with the notify package.
type sender interface {
	send(ctx context.Context, item store.OutboxItem, det *store.Detail) (ref string, err error)
}

// New checks the configuration and opens the store. It does no network I/O.
func New(ctx context.Context, cfg Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every line bounded, repeated warnings rate-limited: a hostile mail
	// or a flood of them must not flood the log (main's logger already is).
	if _, ok := opts.Logger.Handler().(*logging.Handler); !ok {
		opts.Logger = slog.New(logging.New(opts.Logger.Handler(), logging.Options{}))
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{now: opts.Now}
	}
	opts.Now = opts.Clock.Now
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	targets, _ := cfg.Targets()
	a := &App{
		cfg:      cfg,
		opts:     opts,
		log:      opts.Logger,
		targets:  targets,
		timing:   incident.Timing{GroupWait: cfg.GroupWait, GroupInterval: cfg.GroupInterval, RepeatInterval: cfg.RepeatInterval, ResolveAfter: cfg.ResolveAfter}.WithDefaults(),
		kickTick: make(chan struct{}, 1),
		kickSend: make(chan struct{}, 1),
		senders:  map[string]sender{},
		metrics:  newMetrics(),
	}
	db, err := store.Open(ctx, cfg.DB, a.log)
	if err != nil {
		return nil, err
	}
	a.db = db
	if a.opts.SMTPTLS == nil && cfg.SMTPCAFile != "" {
		tc, err := tlsWithCA(cfg.SMTPCAFile)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("BOUNCEWATCH_SMTP_CA_FILE: %w", err)
		}
		a.opts.SMTPTLS = tc
	}
	if err := a.buildChecks(); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.buildSenders(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.buildWatcher(); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) buildWatcher() error {
	tlsConf := a.opts.IMAPTLS
	if tlsConf == nil && a.cfg.IMAPCAFile != "" {
		tc, err := tlsWithCA(a.cfg.IMAPCAFile)
		if err != nil {
			return fmt.Errorf("BOUNCEWATCH_IMAP_CA_FILE: %w", err)
		}
		tlsConf = tc
	}
	var auth imapwatch.Auth
	switch a.cfg.IMAPAuth {
	case "xoauth2":
		var src imapwatch.TokenSource
		if a.cfg.OAuthProvider == "microsoft" {
			ms := imapwatch.NewMicrosoftTokenSource(a.cfg.OAuthTenant, a.cfg.OAuthClientID, a.cfg.OAuthSecret, a.opts.HTTPClient)
			if a.cfg.OAuthTokenURL != "" {
				ms.TokenURL = a.cfg.OAuthTokenURL
			}
			src = ms
		} else {
			g := imapwatch.NewGoogleTokenSource(a.cfg.OAuthClientID, a.cfg.OAuthSecret, a.cfg.OAuthRefresh, a.opts.HTTPClient)
			if a.cfg.OAuthTokenURL != "" {
				g.TokenURL = a.cfg.OAuthTokenURL
			}
			src = g
		}
		auth = imapwatch.XOAuth2{Source: src}
	default:
		auth = imapwatch.Password(a.cfg.IMAPPassword)
	}
	disp, err := imapwatch.ParseDisposition(a.cfg.IMAPAfter)
	if err != nil {
		return fmt.Errorf("BOUNCEWATCH_IMAP_DISPOSITION: %w", err)
	}
	sk := &sink{
		onParseError: func() { a.metrics.parseErrors.Inc() },
		onTruncated:  func() { a.metrics.truncated.Inc() },
		replies:      a.replies,
		db:           a.db,
		log:          a.log.With("component", "triage"),
		now:          a.opts.Now,
		timing:       a.timing,
		targets:      a.targets,
		maxAge:       a.cfg.MaxAge,
		onCommit: func(res store.CommitResult, reports []*bounce.Report) {
			a.metrics.observeReports(reports)
			a.metrics.unprocessed.Add(float64(len(res.Failed)))
			a.printReports(reports)
			kick(a.kickTick)
			if res.Enqueued > 0 {
				kick(a.kickSend)
			}
		},
	}
	w, err := imapwatch.New(imapwatch.Config{
		Addr:          a.cfg.IMAPAddr,
		TLS:           imapwatch.TLSMode(a.cfg.IMAPTLS),
		TLSConfig:     tlsConf,
		Username:      a.cfg.IMAPUsername,
		Auth:          auth,
		Mailbox:       a.cfg.IMAPMailbox,
		ProbeInterval: a.cfg.IMAPProbe,
		MaxFetchSize:  a.cfg.IMAPMaxFetch,
		Disposition:   disp,
	}, sk, a.log.With("component", "imap"))
	if err != nil {
		return err
	}
	a.watcher = w
	a.sink = sk
	return nil
}

// DB gives access to the store (tests and the demo).
func (a *App) DB() *store.DB { return a.db }

// Watcher gives access to the IMAP watcher's status.
func (a *App) Watcher() *imapwatch.Watcher { return a.watcher }

// Run runs the watcher, the incident clock, the sender and the HTTP
// endpoints until ctx is done, then stops them and closes the store. It
// returns nil on a normal stop (ctx ended), and the first loop's error when
// a loop fails (the others are then stopped).
func (a *App) Run(ctx context.Context) error {
	defer a.db.Close()
	if err := a.prepare(ctx); err != nil {
		return err
	}
	loops := []loop{
		{"imap", a.watcher.Run},
		{"incidents", a.incidentLoop},
		{"housekeeping", a.housekeepingLoop},
		{"sender", a.senderLoop},
	}
	if a.cfg.HTTPAddr != "" {
		loops = append(loops, loop{"http", a.serveHTTP})
	}
	loops = append(loops, a.extraLoops()...)
	return a.runLoops(ctx, loops)
}

// prepare takes over from the previous process before the loops start:
// timing may have changed since the last run, so every open incident is
// re-evaluated; notices the previous process had in flight are retried now,
// not after their lease (it is gone; the senders look before posting
// again); and the incident clock and the sender look at once.
func (a *App) prepare(ctx context.Context) error {
	if err := a.db.RecheckAll(ctx); err != nil {
		return err
	}
	if n, err := a.db.ReleaseLeases(ctx); err != nil {
		return err
	} else if n > 0 {
		a.log.Info("notifications in flight at the last stop are retried", "count", n)
	}
	kick(a.kickTick)
	kick(a.kickSend)
	return nil
}

// runLoops runs the loops until ctx is done (nil: a normal stop) or one of
// them fails: that one's error is returned, named after the loop, once the
// others have stopped (their context is cancelled, which is no failure).
func (a *App) runLoops(ctx context.Context, loops []loop) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range loops {
		g.Go(func() error {
			err := l.run(gctx)
			if err == nil || gctx.Err() != nil && errors.Is(err, context.Canceled) {
				return nil // a normal stop
			}
			a.log.Error("stopped", "component", l.name, "err", err)
			return fmt.Errorf("%s: %w", l.name, err)
		})
	}
	return g.Wait()
}

type loop struct {
	name string
	run  func(context.Context) error
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// incidentLoop evaluates open incidents when a batch was committed and when
// the store says the next decision is due.
func (a *App) incidentLoop(ctx context.Context) error {
	timer := a.opts.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.kickTick:
		case <-timer.C():
		}
		res, err := a.db.Tick(ctx, a.opts.Now(), a.timing, a.targets)
		wait := time.Hour
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err.Error() != lastErr {
				a.log.Error("incident tick", "err", err)
				lastErr = err.Error()
			}
			wait = 5 * time.Second
		} else {
			lastErr = ""
			if res.Enqueued > 0 {
				kick(a.kickSend)
			}
			if !res.NextCheck.IsZero() {
				wait = res.NextCheck.Sub(a.opts.Now())
			}
		}
		timer.Reset(max(wait, 10*time.Millisecond))
	}
}

// lease is how long a row handed to a sender is reserved; longer than any send.
const lease = 2 * time.Minute

// senderLoop delivers outbox rows to their targets with retries.
func (a *App) senderLoop(ctx context.Context) error {
	timer := a.opts.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	errLog := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.kickSend:
		case <-timer.C():
		}
		wait := time.Hour
		for {
			items, err := a.db.NextOutbox(ctx, a.opts.Now(), 20, lease, a.targets...)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				a.logChange(errLog, "outbox", "outbox", err)
				wait = 5 * time.Second
				break
			}
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				if err := a.deliver(ctx, it, errLog); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					// The store failed to record an outcome: the row's lease
					// keeps it from being sent again until then.
					a.logChange(errLog, "outbox", "outbox", err)
					wait = 5 * time.Second
				}
			}
			if wait < time.Hour {
				break
			}
		}
		if next, ok, err := a.db.NextOutboxAt(ctx); err == nil && ok {
			wait = min(wait, next.Sub(a.opts.Now()))
		} else if err == nil && !ok && a.opts.Idle != nil {
			a.opts.Idle()
		}
		timer.Reset(max(wait, 10*time.Millisecond))
	}
}

// logChange logs err under key when it differs from the last one logged
// there (an error is logged when it changes, not on every attempt).
func (a *App) logChange(last map[string]string, key, msg string, err error, args ...any) {
	if m := err.Error(); last[key] != m {
		a.log.Error(msg, append(args, "err", err)...)
		last[key] = m
	}
}

// deliver hands one leased row to its sender and records the outcome. It
// returns an error only when the store could not record it.
func (a *App) deliver(ctx context.Context, it store.OutboxItem, errLog map[string]string) error {
	// Outcomes are recorded even when ctx ends during the send: the
	// receiver may have accepted it.
	rec := context.WithoutCancel(ctx)
	s, ok := a.senders[it.Target]
	if !ok {
		if err := a.db.MarkAbandoned(rec, it.ID, "target not configured: "+it.Target, a.opts.Now()); err != nil {
			return fmt.Errorf("abandon outbox %d: %w", it.ID, err)
		}
		return nil
	}
	det, err := a.db.IncidentDetail(ctx, it.IncidentID, 200)
	if err != nil && ctx.Err() != nil {
		return a.interrupted(rec, it)
	}
	if err != nil {
		if ferr := a.db.MarkFailed(rec, it.ID, err.Error(), a.opts.Now().Add(time.Minute)); ferr != nil {
			return fmt.Errorf("outbox %d: %w (and recording it: %w)", it.ID, err, ferr)
		}
		return fmt.Errorf("outbox %d: %w", it.ID, err)
	}
	ref, err := s.send(ctx, it, det)
	now := a.opts.Now()
	if err == nil {
		a.metrics.notified(it.Target, true)
		if errLog[it.Target] != "" {
			a.log.Info("notifications flow again", "target", it.Target)
			errLog[it.Target] = ""
		}
		if err := a.db.MarkSent(rec, it.ID, ref, now); err != nil {
			return fmt.Errorf("mark outbox %d sent: %w", it.ID, err)
		}
		return nil
	}
	retry, after := notify.Retryable(err)
	if errors.Is(err, notify.ErrNotAttempted) {
		// The receiver is paused as a whole (a Slack workspace after a
		// 429): no attempt was made, the row waits for the pause to end.
		if err := a.db.Postpone(rec, it.ID, now.Add(after)); err != nil {
			return fmt.Errorf("postpone outbox %d: %w", it.ID, err)
		}
		return nil
	}
	if ctx.Err() != nil {
		return a.interrupted(rec, it)
	}
	a.metrics.notified(it.Target, false)
	if msg := err.Error(); errLog[it.Target] != msg {
		a.log.Warn("notification failed", "target", it.Target, "incident", it.IncidentID, "attempt", it.Attempts, "retry", retry, "err", err)
		errLog[it.Target] = msg
	}
	if !retry {
		if err := a.db.MarkAbandoned(rec, it.ID, err.Error(), now); err != nil {
			return fmt.Errorf("abandon outbox %d: %w", it.ID, err)
		}
		return nil
	}
	if after <= 0 {
		after = backoffFrom(a.opts.RetryBase, it.Attempts)
	}
	if err := a.db.MarkFailed(rec, it.ID, err.Error(), now.Add(after)); err != nil {
		return fmt.Errorf("mark outbox %d failed: %w", it.ID, err)
	}
	return nil
}

// interrupted puts back a row whose send a stop interrupted: it is due at
// once (after the restart) and the attempt is not counted, since the
// receiver did not fail. A send that reached the receiver before the stop is
// found again by the senders' own checks (Slack keys, email parts).
func (a *App) interrupted(rec context.Context, it store.OutboxItem) error {
	a.log.Debug("notification interrupted by the stop; due again at once", "target", it.Target, "incident", it.IncidentID)
	if err := a.db.Postpone(rec, it.ID, a.opts.Now()); err != nil {
		return fmt.Errorf("put back outbox %d: %w", it.ID, err)
	}
	return nil
}

// backoff is capped, jittered exponential backoff for attempt n (1-based).
func backoff(n int) time.Duration { return backoffFrom(0, n) }

// backoffFrom is backoff starting at base (default 5s).
func backoffFrom(base time.Duration, n int) time.Duration {
	d := base
	if d <= 0 {
		d = 5 * time.Second
	}
	for i := 1; i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// tlsWithCA trusts the system roots plus the certificates in a PEM file.
func tlsWithCA(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// keepRaw and keepDone are how long raw bounces (for 原文 replies) and
// finished outbox rows are kept.
const (
	keepRaw  = 90 * 24 * time.Hour
	keepDone = 90 * 24 * time.Hour
)

// housekeepingLoop trims what the database need not keep forever, at start
// and then daily.
func (a *App) housekeepingLoop(ctx context.Context) error {
	for {
		now := a.opts.Now()
		if n, err := a.db.PruneRaw(ctx, now.Add(-keepRaw)); err != nil {
			a.log.Warn("housekeeping", "err", err)
		} else if n > 0 {
			a.log.Info("dropped old raw bounces", "count", n)
		}
		if n, err := a.db.PruneOutbox(ctx, now.Add(-keepDone)); err != nil {
			a.log.Warn("housekeeping", "err", err)
		} else if n > 0 {
			a.log.Info("dropped old delivered notifications", "count", n)
		}
		if !sleep(ctx, a.opts.Clock, 24*time.Hour) {
			return ctx.Err()
		}
	}
}
