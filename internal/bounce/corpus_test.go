package bounce

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// corpusRoot holds the labelled development corpus, beside the repository
// (not part of it); the test skips when it is absent.
const corpusRoot = "../../../shared/corpus/sisimai"

var placeholderStatus = regexp.MustCompile(`^[245]\.0\.9\d\d$`)

// TestCorpusAccuracy scores Analyze on the labelled development corpus the
// way ../shared/eval/score.py does and holds the bar: reason and
// status at least 0.95, recipient at least 0.98, every not-a-bounce right.
// It guards against regressions; the corpus itself stays outside the repo.
func TestCorpusAccuracy(t *testing.T) {
	f, err := os.Open(filepath.Join(corpusRoot, "labels.tsv"))
	if err != nil {
		t.Skipf("development corpus not present: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	type row struct{ path, recipient, reason, status string }
	var order []string
	rows := map[string][]row{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := rec[col["path"]]
		if _, ok := rows[p]; !ok {
			order = append(order, p)
		}
		rows[p] = append(rows[p], row{p, rec[col["recipient"]], rec[col["reason"]], rec[col["status"]]})
	}
	var reasonOK, reasonN, statusOK, statusN, rcptOK, rcptN, negOK, negN int
	for _, p := range order {
		raw, err := os.ReadFile(filepath.Join(corpusRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		rep := Analyze(raw)
		if rows[p][0].reason == "NOT_BOUNCE" {
			negN++
			if rep.Kind == KindNone || len(rep.Recipients) == 0 {
				negOK++
			} else {
				t.Errorf("%s: not a bounce, got %s", p, rep.Kind)
			}
			continue
		}
		used := make([]bool, len(rep.Recipients))
		for _, w := range rows[p] {
			match := -1
			if w.recipient != "" {
				rcptN++
				for i, g := range rep.Recipients {
					if !used[i] && strings.EqualFold(strings.TrimSpace(g.Address), strings.TrimSpace(w.recipient)) {
						match = i
						break
					}
				}
				if match >= 0 {
					rcptOK++
				}
			}
			if match < 0 {
				for i, g := range rep.Recipients {
					if !used[i] && string(g.Reason) == w.reason {
						match = i
						break
					}
				}
			}
			if match < 0 {
				for i := range rep.Recipients {
					if !used[i] {
						match = i
						break
					}
				}
			}
			var got Recipient
			if match >= 0 {
				used[match] = true
				got = rep.Recipients[match]
			}
			reasonN++
			if w.reason == "ANY_BOUNCE" {
				if got.Reason != "" && got.Reason != ReasonVacation && got.Reason != ReasonFeedback && got.Reason != ReasonDelivered {
					reasonOK++
				}
			} else if string(got.Reason) == w.reason {
				reasonOK++
			}
			if st := strings.TrimSpace(w.status); st != "" && !placeholderStatus.MatchString(st) {
				statusN++
				if got.Status == st {
					statusOK++
				}
			}
		}
	}
	ratio := func(ok, n int) float64 {
		if n == 0 {
			return 1
		}
		return float64(ok) / float64(n)
	}
	t.Logf("reason %d/%d = %.4f, status %d/%d = %.4f, recipient %d/%d = %.4f, not-a-bounce %d/%d",
		reasonOK, reasonN, ratio(reasonOK, reasonN), statusOK, statusN, ratio(statusOK, statusN),
		rcptOK, rcptN, ratio(rcptOK, rcptN), negOK, negN)
	if ratio(reasonOK, reasonN) < 0.95 {
		t.Errorf("reason accuracy %.4f < 0.95", ratio(reasonOK, reasonN))
	}
	if ratio(statusOK, statusN) < 0.95 {
		t.Errorf("status accuracy %.4f < 0.95", ratio(statusOK, statusN))
	}
	if ratio(rcptOK, rcptN) < 0.98 {
		t.Errorf("recipient accuracy %.4f < 0.98", ratio(rcptOK, rcptN))
	}
}
