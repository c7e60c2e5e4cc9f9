package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// The UIDs to dispose are recorded with their batch, atomically, once, per
// UIDVALIDITY, and stay until Disposed.
func TestDisposePending(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	pending := func(v uint32) []uint32 {
		t.Helper()
		got, err := db.PendingDisposal(ctx, "INBOX", v)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := pending(7); len(got) != 0 {
		t.Fatalf("pending on a new database: %v", got)
	}

	b := batch(3, t0, plainMsg(1), bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com"),
		bounceMsg(3, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "b@outlook.example.com"))
	b.Dispose = []uint32{3, 2}
	mustCommit(t, db, b)
	if got := pending(7); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("pending after commit = %v, want [2 3]", got)
	}
	if got := pending(8); len(got) != 0 {
		t.Errorf("pending of another UIDVALIDITY = %v", got)
	}
	other, err := db.PendingDisposal(ctx, "Other", 7)
	if err != nil || len(other) != 0 {
		t.Errorf("pending of another mailbox = %v, %v", other, err)
	}

	// A replay of the batch (killed before the cursor was read back) adds nothing twice.
	mustCommit(t, db, b)
	if got := pending(7); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("pending after replay = %v, want [2 3]", got)
	}

	// A batch that does not commit leaves nothing pending.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	lost := batch(10, t0.Add(time.Minute), bounceMsg(10, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "c@outlook.example.com"))
	lost.Dispose = []uint32{10}
	if _, err := db.CommitBatch(cctx, lost); err == nil {
		t.Fatal("CommitBatch with a cancelled context succeeded")
	}
	if got := pending(7); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("pending after a failed commit = %v, want [2 3]", got)
	}

	if err := db.Disposed(ctx, "INBOX", 7, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if got := pending(7); !slices.Equal(got, []uint32{3}) {
		t.Errorf("pending after Disposed(2) = %v, want [3]", got)
	}
	// Disposed under another UIDVALIDITY clears nothing of this one.
	if err := db.Disposed(ctx, "INBOX", 8, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if got := pending(7); !slices.Equal(got, []uint32{3}) {
		t.Errorf("pending after Disposed under UIDVALIDITY 8 = %v, want [3]", got)
	}

	// A new UIDVALIDITY makes the old UIDs meaningless: dropped.
	if err := db.ResetMailbox(ctx, "INBOX", 8, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM dispose_pending`); n != 0 {
		t.Errorf("%d pending rows after a UIDVALIDITY change, want 0", n)
	}
}
