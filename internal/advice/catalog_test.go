package advice

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// textRef is one string of texts.yaml with where it came from.
type textRef struct {
	where string
	lang  Lang
	s     string
}

// entryStrings lists every text of an entry in one language.
func entryStrings(where string, lang Lang, t *entryText) []textRef {
	refs := []textRef{
		{where + ".headline", lang, t.Headline},
		{where + ".explanation", lang, t.Explanation},
	}
	for i, o := range []string{t.Outlook.Retrying, t.Outlook.Expired, t.Outlook.Failed, t.Outlook.Delivered, t.Outlook.Unknown} {
		if o != "" {
			refs = append(refs, textRef{where + ".outlook." + idx(i), lang, o})
		}
	}
	for i, a := range t.Actions {
		refs = append(refs, textRef{where + ".actions." + idx(i), lang, a.Text})
		if a.Short != "" {
			refs = append(refs, textRef{where + ".actions." + idx(i) + ".short", lang, a.Short})
		}
	}
	for i, l := range t.Links {
		refs = append(refs, textRef{where + ".links." + idx(i) + ".title", lang, l.Title})
	}
	if t.BounceLink != nil {
		refs = append(refs, textRef{where + ".bounce_link.title", lang, t.BounceLink.Title})
	}
	return refs
}

func idx(i int) string { return fmt.Sprint(i) }

// allEntries lists every entry with a name.
func allEntries(c *catalog) map[string]*entry {
	m := map[string]*entry{}
	for r, es := range c.Reasons {
		for i, e := range es {
			m["reasons."+r+"["+idx(i)+"]"] = e
		}
	}
	for k, e := range c.Fallbacks {
		m["fallbacks."+k] = e
	}
	return m
}

