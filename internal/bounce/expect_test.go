package bounce

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// expectRow is one line of testdata/mail/EXPECT.tsv: the facts a fixture
// must come out with. A fixture with several failed recipients has one row
// per recipient.
type expectRow struct {
	line int
	col  map[string]string // column name -> value
}

func (r expectRow) get(name string) string { return strings.TrimSpace(r.col[name]) }

// loadExpect reads EXPECT.tsv; the first line names the columns.
func loadExpect(t testing.TB) []expectRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mailDir, "EXPECT.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	head := strings.Split(lines[0], "\t")
	for _, need := range []string{"file", "kind", "recipient", "reason", "status", "reply_code", "temporary", "provider", "sending_ip", "original_subject"} {
		found := false
		for _, h := range head {
			found = found || h == need
		}
		if !found {
			t.Fatalf("EXPECT.tsv: no column %q in %q", need, lines[0])
		}
	}
	var rows []expectRow
	for i, l := range lines[1:] {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		r := expectRow{line: i + 2, col: map[string]string{}}
		for j, h := range head {
			if j < len(f) {
				r.col[h] = f[j]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// knownGaps are facts of EXPECT.tsv that the classifier gets wrong today,
// keyed "file:fact", with the reason. TestExpectations checks that each is
// still wrong: when one is fixed the test fails and asks for its removal.
// Never add to this list to make a new regression pass.
var knownGaps = map[string]string{}

// failedFacts is what one fixture got wrong: fact -> message.
type failedFacts map[string]string

// checkRow compares one EXPECT row with the report.
func checkRow(r expectRow, rep *Report, rowsOfFile int) failedFacts {
	bad := failedFacts{}
	kind := r.get("kind")
	if string(rep.Kind) != kind {
		bad["kind"] = "kind " + string(rep.Kind) + ", want " + kind
	}
	if kind == string(KindNone) {
		if len(rep.Recipients) != 0 {
			bad["recipients"] = "a message that is not a report has recipients"
		}
		return bad
	}
	// Rows of a report kind state every fact; for auto-replies and feedback
	// an empty cell is not asserted.
	full := kind == string(KindBounce) || kind == string(KindDelay) || kind == string(KindDelivered)
	want := func(name string) (string, bool) {
		v := r.get(name)
		return v, full || v != ""
	}
	if full && len(rep.Recipients) != rowsOfFile {
		bad["recipients"] = "got " + itoa(len(rep.Recipients)) + " recipients, want " + itoa(rowsOfFile) + ": " + addrs(rep)
	}
	if v, ok := want("sending_ip"); ok && !strings.Contains(r.get("note"), "(not asserted)") && rep.SendingIP != v {
		bad["sending_ip"] = "sending_ip " + q(rep.SendingIP) + ", want " + q(v)
	}
	if v, ok := want("original_subject"); ok && strings.TrimSpace(rep.Original.Subject) != v {
		bad["original_subject"] = "original subject " + q(rep.Original.Subject) + ", want " + q(v)
	}
	addr := r.get("recipient")
	var rc *Recipient
	for i := range rep.Recipients {
		if strings.EqualFold(rep.Recipients[i].Address, addr) {
			rc = &rep.Recipients[i]
			break
		}
	}
	if rc == nil {
		bad["recipient"] = "recipient " + addr + " missing; got " + addrs(rep)
		return bad
	}
	if v, ok := want("reason"); ok && string(rc.Reason) != v {
		bad["reason"] = "reason " + string(rc.Reason) + ", want " + v + " (diagnostic " + q(rc.Diagnostic) + ")"
	}
	if v, ok := want("status"); ok && rc.Status != v {
		bad["status"] = "status " + q(rc.Status) + ", want " + q(v)
	}
	if v, ok := want("reply_code"); ok && rc.ReplyCode != v {
		bad["reply_code"] = "reply code " + q(rc.ReplyCode) + ", want " + q(v)
	}
	if v, ok := want("temporary"); ok {
		if got := boolStr(rc.Temporary); got != v {
			bad["temporary"] = "temporary " + got + ", want " + v
		}
	}
	if v, ok := want("provider"); ok && rc.Provider != v {
		bad["provider"] = "provider " + q(rc.Provider) + ", want " + q(v)
	}
	return bad
}

// TestExpectations asserts every fact EXPECT.tsv states about every fixture.
func TestExpectations(t *testing.T) {
	rows := loadExpect(t)
	perFile := map[string]int{}
	for _, r := range rows {
		perFile[r.get("file")]++
	}
	// Every fixture is described, every described file exists.
	for _, f := range fixtures(t) {
		if perFile[filepath.Base(f)] == 0 {
			t.Errorf("%s has no row in EXPECT.tsv", filepath.Base(f))
		}
	}
	reports := map[string]*Report{}
	stillFailing := map[string]bool{}
	for _, r := range rows {
		file := r.get("file")
		rep, ok := reports[file]
		if !ok {
			raw, err := os.ReadFile(filepath.Join(mailDir, file))
			if err != nil {
				t.Errorf("EXPECT.tsv line %d: %v", r.line, err)
				continue
			}
			rep = Analyze(raw)
			reports[file] = rep
		}
		bad := checkRow(r, rep, perFile[file])
		facts := make([]string, 0, len(bad))
		for f := range bad {
			facts = append(facts, f)
		}
		sort.Strings(facts)
		for _, fact := range facts {
			key := file + ":" + fact
			if why, ok := knownGaps[key]; ok {
				stillFailing[key] = true
				t.Logf("known gap %s (%s): %s", key, why, bad[fact])
				continue
			}
			t.Errorf("%s (EXPECT.tsv line %d, %s): %s", file, r.line, r.get("recipient"), bad[fact])
		}
	}
	keys := make([]string, 0, len(knownGaps))
	for k := range knownGaps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !stillFailing[k] {
			t.Errorf("known gap %s (%s) now holds: remove it from knownGaps", k, knownGaps[k])
		}
	}
	t.Logf("%d rows, %d known gaps", len(rows), len(knownGaps))
}

// TestNegatives: a message that is not a report of failure (ordinary mail,
// auto-replies, complaint reports) must never come out as a bounce or a
// delay, whatever else is wrong with it. No known gaps here.
func TestNegatives(t *testing.T) {
	n := 0
	for _, r := range loadExpect(t) {
		switch Kind(r.get("kind")) {
		case KindNone, KindAutoReply, KindFeedback:
		default:
			continue
		}
		n++
		file := r.get("file")
		raw, err := os.ReadFile(filepath.Join(mailDir, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		rep := Analyze(raw)
		if rep.Kind == KindBounce || rep.Kind == KindDelay {
			t.Errorf("%s (expected %s) came out as %s with recipients %s", file, r.get("kind"), rep.Kind, addrs(rep))
		}
		for _, rc := range rep.Recipients {
			if rc.Reason != ReasonVacation && rc.Reason != ReasonFeedback {
				t.Errorf("%s: recipient %s has failure reason %s", file, rc.Address, rc.Reason)
			}
		}
	}
	if n == 0 {
		t.Fatal("EXPECT.tsv lists no negative fixtures")
	}
}

func addrs(rep *Report) string {
	var s []string
	for _, r := range rep.Recipients {
		s = append(s, r.Address)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func q(s string) string { return strconv.Quote(s) }

func itoa(n int) string { return strconv.Itoa(n) }
