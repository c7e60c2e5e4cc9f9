package slack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestNotifier(f *slacktest.Server) *Notifier {
	return New(Config{Token: slacktest.BotToken, APIURL: f.APIURL()}, discard())
}

func TestPostThenUpdateEditsInPlace(t *testing.T) {
	f := slacktest.New(t)
	s := newTestNotifier(f)
	ctx := context.Background()
	n := sampleNotice()
	ts, err := s.Post(ctx, "C1", n)
	if err != nil {
		t.Fatal(err)
	}
	n.Kind, n.Count = notify.KindUpdate, 9
	got, how, err := s.Update(ctx, "C1", ts, n)
	if err != nil {
		t.Fatal(err)
	}
	if got != ts || how != Edited {
		t.Errorf("Update = %q, %v; want %q, edited", got, how, ts)
	}
	posts, updates := f.Posts(), f.Updates()
	if len(posts) != 1 || len(updates) != 1 || len(f.Replies()) != 0 {
		t.Fatalf("got %d posts, %d updates and %d replies, want 1, 1 and 0", len(posts), len(updates), len(f.Replies()))
	}
	if updates[0].TS != ts || updates[0].Channel != "C1" {
		t.Errorf("update went to %s/%s, want C1/%s", updates[0].Channel, updates[0].TS, ts)
	}
	h := updates[0].Blocks[0]["text"].(map[string]any)["text"]
	if h != "【配信エラー】Microsoft(Outlook)宛て 9件 送信サーバーのIP評価低下" {
		t.Errorf("updated header = %v", h)
	}
}

func TestUpdateFallbacks(t *testing.T) {
	for _, c := range []struct {
		code     string
		how      UpdateOutcome
		threaded bool
	}{
		{"edit_window_closed", Replied, true},
		{"cant_update_message", Replied, true},
		{"message_not_found", Reposted, false},
	} {
		t.Run(c.code, func(t *testing.T) {
			f := slacktest.New(t)
			s := newTestNotifier(f)
			ctx := context.Background()
			ts, err := s.Post(ctx, "C1", sampleNotice())
			if err != nil {
				t.Fatal(err)
			}
			f.FailNext(slacktest.Update, slacktest.Failure{SlackErr: c.code})
			got, how, err := s.Update(ctx, "C1", ts, sampleNotice())
			if err != nil {
				t.Fatal(err)
			}
			// Every new message, threaded or not, in the order posted.
			posts, replies := f.Posts(), f.Replies()
			all := append(posts, replies...)
			sort.Slice(all, func(i, j int) bool { return all[i].TS < all[j].TS })
			if how != c.how || len(all) != 2 || all[0].TS != ts || got != all[1].TS || got == ts {
				t.Fatalf("Update = %q, %v with %d messages; want a new message, %v", got, how, len(all), c.how)
			}
			if c.threaded && all[1].ThreadTS != ts {
				t.Errorf("reply thread_ts = %q, want %q", all[1].ThreadTS, ts)
			}
			if !c.threaded && all[1].ThreadTS != "" {
				t.Errorf("repost is threaded under %q", all[1].ThreadTS)
			}
			if n := len(f.Updates()); n != 0 {
				t.Errorf("%d updates recorded after a refused edit", n)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name  string
		fail  slacktest.Failure
		retry bool
		after time.Duration
	}{
		{"429 with Retry-After", slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "7"}, true, 7 * time.Second},
		{"429 without Retry-After", slacktest.Failure{Status: http.StatusTooManyRequests}, true, 0},
		{"500", slacktest.Failure{Status: http.StatusInternalServerError}, true, 0},
		{"503", slacktest.Failure{Status: http.StatusServiceUnavailable}, true, 0},
		{"invalid_auth", slacktest.Failure{SlackErr: "invalid_auth"}, false, 0},
		{"channel_not_found", slacktest.Failure{SlackErr: "channel_not_found"}, false, 0},
		{"invalid_blocks", slacktest.Failure{SlackErr: "invalid_blocks"}, false, 0},
		{"internal_error", slacktest.Failure{SlackErr: "internal_error"}, true, 0},
		{"ratelimited", slacktest.Failure{SlackErr: "ratelimited"}, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := slacktest.New(t)
			f.FailNext(slacktest.PostMessage, c.fail)
			_, err := newTestNotifier(f).Post(context.Background(), "C1", sampleNotice())
			if err == nil {
				t.Fatal("Post succeeded")
			}
			retry, after := notify.Retryable(err)
			if retry != c.retry || after != c.after {
				t.Errorf("Retryable(%v) = %v, %v; want %v, %v", err, retry, after, c.retry, c.after)
			}
			if n := f.Attempts(slacktest.PostMessage); n != 1 || len(f.Posts()) != 0 {
				t.Errorf("%d attempts and %d messages posted; slack-go retried on its own", n, len(f.Posts()))
			}
		})
	}
	t.Run("update error that is no fallback case", func(t *testing.T) {
		f := slacktest.New(t)
		f.FailNext(slacktest.Update, slacktest.Failure{SlackErr: "channel_not_found"})
		_, _, err := newTestNotifier(f).Update(context.Background(), "C1", "1.2", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || retry {
			t.Errorf("Update error %v: retryable = %v, want a permanent error", err, retry)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		f := slacktest.New(t)
		s := New(Config{Token: "xoxb-wrong", APIURL: f.APIURL()}, discard())
		_, err := s.Post(context.Background(), "C1", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || retry {
			t.Errorf("Post with a wrong token: %v, retryable %v", err, retry)
		}
	})
	t.Run("network", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/api/"
		srv.Close()
		s := New(Config{Token: slacktest.BotToken, APIURL: url}, discard())
		_, err := s.Post(context.Background(), "C1", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || !retry {
			t.Errorf("Post to a closed server: %v, retryable %v", err, retry)
		}
	})
}

func TestReply(t *testing.T) {
	f := slacktest.New(t)
	s := newTestNotifier(f)
	n := sampleNotice()
	n.Kind = notify.KindDetail
	blocks, text := Blocks(n)
	ts, err := s.Reply(context.Background(), "C1", "1700000000.000001", text, blocks)
	if err != nil {
		t.Fatal(err)
	}
	replies := f.Replies()
	if len(replies) != 1 || len(f.Posts()) != 0 || replies[0].TS != ts || replies[0].ThreadTS != "1700000000.000001" || len(replies[0].Blocks) == 0 {
		t.Errorf("replies = %+v, top-level posts = %+v", replies, f.Posts())
	}
}
