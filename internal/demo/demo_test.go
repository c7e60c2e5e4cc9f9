package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// Issue 11 item 6: the demo needs no files of the repository; it runs from
// any directory on its built-in messages.
func TestRunAnywhere(t *testing.T) {
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, Options{Once: true, Wait: 300 * time.Millisecond, Out: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if n := strings.Count(s, "━━━ bouncewatch 通知"); n != 3 {
		t.Errorf("%d notices, want 3 (2 incidents of the sending IP, 1 digest of the 5 recipients' items):\n%s", n, s)
	}
	// The intro reads as a sentence; a delay is told as one (配送遅延, the
	// one term), a block as an error; the digest's details name each
	// recipient's provider under the explanation they share.
	for _, want := range []string{"「ある朝の事務所」に届いたメール 13 通", "203.0.113.25", "見通し:", "宛先の確認 3件 / 相手の受信箱 2件", "デモ終了: 13 通",
		"(新しい配送遅延) ━━━\n【配送遅延】Microsoft(Outlook)宛て 4件", "(新しい配信エラー) ━━━\n【配信エラー】Microsoft(Outlook)宛て 2件",
		"・ishii.example@client.example.com（Google(Gmail)）"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestRunMailDir(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Once: true, MailDir: t.TempDir(), Out: &out})
	if err == nil || !strings.Contains(err.Error(), "no .eml files") {
		t.Errorf("an empty --mail folder: err = %v, want no .eml files", err)
	}
}
