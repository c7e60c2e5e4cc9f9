package store

import (
	"context"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// Recipient-side items waiting for their first email are pending for an
// addressee until a digest to that addressee is recorded for them; the
// digest's token finds its items, and a refusal is recorded as such.
func TestEmailDigests(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(3, t0,
		bounceMsg(1, "192.0.2.9", "google", bounce.ReasonUserUnknown, "a@example.com"),
		bounceMsg(2, "192.0.2.9", "other", bounce.ReasonMailboxFull, "b@example.net"),
		bounceMsg(3, "192.0.2.9", "other", bounce.ReasonUserUnknown, "c@example.org")))
	mustTick(t, db, t0.Add(time.Hour))
	pend, err := db.PendingEmailItems(ctx, "Staff@example.jp", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 3 {
		t.Fatalf("pending = %+v, want the three items", pend)
	}
	ids := []int64{pend[0].Incident, pend[1].Incident}
	if err := db.SetEmailDigest(ctx, ids, "staff@example.jp", "bw.1.dx.mac@example.jp", "bw.1.dx.mac", t0); err != nil {
		t.Fatal(err)
	}
	// Recorded again (a retry): the first record stands.
	if err := db.SetEmailDigest(ctx, ids, "staff@example.jp", "other@example.jp", "other", t0); err != nil {
		t.Fatal(err)
	}
	if ref, ok, err := db.EmailDigestRef(ctx, ids[1], "STAFF@example.jp"); err != nil || !ok || ref != "bw.1.dx.mac@example.jp" {
		t.Errorf("EmailDigestRef = %q, %v, %v; want the first digest", ref, ok, err)
	}
	if _, ok, _ := db.EmailDigestRef(ctx, ids[1], "boss@example.jp"); ok {
		t.Error("a digest to staff counted for boss")
	}
	if left, _ := db.PendingEmailItems(ctx, "staff@example.jp", 10); len(left) != 1 || left[0].Incident != pend[2].Incident {
		t.Errorf("pending for staff after the digest = %+v, want only the third item", left)
	}
	if all, _ := db.PendingEmailItems(ctx, "boss@example.jp", 10); len(all) != 3 {
		t.Errorf("pending for boss = %+v, want all three", all)
	}
	if got, err := db.EmailDigestItems(ctx, "BW.1.DX.MAC"); err != nil || len(got) != 2 || got[0] != ids[0] || got[1] != ids[1] {
		t.Errorf("EmailDigestItems = %v, %v; want %v", got, err, ids)
	}
	if got, _ := db.EmailDigestItems(ctx, ""); len(got) != 0 {
		t.Errorf("the empty token finds %v", got)
	}
	// A refusal is recorded with no Message-ID and no token.
	if err := db.SetEmailDigest(ctx, []int64{pend[2].Incident}, "gone@example.jp", "", "", t0); err != nil {
		t.Fatal(err)
	}
	if ref, ok, _ := db.EmailDigestRef(ctx, pend[2].Incident, "gone@example.jp"); !ok || ref != "" {
		t.Errorf("refusal = %q, %v", ref, ok)
	}
	if got, _ := db.EmailDigestItems(ctx, ""); len(got) != 0 {
		t.Errorf("a refusal is found by the empty token: %v", got)
	}
}
