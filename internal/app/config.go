// Package app is the one place that wires bouncewatch together: it reads the
// configuration, opens the store, runs the IMAP watcher, the incident clock,
// the notification sender and the HTTP endpoints, and stops them in order.
// Nothing else imports more than one adapter.
package app

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/bouncewatch/bouncewatch/internal/advice"
)

// EnvPrefix is the prefix of every environment variable.
const EnvPrefix = "BOUNCEWATCH"

// Config is bouncewatch's configuration, read from BOUNCEWATCH_* environment
// variables. The names are a contract: end-to-end checks and deployments use
// them. `bouncewatch env` lists them with their descriptions.
type Config struct {
	IMAPAddr       string        `envconfig:"IMAP_ADDR" desc:"IMAP server as host:port, e.g. outlook.office365.com:993"`
	IMAPTLS        string        `envconfig:"IMAP_TLS" default:"implicit" desc:"implicit (port 993), starttls, or none (only to a loopback address)"`
	IMAPCAFile     string        `envconfig:"IMAP_CA_FILE" desc:"PEM file of extra CA certificates to trust for IMAP (self-signed servers)"`
	IMAPUsername   string        `envconfig:"IMAP_USERNAME" desc:"IMAP user; for Microsoft 365 the shared mailbox address"`
	IMAPPassword   string        `envconfig:"IMAP_PASSWORD" desc:"IMAP password (auth password); never logged"`
	IMAPAuth       string        `envconfig:"IMAP_AUTH" default:"password" desc:"password (LOGIN/PLAIN) or xoauth2"`
	IMAPMailbox    string        `envconfig:"IMAP_MAILBOX" default:"INBOX" desc:"mailbox to watch"`
	IMAPAfter      string        `envconfig:"IMAP_DISPOSITION" default:"none" desc:"what to do with triaged bounces: none, flag[:KEYWORD] or move:FOLDER (never deletes)"`
	IMAPProbe      time.Duration `envconfig:"IMAP_PROBE_INTERVAL" default:"4m" desc:"how often IDLE is renewed with a liveness probe (at most 5m)"`
	IMAPMaxFetch   int64         `envconfig:"IMAP_MAX_FETCH" default:"26214400" desc:"largest number of bytes fetched of one message"`
	OAuthProvider  string        `envconfig:"OAUTH_PROVIDER" desc:"for xoauth2: microsoft (client credentials) or google (refresh token)"`
	OAuthTenant    string        `envconfig:"OAUTH_TENANT" desc:"Microsoft Entra tenant ID or domain (microsoft)"`
	OAuthClientID  string        `envconfig:"OAUTH_CLIENT_ID" desc:"OAuth2 client (application) ID"`
	OAuthSecret    string        `envconfig:"OAUTH_CLIENT_SECRET" desc:"OAuth2 client secret; never logged"`
	OAuthRefresh   string        `envconfig:"OAUTH_REFRESH_TOKEN" desc:"OAuth2 refresh token (google); never logged"`
	OAuthTokenURL  string        `envconfig:"OAUTH_TOKEN_URL" desc:"override of the token endpoint (tests, sovereign clouds)"`
	MaxAge         time.Duration `envconfig:"MAX_AGE" default:"72h" desc:"bounces older than this (by their Date) are recorded but not notified: a first start or a long downtime does not flood anyone"`
	DB             string        `envconfig:"DB" default:"bouncewatch.db" desc:"SQLite database file (the state: cursor, reports, incidents, outbox)"`
	Notify         string        `envconfig:"NOTIFY" default:"stdout" desc:"where notifications go: comma list of stdout, slack, email"`
	SlackToken     string        `envconfig:"SLACK_TOKEN" desc:"Slack bot token (xoxb-...); never logged"`
	SlackChannel   string        `envconfig:"SLACK_CHANNEL" desc:"Slack channel ID to post incidents to"`
	SlackAPIURL    string        `envconfig:"SLACK_API_URL" default:"https://slack.com/api/" desc:"Slack Web API base URL"`
	SlackAppToken  string        `envconfig:"SLACK_APP_TOKEN" desc:"Slack app-level token (xapp-...) for Socket Mode replies and buttons"`
	SMTPAddr       string        `envconfig:"SMTP_ADDR" desc:"SMTP server for email notifications, host:port"`
	SMTPTLS        string        `envconfig:"SMTP_TLS" default:"starttls" desc:"starttls, implicit (port 465), or none (only to a loopback address)"`
	SMTPCAFile     string        `envconfig:"SMTP_CA_FILE" desc:"PEM file of extra CA certificates to trust for SMTP (self-signed servers)"`
	SMTPUsername   string        `envconfig:"SMTP_USERNAME" desc:"SMTP AUTH user"`
	SMTPPassword   string        `envconfig:"SMTP_PASSWORD" desc:"SMTP AUTH password; never logged"`
	SMTPFrom       string        `envconfig:"SMTP_FROM" desc:"From address of notification mail"`
	EmailTo        string        `envconfig:"EMAIL_TO" desc:"fixed recipients of email notifications (comma list); default: the original sender of the bounced mail"`
	HostingName    string        `envconfig:"HOSTING_NAME" desc:"name of the office's hosting company, used in the advice, the 確認結果 and doctor instead of レンタルサーバー会社, e.g. ヘテムル"`
	HostingURL     string        `envconfig:"HOSTING_SUPPORT_URL" desc:"https page of the hosting company's support, linked where the advice asks to contact it"`
	GroupWait      time.Duration `envconfig:"GROUP_WAIT" default:"60s" desc:"wait before the first notice of a new incident"`
	GroupInterval  time.Duration `envconfig:"GROUP_INTERVAL" default:"10m" desc:"least time between updates of a changed incident"`
	RepeatInterval time.Duration `envconfig:"REPEAT_INTERVAL" default:"24h" desc:"reminder interval for an incident that stays active"`
	ResolveAfter   time.Duration `envconfig:"RESOLVE_AFTER" default:"24h" desc:"quiet time after which an incident is closed (収束)"`
	ReplyAllow     string        `envconfig:"REPLY_ALLOW" desc:"who may reply to summaries for details: comma list of domains or addresses; default the mailbox's domain"`
	ReplyAuthserv  string        `envconfig:"REPLY_AUTHSERV_ID" desc:"authserv-id of the Authentication-Results that the mailbox's own server adds (e.g. mx.google.com): a reply counts only when they show DMARC, or SPF/DKIM of exactly the From domain, passing; empty or absent: 停止 and 解決 by mail are refused (Slack only)"`
	ReplyTokenTTL  time.Duration `envconfig:"REPLY_TOKEN_TTL" default:"720h" desc:"how long a summary mail can be answered (its reference expires after this)"`
	Secret         string        `envconfig:"SECRET" desc:"key that signs summary Message-IDs; default a random key kept beside the database"`
	DNSServer      string        `envconfig:"DNS_SERVER" desc:"DNS server (host:port) for the sender checks in notices and doctor; default the system resolver (/etc/resolv.conf); off turns the checks off"`
	DNSBL          string        `envconfig:"DNSBL" desc:"blocklist zones checked, comma list; default zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org, dnsbl-1.uceprotect.net, dbl.spamhaus.org (Spamhaus DQS: KEY.zen.dq.spamhaus.net,KEY.dbl.dq.spamhaus.net); never logged"`
	DNSTimeout     time.Duration `envconfig:"DNS_TIMEOUT" default:"2s" desc:"deadline of each DNS lookup of the sender checks; a notice waits at most about this long for them"`
	HTTPAddr       string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"address of /healthz, /readyz and /metrics; empty disables"`
	LogFormat      string        `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`
	LogLevel       string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// LoadConfig reads the configuration from the BOUNCEWATCH_* environment
// variables (through envconfig). It does not change the environment: main
// owns it and, before calling LoadConfig, removes the variables set to the
// empty string, so that their defaults apply (see EmptyMeansDefault).
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process(EnvPrefix, &c); err != nil {
		return c, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// AdviceOptions are the settings that shape the advice to the office: its
// hosting company's name and support page.
func (c Config) AdviceOptions() []advice.Option {
	if c.HostingName == "" && c.HostingURL == "" {
		return nil
	}
	return []advice.Option{advice.WithHosting(c.HostingName, c.HostingURL)}
}

// EmptyMeansDefault says whether an environment variable set to the empty
// string counts as unset (its default applies): true for every
// BOUNCEWATCH_* variable but HTTP_ADDR, where empty disables the endpoints.
func EmptyMeansDefault(name string) bool {
	rest, ok := strings.CutPrefix(name, EnvPrefix+"_")
	if !ok || rest == "HTTP_ADDR" {
		return false
	}
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("envconfig") == rest {
			return true
		}
	}
	return false
}

// Targets returns the notification targets, validated.
func (c Config) Targets() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.Split(c.Notify, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		switch t {
		case "stdout", "slack", "email":
		default:
			return nil, fmt.Errorf("BOUNCEWATCH_NOTIFY: unknown target %q (want stdout, slack, email)", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, nil
}

// Validate checks what `run` needs.
func (c Config) Validate() error {
	var errs []string
	if c.IMAPAddr == "" {
		errs = append(errs, "BOUNCEWATCH_IMAP_ADDR is required")
	}
	if c.IMAPUsername == "" {
		errs = append(errs, "BOUNCEWATCH_IMAP_USERNAME is required")
	}
	switch c.IMAPAuth {
	case "password":
		if c.IMAPPassword == "" {
			errs = append(errs, "BOUNCEWATCH_IMAP_PASSWORD is required with IMAP_AUTH=password")
		}
	case "xoauth2":
		switch c.OAuthProvider {
		case "microsoft":
			if c.OAuthTenant == "" || c.OAuthClientID == "" || c.OAuthSecret == "" {
				errs = append(errs, "xoauth2 with microsoft needs BOUNCEWATCH_OAUTH_TENANT, _OAUTH_CLIENT_ID and _OAUTH_CLIENT_SECRET")
			}
		case "google":
			if c.OAuthClientID == "" || c.OAuthSecret == "" || c.OAuthRefresh == "" {
				errs = append(errs, "xoauth2 with google needs BOUNCEWATCH_OAUTH_CLIENT_ID, _OAUTH_CLIENT_SECRET and _OAUTH_REFRESH_TOKEN")
			}
		default:
			errs = append(errs, "BOUNCEWATCH_OAUTH_PROVIDER must be microsoft or google with IMAP_AUTH=xoauth2")
		}
	default:
		errs = append(errs, "BOUNCEWATCH_IMAP_AUTH must be password or xoauth2")
	}
	targets, err := c.Targets()
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, t := range targets {
		switch t {
		case "slack":
			if c.SlackToken == "" || c.SlackChannel == "" {
				errs = append(errs, "NOTIFY=slack needs BOUNCEWATCH_SLACK_TOKEN and BOUNCEWATCH_SLACK_CHANNEL")
			}
		case "email":
			if c.SMTPAddr == "" || c.SMTPFrom == "" {
				errs = append(errs, "NOTIFY=email needs BOUNCEWATCH_SMTP_ADDR and BOUNCEWATCH_SMTP_FROM")
			}
		}
	}
	if c.HostingURL != "" && !strings.HasPrefix(c.HostingURL, "https://") {
		errs = append(errs, "BOUNCEWATCH_HOSTING_SUPPORT_URL must be an https:// URL")
	}
	if c.IMAPProbe <= 0 || c.IMAPProbe > 5*time.Minute {
		errs = append(errs, "BOUNCEWATCH_IMAP_PROBE_INTERVAL must be between 1s and 5m")
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

// secretFields are the configuration fields never shown.
var secretFields = map[string]bool{"IMAPPassword": true, "OAuthSecret": true, "OAuthRefresh": true,
	"SlackToken": true, "SlackAppToken": true, "SMTPPassword": true, "Secret": true,
	"DNSBL": true} // may hold a Spamhaus DQS key

// Redacted returns a copy with every secret replaced by "[redacted]" (or
// left empty when unset): safe to print or log.
func (c Config) Redacted() Config {
	v := reflect.ValueOf(&c).Elem()
	for name := range secretFields {
		if f := v.FieldByName(name); f.IsValid() && f.String() != "" {
			f.SetString("[redacted]")
		}
	}
	return c
}

// String prints the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("%+v", struct{ Config configNoString }{configNoString(c.Redacted())})
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without its secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// configNoString has Config's fields without its methods (no recursion).
type configNoString Config
