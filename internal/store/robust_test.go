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
