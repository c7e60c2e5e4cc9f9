package bounce

import (
	"encoding/csv"
	"io"
	"os"
	"os/exec"
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
// Then it writes the variants of ../shared/eval/mutate.py (misleading
// mailbox names, cut-off returned messages, QP/base64 text, folded and
// lower-case DSN fields) into a temporary directory and holds reason
// accuracy at least 0.95 on each. It guards against regressions; the corpus
// itself stays outside the repo.
func TestCorpusAccuracy(t *testing.T) {
	labels := filepath.Join(corpusRoot, "labels.tsv")
	if _, err := os.Stat(labels); err != nil {
		t.Skipf("development corpus not present: %v", err)
	}
	s := scoreCorpus(t, corpusRoot, labels)[""]
	t.Logf("reason %d/%d = %.4f, status %d/%d = %.4f, recipient %d/%d = %.4f, not-a-bounce %d/%d",
		s.reasonOK, s.reasonN, s.reason(), s.statusOK, s.statusN, ratio(s.statusOK, s.statusN),
		s.rcptOK, s.rcptN, ratio(s.rcptOK, s.rcptN), s.negOK, s.negN)
	if s.reason() < 0.95 {
		t.Errorf("reason accuracy %.4f < 0.95", s.reason())
	}
	if r := ratio(s.statusOK, s.statusN); r < 0.95 {
		t.Errorf("status accuracy %.4f < 0.95", r)
	}
	if r := ratio(s.rcptOK, s.rcptN); r < 0.98 {
		t.Errorf("recipient accuracy %.4f < 0.98", r)
	}

	// Every report's From and Return-Path replaced by an ordinary mailbox,
	// and then its Subject by a neutral word too: a report is recognised by
	// its structure and its MTA's text, not by who sent it or its title.
	// Bars: 0.95 with the sender renamed; 0.93 with the Subject too (an
	// auto-reply known only by its "Auto:" subject, and IMail's reports
	// that have no preamble, are lost then).
	for _, v := range []struct {
		name    string
		subject bool
		bar     float64
	}{{"sender", false, 0.95}, {"sender+subject", true, 0.93}} {
		t.Run(v.name, func(t *testing.T) {
			out := t.TempDir()
			if err := renameSenders(corpusRoot, labels, out, v.subject); err != nil {
				t.Fatal(err)
			}
			s := &corpusScore{}
			for _, f := range scoreCorpus(t, out, filepath.Join(out, "labels.tsv")) {
				s.reasonOK, s.reasonN = s.reasonOK+f.reasonOK, s.reasonN+f.reasonN
			}
			t.Logf("%s: reason %d/%d = %.4f", v.name, s.reasonOK, s.reasonN, s.reason())
			if s.reason() < v.bar {
				t.Errorf("%s: reason accuracy %.4f < %.2f", v.name, s.reason(), v.bar)
			}
		})
	}

	t.Run("variants", func(t *testing.T) {
		python, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("python3 not found: the variants are written by mutate.py")
		}
		script := filepath.Join(corpusRoot, "..", "..", "eval", "mutate.py")
		if _, err := os.Stat(script); err != nil {
			t.Skipf("mutate.py not present: %v", err)
		}
		out := t.TempDir()
		cmd := exec.Command(python, script, "--root", corpusRoot, "--labels", labels, "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mutate.py: %v\n%s", err, b)
		}
		byVariant := scoreCorpus(t, out, filepath.Join(out, "labels.tsv"))
		if len(byVariant) == 0 {
			t.Fatal("mutate.py wrote no variants")
		}
		for v, s := range byVariant {
			t.Logf("%s: reason %d/%d = %.4f", v, s.reasonOK, s.reasonN, s.reason())
			if s.reason() < 0.95 {
				t.Errorf("%s: reason accuracy %.4f < 0.95", v, s.reason())
			}
		}
	})
}

// corpusScore counts what scoreCorpus got right.
type corpusScore struct {
	reasonOK, reasonN, statusOK, statusN, rcptOK, rcptN, negOK, negN int
}

func (s *corpusScore) reason() float64 { return ratio(s.reasonOK, s.reasonN) }

func ratio(ok, n int) float64 {
	if n == 0 {
		return 1
	}
	return float64(ok) / float64(n)
}

// scoreCorpus scores Analyze on the labelled files under root, as
// score.py does, per first folder of the path when the corpus holds
// variants (mutate.py's output), else under "".
func scoreCorpus(t *testing.T, root, labels string) map[string]*corpusScore {
	t.Helper()
	f, err := os.Open(labels)
	if err != nil {
		t.Fatal(err)
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
	scores := map[string]*corpusScore{}
	for _, p := range order {
		key := ""
		if root != corpusRoot {
			key, _, _ = strings.Cut(p, "/")
		}
		s := scores[key]
		if s == nil {
			s = &corpusScore{}
			scores[key] = s
		}
		raw, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		rep := Analyze(raw)
		if rows[p][0].reason == "NOT_BOUNCE" {
			s.negN++
			if rep.Kind == KindNone || len(rep.Recipients) == 0 {
				s.negOK++
			} else {
				t.Errorf("%s: not a bounce, got %s", p, rep.Kind)
			}
			continue
		}
		used := make([]bool, len(rep.Recipients))
		for _, w := range rows[p] {
			match := -1
			if w.recipient != "" {
				s.rcptN++
				for i, g := range rep.Recipients {
					if !used[i] && strings.EqualFold(strings.TrimSpace(g.Address), strings.TrimSpace(w.recipient)) {
						match = i
						break
					}
				}
				if match >= 0 {
					s.rcptOK++
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
			s.reasonN++
			if w.reason == "ANY_BOUNCE" {
				if got.Reason != "" && got.Reason != ReasonVacation && got.Reason != ReasonFeedback && got.Reason != ReasonDelivered {
					s.reasonOK++
				}
			} else if string(got.Reason) == w.reason {
				s.reasonOK++
			}
			if st := strings.TrimSpace(w.status); st != "" && !placeholderStatus.MatchString(st) {
				s.statusN++
				if got.Status == st {
					s.statusOK++
				}
			}
		}
	}
	return scores
}

// senderField matches a From, Return-Path or Subject header field with its
// continuation lines.
var senderField = regexp.MustCompile(`(?im)^(From|Return-Path|Subject):[^\r\n]*(\r?\n[ \t][^\r\n]*)*`)

// renameSenders copies the labelled files under root to out with the
// From and Return-Path of each message's own header replaced by
// "Spam Team <spam1@example.net>" (and with subject, its Subject by
// "Notice"), and copies the labels.
func renameSenders(root, labels, out string, subject bool) error {
	lb, err := os.ReadFile(labels)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "labels.tsv"), lb, 0o644); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, line := range strings.Split(string(lb), "\n") {
		p, _, _ := strings.Cut(line, "\t")
		if i == 0 || p == "" || seen[p] {
			continue
		}
		seen[p] = true
		raw, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return err
		}
		s := string(raw)
		end := len(s)
		for _, sep := range []string{"\r\n\r\n", "\n\n", "\r\r"} {
			if i := strings.Index(s, sep); i >= 0 && i < end {
				end = i
			}
		}
		head := senderField.ReplaceAllStringFunc(s[:end], func(f string) string {
			switch strings.ToLower(f[:4]) {
			case "from":
				return "From: Spam Team <spam1@example.net>"
			case "subj":
				if subject {
					return "Subject: Notice"
				}
				return f
			}
			return "Return-Path: <spam1@example.net>"
		})
		dst := filepath.Join(out, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, []byte(head+s[end:]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
