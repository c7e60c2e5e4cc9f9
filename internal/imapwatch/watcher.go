// Package imapwatch owns the long-lived IMAP connection to one mailbox: it
// connects, authenticates (password or XOAUTH2), catches up by UID from the
// sink's cursor, waits in IDLE (or polls), proves the connection alive with
// periodic NOOP probes and reconnects with capped, jittered backoff.
//
// It knows nothing of bounces. New messages are offered to a Sink in UID
// order: first their headers and size (Sink.Candidate), then the full raw
// message of candidates only, in bounded batches (Sink.Deliver). The sink
// records results and the cursor together; afterwards the configured
// disposition (a keyword or a move) is applied to the UIDs the sink returned.
// Nothing is ever deleted.
package imapwatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Sink receives new messages. It is the edge of this package: the
// application implements it on top of its store and parser. All methods are
// called from the goroutine running Watcher.Run, one at a time.
type Sink interface {
	// Cursor returns the stored UIDVALIDITY and the last UID delivered for
	// mailbox; zeros when nothing was stored.
	Cursor(ctx context.Context, mailbox string) (uidValidity, lastUID uint32, err error)
	// ResetMailbox is called when the server's UIDVALIDITY differs from the
	// stored one: UIDs are meaningless now and the cursor restarts at 0.
	ResetMailbox(ctx context.Context, mailbox string, uidValidity uint32) error
	// Candidate decides from the raw header and RFC822.SIZE whether the full
	// message is needed. It must not block.
	Candidate(header []byte, size int64) bool
	// Deliver processes a batch in UID order and must durably record the
	// results AND the new cursor (LastUID) in one transaction before
	// returning nil. It returns the UIDs to which the disposition applies.
	Deliver(ctx context.Context, b Batch) (dispose []uint32, err error)
}

// DisposalSink is implemented by a Sink that records the UIDs Deliver
// returns in the same transaction as the batch, so that a disposition cut
// short (the process killed after Deliver, the connection lost) is applied at
// the next session start instead of being lost with the moved cursor.
type DisposalSink interface {
	Sink
	// PendingDisposal returns, ascending, UIDs of mailbox and uidValidity
	// whose disposition is recorded and not yet Disposed (it may return only
	// the first ones). Pending UIDs of another UIDVALIDITY are never returned.
	PendingDisposal(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error)
	// Disposed clears uids: the disposition was applied, refused by the
	// server for good, or there is none.
	Disposed(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error
}

// Batch is a run of new messages, in ascending UID order.
type Batch struct {
	Mailbox     string
	UIDValidity uint32
	// LastUID is the cursor to record: the UID of the last message.
	LastUID  uint32
	Messages []Message
}

// Message is one new message.
type Message struct {
	UID    uint32
	Size   int64  // RFC822.SIZE
	Header []byte // raw header, including the blank line
	// Body is the full raw message (header included), nil when the sink did
	// not ask for it. Truncated says it stops at Config.MaxFetchSize.
	Body      []byte
	Truncated bool
}

// Status is a snapshot for health checks and metrics.
type Status struct {
	// Connected is true while a session has the mailbox selected.
	Connected bool
	// LastActivity is when the server last sent anything (a response, an
	// IDLE update, a probe reply).
	LastActivity time.Time
	// Reconnects counts sessions started after the first.
	Reconnects uint64
	// BytesFetched counts header and body bytes fetched (payload only).
	BytesFetched int64
	// WireBytes counts all bytes read from the network (after TLS).
	WireBytes int64
	// MessagesDelivered counts messages handed to Sink.Deliver successfully.
	MessagesDelivered uint64
	// LastError is the error that ended the last session ("" if none).
	LastError string
}

// Log attribute keys.
const (
	logKeyAddr     = "addr"
	logKeyMailbox  = "mailbox"
	logKeyErr      = "err"
	logKeyDelay    = "delay"
	logKeyCount    = "count"
	logKeyUID      = "uid"
	logKeyMode     = "mode"
	logKeyOldValid = "old_uidvalidity"
	logKeyNewValid = "new_uidvalidity"
)

// Watcher watches one mailbox. Create it with New and run it with Run.
type Watcher struct {
	cfg  Config
	sink Sink
	log  *slog.Logger

	// kick is signalled (never blocking) by the IMAP reader goroutine when
	// the server reports new or expunged messages.
	kick chan struct{}

	connected         atomic.Bool
	sessions          atomic.Uint64
	bytesFetched      atomic.Int64
	wireBase          atomic.Int64 // wire bytes of finished sessions
	messagesDelivered atomic.Uint64

	mu      sync.Mutex
	conn    *watchConn // current session's connection, nil between sessions
	lastAct time.Time
	lastErr string
}

// New validates cfg and returns a Watcher. It does no I/O.
func New(cfg Config, sink Sink, log *slog.Logger) (*Watcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("imapwatch: nil sink")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		cfg:  cfg,
		sink: sink,
		log:  log.With(slog.String(logKeyAddr, cfg.Addr), slog.String(logKeyMailbox, cfg.Mailbox)),
		kick: make(chan struct{}, 1),
	}, nil
}

