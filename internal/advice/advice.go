// Package advice owns the human explanation of bounces: for a classified
// recipient, or a group of them with one cause, it says in plain Japanese (or
// English) what happened, whether the mail may still arrive, what to do next
// and who does it, and which official pages help. The texts live in an
// embedded data file that a non-programmer can correct.
//
// Every advice is checked against where the mail stands (Delivery): no
// resend is advised while the sending server is still retrying, and a
// failure is never "nothing to do" or "will arrive". Each action names the
// one who carries it out (sender, it, hosting, recipient). The package tests
// run every entry of the data file through every delivery state and hold the
// texts to detectors of these contradictions.
//
// The package is pure: no I/O beyond reading its embedded data at start.
package advice

import (
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// Lang selects the language of the texts.
type Lang string

// Supported languages.
const (
	Japanese Lang = "ja"
	English  Lang = "en"
)

// Actor is who carries out an action.
type Actor string

// Actors. Each action names the one who carries it out, not the one it is
// about: asking the hosting company is the IT person's action, phoning the
// recipient is the sender's.
const (
	ActorSender    Actor = "sender"    // whoever sent the mail (送信者)
	ActorIT        Actor = "it"        // the office's IT person: DNS, SPF/DKIM/DMARC, dealing with the hosting company (情報システム担当)
	ActorHosting   Actor = "hosting"   // the hosting company running the sending server, for what only it can do (レンタルサーバー会社)
	ActorRecipient Actor = "recipient" // the person the mail was for, for what they do themselves (相手(受信者))
)

// Actors lists every actor, in a stable order.
var Actors = []Actor{ActorSender, ActorIT, ActorHosting, ActorRecipient}

// Delivery is where the mail stands, as far as the bounce tells.
type Delivery string

// Delivery states. Every text of an advice agrees with its state: no resend
// is advised while the server is still retrying, and a failure is never
// "nothing to do" or "will arrive".
const (
	DeliveryRetrying  Delivery = "retrying"  // delayed; the sending server keeps trying, the mail may still arrive
	DeliveryFailed    Delivery = "failed"    // refused for good (5.x.x); not delivered, not retried
	DeliveryExpired   Delivery = "expired"   // retried until the retry period ran out (4.x.x in a final report); not delivered
	DeliveryDelivered Delivery = "delivered" // delivered or relayed (or an auto-reply or complaint about a delivered mail)
	DeliveryUnknown   Delivery = "unknown"   // the report does not say
)

// Deliveries lists every delivery state, in a stable order.
var Deliveries = []Delivery{DeliveryRetrying, DeliveryFailed, DeliveryExpired, DeliveryDelivered, DeliveryUnknown}

// Action is one recommended step.
type Action struct {
	Actor Actor  `json:"who"`
	Label string `json:"-"`     // Actor in the chosen language, e.g. 送信者
	Text  string `json:"text"`  // the full sentence(s)
	Short string `json:"short"` // a short form for a one-line post (at most ShortMax columns)
	// Topic marks an action others may act on by what it is about (from
	// texts.yaml's "topic"); "" for most actions.
	Topic Topic `json:"topic,omitempty"`
}

// Topic says what an action is about, for code that adjusts the actions
// (e.g. drops a check that a verified finding made moot).
type Topic string

// Topics.
const (
	// TopicAuthCheck marks an action asking the office to check or set up
	// SPF, DKIM and DMARC: moot once the sender checks found them in order.
	TopicAuthCheck Topic = "auth-check"
)

// Link is an official page worth opening.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"` // always https
}

