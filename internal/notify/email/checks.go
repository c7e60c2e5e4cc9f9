package email

import "github.com/bouncewatch/bouncewatch/internal/notify"

// checkLines renders the 「確認結果」 section as clean lines: when the
// sender checks ran, what they found, and the actions with their roles.
func checkLines(n notify.Notice) []string {
	if n.Checks == nil || len(n.Checks.Lines) == 0 {
		return nil
	}
	var out []string
	for _, l := range n.Checks.TextLines(notify.JST()) {
		out = append(out, oneLine(l))
	}
	return out
}