// Status returns a snapshot; safe to call from any goroutine.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Status{
		Connected:         w.connected.Load(),
		LastActivity:      w.lastAct,
		BytesFetched:      w.bytesFetched.Load(),
		WireBytes:         w.wireBase.Load(),
		MessagesDelivered: w.messagesDelivered.Load(),
		LastError:         w.lastErr,
	}
	if n := w.sessions.Load(); n > 1 {
		st.Reconnects = n - 1
	}
	if w.conn != nil {
		if t := w.conn.lastActivity(); t.After(st.LastActivity) {
			st.LastActivity = t
		}
		st.WireBytes += w.conn.bytesRead.Load()
	}
	return st
}

// errCredentialsExpiring ends a session so that the next one authenticates
// with fresh credentials.
var errCredentialsExpiring = errors.New("imapwatch: credentials about to expire")

// MailboxError says the watched mailbox cannot be selected (deleted or
// renamed away). The watcher keeps retrying with backoff.
type MailboxError struct {
	Mailbox string
	Err     error
}

func (e *MailboxError) Error() string {
	return fmt.Sprintf("imapwatch: cannot select mailbox %q: %v", e.Mailbox, e.Err)
}

func (e *MailboxError) Unwrap() error { return e.Err }

// Run connects and watches until ctx is done, reconnecting after every
// error. It returns ctx.Err() and nothing else. Run must not be called
// concurrently on the same Watcher.
func (w *Watcher) Run(ctx context.Context) error {
	attempt := 0
	var lastLogged string
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.sessions.Add(1)
		progressed, err := w.session(ctx)
		w.connected.Store(false)
		if ctx.Err() != nil {
			w.log.Debug("imapwatch: stopped", slog.Any(logKeyErr, err))
			return ctx.Err()
		}
		if progressed {
			attempt = 0
			lastLogged = ""
		}
		attempt++

		msg := err.Error()
		w.mu.Lock()
		w.lastErr = msg
		w.mu.Unlock()

		var delay time.Duration
		var aerr *AuthError
		switch {
		case errors.Is(err, errCredentialsExpiring):
			delay = 0
		case errors.As(err, &aerr):
			delay = w.cfg.AuthBackoff
		default:
			delay = backoff(attempt, w.cfg.BackoffMin, w.cfg.BackoffMax)
		}

		// Log an error when it changes, not on every attempt.
		kind := errKind(err)
		level := slog.LevelDebug
		switch {
		case errors.Is(err, errCredentialsExpiring):
			kind = ""
		case kind != lastLogged && (aerr != nil || isMailboxErr(err)):
			level = slog.LevelError
		case kind != lastLogged:
			level = slog.LevelWarn
		}
		lastLogged = kind
		w.log.Log(ctx, level, "imapwatch: session ended; reconnecting", slog.String(logKeyErr, msg), slog.Duration(logKeyDelay, delay))

		if delay > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.cfg.After(delay):
			}
		}
	}
}

// errKind groups errors for log rate limiting: the same kind of failure is
// logged once until it changes (a timeout's message differs by local port).
func errKind(err error) string {
	var aerr *AuthError
	var merr *MailboxError
	var nerr net.Error
	var ierr *imap.Error
	switch {
	case errors.As(err, &aerr):
		return "auth: " + aerr.Error()
	case errors.As(err, &merr):
		return "mailbox: " + merr.Error()
	case errors.As(err, &ierr):
		return "imap: " + string(ierr.Type) + " " + ierr.Text
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	case errors.As(err, &nerr):
		return "network"
	default:
		return err.Error()
	}
}

