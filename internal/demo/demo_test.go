package demo

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
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
	if err := Run(ctx, Options{Once: true, Wait: 2 * time.Second, Out: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if n := strings.Count(s, "\n確認結果:\n"); n != 2 {
		t.Errorf("%d 確認結果 sections, want 2 (one per incident of the sending IP, none in the digest)", n)
	}
	if n := strings.Count(s, "━━━ bouncewatch 通知"); n != 3 {
		t.Errorf("%d notices, want 3 (2 incidents of the sending IP, 1 digest of the 5 recipients' items):\n%s", n, s)
	}
	// The intro reads as a sentence; a delay is told as one (配送遅延, the
	// one term), a block as an error; the digest's details name each
	// recipient's provider under the explanation they share.
	for _, want := range []string{"「ある朝の事務所」に届いたメール 13 通", "203.0.113.25", "見通し:", "宛先の確認 3件 / 相手の受信箱 2件", "デモ終了: 13 通",
		"(新しい配送遅延) ━━━\n【配送遅延】Microsoft(Outlook)宛て 4件", "(新しい配信エラー) ━━━\n【配信エラー】Microsoft(Outlook)宛て 2件",
		"・ishii.example@client.example.com（Google(Gmail)）",
		// Issue 12: the sending-side notices carry what the checks found in
		// the demo's DNS (Zones), each finding with its action.
		"で確かめた「確認結果」が付きます", "確認結果:\n", "・203.0.113.25 は Spamhaus ZEN（XBL）に登録されています。", "example.jp のSPFに送信IP 203.0.113.25 が含まれていません",
		"example.jp にはDMARCレコードがありません。", "送信IP 203.0.113.25 に逆引き(PTR)が設定されていません。",
		"いずれにも登録されていません", "https://check.spamhaus.org で 203.0.113.25 の解除を申請"} {
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

// The demo's world is served by its own DNS server: every name the checks
// ask about the office is answered there, and nothing else resolves.
func TestZones(t *testing.T) {
	srv, err := startDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr)
	}}
	ctx := context.Background()
	txt, err := r.LookupTXT(ctx, "example.jp")
	if err != nil || len(txt) != 1 || !strings.HasPrefix(txt[0], "v=spf1 ") {
		t.Errorf("SPF of example.jp: %q, %v", txt, err)
	}
	if _, err := r.LookupTXT(ctx, "_dmarc.example.jp"); err == nil {
		t.Error("_dmarc.example.jp resolves; the demo office has no DMARC")
	}
	if names, err := r.LookupAddr(ctx, "203.0.113.25"); err == nil {
		t.Errorf("203.0.113.25 has PTR %v; the demo's sending IP has none", names)
	}
	if ips, err := r.LookupHost(ctx, "25.113.0.203.zen.spamhaus.org"); err != nil || len(ips) != 1 || ips[0] != "127.0.0.4" {
		t.Errorf("ZEN for 203.0.113.25: %v, %v; want 127.0.0.4 (XBL)", ips, err)
	}
}

// A folder's messages name domains and IPs the demo's zones know nothing
// of: their notices carry no 確認結果 (it would not be true of them).
func TestRunMailDirHasNoChecks(t *testing.T) {
	dir := t.TempDir()
	b, err := fs.ReadFile(Mail(), "02-outlook-s3140-blocked-1.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blocked.eml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, Options{Once: true, MailDir: dir, Wait: 300 * time.Millisecond, Out: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "━━━ bouncewatch 通知 #1 (新しい配信エラー)") {
		t.Errorf("no notice of the blocked mail:\n%s", s)
	}
	if strings.Contains(s, "\n確認結果:\n") || strings.Contains(s, "Spamhaus") {
		t.Errorf("a folder's notice shows the demo world's findings:\n%s", s)
	}
}

// --once returns only after every recipient was printed, also when a bounce
// names so many that the incident clock is still writing notices while the
// demo checks whether it is done. Before the fix a DSN of 1,000 recipients
// ended with none or half of them printed, and this test (500) failed three
// runs of four.
func TestRunOnceWaitsForEveryNotice(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nTo: office@example.jp\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n")
	const n = 500
	for i := range n {
		fmt.Fprintf(&b, "\r\nFinal-Recipient: rfc822; user%d@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n", i)
	}
	b.WriteString("\r\n--b1--\r\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "many.eml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, Options{Once: true, MailDir: dir, Wait: 300 * time.Millisecond, Out: &out}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	// One digest for the one bounce (issue 11: one huge bounce does not
	// flood the output), naming every recipient in a line of its own: the
	// first few in the short part, all of them in its details.
	s := out.String()
	if got := strings.Count(s, "━━━ bouncewatch 通知 (宛先ごと) ━━━"); got != 1 {
		t.Errorf("%d digests printed for one bounce, want 1", got)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`・(user\d+@example\.com)[ （\n]`).FindAllStringSubmatch(s, -1) {
		named[m[1]] = true
	}
	for i := range n {
		if !named[fmt.Sprintf("user%d@example.com", i)] {
			t.Fatalf("user%d@example.com is in no printed digest (%d digests printed)", i, strings.Count(s, "【宛先ごとの配信エラー】"))
		}
	}
	if !strings.Contains(s, "・ほか 490件") {
		t.Errorf("the short part does not say how many more there are:\n%.2000s", s)
	}
}
