package store

import (
	"sync"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// reportCacheSize is how many decoded reports a DB keeps. A stored report
// is never changed (only its raw copy is dropped, which the JSON does not
// hold), so a cached one stays true.
const reportCacheSize = 8

// reportCache keeps the last decoded reports by id. Without it every
// notice of the items of one bounce naming n recipients decodes that
// bounce's JSON (all n recipients) again: n² work, seconds for 1,000.
// The reports it returns are shared: callers only read them.
type reportCache struct {
	mu    sync.Mutex
	size  int
	m     map[int64]*bounce.Report
	order []int64 // oldest first
}

func newReportCache(size int) *reportCache {
	return &reportCache{size: size, m: map[int64]*bounce.Report{}}
}

func (c *reportCache) get(id int64) (*bounce.Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

func (c *reportCache) put(id int64, r *bounce.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		return
	}
	if len(c.order) >= c.size {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[id] = r
	c.order = append(c.order, id)
}
