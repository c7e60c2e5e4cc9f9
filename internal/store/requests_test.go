package store

import (
	"context"
	"testing"
	"time"
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
	if _, err := db.CommitBatch(context.Background(), batch(3, now, bad)); err == nil {
		t.Error("a request with a payload that is not JSON was accepted")
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
