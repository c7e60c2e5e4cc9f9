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
		lines = append(lines, "→ "+escape(a.Role.Label()+a.Text))
	}
	return sections(strings.Join(lines, "\n"))
}
