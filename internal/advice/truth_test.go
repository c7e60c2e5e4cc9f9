package advice

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// The detectors below read the texts the way a person does: each keyword
// class is a kind of statement (advice to resend, "nothing to do", "will
// arrive", ...). A statement is matched per sentence, so a negated sentence
// such as 「手で送り直さないでください」 does not count as advice to resend.

// kwClass is one kind of statement, in both languages.
type kwClass struct {
	name string
	ja   *regexp.Regexp
	en   *regexp.Regexp
	// notJA / notEN: a sentence matching these is a negation, not the statement.
	notJA, notEN *regexp.Regexp
}

var (
	kwResend = kwClass{
		name:  "resend advised",
		ja:    regexp.MustCompile(`送り直して(ください|下さい)|送り直し、|再送して(ください|下さい)|送信し直して(ください|下さい)|送り直すと`),
		notJA: regexp.MustCompile(`送り直さない|ないでください|控えて|必要はありません|送り直しても`),
		en:    regexp.MustCompile(`(?i)\b(send (it|the mail|them|mail) again|resend|re-send)\b`),
		notEN: regexp.MustCompile(`(?i)\b(do not|don't|no need|not needed|never|will fail)\b`),
	}
	kwNoAction = kwClass{
		name: "no action needed",
		ja:   regexp.MustCompile(`対応は(必要ありません|不要)|特に対応|何もする必要はありません|対応不要`),
		en:   regexp.MustCompile(`(?i)(nothing (is needed|needs to be done|to do)|no action (is )?needed)`),
	}
	kwWillArrive = kwClass{
		name: "will (may) arrive",
		ja:   regexp.MustCompile(`届く可能性|届きます|届く見込み|届くのを待|このあと届|再送を待って|再送の結果を待って`),
		en:   regexp.MustCompile(`(?i)(may (still|yet) arrive|will arrive|usually arrives|may still be delivered|wait for the (automatic )?retries)`),
	}
	kwDontResend = kwClass{
		name: "do not resend (yet)",
		ja:   regexp.MustCompile(`送り直さないで|送り直す必要はありません`),
		en:   regexp.MustCompile(`(?i)(do not send it again|no need to send it again)`),
	}
	kwNotDelivered = kwClass{
		name:  "not delivered",
		ja:    regexp.MustCompile(`届いていません|配送をあきらめ|再送されることもありません`),
		notJA: regexp.MustCompile(`まだ届いていません|可能性`),
		en:    regexp.MustCompile(`(?i)(has not been delivered|gave up|will not be retried)`),
	}
	// Futility said without a condition: 「解除されるまでは、送り直しても届きません」
	// is consistent with 「解除されたら送り直してください」; a bare
	// 「送り直しても届きません」 is not.
	kwDelivered = kwClass{
		name:  "delivered",
		ja:    regexp.MustCompile(`届いています|配送が完了|届いたことが報告`),
		notJA: regexp.MustCompile(`届いているか|届いているかどうか`),
		en:    regexp.MustCompile(`(?i)(was delivered|reached the recipient|mail arrived|reported as delivered)`),
		notEN: regexp.MustCompile(`(?i)whether`),
	}
	kwFutile = kwClass{
		name:  "resending is futile",
		ja:    regexp.MustCompile(`送り直しても(届きません|同じ結果)`),
		notJA: regexp.MustCompile(`まで(は|の間)|限り|なければ`),
		en:    regexp.MustCompile(`(?i)(will fail again|resending( it)? will not help)`),
		notEN: regexp.MustCompile(`(?i)\b(until|unless)\b`),
	}
)

var sentenceEnd = regexp.MustCompile(`[。！？]|\.\s|\.$|\n`)

// says reports whether text (in lang) makes the statement of class k.
func (k kwClass) says(lang Lang, text string) bool {
	re, not := k.ja, k.notJA
	if lang == English {
		re, not = k.en, k.notEN
	}
	for _, s := range sentenceEnd.Split(text, -1) {
		if re.MatchString(s) && (not == nil || !not.MatchString(s)) {
			return true
		}
	}
	return false
}

