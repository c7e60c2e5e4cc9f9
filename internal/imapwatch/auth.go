package imapwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Auth authenticates one IMAP session. Authenticate runs on the session's
// goroutine once per connection, before SELECT. It returns when the
// credentials stop being valid (zero: never), so that the session can
// reconnect with fresh credentials before they expire.
//
// A rejected login must be returned as an *AuthError; any other error is
// treated as transient.
type Auth interface {
	Authenticate(ctx context.Context, c *imapclient.Client, username string) (expiry time.Time, err error)
}

// AuthError is a login the server (or the token issuer) rejected. Retrying
// soon will not help; the watcher waits Config.AuthBackoff.
type AuthError struct {
	Mechanism string
	Err       error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("imapwatch: %s authentication rejected: %v", e.Mechanism, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// redacted replaces secrets in String, GoString and log output.
const redacted = "[REDACTED]"

// Password authenticates with a password: AUTHENTICATE PLAIN when the server
// offers it, LOGIN otherwise. Its String and LogValue are redacted.
type Password string

var _ Auth = Password("")

func (p Password) String() string       { return redacted }
func (p Password) GoString() string     { return redacted }
func (p Password) LogValue() slog.Value { return slog.StringValue(redacted) }

// Authenticate implements Auth.
func (p Password) Authenticate(ctx context.Context, c *imapclient.Client, username string) (time.Time, error) {
	caps := c.Caps()
	var err error
	mech := "LOGIN"
	switch {
	case caps.Has(imap.AuthCap(sasl.Plain)):
		mech = "PLAIN"
		err = c.Authenticate(sasl.NewPlainClient("", username, string(p)))
	case caps.Has(imap.CapLoginDisabled):
		return time.Time{}, &AuthError{Mechanism: mech, Err: errors.New("server disables LOGIN and offers no AUTH=PLAIN on this connection")}
	default:
		err = c.Login(username, string(p)).Wait()
	}
	return time.Time{}, classifyAuthErr(mech, err)
}

// classifyAuthErr turns a NO response into an *AuthError.
func classifyAuthErr(mech string, err error) error {
	if err == nil {
		return nil
	}
	var ierr *imap.Error
	if errors.As(err, &ierr) && ierr.Type == imap.StatusResponseTypeNo {
		return &AuthError{Mechanism: mech, Err: err}
	}
	return fmt.Errorf("imapwatch: %s authentication: %w", mech, err)
}

// TokenSource issues OAuth2 access tokens. Token must ask the issuer for a
// new token on every call (no cache): the watcher calls it once per
// connection.
type TokenSource interface {
	Token(ctx context.Context) (*oauth2.Token, error)
}

// XOAuth2 authenticates with SASL XOAUTH2 (Microsoft 365, Gmail) using a
// fresh access token per connection. Sessions end shortly before the token
// expires and reconnect with a new one.
type XOAuth2 struct {
	Source TokenSource
}

var _ Auth = XOAuth2{}

// renewBefore is how long before token expiry a session reconnects.
const renewBefore = 2 * time.Minute

// Authenticate implements Auth.
func (x XOAuth2) Authenticate(ctx context.Context, c *imapclient.Client, username string) (time.Time, error) {
	tok, err := x.Source.Token(ctx)
	if err != nil {
		var rerr *oauth2.RetrieveError
		if errors.As(err, &rerr) && rerr.Response != nil && rerr.Response.StatusCode >= 400 && rerr.Response.StatusCode < 500 {
			return time.Time{}, &AuthError{Mechanism: "XOAUTH2", Err: fmt.Errorf("token issuer: %s", rerr.ErrorCode+" "+rerr.ErrorDescription)}
		}
		return time.Time{}, fmt.Errorf("imapwatch: fetch OAuth2 token: %w", err)
	}
	if tok.AccessToken == "" {
		return time.Time{}, &AuthError{Mechanism: "XOAUTH2", Err: errors.New("token issuer returned an empty access token")}
	}
	if err := c.Authenticate(NewXOAuth2Client(username, tok.AccessToken)); err != nil {
		return time.Time{}, classifyAuthErr("XOAUTH2", err)
	}
	if tok.Expiry.IsZero() {
		return time.Time{}, nil
	}
	return tok.Expiry.Add(-renewBefore), nil
}

// NewXOAuth2Client returns a SASL client for the XOAUTH2 mechanism
// (https://developers.google.com/gmail/imap/xoauth2-protocol), which go-sasl
// lacks. On failure the server sends a JSON challenge; the client answers
// with an empty response and the server then fails the command.
func NewXOAuth2Client(username, token string) sasl.Client {
	return &xoauth2Client{username: username, token: token}
}

type xoauth2Client struct {
	username, token string
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	// The only challenge is the error report; acknowledge it.
	return []byte{}, nil
}

// Well-known token endpoints and scopes.
const (
	MicrosoftTokenURLFormat = "https://login.microsoftonline.com/%s/oauth2/v2.0/token"
	MicrosoftIMAPScope      = "https://outlook.office365.com/.default"
	GoogleTokenURL          = "https://oauth2.googleapis.com/token"
	GoogleMailScope         = "https://mail.google.com/"
)

// MicrosoftTokenSource issues app-only tokens for Microsoft 365 with the
// client-credentials grant. Username must be the shared mailbox address.
// Fields may be changed before first use (TokenURL for tests).
type MicrosoftTokenSource struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	HTTPClient   *http.Client // nil: http.DefaultClient
}

// NewMicrosoftTokenSource returns a client-credentials source for tenant.
func NewMicrosoftTokenSource(tenant, clientID, secret string, httpClient *http.Client) *MicrosoftTokenSource {
	return &MicrosoftTokenSource{
		TokenURL:     fmt.Sprintf(MicrosoftTokenURLFormat, tenant),
		ClientID:     clientID,
		ClientSecret: secret,
		Scopes:       []string{MicrosoftIMAPScope},
		HTTPClient:   httpClient,
	}
}

// Token asks the issuer for a new token.
func (s *MicrosoftTokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		TokenURL:     s.TokenURL,
		Scopes:       s.Scopes,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return cfg.Token(withHTTPClient(ctx, s.HTTPClient))
}

func (s *MicrosoftTokenSource) String() string {
	return fmt.Sprintf("microsoft(client=%s, secret=%s)", s.ClientID, redacted)
}

// LogValue keeps the secret out of logs.
func (s *MicrosoftTokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoogleTokenSource exchanges a long-lived refresh token for access tokens.
// Fields may be changed before first use (TokenURL for tests).
type GoogleTokenSource struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	RefreshToken string
	Scopes       []string
	HTTPClient   *http.Client // nil: http.DefaultClient
}

// NewGoogleTokenSource returns a refresh-token source for Gmail IMAP.
func NewGoogleTokenSource(clientID, secret, refreshToken string, httpClient *http.Client) *GoogleTokenSource {
	return &GoogleTokenSource{
		TokenURL:     GoogleTokenURL,
		ClientID:     clientID,
		ClientSecret: secret,
		RefreshToken: refreshToken,
		Scopes:       []string{GoogleMailScope},
		HTTPClient:   httpClient,
	}
}

// Token asks the issuer for a new access token.
func (s *GoogleTokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	cfg := oauth2.Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       s.Scopes,
	}
	// A source holding only the refresh token always refreshes.
	return cfg.TokenSource(withHTTPClient(ctx, s.HTTPClient), &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
}

func (s *GoogleTokenSource) String() string {
	return fmt.Sprintf("google(client=%s, secret=%s, refresh_token=%s)", s.ClientID, redacted, redacted)
}

// LogValue keeps the secrets out of logs.
func (s *GoogleTokenSource) LogValue() slog.Value { return slog.StringValue(s.String()) }

func withHTTPClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}
