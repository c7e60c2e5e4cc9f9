package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
)

// Day one: the mailbox already holds weeks of bounces. backfill records them
// all, notifies no one, and prints one digest; `run` afterwards stays quiet
// about them and reports what arrives next.
func TestBackfillThenRun(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "mail", "*.eml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.HTTPAddr = ""
	out := &syncBuffer{}
	a, err := app.New(context.Background(), cfg, app.Options{Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	var last [2]uint32
	d, err := a.Backfill(context.Background(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), func(done, total uint32) { last = [2]uint32{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	if d.Messages != uint32(len(files)) || last[1] != uint32(len(files)) {
		t.Errorf("digest read %d messages, progress %v; want %d", d.Messages, last, len(files))
	}
	if d.Bounces < 40 || len(d.Groups) < 10 {
		t.Errorf("digest: %d bounces in %d groups; the fixtures hold more", d.Bounces, len(d.Groups))
	}
	text := d.Text()
	if !strings.Contains(text, "取り込み結果") || !strings.Contains(text, "Microsoft(Outlook)") {
		t.Errorf("digest text:\n%s", text)
	}
	if out.String() != "" {
		t.Errorf("backfill printed notifications:\n%s", out.String())
	}

	// run afterwards: nothing about the old mail, the next bounce as usual.
	cfg.GroupWait = 200 * time.Millisecond
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	r := start(t, cfg, out)
	waitFor(t, "the new bounce's notice", func() bool { return count(out.events(t), "incident", nil) >= 1 })
	r.waitSeen(t, int64(len(files)+1))
	r.stop()
	evs := out.events(t)
	if n := count(evs, "report", nil); n != 1 {
		t.Errorf("run reported %d bounces, want only the new one:\n%s", n, out.String())
	}
	if n := count(evs, "incident", nil); n != 1 {
		t.Errorf("run sent %d notices, want 1", n)
	}
}

// A message that cannot be recorded as it is (here a rule of the database
// refuses its recipient) is passed over and counted in the digest; the
// backfill goes on to the next.
func TestBackfillCountsMessagesNotProcessed(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	srv.Append(fixture(t, "postfix-userunknown.eml"))
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	dbPath := filepath.Join(t.TempDir(), "bw.db")
	cfg := testConfig(srv.Addr, srv.User, srv.Password, dbPath)
	cfg.HTTPAddr = ""
	refuseRecipient(t, dbPath, "user0001@gmail.com")
	a, err := app.New(context.Background(), cfg, app.Options{Stdout: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Backfill(context.Background(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Messages != 2 || d.Unprocessed != 1 || d.Bounces != 1 {
		t.Errorf("digest: %d messages, %d not processed, %d bounces; want 2, 1 and 1 (the one recorded)", d.Messages, d.Unprocessed, d.Bounces)
	}
	if text := d.Text(); !strings.Contains(text, "記録できずに読み飛ばしたメール: 1 通") {
		t.Errorf("the digest does not say a message was passed over:\n%s", text)
	}
}
