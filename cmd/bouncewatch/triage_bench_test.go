package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// BenchmarkTriageAdvice measures what `triage --json` adds to the parser
// per pass over the repository's fixtures (testdata/mail): building each
// recipient's advice ("build") and writing the lines ("json"), against
// writing the reports alone ("report-only").
//
//	go test -run '^$' -bench TriageAdvice -benchmem ./cmd/bouncewatch
func BenchmarkTriageAdvice(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "mail", "*.eml"))
	if err != nil || len(files) == 0 {
		b.Skipf("no fixtures: %v", err)
	}
	var reps []*bounce.Report
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		reps = append(reps, bounce.Analyze(raw))
	}
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			for _, r := range reps {
				newTriageLine("f", r, advice.Japanese, nil)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		for b.Loop() {
			for _, r := range reps {
				if err := enc.Encode(newTriageLine("f", r, advice.Japanese, nil)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("report-only", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		for b.Loop() {
			for _, r := range reps {
				if err := enc.Encode(r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
