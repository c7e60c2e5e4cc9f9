package advice

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// textsYAML is the one data file holding every text of this package. See the
// comment at its top for how to edit it.
//
//go:embed texts.yaml
var textsYAML []byte

// catalog is the parsed form of texts.yaml. It is never modified after
// loading.
type catalog struct {
	Languages map[Lang]*langTexts      `yaml:"languages"`
	Providers map[string]providerNames `yaml:"providers"`
	Reasons   map[string][]*entry      `yaml:"reasons"`
	Fallbacks map[string]*entry        `yaml:"fallbacks"`
}

// providerNames is the display name of a provider per language.
type providerNames struct {
	JA string `yaml:"ja"`
	EN string `yaml:"en"`
}

func (p providerNames) get(lang Lang) string {
	if lang == English {
		return p.EN
	}
	return p.JA
}

// langTexts holds the fixed wording of one language: labels, outlook
// sentences, defaults for empty placeholders and the layout of Text().
type langTexts struct {
	Actors       map[Actor]string  `yaml:"actors"`
	Facts        map[string]string `yaml:"facts"`
	Outlook      outlookTexts      `yaml:"outlook"`
	Placeholders map[string]string `yaml:"placeholders"`
	Layout       map[string]string `yaml:"layout"`
	// FallbackActions are used when none of an entry's actions applies in
	// the delivery state (e.g. an entry whose only action is to resend,
	// while the server is still retrying).
	FallbackActions map[Delivery][]actionText `yaml:"fallback_actions"`
}

// outlookTexts are the sentences on whether the mail may still arrive, one
// per delivery state.
type outlookTexts struct {
	Retrying  string `yaml:"retrying"`
	Expired   string `yaml:"expired"`
	Failed    string `yaml:"failed"`
	Delivered string `yaml:"delivered"`
	Unknown   string `yaml:"unknown"`
}

func (o outlookTexts) get(s Delivery) string {
	switch s {
	case DeliveryRetrying:
		return o.Retrying
	case DeliveryExpired:
		return o.Expired
	case DeliveryDelivered:
		return o.Delivered
	case DeliveryUnknown:
		return o.Unknown
	}
	return o.Failed
}

// entry is one explanation: used when the reason matches and all of its
// conditions (provider, status prefix, diagnostic words) hold.
type entry struct {
	Providers  []string   `yaml:"providers"`  // provider variants; empty means any
	Status     []string   `yaml:"status"`     // enhanced status prefixes; empty means any
	Diagnostic []string   `yaml:"diagnostic"` // case-insensitive words in the diagnostic; empty means any
	JA         *entryText `yaml:"ja"`
	EN         *entryText `yaml:"en"`
}

func (e *entry) text(lang Lang) *entryText {
	if lang == English && e.EN != nil {
		return e.EN
	}
	return e.JA
}

// conditional reports whether the entry has any condition.
func (e *entry) conditional() bool {
	return len(e.Providers) > 0 || len(e.Status) > 0 || len(e.Diagnostic) > 0
}

func (e *entry) matches(variant, status, diagnostic string) bool {
	if len(e.Providers) > 0 && !contains(e.Providers, variant) {
		return false
	}
	if len(e.Status) > 0 {
		ok := false
		for _, p := range e.Status {
			if status != "" && strings.HasPrefix(status, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(e.Diagnostic) > 0 {
		d := strings.ToLower(diagnostic)
		ok := false
		for _, w := range e.Diagnostic {
			if strings.Contains(d, strings.ToLower(w)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// entryText is the wording of an entry in one language.
type entryText struct {
	Headline    string       `yaml:"headline"`
	Explanation string       `yaml:"explanation"`
	Outlook     outlookTexts `yaml:"outlook"` // optional: replaces the language's outlook sentence per state
	Actions     []actionText `yaml:"actions"`
	Links       []Link       `yaml:"links"`
	// BounceLink, when set, links the page the bounce itself names (the
	// first URL in the receiver's words on one of Hosts, "*" for any host),
	// ahead of Links: a blocklist's lookup page for our IP, for example.
	BounceLink *bounceLink `yaml:"bounce_link"`
}

// bounceLink picks a URL out of the receiver's words.
type bounceLink struct {
	Title string   `yaml:"title"`
	Hosts []string `yaml:"hosts"` // host suffixes, e.g. barracudacentral.org; "*" for any
}

type actionText struct {
	Actor Actor      `yaml:"actor"`
	Text  string     `yaml:"text"`
	Short string     `yaml:"short"` // optional; else the first sentence of Text, cut
	When  []Delivery `yaml:"when"`  // delivery states it applies in; empty means all
	Topic Topic      `yaml:"topic"` // optional; see Topic
}

func (a actionText) appliesIn(st Delivery) bool {
	if len(a.When) == 0 {
		return true
	}
	for _, w := range a.When {
		if w == st {
			return true
		}
	}
	return false
}

// loadCatalog parses the embedded data once. The data is checked by the
// package tests, so a failure here is a build defect.
var loadCatalog = sync.OnceValue(func() *catalog {
	c, err := parseCatalog(textsYAML)
	if err != nil {
		panic("advice: embedded texts.yaml: " + err.Error())
	}
	return c
})

func parseCatalog(data []byte) (*catalog, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	for _, l := range []Lang{Japanese, English} {
		if c.Languages[l] == nil {
			return nil, fmt.Errorf("language %q missing", l)
		}
	}
	for r, es := range c.Reasons {
		for i, e := range es {
			if e == nil || e.JA == nil || e.EN == nil {
				return nil, fmt.Errorf("reason %s entry %d: both ja and en are required", r, i+1)
			}
		}
	}
	for k, e := range c.Fallbacks {
		if e == nil || e.JA == nil || e.EN == nil {
			return nil, fmt.Errorf("fallback %s: both ja and en are required", k)
		}
	}
	if err := c.checkTopics(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *catalog) lang(l Lang) *langTexts {
	if t := c.Languages[l]; t != nil {
		return t
	}
	return c.Languages[Japanese]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkTopics rejects a topic no code knows: a typo would silently keep an
// action that should have been dropped.
func (c *catalog) checkTopics() error {
	check := func(where string, acts []actionText) error {
		for i, a := range acts {
			switch a.Topic {
			case "", TopicAuthCheck:
			default:
				return fmt.Errorf("%s action %d: unknown topic %q", where, i+1, a.Topic)
			}
		}
		return nil
	}
	for r, es := range c.Reasons {
		for i, e := range es {
			for _, t := range []*entryText{e.JA, e.EN} {
				if err := check(fmt.Sprintf("reason %s entry %d", r, i+1), t.Actions); err != nil {
					return err
				}
			}
		}
	}
	for k, e := range c.Fallbacks {
		for _, t := range []*entryText{e.JA, e.EN} {
			if err := check("fallback "+k, t.Actions); err != nil {
				return err
			}
		}
	}
	for l, lt := range c.Languages {
		for st, acts := range lt.FallbackActions {
			if err := check(fmt.Sprintf("language %s fallback %s", l, st), acts); err != nil {
				return err
			}
		}
	}
	return nil
}