func TestCatalogEveryReasonHasACompleteEntry(t *testing.T) {
	c, err := parseCatalog(textsYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range bounce.AllReasons {
		es := c.Reasons[string(r)]
		if len(es) == 0 {
			t.Errorf("reason %s has no entry", r)
			continue
		}
		if es[len(es)-1].conditional() {
			t.Errorf("reason %s: the last entry must have no conditions (it is the default)", r)
		}
		for i, e := range es[:len(es)-1] {
			if !e.conditional() {
				t.Errorf("reason %s entry %d has no conditions but is not last: later entries are never used", r, i+1)
			}
		}
	}
	for r := range c.Reasons {
		if !slices.Contains(bounce.AllReasons, bounce.Reason(r)) {
			t.Errorf("reason %q in texts.yaml is not a bounce reason", r)
		}
	}
	for _, k := range []string{"x.1", "x.2", "x.3", "x.4", "x.5", "x.6", "x.7", "4xx", "5xx"} {
		if c.Fallbacks[k] == nil {
			t.Errorf("fallback %s missing", k)
		}
	}
	for name, e := range allEntries(c) {
		for _, lt := range []struct {
			lang Lang
			t    *entryText
		}{{Japanese, e.JA}, {English, e.EN}} {
			if lt.t.Headline == "" || lt.t.Explanation == "" || len(lt.t.Actions) == 0 {
				t.Errorf("%s.%s: needs headline, explanation and at least one action", name, lt.lang)
			}
		}
		for _, p := range e.Providers {
			if _, ok := c.Providers[p]; !ok {
				t.Errorf("%s: unknown provider %q", name, p)
			}
		}
	}
}

func TestCatalogLinksActorsAndProviders(t *testing.T) {
	c := loadCatalog()
	actors := []Actor{ActorSender, ActorHosting, ActorRecipient, ActorIT}
	for name, e := range allEntries(c) {
		for _, tt := range []*entryText{e.JA, e.EN} {
			for _, a := range tt.Actions {
				if !slices.Contains(actors, a.Actor) {
					t.Errorf("%s: actor %q is not one of %v", name, a.Actor, actors)
				}
				for _, w := range a.When {
					if !slices.Contains(Deliveries, w) {
						t.Errorf("%s: when %q is not one of %v", name, w, Deliveries)
					}
				}
			}
			if bl := tt.BounceLink; bl != nil && (len(bl.Hosts) == 0 || bl.Title == "") {
				t.Errorf("%s: bounce_link needs a title and hosts", name)
			}
			for _, l := range tt.Links {
				u, err := url.Parse(l.URL)
				if err != nil || u.Scheme != "https" || u.Host == "" || !strings.Contains(u.Host, ".") ||
					strings.ContainsAny(l.URL, " \t\n") || u.User != nil {
					t.Errorf("%s: link %q is not a well-formed https URL", name, l.URL)
				}
				if l.Title == "" {
					t.Errorf("%s: link %q has no title", name, l.URL)
				}
			}
		}
	}
	slugs := []string{bounce.ProviderMicrosoft, ProviderMicrosoft365, bounce.ProviderGoogle, bounce.ProviderYahoo,
		bounce.ProviderYahooJapan, bounce.ProviderApple, bounce.ProviderDocomo, bounce.ProviderAU, bounce.ProviderSoftBank,
		bounce.ProviderRakuten, bounce.ProviderNifty, bounce.ProviderBiglobe, bounce.ProviderOCN, bounce.ProviderSoNet,
		bounce.ProviderPlala}
	for _, s := range slugs {
		if n, ok := c.Providers[s]; !ok || n.JA == "" || n.EN == "" {
			t.Errorf("provider %s needs a Japanese and an English name", s)
		}
	}
	if _, ok := c.Providers[bounce.ProviderOther]; !ok {
		t.Errorf("provider other missing")
	}
	for _, l := range []Lang{Japanese, English} {
		lt := c.Languages[l]
		for _, a := range actors {
			if lt.Actors[a] == "" {
				t.Errorf("%s: no label for actor %s", l, a)
			}
		}
		for _, k := range []string{"recipient", "ip", "provider", "provider_other", "remote_mta", "code", "diagnostic",
			"reporting_mta", "subject", "count", "period"} {
			if lt.Facts[k] == "" {
				t.Errorf("%s: no fact label %s", l, k)
			}
		}
		for _, k := range []string{"other_provider", "state_retrying", "state_expired", "state_failed", "state_unknown", "recipient_headline", "summary", "hosting_link",
			"group_headline", "period", "recipients_title", "recipient_line", "more", "actions_title", "action_line",
			"links_title", "link_line", "facts_title", "fact_line", "short_action_line", "who_sep"} {
			if lt.Layout[k] == "" {
				t.Errorf("%s: no layout %s", l, k)
			}
		}
		for p := range contentPlaceholders {
			if lt.Placeholders[p] == "" {
				t.Errorf("%s: no default text for placeholder {%s}", l, p)
			}
		}
		if lt.Outlook.Retrying == "" || lt.Outlook.Expired == "" || lt.Outlook.Failed == "" || lt.Outlook.Delivered == "" || lt.Outlook.Unknown == "" {
			t.Errorf("%s: an outlook sentence is missing", l)
		}
		for _, d := range Deliveries {
			if len(lt.FallbackActions[d]) == 0 {
				t.Errorf("%s: no fallback action for %s", l, d)
			}
		}
	}
}

// TestCatalogLanguageAndPlaceholders checks every string: Japanese texts
// contain Japanese, English texts none; placeholders are known and well
// formed; and the text reads cleanly whether the values are known or not.
func TestCatalogLanguageAndPlaceholders(t *testing.T) {
	c := loadCatalog()
	var refs []textRef
	for name, e := range allEntries(c) {
		refs = append(refs, entryStrings(name+".ja", Japanese, e.JA)...)
		refs = append(refs, entryStrings(name+".en", English, e.EN)...)
	}
	for _, l := range []Lang{Japanese, English} {
		o := c.Languages[l].Outlook
		for i, s := range []string{o.Retrying, o.Expired, o.Failed, o.Delivered, o.Unknown} {
			refs = append(refs, textRef{"languages." + string(l) + ".outlook." + idx(i), l, s})
		}
		for a, s := range c.Languages[l].Actors {
			refs = append(refs, textRef{"languages." + string(l) + ".actors." + string(a), l, s})
		}
		for k, s := range c.Languages[l].Placeholders {
			refs = append(refs, textRef{"languages." + string(l) + ".placeholders." + k, l, s})
		}
	}
	if len(refs) < 500 {
		t.Fatalf("only %d strings found; the walk over texts.yaml is broken", len(refs))
	}
	full := map[string]string{
		"ip": "203.0.113.25", "provider_name": "Microsoft(Outlook)", "remote_mta": "mx.example.net",
		"reporting_mta": "mail.example.jp", "status": "5.1.1", "reply_code": "550", "code": "550 5.1.1",
		"recipient": "user@example.net", "domain": "example.net", "sender_domain": "example.co.jp", "hosting": "ヘテムル",
	}
	for _, r := range refs {
		if r.lang == Japanese && !hasJapanese(r.s) {
			t.Errorf("%s: Japanese text has no Japanese in it: %q", r.where, r.s)
		}
		if r.lang == English && hasJapanese(r.s) {
			t.Errorf("%s: English text contains Japanese: %q", r.where, r.s)
		}
		if err := checkTemplate(r.s, contentPlaceholders); err != nil {
			t.Errorf("%s: %v", r.where, err)
		}
		defaults := c.Languages[r.lang].Placeholders
		for _, vals := range []map[string]string{full, {}} {
			out := fill(r.s, vals, defaults)
			for _, bad := range []string{"{", "}", "[[", "]]", "()", "( )", "「」", "（）", "  ", " 。", " 、", "、。", "(、", "''"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s: filled text contains %q: %q", r.where, bad, out)
				}
			}
		}
	}
	for _, l := range []Lang{Japanese, English} {
		for k, s := range c.Languages[l].Layout {
			if err := checkTemplate(s, layoutPlaceholders); err != nil {
				t.Errorf("languages.%s.layout.%s: %v", l, k, err)
			}
		}
	}
}

