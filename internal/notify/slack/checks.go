package slack

import (
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// checks renders the 「確認結果」 section: what the sender checks found,
// when, and the actions that follow, each with its role. None without checks.
func checks(n notify.Notice) []slackgo.Block {
	if n.Checks == nil || len(n.Checks.Lines) == 0 {
		return nil
	}
	lines := []string{bold(health.Heading)}
	if w := n.Checks.When(notify.JST()); w != "" {
		lines = append(lines, "_"+escape(w)+"_")
	}
	for _, l := range n.Checks.Lines {
		lines = append(lines, "• "+escape(l))
	}
	for _, a := range n.Checks.Actions {
		lines = append(lines, actionLine(*n.Checks, a))
	}
	return sections(strings.Join(lines, "\n"))
}

// actionLine renders one action of the checks: its role (as the summary
// labels it: the hosting company by its name when configured) and text,
// with the DNS names and values to copy (Action.Code) as inline code. escape would
// turn their "~" and "_" into look-alikes that a DNS record does not accept
// (「v=spf1 … ∼all」); inside code Slack formats nothing, and only &, < and
// > are escaped.
func actionLine(s health.Summary, a health.Action) string {
	text := escape(s.Label(a.Role) + a.Text)
	code := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "ˋ")
	for _, c := range a.Code {
		if c == "" {
			continue
		}
		text = strings.Replace(text, escape(c), "`"+code.Replace(c)+"`", 1)
	}
	return "→ " + text
}