// contradictions lists what in a contradicts its delivery state.
func contradictions(a Advice) []string {
	var out []string
	lang := a.Lang
	all := []string{a.Headline, a.Summary, a.Explanation, a.Outlook}
	for _, ac := range a.Actions {
		all = append(all, ac.Text, ac.Short)
	}
	text := strings.Join(all, "\n")
	has := func(k kwClass) bool { return k.says(lang, text) }
	bad := func(k kwClass) { out = append(out, fmt.Sprintf("%q while %s", k.name, a.Delivery)) }
	switch a.Delivery {
	case DeliveryRetrying:
		for _, k := range []kwClass{kwResend, kwNotDelivered, kwFutile, kwDelivered} {
			if has(k) {
				bad(k)
			}
		}
		if !has(kwWillArrive) && !has(kwDontResend) {
			out = append(out, "retrying but says neither that the mail may still arrive nor not to resend")
		}
	case DeliveryFailed, DeliveryExpired:
		for _, k := range []kwClass{kwNoAction, kwWillArrive, kwDelivered} {
			if has(k) {
				bad(k)
			}
		}
		if !has(kwNotDelivered) {
			out = append(out, "a failure that never says the mail was not delivered")
		}
	case DeliveryDelivered:
		for _, k := range []kwClass{kwResend, kwNotDelivered, kwWillArrive, kwFutile} {
			if has(k) {
				bad(k)
			}
		}
	case DeliveryUnknown:
		for _, k := range []kwClass{kwNoAction, kwWillArrive} {
			if has(k) {
				bad(k)
			}
		}
	default:
		out = append(out, fmt.Sprintf("delivery state %q", a.Delivery))
	}
	if has(kwFutile) && has(kwResend) {
		out = append(out, "says resending will not help, and advises to resend")
	}
	return out
}

// Role detectors: words that show an action belongs to someone else.
var (
	// An action for the hosting company is something it does itself, never
	// "ask (or tell) the hosting company".
	wrongForHosting = map[Lang]*regexp.Regexp{
		Japanese: regexp.MustCompile(`レンタルサーバー会社|依頼して|伝えて|問い合わせて|お願いして`),
		English:  regexp.MustCompile(`(?i)hosting company|\bask\b|\btell\b`),
	}
	// An action for the recipient is something they do themselves; calling
	// or asking them is the sender's job.
	wrongForRecipient = map[Lang]*regexp.Regexp{
		Japanese: regexp.MustCompile(`相手|電話|連絡し|もらって`),
		English:  regexp.MustCompile(`(?i)the recipient|\bphone\b|\bcall\b|ask (them|their)`),
	}
	// DNS, authentication and dealing with the hosting company are the IT
	// person's work, not the sender's.
	wrongForSender = map[Lang]*regexp.Regexp{
		Japanese: regexp.MustCompile(`SPF|DKIM|DMARC|逆引き|PTR|DNS|レンタルサーバー会社に`),
		English:  regexp.MustCompile(`SPF|DKIM|DMARC|PTR|DNS|(?i)(ask|tell) the hosting company`),
	}
	// One term per thing.
	wrongTerms = map[Lang]*regexp.Regexp{
		Japanese: regexp.MustCompile(`ブラックリスト|配信遅延|遅配`),
		English:  regexp.MustCompile(`(?i)blacklist`),
	}
)

func roleMistakes(a Advice) []string {
	var out []string
	for i, ac := range a.Actions {
		var re *regexp.Regexp
		switch ac.Actor {
		case ActorHosting:
			re = wrongForHosting[a.Lang]
		case ActorRecipient:
			re = wrongForRecipient[a.Lang]
		case ActorSender:
			re = wrongForSender[a.Lang]
		case ActorIT:
		default:
			out = append(out, fmt.Sprintf("action %d: unknown actor %q", i+1, ac.Actor))
			continue
		}
		if re != nil {
			if m := re.FindString(ac.Text); m != "" {
				out = append(out, fmt.Sprintf("action %d given to %s mentions %q: %s", i+1, ac.Actor, m, ac.Text))
			}
		}
	}
	return out
}

func shapeMistakes(a Advice) []string {
	var out []string
	if len(a.Actions) == 0 {
		out = append(out, "no action")
	}
	if n := Width(a.Summary); a.Summary == "" || n > SummaryMax || strings.HasSuffix(a.Summary, "…") {
		out = append(out, fmt.Sprintf("summary %d columns wide (or cut): %q", n, a.Summary))
	}
	for i, ac := range a.Actions {
		if n := Width(ac.Short); ac.Short == "" || n > ShortMax {
			out = append(out, fmt.Sprintf("action %d: short form %d columns wide: %q", i+1, n, ac.Short))
		}
		if ac.Label == "" {
			out = append(out, fmt.Sprintf("action %d: no label for %q", i+1, ac.Actor))
		}
	}
	for _, s := range []string{a.Headline, a.Summary, a.Explanation, a.Outlook} {
		if m := wrongTerms[a.Lang].FindString(s); m != "" {
			out = append(out, fmt.Sprintf("term %q in %q", m, s))
		}
	}
	for _, ac := range a.Actions {
		if m := wrongTerms[a.Lang].FindString(ac.Text); m != "" {
			out = append(out, fmt.Sprintf("term %q in %q", m, ac.Text))
		}
	}
	for _, s := range []string{a.Headline, a.Summary} {
		if strings.Contains(s, "相手のメールサービス宛て") || strings.Contains(s, "to the recipient's mail service:") {
			out = append(out, "placeholder in the headline: "+s)
		}
		if strings.ContainsAny(s, "{}") || strings.Contains(s, "[[") {
			out = append(out, "template syntax in the headline: "+s)
		}
	}
	return out
}