func isMailboxErr(err error) bool {
	var merr *MailboxError
	return errors.As(err, &merr)
}

// backoff returns a jittered delay in [d/2, d] with d = min·2^(attempt-1)
// capped at max.
func backoff(attempt int, minD, maxD time.Duration) time.Duration {
	d := minD
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	if d > maxD {
		d = maxD
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// dial connects, wraps the TCP connection and sets up TLS.
func (w *Watcher) dial(ctx context.Context) (*imapclient.Client, *watchConn, error) {
	host, _, _ := net.SplitHostPort(w.cfg.Addr)
	d := net.Dialer{Timeout: w.cfg.Timeout, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", w.cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("imapwatch: dial: %w", err)
	}
	wc := newWatchConn(raw, w.cfg.Now)
	wc.arm(w.cfg.Timeout)

	opts := &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: it must only kick.
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					w.signal()
				}
			},
			Expunge: func(uint32) { w.signal() },
		},
	}
	var tlsCfg *tls.Config
	if w.cfg.TLSConfig != nil {
		tlsCfg = w.cfg.TLSConfig.Clone()
	} else {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}

	var c *imapclient.Client
	switch w.cfg.TLS {
	case TLSImplicit:
		if tlsCfg.NextProtos == nil {
			tlsCfg.NextProtos = []string{"imap"}
		}
		tc := tls.Client(wc, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("imapwatch: TLS handshake: %w", err)
		}
		c = imapclient.New(tc, opts)
	case TLSStartTLS:
		opts.TLSConfig = tlsCfg
		c, err = imapclient.NewStartTLS(wc, opts)
		if err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("imapwatch: STARTTLS: %w", err)
		}
	default:
		c = imapclient.New(wc, opts)
	}
	return c, wc, nil
}

func (w *Watcher) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// session runs one connection until it fails. progressed reports whether
// the session got as far as watching the mailbox (resets the backoff).
func (w *Watcher) session(ctx context.Context) (progressed bool, err error) {
	c, wc, err := w.dial(ctx)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	w.mu.Lock()
	w.conn = wc
	w.mu.Unlock()
	defer func() {
		c.Close()
		w.mu.Lock()
		w.conn = nil
		w.lastAct = wc.lastActivity()
		w.wireBase.Add(wc.bytesRead.Load())
		w.mu.Unlock()
	}()

	if err := c.WaitGreeting(); err != nil {
		return false, fmt.Errorf("imapwatch: greeting: %w", err)
	}
	expiry, err := w.cfg.Auth.Authenticate(ctx, c, w.cfg.Username)
	if err != nil {
		return false, err
	}
	caps := c.Caps()
	if caps == nil {
		return false, errors.New("imapwatch: no capabilities after login")
	}

	sel, err := c.Select(w.cfg.Mailbox, &imap.SelectOptions{}).Wait()
	if err != nil {
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Type == imap.StatusResponseTypeNo {
			return false, &MailboxError{Mailbox: w.cfg.Mailbox, Err: err}
		}
		return false, fmt.Errorf("imapwatch: select: %w", err)
	}

	validity, lastUID, err := w.sink.Cursor(ctx, w.cfg.Mailbox)
	if err != nil {
		return false, fmt.Errorf("imapwatch: read cursor: %w", err)
	}
	if validity != sel.UIDValidity {
		if validity != 0 {
			w.log.Warn("imapwatch: UIDVALIDITY changed; the mailbox is read again from the start",
				slog.Uint64(logKeyOldValid, uint64(validity)), slog.Uint64(logKeyNewValid, uint64(sel.UIDValidity)))
		}
		if err := w.sink.ResetMailbox(ctx, w.cfg.Mailbox, sel.UIDValidity); err != nil {
			return false, fmt.Errorf("imapwatch: reset cursor: %w", err)
		}
		lastUID = 0
	}

	s := &sessionState{
		w:           w,
		c:           c,
		wc:          wc,
		caps:        caps,
		uidValidity: sel.UIDValidity,
		lastUID:     lastUID,
	}
	if w.cfg.Disposition.Kind == DispositionMove {
		if err := s.ensureFolder(); err != nil {
			return false, err
		}
	}
	// Dispositions cut short last time come first, before any new message.
	if err := s.disposePending(ctx); err != nil {
		return false, err
	}
	w.connected.Store(true)

	idle := caps.Has(imap.CapIdle) || caps.Has(imap.CapIMAP4rev2)
	mode := "poll"
	if idle {
		mode = "idle"
	}
	w.log.Info("imapwatch: watching", slog.String(logKeyMode, mode),
		slog.Uint64(logKeyNewValid, uint64(sel.UIDValidity)), slog.Uint64(logKeyUID, uint64(lastUID)))
	var renew <-chan time.Time
	if !expiry.IsZero() {
		t := time.NewTimer(max(expiry.Sub(w.cfg.Now()), 0))
		defer t.Stop()
		renew = t.C
	}

	for {
		if err := s.catchUp(ctx); err != nil {
			return progressed, err
		}
		progressed = true
		if err := w.wait(ctx, c, wc, idle, renew); err != nil {
			return progressed, err
		}
	}
}

