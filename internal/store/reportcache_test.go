package store

import (
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// The cache keeps the last size reports and forgets the oldest first.
func TestReportCacheBounded(t *testing.T) {
	c := newReportCache(3)
	for id := int64(1); id <= 5; id++ {
		c.put(id, &bounce.Report{Subject: string(rune('a' + id))})
	}
	for id := int64(1); id <= 5; id++ {
		r, ok := c.get(id)
		if want := id > 2; ok != want {
			t.Errorf("report %d cached = %v, want %v", id, ok, want)
		}
		if ok && r.Subject != string(rune('a'+id)) {
			t.Errorf("report %d is another's", id)
		}
	}
	if len(c.m) != 3 || len(c.order) != 3 {
		t.Errorf("%d reports kept (%d in order), want 3", len(c.m), len(c.order))
	}
}
