package imapwatch

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// TLSMode says how the connection to the IMAP server is secured.
type TLSMode string

const (
	// TLSImplicit dials TLS directly (port 993). The default.
	TLSImplicit TLSMode = "implicit"
	// TLSStartTLS dials in plain text and upgrades with STARTTLS (port 143).
	TLSStartTLS TLSMode = "starttls"
	// TLSNone sends everything in plain text. Allowed only to a loopback host.
	TLSNone TLSMode = "none"
)

// DispositionKind says what happens to a message after the sink asked for it.
type DispositionKind string

const (
	// DispositionNone leaves triaged messages alone.
	DispositionNone DispositionKind = "none"
	// DispositionFlag adds a keyword to triaged messages.
	DispositionFlag DispositionKind = "flag"
	// DispositionMove moves triaged messages to a folder (created if missing).
	// Without the MOVE extension the message is copied and flagged instead;
	// nothing is ever deleted.
	DispositionMove DispositionKind = "move"
)

// DefaultKeyword is the keyword set on triaged messages by flag disposition
// (and by move disposition when the server lacks MOVE).
const DefaultKeyword = "$Bounce"

// Disposition is the action applied to the UIDs returned by Sink.Deliver.
type Disposition struct {
	Kind DispositionKind
	// Keyword for DispositionFlag (and the COPY fallback of DispositionMove).
	Keyword string
	// Folder for DispositionMove.
	Folder string
}

// ParseDisposition parses "none", "flag", "flag:<keyword>" or "move:<folder>".
func ParseDisposition(s string) (Disposition, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
	switch DispositionKind(strings.ToLower(kind)) {
	case "", DispositionNone:
		return Disposition{Kind: DispositionNone}, nil
	case DispositionFlag:
		if arg == "" {
			arg = DefaultKeyword
		}
		if !validKeyword(arg) {
			return Disposition{}, fmt.Errorf("imapwatch: invalid IMAP keyword %q", arg)
		}
		return Disposition{Kind: DispositionFlag, Keyword: arg}, nil
	case DispositionMove:
		if arg == "" {
			return Disposition{}, errors.New("imapwatch: move disposition needs a folder (move:<folder>)")
		}
		return Disposition{Kind: DispositionMove, Folder: arg, Keyword: DefaultKeyword}, nil
	default:
		return Disposition{}, fmt.Errorf("imapwatch: unknown disposition %q (want none, flag:<keyword> or move:<folder>)", s)
	}
}

// String renders the disposition in the form ParseDisposition accepts.
func (d Disposition) String() string {
	switch d.Kind {
	case DispositionFlag:
		return "flag:" + d.Keyword
	case DispositionMove:
		return "move:" + d.Folder
	default:
		return "none"
	}
}

// validKeyword reports whether s is an IMAP flag-keyword (an atom, RFC 3501).
func validKeyword(s string) bool {
	if s == "" || strings.HasPrefix(s, `\`) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`(){%*"\]`, r) {
			return false
		}
	}
	return true
}

