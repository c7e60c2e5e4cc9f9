package slack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestNotifier(f *fakeSlack) *Notifier {
	return New(Config{Token: testBotToken, APIURL: f.apiURL()}, discard())
}

func TestPostThenUpdateEditsInPlace(t *testing.T) {
	f := newFakeSlack(t)
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
	posts, updates := f.calls()
	if len(posts) != 1 || len(updates) != 1 {
		t.Fatalf("got %d posts and %d updates, want 1 and 1", len(posts), len(updates))
	}
	if updates[0].TS != ts || updates[0].Channel != "C1" {
		t.Errorf("update went to %s/%s, want C1/%s", updates[0].Channel, updates[0].TS, ts)
	}
	h := updates[0].Blocks[0]["text"].(map[string]any)["text"]
	if h != "【配信エラー】Microsoft(Outlook)宛て 9件 送信サーバーのIP評価低下" {
		t.Errorf("updated header = %v", h)
	}
	if posts[0].ThreadTS != "" {
		t.Error("first post was threaded")
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
			f := newFakeSlack(t)
			s := newTestNotifier(f)
			ctx := context.Background()
			ts, err := s.Post(ctx, "C1", sampleNotice())
			if err != nil {
				t.Fatal(err)
			}
			f.inject("chat.update", failure{slackErr: c.code})
			got, how, err := s.Update(ctx, "C1", ts, sampleNotice())
			if err != nil {
				t.Fatal(err)
			}
			posts, _ := f.calls()
			if how != c.how || len(posts) != 2 || got != posts[1].TS || got == ts {
				t.Fatalf("Update = %q, %v with %d posts; want a new message, %v", got, how, len(posts), c.how)
			}
			if c.threaded && posts[1].ThreadTS != ts {
				t.Errorf("reply thread_ts = %q, want %q", posts[1].ThreadTS, ts)
			}
			if !c.threaded && posts[1].ThreadTS != "" {
				t.Errorf("repost is threaded under %q", posts[1].ThreadTS)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name  string
		fail  failure
		retry bool
		after time.Duration
	}{
		{"429 with Retry-After", failure{status: http.StatusTooManyRequests, retryAfter: "7"}, true, 7 * time.Second},
		{"429 without Retry-After", failure{status: http.StatusTooManyRequests}, true, 0},
		{"500", failure{status: http.StatusInternalServerError}, true, 0},
		{"503", failure{status: http.StatusServiceUnavailable}, true, 0},
		{"invalid_auth", failure{slackErr: "invalid_auth"}, false, 0},
		{"channel_not_found", failure{slackErr: "channel_not_found"}, false, 0},
		{"invalid_blocks", failure{slackErr: "invalid_blocks"}, false, 0},
		{"internal_error", failure{slackErr: "internal_error"}, true, 0},
		{"ratelimited", failure{slackErr: "ratelimited"}, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeSlack(t)
			f.inject("chat.postMessage", c.fail)
			_, err := newTestNotifier(f).Post(context.Background(), "C1", sampleNotice())
			if err == nil {
				t.Fatal("Post succeeded")
			}
			retry, after := notify.Retryable(err)
			if retry != c.retry || after != c.after {
				t.Errorf("Retryable(%v) = %v, %v; want %v, %v", err, retry, after, c.retry, c.after)
			}
			if posts, _ := f.calls(); len(posts) != 0 {
				t.Errorf("%d messages posted; slack-go retried on its own", len(posts))
			}
		})
	}
	t.Run("update error that is no fallback case", func(t *testing.T) {
		f := newFakeSlack(t)
		f.inject("chat.update", failure{slackErr: "channel_not_found"})
		_, _, err := newTestNotifier(f).Update(context.Background(), "C1", "1.2", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || retry {
			t.Errorf("Update error %v: retryable = %v, want a permanent error", err, retry)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		f := newFakeSlack(t)
		s := New(Config{Token: "xoxb-wrong", APIURL: f.apiURL()}, discard())
		_, err := s.Post(context.Background(), "C1", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || retry {
			t.Errorf("Post with a wrong token: %v, retryable %v", err, retry)
		}
	})
	t.Run("network", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/api/"
		srv.Close()
		s := New(Config{Token: testBotToken, APIURL: url}, discard())
		_, err := s.Post(context.Background(), "C1", sampleNotice())
		if retry, _ := notify.Retryable(err); err == nil || !retry {
			t.Errorf("Post to a closed server: %v, retryable %v", err, retry)
		}
	})
}

func TestReply(t *testing.T) {
	f := newFakeSlack(t)
	s := newTestNotifier(f)
	n := sampleNotice()
	n.Kind = notify.KindDetail
	blocks, text := Blocks(n)
	ts, err := s.Reply(context.Background(), "C1", "1700000000.000001", text, blocks)
	if err != nil {
		t.Fatal(err)
	}
	posts, _ := f.calls()
	if len(posts) != 1 || posts[0].TS != ts || posts[0].ThreadTS != "1700000000.000001" || len(posts[0].Blocks) == 0 {
		t.Errorf("reply = %+v", posts)
	}
}
