package email

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/advice"
)

// A mail about a delay never lists its recipients as not delivered: the
// server is still trying. One recipient's problem names the recipient in
// the subject, which the sender recognises.
func TestSummaryAgreesWithDelivery(t *testing.T) {
	n := sampleNotice()
	n.Advice.Delivery, n.Advice.Retrying = advice.DeliveryRetrying, true
	text := Text(n)
	html, err := HTML(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{text, html, Subject(n)} {
		if strings.Contains(s, "届かなかった") || strings.Contains(s, "届いていません") {
			t.Errorf("a delay's summary says the mail was not delivered:\n%s", s)
		}
	}
	if !strings.Contains(text, "■ 対象の宛先") || !strings.HasPrefix(Subject(n), "【配送遅延】") {
		t.Errorf("a delay's summary:\n%s", text)
	}
	n.Advice.Delivery, n.Advice.Retrying = advice.DeliveryFailed, false
	if !strings.Contains(Text(n), "■ 届かなかった宛先") {
		t.Errorf("a failure's summary does not list what was not delivered:\n%s", Text(n))
	}

	item := sampleNotice()
	item.Task, item.Provider, item.ProviderName = "address", "other", "相手のメールサーバー(example.org)"
	item.Advice.Delivery, item.Advice.Recipients, item.Advice.More, item.Count = advice.DeliveryFailed, []string{"kondo@example.org"}, 0, 1
	if got, want := Subject(item), "【配信エラー】kondo@example.org 宛てのメールが届いていません(1件)"; got != want {
		t.Errorf("subject of one recipient's item = %q, want %q", got, want)
	}
}
