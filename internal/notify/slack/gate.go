package slack

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// gate is the one door to a Slack workspace's Web API for a Notifier.
// Slack's rate limits and outages concern the workspace (the token), not
// one message: after a 429 the gate stays shut for the Retry-After the
// server gave, and after other retryable failures for a backoff that
// doubles per consecutive failure (base, up to maxGateBackoff). While it
// is shut, calls fail at once with notify.ErrNotAttempted and the time
// left, without a request. A success opens it and resets the backoff.
type gate struct {
	now  func() time.Time
	base time.Duration

	mu       sync.Mutex
	until    time.Time // shut until then
	failures int       // consecutive retryable failures
}

// maxGateBackoff caps the backoff after repeated failures.
const maxGateBackoff = 5 * time.Minute

// enter returns nil when a request may be made now, else a retryable
// error carrying notify.ErrNotAttempted and how long the gate stays shut.
func (g *gate) enter(op string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if left := g.until.Sub(g.now()); left > 0 {
		return notify.Temporary(fmt.Errorf("slack %s: %w: the workspace is paused for %s after a rate limit or failure",
			op, notify.ErrNotAttempted, left.Round(time.Millisecond)), left)
	}
	return nil
}

// leave records the outcome of a request (the classified error or nil).
func (g *gate) leave(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil {
		g.failures = 0
		return
	}
	retry, after := notify.Retryable(err)
	if !retry || errors.Is(err, notify.ErrNotAttempted) {
		return // a refusal of this message, not of the workspace
	}
	g.failures++
	if after <= 0 {
		after = g.base
		for i := 1; i < g.failures && after < maxGateBackoff; i++ {
			after *= 2
		}
		after = min(after, maxGateBackoff)
	}
	if u := g.now().Add(after); u.After(g.until) {
		g.until = u
	}
}