// Fact is a label and a value taken from the bounce (IP, provider, codes, times).
type Fact struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Advice explains one recipient's failure, or one group of failures with one cause.
type Advice struct {
	Lang        Lang     `json:"lang"`        // the language of the texts
	Headline    string   `json:"headline"`    // one line: state, recipient (or provider and count) and cause
	Summary     string   `json:"summary"`     // a short headline (at most SummaryMax columns): state and cause
	Title       string   `json:"title"`       // the cause alone, e.g. 送信サーバーのIP評価低下による一時制限 (no state, address or count)
	Delivery    Delivery `json:"delivery"`    // where the mail stands
	Explanation string   `json:"explanation"` // the gist of what the receiver said, in plain words
	// General is Explanation with the recipient, its domain, its provider
	// and the receiving server left to their generic words (相手のメールサービス),
	// so that one text is true for several recipients of the same cause at
	// different providers (a digest tells it once for all of them).
	General  string   `json:"-"`
	Retrying bool     `json:"-"`       // Delivery == DeliveryRetrying (kept for callers)
	Outlook  string   `json:"outlook"` // one sentence on whether the mail arrived or may still arrive
	Actions  []Action `json:"actions"` // in order; never empty
	Links    []Link   `json:"links"`
	Facts    []Fact   `json:"facts,omitempty"`
}

// SummaryMax bounds Advice.Summary, in display columns: a Japanese
// character counts two, so about 60 Japanese or 120 Latin characters.
const SummaryMax = 120

// ShortMax bounds Action.Short, in display columns: a Japanese character
// counts two, so about 32 Japanese or 64 Latin characters.
const ShortMax = 64

// Member is one bounced recipient inside a group.
type Member struct {
	Address string
	At      time.Time // when the bounce arrived
	Subject string    // subject of the original message
}

// Group is several bounces with one cause: the same sending IP (or reporting
// MTA), recipient provider and reason family.
type Group struct {
	Report    *bounce.Report   // a representative report (sending IP, reporting MTA)
	Recipient bounce.Recipient // a representative recipient (reason, provider, codes, diagnostic)
	Members   []Member         // affected recipients, oldest first
	Count     int              // number of bounces (may exceed len(Members))
	First     time.Time        // first bounce seen
	Last      time.Time        // last bounce seen
}

// GroupAdvice is the advice for a group, with the affected recipients listed.
type GroupAdvice struct {
	Advice
	Recipients []string `json:"recipients"` // the first N affected addresses
	More       int      `json:"more"`       // how many more (rendered as ほか N 件)
}

// Option adjusts the advice to the office (see WithHosting).
type Option func(*options)

type options struct {
	hostingName string // e.g. ヘテムル; "" means the generic word
	hostingURL  string // the hosting company's support page (https)
	noFacts     bool   // WithoutFacts
}

// WithoutFacts leaves Advice.Facts empty: for callers that show the
// recipient's own fields beside the advice (triage's JSON), which would
// otherwise compute the facts only to drop them.
func WithoutFacts() Option {
	return func(o *options) { o.noFacts = true }
}

// WithHosting names the office's own hosting company and its support page.
// Where the advice asks the office to contact the hosting company, the name
// replaces the generic word (レンタルサーバー会社) and the page is linked.
// The hosting company's own actions are labelled with the name too
// (【ヘテムル】 instead of 【レンタルサーバー会社】). An empty name keeps the
// generic word; a URL that is not https is ignored.
func WithHosting(name, supportURL string) Option {
	return func(o *options) {
		o.hostingName = name
		if strings.HasPrefix(supportURL, "https://") {
			o.hostingURL = supportURL
		}
	}
}

// The API the implementation provides (advise.go, text.go):
//
//	func ForRecipient(rep *bounce.Report, rc bounce.Recipient, lang Lang, opts ...Option) Advice
//	func ForGroup(g Group, lang Lang, maxRecipients int, opts ...Option) GroupAdvice
//	func DeliveryOf(rep *bounce.Report, rc bounce.Recipient) Delivery
//	func (a Advice) Text() string       // plain-text rendering
//	func (g GroupAdvice) Text() string  // plain-text rendering
//
// The wording lives in texts.yaml (embedded); its header explains how to
// edit it, and the package tests check every entry.
