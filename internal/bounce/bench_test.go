package bounce

import (
	"os"
	"path/filepath"
	"testing"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/bounce

// corpusDir is the shared development corpus (not part of the repository).
const corpusDir = "../../../shared/corpus/sisimai/maildir/bsd"

func loadFiles(b *testing.B, pattern string) [][]byte {
	b.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// benchFiles analyses every message once per iteration and reports
// messages per second alongside MB/s.
func benchFiles(b *testing.B, msgs [][]byte) {
	if len(msgs) == 0 {
		b.Skip("no messages")
	}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		for _, m := range msgs {
			Analyze(m)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "files/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		// CPU time of the whole process (GC included) per iteration: steadier
		// than ns/op when other work shares the machine.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkAnalyzeCorpus(b *testing.B) {
	if _, err := os.Stat(corpusDir); err != nil {
		b.Skipf("corpus not available: %v", err)
	}
	benchFiles(b, loadFiles(b, filepath.Join(corpusDir, "*.eml")))
}

func BenchmarkAnalyzeFixtures(b *testing.B) {
	benchFiles(b, loadFiles(b, filepath.Join(mailDir, "*.eml")))
}

// BenchmarkAnalyzeLarge: a Postfix bounce returning a large attachment. The
// time per byte should stay flat from 4 MB to 20 MB.
func BenchmarkAnalyzeLarge(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"4MB", 4 << 20}, {"20MB", 20 << 20}} {
		raw := postfixDSN("kondo@example.org", "550 5.1.1 <kondo@example.org>: Recipient address rejected: User unknown", size.n)
		b.Run(size.name, func(b *testing.B) {
			benchFiles(b, [][]byte{raw})
		})
	}
}

// BenchmarkAnalyzeManyRecipients shows the cost per recipient of a report
// with a long text (see TestHostileManyRecipients).
func BenchmarkAnalyzeManyRecipients(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(itoa(n), func(b *testing.B) {
			benchFiles(b, [][]byte{manyRecipients(n)})
		})
	}
}