// Config configures a Watcher. Zero values take the documented defaults.
type Config struct {
	// Addr is host:port of the IMAP server.
	Addr string
	// TLS is the transport security; default TLSImplicit.
	TLS TLSMode
	// TLSConfig overrides the TLS client configuration (e.g. a test CA).
	TLSConfig *tls.Config
	// Username is the login name (for XOAUTH2: the mailbox address).
	Username string
	// Auth authenticates the session; see Password and XOAuth2.
	Auth Auth
	// Mailbox to watch; default "INBOX".
	Mailbox string

	// ProbeInterval bounds how long IDLE runs before it is stopped and a NOOP
	// proves the connection alive. Default 4m, at most 5m.
	ProbeInterval time.Duration
	// Timeout bounds each wait for the server outside IDLE (a response to a
	// command, the next bytes of a literal). Default 30s. A silent connection
	// is therefore noticed within ProbeInterval + Timeout.
	Timeout time.Duration
	// PollInterval is used when the server lacks IDLE. Default 1m.
	PollInterval time.Duration

	// FetchBatch is the number of UIDs per header fetch. Default 200.
	FetchBatch int
	// DeliverBatch bounds the messages per Sink.Deliver call. Default 200.
	DeliverBatch int
	// DeliverBytes bounds the bytes (headers and bodies) per Sink.Deliver
	// call. Default 64 MiB; a single message always fits.
	DeliverBytes int64
	// MaxFetchSize caps the bytes fetched of one full message. Default 25 MiB.
	// Larger messages are fetched up to the cap and marked Truncated.
	MaxFetchSize int64

	// BackoffMin and BackoffMax bound the jittered exponential reconnect
	// delay. Defaults 1s and 2m.
	BackoffMin, BackoffMax time.Duration
	// AuthBackoff is the delay after a rejected login. Default 15m.
	AuthBackoff time.Duration

	// Disposition applied to the UIDs returned by Sink.Deliver.
	Disposition Disposition

	// After returns a channel that fires after d; it is used for reconnect
	// delays only. Default time.After. Tests inject it to count attempts.
	After func(d time.Duration) <-chan time.Time
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

const (
	defaultProbeInterval = 4 * time.Minute
	maxProbeInterval     = 5 * time.Minute
	defaultTimeout       = 30 * time.Second
	defaultPollInterval  = time.Minute
	defaultFetchBatch    = 200
	defaultDeliverBatch  = 200
	defaultDeliverBytes  = 64 << 20
	defaultMaxFetchSize  = 25 << 20
	defaultBackoffMin    = time.Second
	defaultBackoffMax    = 2 * time.Minute
	defaultAuthBackoff   = 15 * time.Minute
)

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return c, fmt.Errorf("imapwatch: address %q: %w", c.Addr, err)
	}
	switch c.TLS {
	case "":
		c.TLS = TLSImplicit
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if !isLoopback(host) {
			return c, fmt.Errorf("imapwatch: refusing TLS mode none to %q: plain-text IMAP is allowed only to a loopback address; use implicit or starttls", host)
		}
	default:
		return c, fmt.Errorf("imapwatch: unknown TLS mode %q (want implicit, starttls or none)", c.TLS)
	}
	if c.Auth == nil {
		return c, errors.New("imapwatch: no authentication configured")
	}
	if c.Username == "" {
		return c, errors.New("imapwatch: no username configured")
	}
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = defaultProbeInterval
	}
	if c.ProbeInterval < 0 || c.ProbeInterval > maxProbeInterval {
		return c, fmt.Errorf("imapwatch: probe interval %v out of range (0, %v]", c.ProbeInterval, maxProbeInterval)
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.PollInterval <= 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.FetchBatch <= 0 {
		c.FetchBatch = defaultFetchBatch
	}
	if c.DeliverBatch <= 0 {
		c.DeliverBatch = defaultDeliverBatch
	}
	if c.DeliverBytes <= 0 {
		c.DeliverBytes = defaultDeliverBytes
	}
	if c.MaxFetchSize <= 0 {
		c.MaxFetchSize = defaultMaxFetchSize
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = defaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = defaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.AuthBackoff <= 0 {
		c.AuthBackoff = defaultAuthBackoff
	}
	switch c.Disposition.Kind {
	case "":
		c.Disposition.Kind = DispositionNone
	case DispositionNone:
	case DispositionFlag:
		if c.Disposition.Keyword == "" {
			c.Disposition.Keyword = DefaultKeyword
		}
		if !validKeyword(c.Disposition.Keyword) {
			return c, fmt.Errorf("imapwatch: invalid IMAP keyword %q", c.Disposition.Keyword)
		}
	case DispositionMove:
		if c.Disposition.Folder == "" {
			return c, errors.New("imapwatch: move disposition needs a folder")
		}
		if c.Disposition.Folder == c.Mailbox {
			return c, errors.New("imapwatch: move disposition folder is the watched mailbox")
		}
		if c.Disposition.Keyword == "" {
			c.Disposition.Keyword = DefaultKeyword
		}
	default:
		return c, fmt.Errorf("imapwatch: unknown disposition %q", c.Disposition.Kind)
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// isLoopback reports whether host names the local machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