// truthCase is one input: an entry of texts.yaml made to match, in one
// delivery state.
type truthCase struct {
	name string
	rep  *bounce.Report
	rc   bounce.Recipient
}

// statusFor is a full status code starting with prefix (e.g. 5.7.6 → 5.7.6,
// 5.7 → 5.7.0), in class c (4 or 5) when the prefix leaves it open.
func statusFor(prefix string, c byte) string {
	if prefix == "" {
		return string(c) + ".0.0"
	}
	parts := strings.Split(prefix, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	if parts[2] == "" {
		parts[2] = "0"
	}
	return strings.Join(parts, ".")
}

// remoteFor is a receiving host for a provider variant (Microsoft 365 and
// Outlook.com are told apart by it).
func remoteFor(variant string) (addrDomain, remote, provider string) {
	switch variant {
	case bounce.ProviderMicrosoft:
		return "outlook.jp", "apc.olc.protection.outlook.com", bounce.ProviderMicrosoft
	case ProviderMicrosoft365:
		return "example.com", "example-com.mail.protection.outlook.com", bounce.ProviderMicrosoft
	case "", bounce.ProviderOther:
		return "example.net", "mx.example.net", bounce.ProviderOther
	}
	return variant + ".example", "mx." + variant + ".example", variant
}

// truthCases runs every entry of every reason, and every fallback, through
// every delivery state.
func truthCases(t *testing.T) []truthCase {
	t.Helper()
	c := loadCatalog()
	var out []truthCase
	add := func(name string, reason bounce.Reason, e *entry, status string) {
		variants := e.Providers
		if len(variants) == 0 {
			variants = []string{bounce.ProviderOther, bounce.ProviderGoogle}
		}
		if len(e.Status) > 0 {
			status = e.Status[0]
		}
		diag := "550 generic refusal"
		if len(e.Diagnostic) > 0 {
			diag = "550 " + e.Diagnostic[0] + " (test)"
		}
		for _, v := range variants {
			dom, remote, prov := remoteFor(v)
			for _, st := range Deliveries {
				rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "203.0.113.25", ReportingMTA: "mail.example.jp",
					Original: bounce.Original{From: "Taro <taro@example.co.jp>", Subject: "見積もり"}}
				rc := bounce.Recipient{Address: "user@" + dom, Reason: reason, RemoteMTA: remote, Provider: prov, Diagnostic: diag}
				// Undefined reasons without a status class are explained by
				// the reply code (fallbacks 4xx and 5xx).
				byReply := reason == bounce.ReasonUndefined && status == ""
				switch st {
				case DeliveryRetrying:
					rep.Kind, rc.Action, rc.Status, rc.ReplyCode = bounce.KindDelay, bounce.ActionDelayed, statusFor(status, '4'), "451"
				case DeliveryFailed:
					rc.Action, rc.Status, rc.ReplyCode = bounce.ActionFailed, statusFor(status, '5'), "550"
				case DeliveryExpired:
					rc.Action, rc.Status, rc.ReplyCode = bounce.ActionFailed, "4"+statusFor(status, '4')[1:], "451"
				case DeliveryDelivered:
					rep.Kind, rc.Action, rc.Status = bounce.KindDelivered, bounce.ActionDelivered, "2.0.0"
				case DeliveryUnknown:
					rep.Kind = bounce.KindNone
				}
				if byReply && st != DeliveryDelivered {
					rc.Status = ""
				}
				out = append(out, truthCase{name: fmt.Sprintf("%s/%s/%s", name, v, st), rep: rep, rc: rc})
			}
		}
	}
	for _, r := range bounce.AllReasons {
		for i, e := range c.Reasons[string(r)] {
			add(fmt.Sprintf("%s[%d]", r, i), r, e, "")
		}
	}
	// Fallbacks are picked by the status class x.N; 4xx and 5xx by the
	// reply code alone (no status).
	for k, e := range c.Fallbacks {
		status := ""
		if strings.HasPrefix(k, "x.") {
			status = "5." + strings.TrimPrefix(k, "x.")
		}
		add("fallback-"+k, bounce.ReasonUndefined, e, status)
	}
	return out
}

