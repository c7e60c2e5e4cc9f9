package bounce

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzZZ(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				os.WriteFile("/tmp/slow-"+time.Now().Format("150405.000"), raw, 0o644)
				panic("slow")
			}
		}()
		Analyze(raw)
		close(done)
	})
}
