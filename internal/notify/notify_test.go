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
	if got := n.Tag(); got != "【配送遅延】" {
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
// items that differ only by the provider named share the generic text, with
// the provider on each recipient's line; items whose state or actions
// differ are told apart.
func TestCauses(t *testing.T) {
	item := func(addr, prov, expl string, d advice.Delivery) Notice {
		return Notice{Reason: "宛先のアドレスが存在しません", Provider: prov, ProviderName: map[string]string{"google": "Google(Gmail)"}[prov],
			Advice: advice.GroupAdvice{
				Advice: advice.Advice{Explanation: expl, General: "相手のメールサービスに存在しません。", Delivery: d,
					Actions: []advice.Action{{Actor: advice.ActorSender, Text: "確認してください。"}}},
				Recipients: []string{addr}}}
	}
	cs := Causes([]Notice{
		item("a@example.org", "other", "example.org に存在しません。", advice.DeliveryFailed),
		item("b@example.net", "google", "Google(Gmail)に存在しません。", advice.DeliveryFailed),
		item("c@example.org", "other", "example.org に存在しません。", advice.DeliveryFailed),
		item("d@example.com", "other", "example.com に存在しません。", advice.DeliveryExpired),
	})
	if len(cs) != 2 || strings.Join(cs[0].Recipients(), ",") != "a@example.org,b@example.net,c@example.org" ||
		strings.Join(cs[1].Recipients(), ",") != "d@example.com" {
		t.Fatalf("Causes = %+v", cs)
	}
	if cs[0].Advice.Explanation != "相手のメールサービスに存在しません。" {
		t.Errorf("a cause of several providers tells %q, not the generic text", cs[0].Advice.Explanation)
	}
	if cs[1].Advice.Explanation != "example.com に存在しません。" {
		t.Errorf("a cause of one recipient tells %q, not its own text", cs[1].Advice.Explanation)
	}
	if got, want := cs[0].Members[1].Line(), "b@example.net（Google(Gmail)）"; got != want {
		t.Errorf("member line = %q, want %q", got, want)
	}
	resolved := item("e@example.org", "google", "x", advice.DeliveryFailed)
	resolved.Kind, resolved.Count = KindResolved, 2
	if got, want := Causes([]Notice{resolved})[0].Members[0].Line(), "e@example.org（Google(Gmail)・解決済み・2通）"; got != want {
		t.Errorf("member line = %q, want %q", got, want)
	}
	if got, want := cs[0].Members[0].Line(), "a@example.org"; got != want {
		t.Errorf("member line = %q, want %q", got, want)
	}
	got := DigestTitle([]Notice{{Task: "mailbox"}, {Task: "address"}, {Task: "address"}, {Task: "zz"}})
	if want := "【宛先ごとの配信エラー】4件：宛先の確認 2件 / 相手の受信箱 1件 / その他 1件"; got != want {
		t.Errorf("DigestTitle = %q, want %q", got, want)
	}
}

func TestNumber(t *testing.T) {
	if got := Number(12); got != "通知 #12" {
		t.Errorf("Number(12) = %q, want 通知 #12", got)
	}
}