// wait blocks in IDLE (or sleeps, in poll mode) until the server reports a
// change, the probe or poll interval ends, or the session must stop; then it
// leaves IDLE and proves the connection alive with NOOP.
func (w *Watcher) wait(ctx context.Context, c *imapclient.Client, wc *watchConn, idle bool, renew <-chan time.Time) error {
	interval := w.cfg.PollInterval
	if idle {
		interval = w.cfg.ProbeInterval
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()

	var idleCmd *imapclient.IdleCommand
	if idle {
		var err error
		if idleCmd, err = c.Idle(); err != nil {
			return fmt.Errorf("imapwatch: idle: %w", err)
		}
		wc.disarm()
	}

	var cause error
	probe := false
	select {
	case <-ctx.Done():
		cause = ctx.Err()
	case <-renew:
		cause = errCredentialsExpiring
	case <-c.Closed():
		cause = errors.New("imapwatch: connection closed by server")
	case <-w.kick:
	case <-timer.C:
		probe = true
	}

	wc.arm(w.cfg.Timeout)
	if idleCmd != nil {
		if err := idleCmd.Close(); err != nil && cause == nil {
			cause = fmt.Errorf("imapwatch: stop idle: %w", err)
		}
		if cause == nil {
			if err := idleCmd.Wait(); err != nil {
				cause = fmt.Errorf("imapwatch: idle: %w", err)
			}
		}
	}
	if cause != nil {
		if errors.Is(cause, errCredentialsExpiring) {
			c.Logout().Wait()
		}
		return cause
	}
	if probe || !idle {
		if err := c.Noop().Wait(); err != nil {
			return fmt.Errorf("imapwatch: probe: %w", err)
		}
	}
	return nil
}

// MailboxInfo is what STATUS says of the watched mailbox.
type MailboxInfo struct {
	Messages    uint32
	UIDNext     uint32
	UIDValidity uint32
}

// Probe connects, logs in, asks STATUS of the watched mailbox and logs out.
// It checks a configuration (the server, TLS, credentials and mailbox) and
// sizes a backfill. It blocks until done or ctx ends.
func (w *Watcher) Probe(ctx context.Context) (MailboxInfo, error) {
	c, _, err := w.dial(ctx)
	if err != nil {
		return MailboxInfo{}, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		return MailboxInfo{}, fmt.Errorf("imapwatch: greeting: %w", err)
	}
	if _, err := w.cfg.Auth.Authenticate(ctx, c, w.cfg.Username); err != nil {
		return MailboxInfo{}, err
	}
	st, err := c.Status(w.cfg.Mailbox, &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil {
		return MailboxInfo{}, &MailboxError{Mailbox: w.cfg.Mailbox, Err: err}
	}
	info := MailboxInfo{UIDNext: uint32(st.UIDNext), UIDValidity: st.UIDValidity}
	if st.NumMessages != nil {
		info.Messages = *st.NumMessages
	}
	_ = c.Logout().Wait()
	return info, nil
}
