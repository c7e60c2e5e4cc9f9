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
