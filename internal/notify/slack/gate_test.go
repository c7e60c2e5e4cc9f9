package slack

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// A 429 with Retry-After: 30 pauses the whole workspace: posts, edits and
// history reads of any channel fail at once, without a request, as not
// attempted and with the time left; after 30 s the next call goes out.
func TestRetryAfterPausesTheWorkspace(t *testing.T) {
	f := slacktest.New(t)
	clk := &manualClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := New(Config{Token: slacktest.BotToken, APIURL: f.APIURL(), Now: clk.now}, discard())
	ctx := context.Background()
	f.FailNext(slacktest.PostMessage, slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "30"})

	_, err := s.Post(ctx, "C1", sampleNotice())
	if retry, after := notify.Retryable(err); !retry || after != 30*time.Second || errors.Is(err, notify.ErrNotAttempted) {
		t.Fatalf("first post: %v (retry %v after %v), want the server's 429 with 30s", err, retry, after)
	}
	clk.add(10 * time.Second)
	for i := range 12 {
		var err error
		switch i % 4 {
		case 0:
			_, err = s.Post(ctx, "C2", sampleNotice())
		case 1:
			_, err = s.PostKeyed(ctx, "C1", "row-9", sampleNotice())
		case 2:
			_, _, err = s.Update(ctx, "C1", "1.2", sampleNotice())
		case 3:
			_, _, err = s.FindPosted(ctx, "C1", "row-9", clk.now())
		}
		retry, after := notify.Retryable(err)
		if !errors.Is(err, notify.ErrNotAttempted) || !retry || after != 20*time.Second {
			t.Fatalf("call %d during the pause: %v (retry %v after %v), want not attempted, 20s left", i, err, retry, after)
		}
	}
	if n := f.Attempts(slacktest.PostMessage) + f.Attempts(slacktest.Update) + f.Attempts(slacktest.History); n != 1 {
		t.Fatalf("%d requests reached Slack during the Retry-After, want 1", n)
	}
	clk.add(20 * time.Second)
	if _, err := s.Post(ctx, "C1", sampleNotice()); err != nil {
		t.Fatalf("post after the pause: %v", err)
	}
	if len(f.Posts()) != 1 {
		t.Errorf("%d posts", len(f.Posts()))
	}
}

// Without Retry-After, consecutive retryable failures pause the workspace
// for a doubling backoff; a success resets it; a permanent refusal of one
// message pauses nothing.
func TestFailuresBackOffWorkspaceWide(t *testing.T) {
	f := slacktest.New(t)
	clk := &manualClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := New(Config{Token: slacktest.BotToken, APIURL: f.APIURL(), Now: clk.now, Backoff: time.Second}, discard())
	ctx := context.Background()
	f.FailNext(slacktest.PostMessage, slacktest.Failure{Status: http.StatusServiceUnavailable}, slacktest.Failure{Status: http.StatusServiceUnavailable})
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		if _, err := s.Post(ctx, "C1", sampleNotice()); errors.Is(err, notify.ErrNotAttempted) || err == nil {
			t.Fatalf("failure %d: %v", i, err)
		}
		_, err := s.Post(ctx, "C1", sampleNotice())
		if _, after := notify.Retryable(err); !errors.Is(err, notify.ErrNotAttempted) || after != want {
			t.Fatalf("after failure %d: %v, want a pause of %v", i+1, err, want)
		}
		clk.add(want)
	}
	if _, err := s.Post(ctx, "C1", sampleNotice()); err != nil {
		t.Fatal(err)
	}
	f.FailNext(slacktest.PostMessage, slacktest.Failure{SlackErr: "channel_not_found"})
	if _, err := s.Post(ctx, "C9", sampleNotice()); err == nil {
		t.Fatal("post to a missing channel succeeded")
	}
	if _, err := s.Post(ctx, "C1", sampleNotice()); err != nil {
		t.Errorf("a permanent error paused the workspace: %v", err)
	}
}