// TestAdviceNeverContradictsTheDeliveryState runs every reason (every entry
// of texts.yaml and every fallback) × delivery state × language through
// ForRecipient and ForGroup and fails on a contradiction, an action given
// to the wrong role, a wrong term or a broken short form.
func TestAdviceNeverContradictsTheDeliveryState(t *testing.T) {
	seen := map[Delivery]bool{}
	for _, tc := range truthCases(t) {
		for _, lang := range []Lang{Japanese, English} {
			a := ForRecipient(tc.rep, tc.rc, lang)
			seen[a.Delivery] = true
			g := ForGroup(Group{Report: tc.rep, Recipient: tc.rc, Count: 2,
				Members: []Member{{Address: tc.rc.Address}, {Address: "other@example.org"}},
				First:   time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Last: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, lang, 3)
			for _, x := range []struct {
				what string
				a    Advice
			}{{"ForRecipient", a}, {"ForGroup", g.Advice}} {
				var problems []string
				problems = append(problems, contradictions(x.a)...)
				problems = append(problems, roleMistakes(x.a)...)
				problems = append(problems, shapeMistakes(x.a)...)
				if x.a.Delivery != DeliveryOf(tc.rep, tc.rc) {
					problems = append(problems, "delivery differs from DeliveryOf")
				}
				for _, p := range problems {
					t.Errorf("%s %s %s: %s\n%s", tc.name, lang, x.what, p, x.a.Text())
				}
			}
		}
	}
	for _, d := range Deliveries {
		if !seen[d] {
			t.Errorf("no case reached delivery state %s", d)
		}
	}
}

// TestDetectorsCatchContradictions makes sure the detectors above can fail:
// each known-bad advice (the wordings quoted in issue 11) is caught.
func TestDetectorsCatchContradictions(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Advice
	}{
		{"resend while retrying", Advice{Lang: Japanese, Delivery: DeliveryRetrying,
			Outlook: "現時点で同じメールを送り直す必要はありません。このあと届く可能性があります。",
			Actions: []Action{{Actor: ActorSender, Text: "容量が空いたら、同じメールを送り直してください。"}}}},
		{"no action on a failure", Advice{Lang: Japanese, Delivery: DeliveryExpired,
			Outlook: "このメールは届いていません。",
			Actions: []Action{{Actor: ActorSender, Text: "特に対応は必要ありません。"}}}},
		{"futile then resend", Advice{Lang: Japanese, Delivery: DeliveryFailed,
			Outlook: "このメールは届いていません。送り直しても届きません。",
			Actions: []Action{{Actor: ActorSender, Text: "設定が済んだら、あらためて送り直してください。"}}}},
		{"will arrive on expired", Advice{Lang: English, Delivery: DeliveryExpired,
			Outlook: "The mail has NOT been delivered.", Explanation: "The mail usually arrives within minutes.",
			Actions: []Action{{Actor: ActorSender, Text: "Check the address."}}}},
		{"delivered while retrying", Advice{Lang: Japanese, Delivery: DeliveryRetrying, Headline: "配送が完了しました",
			Outlook: "このあと届く可能性があります。", Actions: []Action{{Actor: ActorSender, Text: "対応は必要ありません。"}}}},
		{"resend while retrying (en)", Advice{Lang: English, Delivery: DeliveryRetrying,
			Outlook: "The mail may still arrive.", Actions: []Action{{Actor: ActorSender, Text: "Send the mail again."}}}},
	} {
		if got := contradictions(tc.a); len(got) == 0 {
			t.Errorf("%s: not detected", tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		a    Advice
	}{
		{"hosting asked by hosting", Advice{Lang: Japanese, Actions: []Action{{Actor: ActorHosting, Text: "レンタルサーバー会社に、送信IPの解除申請を依頼してください。"}}}},
		{"recipient phoned by recipient", Advice{Lang: Japanese, Actions: []Action{{Actor: ActorRecipient, Text: "電話など別の方法で相手に連絡し、正しいアドレスを確認してください。"}}}},
		{"DNS by the sender", Advice{Lang: Japanese, Actions: []Action{{Actor: ActorSender, Text: "自社ドメインのSPFを確認してください。"}}}},
		{"hosting asked by hosting (en)", Advice{Lang: English, Actions: []Action{{Actor: ActorHosting, Text: "Ask the hosting company to request delisting."}}}},
		{"admin is gone", Advice{Lang: English, Actions: []Action{{Actor: "admin", Text: "Check SPF."}}}},
	} {
		if got := roleMistakes(tc.a); len(got) == 0 {
			t.Errorf("%s: not detected", tc.name)
		}
	}
	// A negated resend is not advice to resend.
	if kwResend.says(Japanese, "同じメールを手で送り直さないでください。") || kwResend.says(English, "Do not send it again by hand.") {
		t.Error("a negated resend counted as advice to resend")
	}
}
