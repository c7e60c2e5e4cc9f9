package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// A reply asking for detail is queued with its message: once, even when the
// batch is replayed after a crash.
func TestRequestsQueuedOnceWithTheMessage(t *testing.T) {
	db, _ := openTest(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	res := mustCommit(t, db, batch(1, now, bounceMsg(1, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp")))
	if len(res.Incidents) != 1 {
		t.Fatalf("incidents = %v", res.Incidents)
	}
	inc := res.Incidents[0]
	reply := plainMsg(2)
	reply.Requests = []Request{{IncidentID: inc, Target: TargetEmail, Kind: "reply", Payload: []byte(`{"command":"detail"}`)}}
	b := batch(2, now.Add(time.Minute), reply)
	if res := mustCommit(t, db, b); res.Enqueued != 1 {
		t.Fatalf("enqueued %d, want 1", res.Enqueued)
	}
	mustCommit(t, db, b) // replay
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE kind = 'reply'`); n != 1 {
		t.Errorf("reply rows = %d, want 1", n)
	}
	items, err := db.NextOutbox(context.Background(), now.Add(2*time.Minute), 10, time.Minute, TargetEmail)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Kind != "reply" || items[0].IncidentID != inc || string(items[0].Payload) != `{"command":"detail"}` {
		t.Errorf("outbox = %+v", items)
	}
	bad := plainMsg(3)
	bad.Requests = []Request{{IncidentID: inc, Target: TargetEmail, Kind: "reply", Payload: []byte(`{not json`)}}
	res = mustCommit(t, db, batch(3, now, bad))
	if len(res.Failed) != 1 || res.Failed[0].UID != 3 || !strings.Contains(res.Failed[0].Reason, "not JSON") {
		t.Errorf("a request with a payload that is not JSON: failed = %+v, want uid 3 failed", res.Failed)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE kind = 'reply'`); n != 1 {
		t.Errorf("reply rows = %d after a bad payload, want 1", n)
	}
}

// Issue 13: a reply whose request names an incident the database does not
// have (a database recreated while the key was kept) fails a foreign key.
// It is recorded as failed to process, the bounces after it in the same
// batch and in later batches are recorded and grouped, and the cursor moves.
func TestPoisonedRequestRecordedAsFailed(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	mustCommit(t, db, batch(1, now, bounceMsg(1, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp")))
	poison := plainMsg(2)
	poison.Report = &bounce.Report{Kind: bounce.KindNone}
	poison.Requests = []Request{{IncidentID: 999, Target: TargetEmail, Kind: "reply", Payload: []byte(`{"command":"detail"}`)}}
	res, err := db.CommitBatch(ctx, batch(3, now, poison, bounceMsg(3, "203.0.113.25", "microsoft", "badreputation", "b@outlook.jp")))
	if err != nil {
		t.Fatalf("a poisoned reply failed the batch: %v", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].UID != 2 || !strings.Contains(res.Failed[0].Reason, "FOREIGN KEY") {
		t.Errorf("failed = %+v, want uid 2 with its constraint", res.Failed)
	}
	if res.Recorded != 2 || len(res.ReportIDs) != 1 || len(res.Incidents) != 1 {
		t.Errorf("result = %+v, want both messages recorded and the bounce grouped", res)
	}
	var errText string
	if err := db.db.QueryRow(`SELECT error FROM messages WHERE uid = 2`).Scan(&errText); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(errText, failedPrefix) || !strings.Contains(errText, "FOREIGN KEY") {
		t.Errorf("message error = %q, want it marked not processed with its reason", errText)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox WHERE kind = 'reply' OR kind = 'muted'`); n != 0 {
		t.Errorf("%d rows queued for the poisoned reply", n)
	}
	if _, last, _ := db.Cursor(ctx, "INBOX"); last != 3 {
		t.Errorf("cursor = %d, want 3", last)
	}
	res = mustCommit(t, db, batch(4, now.Add(time.Minute), bounceMsg(4, "203.0.113.25", "microsoft", "badreputation", "c@outlook.jp")))
	if res.Recorded != 1 || len(res.Incidents) != 1 {
		t.Errorf("the next batch: %+v", res)
	}
	if n := count(t, db, `SELECT count FROM incidents`); n != 3 {
		t.Errorf("incident count = %d, want the 3 bounces", n)
	}
	// A replay of the batch is a duplicate, not a second failure.
	res = mustCommit(t, db, batch(3, now, poison))
	if res.Duplicates != 1 || len(res.Failed) != 0 {
		t.Errorf("replay: %+v", res)
	}
}

// A message that breaks a rule of the messages table itself (here UID 0,
// which IMAP never gives) cannot even be recorded as failed: it is passed
// over and reported, and the rest of the batch is recorded.
func TestUnrecordableMessagePassedOver(t *testing.T) {
	db, _ := openTest(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	res := mustCommit(t, db, batch(2, now, plainMsg(0), bounceMsg(2, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp")))
	if len(res.Failed) != 1 || res.Failed[0].UID != 0 || !strings.Contains(res.Failed[0].Reason, "not recorded at all") {
		t.Errorf("failed = %+v", res.Failed)
	}
	if res.Recorded != 1 || len(res.Incidents) != 1 {
		t.Errorf("result = %+v, want the bounce recorded and grouped", res)
	}
	if _, last, _ := db.Cursor(context.Background(), "INBOX"); last != 2 {
		t.Errorf("cursor = %d, want 2", last)
	}
}

// Only a failure of the database itself holds the cursor: here the disk is
// full (SQLite's page limit stands in for it). The batch fails, nothing of
// it is recorded, and once there is room the same batch goes through.
func TestFullDiskHoldsTheCursor(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	mustCommit(t, db, batch(1, now, bounceMsg(1, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp")))
	db.db.SetMaxOpenConns(1) // the page limit is per connection
	var pages int64
	if err := db.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	big := bounceMsg(2, "203.0.113.25", "microsoft", "badreputation", "b@outlook.jp")
	big.Raw = bytes.Repeat([]byte("x"), 200<<10)
	_, err := db.CommitBatch(ctx, batch(2, now, big))
	if err == nil {
		t.Fatal("a batch was committed to a full disk")
	}
	if !HoldsCursor(err) {
		t.Errorf("a full disk does not hold the cursor: %v", err)
	}
	if _, last, _ := db.Cursor(ctx, "INBOX"); last != 1 {
		t.Errorf("cursor = %d after a failed batch, want 1", last)
	}
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
	if _, err := db.db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if res := mustCommit(t, db, batch(2, now, big)); res.Recorded != 1 || len(res.Failed) != 0 {
		t.Errorf("after room was made: %+v", res)
	}
}

func TestHoldsCursor(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("request payload is not JSON"), false},
		{fmt.Errorf("x: %w", context.Canceled), true},
		{fmt.Errorf("x: %w", sql.ErrConnDone), true},
	} {
		if got := HoldsCursor(tc.err); got != tc.want {
			t.Errorf("HoldsCursor(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A constraint from SQLite itself does not.
	_, err := openDBExec(t, `INSERT INTO outbox (incident, target, kind, created_at, next_attempt_at) VALUES (12345, 'email', 'x', 0, 0)`)
	if err == nil || HoldsCursor(err) {
		t.Errorf("a foreign key failure: err = %v, holds = %v", err, HoldsCursor(err))
	}
}

func openDBExec(t *testing.T, q string) (sql.Result, error) {
	db, _ := openTest(t)
	return db.db.Exec(q)
}

// A request's mute is applied with the message that asks for it: once, never
// shortening a longer mute, and not again on a replay.
func TestRequestAppliesItsChangeInTheSameTransaction(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	inc := mustCommit(t, db, batch(1, now, bounceMsg(1, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp"))).Incidents[0]
	m := plainMsg(2)
	m.Requests = []Request{{IncidentID: inc, Target: TargetEmail, Kind: "reply", Payload: []byte(`{}`), MuteUntil: now.Add(48 * time.Hour), Actor: "staff@example.jp"}}
	b := batch(2, now, m)
	if res := mustCommit(t, db, b); res.Enqueued != 1+len(targets) {
		t.Errorf("enqueued %d, want the reply and a muted row per target", res.Enqueued)
	}
	mustCommit(t, db, b)
	det, err := db.IncidentDetail(ctx, inc, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !det.MutedUntil.Equal(now.Add(48 * time.Hour)) {
		t.Errorf("muted until %v", det.MutedUntil)
	}
	short := plainMsg(3)
	short.Requests = []Request{{IncidentID: inc, Target: TargetEmail, Kind: "reply", MuteUntil: now.Add(time.Hour)}}
	mustCommit(t, db, batch(3, now, short))
	if det, _ := db.IncidentDetail(ctx, inc, 0); !det.MutedUntil.Equal(now.Add(48 * time.Hour)) {
		t.Errorf("a shorter mute changed it to %v", det.MutedUntil)
	}
	if n := count(t, db, `SELECT count(*) FROM notifications WHERE kind = 'muted'`); n != 1 {
		t.Errorf("muted log entries = %d, want 1", n)
	}
	if err := db.Request(ctx, Request{IncidentID: inc, Target: TargetSlack, Kind: "answer", Resolve: true, Actor: "slack:U1"}, now, targets); err != nil {
		t.Fatal(err)
	}
	if det, _ := db.IncidentDetail(ctx, inc, 0); det.State != "resolved" || det.ResolvedBy != "slack:U1" {
		t.Errorf("state %s by %q after a resolve request", det.State, det.ResolvedBy)
	}
	if err := db.Request(ctx, Request{IncidentID: 999, Target: TargetSlack, Kind: "answer"}, now, targets); !errors.Is(err, ErrNotFound) {
		t.Errorf("request for an unknown incident: %v", err)
	}
}

// 原文 gives only the requester's own bounces, within the caps.
func TestRawBouncesOfRequester(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var msgs []Message
	for i := uint32(1); i <= 6; i++ {
		m := bounceMsg(i, "203.0.113.25", "microsoft", "badreputation", fmt.Sprintf("r%d@outlook.jp", i))
		if i%2 == 0 {
			m.Report.Original.From = "Colleague <colleague@example.jp>"
		}
		msgs = append(msgs, m)
	}
	inc := mustCommit(t, db, batch(6, now, msgs...)).Incidents[0]
	mine := func(from string) bool { return strings.Contains(from, "staff@example.jp") }
	sel, err := db.RawBouncesOf(ctx, inc, mine, 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Messages) != 2 || sel.Others != 3 || sel.OverCap != 1 {
		t.Fatalf("selection: %d messages, %d others, %d over cap; want 2, 3, 1", len(sel.Messages), sel.Others, sel.OverCap)
	}
	for _, m := range sel.Messages {
		if !bytes.Contains(m.Data, []byte("bounce 5")) && !bytes.Contains(m.Data, []byte("bounce 3")) {
			t.Errorf("unexpected bounce %q (want the newest of staff's: 5 and 3)", m.Data)
		}
	}
	sel, _ = db.RawBouncesOf(ctx, inc, mine, 5, int64(len(msgs[0].Raw))+1)
	if len(sel.Messages) != 1 || sel.OverCap != 2 {
		t.Errorf("byte cap: %d messages, %d over cap; want 1, 2", len(sel.Messages), sel.OverCap)
	}
}

func TestTokenIssued(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	inc := mustCommit(t, db, batch(1, now, bounceMsg(1, "203.0.113.25", "microsoft", "badreputation", "a@outlook.jp"))).Incidents[0]
	if err := db.PutToken(ctx, "bw.1.abc.def", inc, now); err != nil {
		t.Fatal(err)
	}
	id, at, err := db.Token(ctx, "bw.1.abc.def")
	if err != nil || id != inc || !at.Equal(now) {
		t.Errorf("Token = %d %v %v", id, at, err)
	}
	if _, _, err := db.Token(ctx, "bw.1.abc.000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
}

func TestPingWrites(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM health`); n != 1 {
		t.Errorf("health rows = %d, want 1", n)
	}
	db.Close()
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping succeeded on a closed database")
	}
}

func TestPruneOutboxKeepsUndoneAndNewest(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if err := db.Enqueue(ctx, 0, []string{TargetStdout}, "note", nil, now); err != nil {
			t.Fatal(err)
		}
	}
	items, err := db.NextOutbox(ctx, now, 10, time.Minute, TargetStdout)
	if err != nil || len(items) != 3 {
		t.Fatalf("outbox: %v %v", items, err)
	}
	for _, it := range items[:2] {
		if err := db.MarkSent(ctx, it.ID, "", now); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.MarkSent(ctx, items[2].ID, "", now); err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(ctx, 0, []string{TargetStdout}, "note", nil, now); err != nil { // undone, newest
		t.Fatal(err)
	}
	n, err := db.PruneOutbox(ctx, now.Add(time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want the 3 done rows", n, err)
	}
	if c := count(t, db, `SELECT count(*) FROM outbox WHERE done_at = 0`); c != 1 {
		t.Errorf("undone rows = %d, want 1", c)
	}
	if n, _ := db.PruneOutbox(ctx, now.Add(time.Hour)); n != 0 {
		t.Errorf("second prune dropped %d", n)
	}
}
