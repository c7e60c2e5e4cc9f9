package slack

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// A short message tells the time once: the period in its body, not again
// as 最終 in its context line. The detail keeps it in its context.
func TestShortTellsTheTimeOnce(t *testing.T) {
	n := sampleNotice()
	blocks, _ := Short(n)
	vis := Visible(blocks)
	if c := strings.Count(vis, "2026/11/27"); c != 1 || strings.Contains(vis, "最終") {
		t.Errorf("the date is told %d times:\n%s", c, vis)
	}
	n.Kind = notify.KindDetail
	detail, _ := Blocks(n)
	if !strings.Contains(Visible(detail), "最終 2026/11/27") {
		t.Errorf("the detail lost its context time:\n%s", Visible(detail))
	}
}
