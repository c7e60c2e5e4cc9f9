package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// One bounce naming many unknown users, cut by the parser: each recipient
// is an item of its own; IncidentDetails reads them all as IncidentDetail
// reads each, and every member's report keeps the Truncated flag and the
// recorded recipients (what the notices say 「最初の N 件だけ」 from).
func TestIncidentDetailsOfOneBigBounce(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	const n = 300
	m := bounceMsg(1, "192.0.2.10", "example", bounce.ReasonUserUnknown, "big0@example.com")
	rc := m.Report.Recipients[0]
	rc.Status, rc.Diagnostic = "5.1.1", "550 5.1.1 user unknown"
	m.Report.Recipients = nil
	for i := range n {
		rc.Address = fmt.Sprintf("big%d@example.com", i)
		m.Report.Recipients = append(m.Report.Recipients, rc)
	}
	m.Report.Truncated = true
	mustCommit(t, db, batch(1, t0, m))
	incs, err := db.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != n {
		t.Fatalf("%d incidents, want one item per recipient (%d)", len(incs), n)
	}
	var ids []int64
	for _, inc := range incs {
		ids = append(ids, inc.ID)
	}
	dets, err := db.IncidentDetails(ctx, ids, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != n {
		t.Fatalf("%d details for %d ids", len(dets), n)
	}
	seen := map[string]bool{}
	for i, det := range dets {
		one, err := db.IncidentDetail(ctx, ids[i], 20)
		if err != nil {
			t.Fatal(err)
		}
		if det.ID != ids[i] || len(det.Members) != 1 || len(one.Members) != 1 ||
			det.Members[0].Recipient.Address != one.Members[0].Recipient.Address {
			t.Fatalf("detail %d differs from IncidentDetail: %+v vs %+v", ids[i], det.Members, one.Members)
		}
		mb := det.Members[0]
		seen[mb.Recipient.Address] = true
		if mb.Report == nil || !mb.Report.Truncated || len(mb.Report.Recipients) != n {
			t.Fatalf("member %s: report not read back with its flag and %d recipients", mb.Recipient.Address, n)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients among the details, want %d", len(seen), n)
	}
}
