package advice

import (
	"strconv"
	"strings"
)

// Text renders the advice as plain text: headline, explanation and outlook,
// numbered actions with who acts in 【】, links, and the facts of the bounce.
// The section titles are in a.Lang (Japanese when empty).
func (a Advice) Text() string {
	lt := loadCatalog().lang(a.Lang)
	var b strings.Builder
	b.WriteString(a.Headline)
	b.WriteString("\n")
	a.body(&b, lt)
	return b.String()
}

// Text renders the group advice as plain text, like Advice.Text with the
// affected recipients listed under the headline.
func (g GroupAdvice) Text() string {
	lt := loadCatalog().lang(g.Lang)
	var b strings.Builder
	b.WriteString(g.Headline)
	b.WriteString("\n")
	if len(g.Recipients) > 0 {
		total := len(g.Recipients) + g.More
		b.WriteString("\n")
		line(&b, lt, "recipients_title", map[string]string{"count": strconv.Itoa(total)})
		for _, r := range g.Recipients {
			line(&b, lt, "recipient_line", map[string]string{"recipient": r})
		}
		if g.More > 0 {
			line(&b, lt, "more", map[string]string{"n": strconv.Itoa(g.More)})
		}
	}
	g.body(&b, lt)
	return b.String()
}

func (a Advice) body(b *strings.Builder, lt *langTexts) {
	if a.Explanation != "" || a.Outlook != "" {
		b.WriteString("\n")
		for _, s := range []string{a.Explanation, a.Outlook} {
			if s != "" {
				b.WriteString(s)
				b.WriteString("\n")
			}
		}
	}
	if len(a.Actions) > 0 {
		b.WriteString("\n")
		line(b, lt, "actions_title", nil)
		for i, ac := range a.Actions {
			line(b, lt, "action_line", map[string]string{"i": strconv.Itoa(i + 1), "actor": ac.Label, "text": ac.Text})
		}
	}
	if len(a.Links) > 0 {
		b.WriteString("\n")
		line(b, lt, "links_title", nil)
		for _, l := range a.Links {
			line(b, lt, "link_line", map[string]string{"title": l.Title, "url": l.URL})
		}
	}
	if len(a.Facts) > 0 {
		b.WriteString("\n")
		line(b, lt, "facts_title", nil)
		for _, f := range a.Facts {
			line(b, lt, "fact_line", map[string]string{"label": f.Label, "value": f.Value})
		}
	}
}

func line(b *strings.Builder, lt *langTexts, key string, vals map[string]string) {
	b.WriteString(fill(lt.Layout[key], vals, nil))
	b.WriteString("\n")
}

// ShortText renders the advice in a few lines for a short post: the summary,
// then one line per action with who acts and its short form, e.g.
// 「【情報システム担当】レンタルサーバー会社に解除申請を依頼する」.
func (a Advice) ShortText() string {
	lt := loadCatalog().lang(a.Lang)
	var b strings.Builder
	b.WriteString(a.Summary)
	b.WriteString("\n")
	for _, ac := range a.Actions {
		line(&b, lt, "short_action_line", map[string]string{"actor": ac.Label, "text": ac.Short})
	}
	return b.String()
}

// WhoDoesWhat is one line saying who does what first: for each actor, in
// the order they first appear, the short form of their first action, e.g.
// 「【情報システム担当】ヘテムルに解除申請を依頼する / 【送信者】急ぎの用件は電話などで伝える」.
// The line is cut to maxWidth display columns (no limit when maxWidth <= 0);
// whole items are dropped rather than cut when possible.
func (a Advice) WhoDoesWhat(maxWidth int) string {
	lt := loadCatalog().lang(a.Lang)
	sep := lt.Layout["who_sep"]
	var items []string
	seen := map[Actor]bool{}
	for _, ac := range a.Actions {
		if seen[ac.Actor] {
			continue
		}
		seen[ac.Actor] = true
		items = append(items, fill(lt.Layout["short_action_line"], map[string]string{"actor": ac.Label, "text": ac.Short}, nil))
	}
	out := ""
	for i, it := range items {
		next := it
		if i > 0 {
			next = out + sep + it
		}
		if maxWidth > 0 && Width(next) > maxWidth {
			if i == 0 {
				return shorten(it, maxWidth)
			}
			break
		}
		out = next
	}
	return out
}