func TestCheckTemplateRejectsMistakes(t *testing.T) {
	for _, s := range []string{"{ipp}", "[[({ip})", "({ip})]]", "[[ [[{ip}]] ]]", "{ip", "送信{unknown|x}"} {
		if checkTemplate(s, contentPlaceholders) == nil {
			t.Errorf("checkTemplate(%q) accepted a malformed text", s)
		}
	}
	if err := checkTemplate("送信サーバーのIPアドレス[[({ip})]]と{provider_name|相手}", contentPlaceholders); err != nil {
		t.Errorf("valid text rejected: %v", err)
	}
}

func TestFill(t *testing.T) {
	defaults := map[string]string{"ip": "送信サーバーのIPアドレス"}
	cases := []struct {
		s    string
		vals map[string]string
		want string
	}{
		{"IP[[({ip})]]です", map[string]string{"ip": "192.0.2.1"}, "IP(192.0.2.1)です"},
		{"IP[[({ip})]]です", nil, "IPです"},
		{"{ip}を確認", nil, "送信サーバーのIPアドレスを確認"},
		{"{ip}を確認", map[string]string{"ip": "192.0.2.1"}, "192.0.2.1を確認"},
		{"{ip|そのIP}を確認", nil, "そのIPを確認"},
		{"[[{ip}と{domain}]]終", map[string]string{"ip": "192.0.2.1"}, "終"},
		{"[[{ip}と{domain}]]終", map[string]string{"ip": "192.0.2.1", "domain": "example.jp"}, "192.0.2.1とexample.jp終"},
	}
	for _, c := range cases {
		if got := fill(c.s, c.vals, defaults); got != c.want {
			t.Errorf("fill(%q, %v) = %q, want %q", c.s, c.vals, got, c.want)
		}
	}
}

func TestParseCatalogRejectsBrokenData(t *testing.T) {
	for name, data := range map[string]string{
		"unknown field": "languages: {ja: {}, en: {}}\nreasons: {userunknown: [{ja: {headlin: x}, en: {}}]}\n",
		"missing en":    "languages: {ja: {}, en: {}}\nreasons: {userunknown: [{ja: {headline: x}}]}\n",
		"missing lang":  "languages: {ja: {}}\n",
	} {
		if _, err := parseCatalog([]byte(data)); err == nil {
			t.Errorf("%s: parseCatalog accepted it", name)
		}
	}
}

func hasJapanese(s string) bool {
	for _, r := range s {
		switch {
		case r >= 0x3040 && r <= 0x30FF, r >= 0x4E00 && r <= 0x9FFF, r >= 0xFF66 && r <= 0xFF9F:
			return true
		}
	}
	return false
}
