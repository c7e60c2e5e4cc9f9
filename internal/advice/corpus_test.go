package advice

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// corpusMail holds real bounces from many MTAs, beside the repository (not
// part of it); the test skips when it is absent.
const corpusMail = "../../../shared/corpus/sisimai/maildir/bsd"

// TestCorpusAdviceIsTrue explains every recipient of every bounce of the
// development corpus, in both languages, and holds each advice to the same
// detectors as the table test: no contradiction with the delivery state, no
// action given to the wrong role, short forms that fit.
func TestCorpusAdviceIsTrue(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusMail, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Skipf("development corpus not present (%s)", corpusMail)
	}
	n := 0
	states := map[Delivery]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rep := bounce.Analyze(raw)
		for _, rc := range rep.Recipients {
			for _, lang := range []Lang{Japanese, English} {
				a := ForRecipient(rep, rc, lang)
				n++
				states[a.Delivery]++
				var problems []string
				problems = append(problems, contradictions(a)...)
				problems = append(problems, roleMistakes(a)...)
				problems = append(problems, shapeMistakes(a)...)
				for _, p := range problems {
					t.Errorf("%s %s (%s, %s): %s", filepath.Base(f), lang, rc.Reason, a.Delivery, p)
				}
			}
		}
	}
	t.Logf("%d advices from %d files; by delivery state: %v", n, len(files), states)
}
