package bounce

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/mail/*.golden.json from the current output")

// mailDir holds the .eml fixtures, one per scenario, at the repository root.
const mailDir = "../../testdata/mail"

// fixtures returns the .eml files of mailDir, sorted by name.
func fixtures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no fixtures in %s", mailDir)
	}
	return files
}

// reportJSON is a report as `bouncewatch triage --json` writes it, without
// "file", indented for review.
func reportJSON(t testing.TB, rep *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatalf("marshal report: %v", err)
	}
	return b.Bytes()
}

func goldenPath(eml string) string {
	return strings.TrimSuffix(eml, ".eml") + ".golden.json"
}

// TestGolden compares Analyze's output for every fixture with its golden
// file. Run with -update to rewrite the goldens after an intended change,
// and review the diff.
func TestGolden(t *testing.T) {
	for _, f := range fixtures(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := reportJSON(t, Analyze(raw))
			gp := goldenPath(f)
			if *update {
				if err := os.WriteFile(gp, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("no golden file (run: go test ./internal/bounce -run Golden -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (rerun with -update if intended):\n%s", filepath.Base(gp), lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestGoldenOrphans finds golden files whose fixture was removed or renamed.
func TestGoldenOrphans(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join(mailDir, "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		eml := strings.TrimSuffix(g, ".golden.json") + ".eml"
		if _, err := os.Stat(eml); err != nil {
			if *update {
				_ = os.Remove(g)
				continue
			}
			t.Errorf("%s has no fixture %s (run -update to remove it)", filepath.Base(g), filepath.Base(eml))
		}
	}
}

// lineDiff shows the lines that differ between want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := max(len(w), len(g))
	for i := 0; i < n; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}
