package email

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// item is one recipient-side item of a digest.
func item(id int64, task, addr, reason, explanation, diag string) notify.Notice {
	return notify.Notice{
		IncidentID: id, Kind: notify.KindFirst, Task: task, Reason: reason, Diagnostic: diag, Count: 1,
		Advice: advice.GroupAdvice{
			Advice: advice.Advice{
				Title: reason, Explanation: explanation, Outlook: "このメールは届いていません。",
				Actions: []advice.Action{{Actor: advice.ActorSender, Label: "送信者", Text: "宛先を確認してください。"}},
			},
			Recipients: []string{addr},
		},
	}
}

// A digest mail names every item once under its task, tells each shared
// explanation once, escapes what bounces say in the HTML, and is marked
// against auto-replies like every mail we send.
func TestComposeDigest(t *testing.T) {
	items := []notify.Notice{
		item(3, "address", "a@example.com", "宛先のアドレスが存在しません", "宛先は存在しません。", "550 5.1.1 <script>alert(1)</script> unknown"),
		item(4, "mailbox", "b@example.net", "相手のメールボックスが満杯です", "容量がいっぱいです。", "552 5.2.2 full"),
		item(5, "address", "c@example.org", "宛先のアドレスが存在しません", "宛先は存在しません。", "550 5.1.1 unknown"),
	}
	raw, err := ComposeDigest(items, sampleAddressing(t))
	if err != nil {
		t.Fatal(err)
	}
	h, inline, atts, _ := parts(t, raw)
	if len(atts) != 0 {
		t.Errorf("%d attachments in a digest", len(atts))
	}
	subj, _ := h.Subject()
	if subj != "【宛先ごとの配信エラー】3件：宛先の確認 2件 / 相手の受信箱 1件" {
		t.Errorf("subject = %q", subj)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("X-Auto-Response-Suppress") != "All" {
		t.Error("digest not marked as machine-written")
	}
	if h.Get("X-Bouncewatch-Incident") != "3,4,5" {
		t.Errorf("X-Bouncewatch-Incident = %q", h.Get("X-Bouncewatch-Incident"))
	}
	text := inline["text/plain"]
	for _, a := range []string{"a@example.com", "b@example.net", "c@example.org"} {
		if !strings.Contains(text, a) {
			t.Errorf("text does not name %s", a)
		}
	}
	if n := strings.Count(text, "宛先は存在しません。"); n != 1 {
		t.Errorf("the shared explanation is told %d times, want once:\n%s", n, text)
	}
	if strings.Index(text, "■ 宛先の確認（2件）") > strings.Index(text, "■ 相手の受信箱（1件）") {
		t.Errorf("tasks out of order:\n%s", text)
	}
	html := inline["text/html"]
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("the bounce's words are not escaped in the HTML")
	}
	if _, err := ComposeDigest(nil, sampleAddressing(t)); err == nil {
		t.Error("a digest of nothing was composed")
	}
	a := sampleAddressing(t)
	a.To = []string{"x@example.com\r\nBcc: y@example.com"}
	if _, err := ComposeDigest(items, a); err == nil {
		t.Error("a recipient with a line break was accepted")
	}
}

// The answer to a reply to a digest carries the note and every item's
// detail, threaded under the reply.
func TestComposeDigestDetail(t *testing.T) {
	a := sampleAddressing(t)
	a.InReplyTo, a.References, a.Subject = "r1@example.jp", []string{"d1@example.jp", "r1@example.jp"}, "Re: 一覧"
	raw, err := ComposeDigestDetail("停止はありません。", "a@example.com\n550 5.1.1 unknown", a,
		[]Attachment{{Data: []byte("From: x@example.jp\r\n\r\nbody\r\n")}})
	if err != nil {
		t.Fatal(err)
	}
	h, inline, atts, _ := parts(t, raw)
	if irt, _ := h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "r1@example.jp" {
		t.Errorf("In-Reply-To = %v", irt)
	}
	if len(atts) != 1 {
		t.Errorf("%d attachments, want 1", len(atts))
	}
	if text := inline["text/plain"]; !strings.Contains(text, "停止はありません。") || !strings.Contains(text, "550 5.1.1 unknown") {
		t.Errorf("text lacks the note or the detail:\n%s", text)
	}
}
