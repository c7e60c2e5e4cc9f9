package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
)

func TestRetryable(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name  string
		err   error
		retry bool
		after time.Duration
	}{
		{"nil", nil, false, 0},
		{"temporary", Temporary(base, 30*time.Second), true, 30 * time.Second},
		{"permanent", Permanent(base), false, 0},
		{"wrapped permanent", fmt.Errorf("post: %w", Permanent(base)), false, 0},
		{"wrapped temporary", fmt.Errorf("post: %w", Temporary(base, 0)), true, 0},
		{"unclassified", base, true, 0},
		{"canceled", context.Canceled, true, 0},
	}
	for _, c := range cases {
		r, a := Retryable(c.err)
		if r != c.retry || a != c.after {
			t.Errorf("%s: Retryable = %v, %v; want %v, %v", c.name, r, a, c.retry, c.after)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", Permanent(base)), base) {
		t.Error("Error does not unwrap to its cause")
	}
}

func TestTitle(t *testing.T) {
	n := Notice{Kind: KindFirst, ProviderName: "Microsoft(Outlook)", Reason: "送信サーバーのIP評価低下", Count: 5}
	if got, want := n.Title(), "【配信エラー】Microsoft(Outlook)宛て 5件 送信サーバーのIP評価低下"; got != want {
		t.Errorf("Title = %q, want %q", got, want)
	}
	n.Advice = advice.GroupAdvice{Advice: advice.Advice{Retrying: true}}
	if got := n.Tag(); got != "【配信遅延】" {
		t.Errorf("retrying Tag = %q", got)
	}
	n.Kind = KindResolved
	if got := n.Tag(); got != "【解決済み】" {
		t.Errorf("resolved Tag = %q", got)
	}
	n = Notice{Provider: "other", Advice: advice.GroupAdvice{Advice: advice.Advice{Headline: "宛先不明"}}}
	if got, want := n.Title(), "【配信エラー】各社宛て 宛先不明"; got != want {
		t.Errorf("fallback Title = %q, want %q", got, want)
	}
}

func TestPeriod(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct{ first, last, want string }{
		{"2026-11-27T00:05:00Z", "2026-11-27T02:30:00Z", "2026/11/27 09:05〜11:30"},
		{"2026-11-27T00:05:00Z", "2026-11-27T23:00:00Z", "2026/11/27 09:05〜2026/11/28 08:00"},
		{"2026-11-27T00:05:00Z", "2026-11-27T00:05:00Z", "2026/11/27 09:05"},
	}
	for _, c := range cases {
		if got := Period(at(c.first), at(c.last)); got != c.want {
			t.Errorf("Period(%s, %s) = %q, want %q", c.first, c.last, got, c.want)
		}
	}
	if got := Period(time.Time{}, time.Time{}); got != "" {
		t.Errorf("zero Period = %q", got)
	}
}

// A digest tells each explanation once, for the recipients it is true for:
// items whose texts differ (another domain named) are told apart.
func TestCauses(t *testing.T) {
	item := func(addr, expl string) Notice {
		return Notice{Reason: "宛先のアドレスが存在しません", Advice: advice.GroupAdvice{
			Advice:     advice.Advice{Explanation: expl, Actions: []advice.Action{{Actor: advice.ActorSender, Text: "確認してください。"}}},
			Recipients: []string{addr}}}
	}
	cs := Causes([]Notice{
		item("a@example.org", "example.org に存在しません。"),
		item("b@example.net", "example.net に存在しません。"),
		item("c@example.org", "example.org に存在しません。"),
	})
	if len(cs) != 2 || strings.Join(cs[0].Recipients, ",") != "a@example.org,c@example.org" || strings.Join(cs[1].Recipients, ",") != "b@example.net" {
		t.Errorf("Causes = %+v", cs)
	}
	got := DigestTitle([]Notice{{Task: "mailbox"}, {Task: "address"}, {Task: "address"}, {Task: "zz"}})
	if want := "【宛先ごとの配信エラー】4件：宛先の確認 2件 / 相手の受信箱 1件 / その他 1件"; got != want {
		t.Errorf("DigestTitle = %q, want %q", got, want)
	}
}
