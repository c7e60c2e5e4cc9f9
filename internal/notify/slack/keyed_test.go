package slack

import (
	"context"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

func TestPostKeyedFindPosted(t *testing.T) {
	f := slacktest.New(t)
	// A failure pauses the workspace for Backoff: a nanosecond here.
	s := New(Config{Token: slacktest.BotToken, APIURL: f.APIURL(), Backoff: time.Nanosecond}, discard())
	ctx := context.Background()
	since := time.Now().Add(-time.Minute)

	if _, found, err := s.FindPosted(ctx, "C1", "row-1", since); found || err != nil {
		t.Fatalf("FindPosted before any post = %v, %v", found, err)
	}
	// Slack posts but the answer is lost: the caller sees a retryable error.
	f.FailNext(slacktest.PostMessage, slacktest.AnswerLost)
	_, err := s.PostKeyed(ctx, "C1", "row-1", sampleNotice())
	if retry, _ := notify.Retryable(err); err == nil || !retry {
		t.Fatalf("PostKeyed with a lost answer = %v, want a retryable error", err)
	}
	if _, err := s.PostKeyed(ctx, "C1", "row-2", sampleNotice()); err != nil {
		t.Fatal(err)
	}
	posts := f.Posts()
	if len(posts) != 2 {
		t.Fatalf("%d posts, want 2", len(posts))
	}
	ts, found, err := s.FindPosted(ctx, "C1", "row-1", since)
	if err != nil || !found || ts != posts[0].TS {
		t.Errorf("FindPosted(row-1) = %q, %v, %v; want %q", ts, found, err, posts[0].TS)
	}
	if _, found, _ := s.FindPosted(ctx, "C2", "row-1", since); found {
		t.Error("found a message of another channel")
	}
	if _, found, _ := s.FindPosted(ctx, "C1", "row-3", since); found {
		t.Error("found a key never posted")
	}
	f.FailNext(slacktest.History, slacktest.MissingScope)
	if _, _, err := s.FindPosted(ctx, "C1", "row-1", since); err == nil {
		t.Error("FindPosted without the history scope succeeded")
	} else if retry, _ := notify.Retryable(err); retry {
		t.Errorf("missing scope is retryable: %v", err)
	}
}
