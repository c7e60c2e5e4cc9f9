// Package advice owns the human explanation of bounces: for a classified
// recipient, or a group of them with one cause, it says in plain Japanese (or
// English) what happened, whether the mail may still arrive, what to do next
// and who does it, and which official pages help. The texts live in an
// embedded data file that a non-programmer can correct.
//
// The package is pure: no I/O beyond reading its embedded data at start.
package advice

import (
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

// Actors.
const (
	ActorSender    Actor = "sender"    // the person who sent the mail
	ActorHosting   Actor = "hosting"   // the hosting company or mail provider that runs the sending server
	ActorRecipient Actor = "recipient" // the person the mail was for
	ActorAdmin     Actor = "admin"     // the office's IT administrator (DNS, SPF/DKIM/DMARC, settings)
)

// Action is one recommended step.
type Action struct {
	Actor Actor  `json:"actor"`
	Label string `json:"actor_label"` // Actor in the chosen language, e.g. 送信者
	Text  string `json:"text"`
}

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
	Headline    string   `json:"headline"`    // one line
	Title       string   `json:"title"`       // the cause alone, e.g. 送信サーバーのIP評価低下による一時制限 (no state, address or count)
	Explanation string   `json:"explanation"` // the gist of what the receiver said, in plain words
	Retrying    bool     `json:"retrying"`    // the sending server is still retrying; the mail may still arrive
	Outlook     string   `json:"outlook"`     // one sentence on whether the mail may still arrive
	Actions     []Action `json:"actions"`     // in order
	Links       []Link   `json:"links"`
	Facts       []Fact   `json:"facts"`
}

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

// The API the implementation provides (advise.go, text.go):
//
//	func ForRecipient(rep *bounce.Report, rc bounce.Recipient, lang Lang) Advice
//	func ForGroup(g Group, lang Lang, maxRecipients int) GroupAdvice
//	func (a Advice) Text() string       // plain-text rendering
//	func (g GroupAdvice) Text() string  // plain-text rendering
//
// The wording lives in texts.yaml (embedded); its header explains how to
// edit it, and the package tests check every entry.
