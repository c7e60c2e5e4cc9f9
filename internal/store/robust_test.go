package store

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// hugeError is what a 1 MB malformed header line gives as a parse error.
var hugeError = "header: message: malformed MIME header line: " + strings.Repeat("\x01\xff<a>\"", 1<<20/6)

// A 1 MB error, with invalid UTF-8, is stored bounded and valid: in
// messages.error, in the report's JSON and in an outbox row's last_error.
func TestLongErrorsStoredBounded(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	broken := Message{UID: 1, Report: &bounce.Report{Kind: bounce.KindNone, Error: hugeError}}
	b := bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")
	b.Report.Error = hugeError
	failed := Message{UID: 3, Err: hugeError}
	mustCommit(t, db, batch(3, t0, broken, b, failed))

	rows, err := db.db.QueryContext(ctx, `SELECT uid, error FROM messages ORDER BY uid`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var uid int
		var e string
		if err := rows.Scan(&uid, &e); err != nil {
			t.Fatal(err)
		}
		n++
		if len(e) > safetext.MaxError || !utf8.ValidString(e) || !strings.HasPrefix(e, "header: message: malformed") {
			t.Errorf("uid %d: messages.error of %d bytes, valid %v: %.60q", uid, len(e), utf8.ValidString(e), e)
		}
	}
	rows.Close()
	if n != 3 {
		t.Fatalf("%d messages recorded, want 3", n)
	}
	if l := count(t, db, `SELECT max(length(CAST(json AS BLOB))) FROM reports`); l > 4*safetext.MaxError {
		t.Errorf("report JSON of %d bytes", l)
	}

	now := t0.Add(time.Hour)
	mustTick(t, db, now)
	items, err := db.NextOutbox(ctx, now, 10, time.Minute)
	if err != nil || len(items) == 0 {
		t.Fatalf("NextOutbox = %v, %v", items, err)
	}
	if err := db.MarkFailed(ctx, items[0].ID, hugeError, now); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkAbandoned(ctx, items[1].ID, hugeError, now); err != nil {
		t.Fatal(err)
	}
	if l := count(t, db, `SELECT max(length(CAST(last_error AS BLOB))) FROM outbox`); l > safetext.MaxError {
		t.Errorf("outbox.last_error of %d bytes", l)
	}
}

// A row leased by a process that died is free as soon as the next process
// releases the leases at start, not after the lease; its attempt stays
// counted (the dead process may have sent it: senders look before posting).
func TestReleaseLeasesAfterRestart(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	now := t0.Add(time.Hour)
	mustTick(t, db, now)
	items, err := db.NextOutbox(ctx, now, 10, 2*time.Minute, TargetSlack)
	if err != nil || len(items) != 1 {
		t.Fatalf("NextOutbox = %v, %v", items, err)
	}
	db.Close() // the process dies with the row in flight

	db2, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	later := now.Add(time.Second)
	if got, _ := db2.NextOutbox(ctx, later, 10, 2*time.Minute, TargetSlack); len(got) != 0 {
		t.Fatalf("leased row handed out before release: %+v", got)
	}
	if n, err := db2.ReleaseLeases(ctx); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v; want 1", n, err)
	}
	got, err := db2.NextOutbox(ctx, later, 10, 2*time.Minute, TargetSlack)
	if err != nil || len(got) != 1 || got[0].ID != items[0].ID || got[0].Attempts != 2 {
		t.Fatalf("after release: %+v, %v; want the row, attempt 2", got, err)
	}
}

// Parts marked by an attempt come back with the item on the next one, also
// after a restart; MarkSent replaces them with the final reference.
func TestMarkPartSurvivesRetry(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	now := t0.Add(time.Hour)
	mustTick(t, db, now)
	items, _ := db.NextOutbox(ctx, now, 10, time.Minute, TargetEmail)
	if len(items) != 1 || len(items[0].Parts) != 0 {
		t.Fatalf("items = %+v", items)
	}
	id := items[0].ID
	for _, ref := range []string{"<a.1@example.jp>", "<b.1@example.jp>"} {
		if err := db.MarkPart(ctx, id, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.MarkPart(ctx, id, "has space"); err == nil {
		t.Error("MarkPart accepted a reference with a space")
	}
	if err := db.MarkFailed(ctx, id, "421 try later", now); err != nil {
		t.Fatal(err)
	}
	again, _ := db.NextOutbox(ctx, now, 10, time.Minute, TargetEmail)
	if len(again) != 1 || strings.Join(again[0].Parts, ",") != "<a.1@example.jp>,<b.1@example.jp>" {
		t.Fatalf("retry = %+v, want both parts", again)
	}
	if err := db.MarkSent(ctx, id, "<a.1@example.jp> <b.1@example.jp> <c.1@example.jp>", now); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkPart(ctx, id, "<d.1@example.jp>"); err == nil {
		t.Error("MarkPart changed a row that is done")
	}
}

// Postpone hands a row back without counting an attempt; the oldest due
// row is handed out first, whatever the retry times.
func TestPostponeAndOldestFirst(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	for i := uint32(1); i <= 3; i++ {
		mustCommit(t, db, batch(i, t0, bounceMsg(i, "192.0.2.1", []string{"microsoft", "google", "yahoo"}[i-1], bounce.ReasonBlocked, "a@example.com")))
	}
	now := t0.Add(time.Hour)
	mustTick(t, db, now)
	items, _ := db.NextOutbox(ctx, now, 10, time.Minute, TargetSlack)
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	// Retry times in reverse order of age (as jittered backoff may give).
	for i, it := range items {
		if err := db.Postpone(ctx, it.ID, now.Add(time.Duration(3-i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := db.NextOutbox(ctx, now.Add(time.Minute), 10, time.Minute, TargetSlack)
	if len(got) != 3 {
		t.Fatalf("%d items after postponing", len(got))
	}
	for i, it := range got {
		if it.ID != items[i].ID || it.Attempts != 1 {
			t.Errorf("item %d: id %d attempt %d, want id %d attempt 1 (oldest first, postponing is no attempt)", i, it.ID, it.Attempts, items[i].ID)
		}
	}
}
