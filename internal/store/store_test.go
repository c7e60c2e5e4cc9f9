package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
)

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

var timing = incident.Timing{
	GroupWait:      time.Minute,
	GroupInterval:  10 * time.Minute,
	RepeatInterval: 24 * time.Hour,
	ResolveAfter:   6 * time.Hour,
}

var targets = []string{TargetSlack, TargetEmail}

func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bw.db")
	db, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// bounceMsg is a bounce from sending IP ip for one recipient at provider.
func bounceMsg(uid uint32, ip, provider string, reason bounce.Reason, addr string) Message {
	rep := &bounce.Report{
		Kind:         bounce.KindBounce,
		SendingIP:    ip,
		ReportingMTA: "relay.example.jp",
		Subject:      "Undelivered Mail Returned to Sender",
		From:         "MAILER-DAEMON@relay.example.jp",
		MessageID:    fmt.Sprintf("<bounce-%d@relay.example.jp>", uid),
		Date:         t0.Add(-time.Minute),
		Original: bounce.Original{
			MessageID: fmt.Sprintf("<orig-%d@example.jp>", uid),
			From:      "staff@example.jp",
			To:        addr,
			Subject:   fmt.Sprintf("見積書 %d", uid),
			Date:      t0.Add(-2 * time.Minute),
		},
		Recipients: []bounce.Recipient{{
			Address:    addr,
			Action:     bounce.ActionFailed,
			Status:     "5.7.1",
			ReplyCode:  "550",
			Reason:     reason,
			RemoteMTA:  "mx.example.net",
			Provider:   provider,
			Diagnostic: fmt.Sprintf("550 5.7.1 rejected %d", uid),
		}},
	}
	return Message{
		UID:       uid,
		MessageID: rep.MessageID,
		Size:      2048,
		Report:    rep,
		Raw:       []byte(fmt.Sprintf("From: MAILER-DAEMON@relay.example.jp\r\nSubject: bounce %d\r\n\r\nbody\r\n", uid)),
	}
}

func plainMsg(uid uint32) Message {
	return Message{UID: uid, MessageID: fmt.Sprintf("<m%d@example.com>", uid), Size: 1000}
}

func batch(lastUID uint32, now time.Time, msgs ...Message) Batch {
	return Batch{Mailbox: "INBOX", UIDValidity: 7, LastUID: lastUID, Messages: msgs, Now: now, Timing: timing, Targets: targets}
}

func mustCommit(t testing.TB, db *DB, b Batch) CommitResult {
	t.Helper()
	res, err := db.CommitBatch(context.Background(), b)
	if err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	return res
}

func mustTick(t testing.TB, db *DB, now time.Time) TickResult {
	t.Helper()
	res, err := db.Tick(context.Background(), now, timing, targets)
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	return res
}

// outboxKinds returns the outbox rows of an incident as "target:kind".
func outboxKinds(t testing.TB, db *DB, id int64) []string {
	t.Helper()
	det, err := db.IncidentDetail(context.Background(), id, 0)
	if err != nil {
		t.Fatalf("IncidentDetail: %v", err)
	}
	var out []string
	for _, d := range det.Deliveries {
		out = append(out, d.Target+":"+string(d.Kind))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != len(ms) || v < 2 {
		t.Fatalf("SchemaVersion = %d, %v; want %d (every embedded migration)", v, err, len(ms))
	}
	mustCommit(t, db, batch(1, t0, plainMsg(1)))
	db.Close()

	db2, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	defer db2.Close()
	if n := count(t, db2, `SELECT count(*) FROM schema_migrations`); n != len(ms) {
		t.Errorf("schema_migrations rows = %d, want %d (each applied once)", n, len(ms))
	}
	if n := count(t, db2, `SELECT count(*) FROM messages`); n != 1 {
		t.Errorf("messages after re-open = %d, want 1", n)
	}
	var mode string
	if err := db2.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if n := count(t, db2, `PRAGMA foreign_keys`); n != 1 {
		t.Errorf("foreign_keys = %d, want 1", n)
	}
}

func TestCommitBatchAtomic(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(3, t0, plainMsg(1), bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	before, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The disk fills up (SQLite's page limit stands in for it) after other
	// rows of the batch were written: nothing of the batch may remain. (A
	// constraint violation is no longer such a case: the message is
	// recorded as failed to process, see TestPoisonedRequestRecordedAsFailed.)
	db.db.SetMaxOpenConns(1) // the page limit is per connection
	var pages int64
	if err := db.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+8)); err != nil {
		t.Fatal(err)
	}
	huge := bounceMsg(12, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "d@outlook.example.com")
	huge.Raw = bytes.Repeat([]byte("x"), 400<<10)
	bad := batch(20, t0.Add(time.Minute),
		bounceMsg(10, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "b@outlook.example.com"),
		bounceMsg(11, "198.51.100.9", "google", bounce.ReasonUserUnknown, "c@gmail.example.com"),
		huge)
	if _, err := db.CommitBatch(ctx, bad); err == nil {
		t.Fatal("CommitBatch to a full disk succeeded")
	}
	assertUnchanged := func(what string) {
		t.Helper()
		after, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Errorf("%s: stats changed: %+v -> %+v", what, before, after)
		}
		if _, last, _ := db.Cursor(ctx, "INBOX"); last != 3 {
			t.Errorf("%s: cursor moved to %d", what, last)
		}
		if n := count(t, db, `SELECT count(*) FROM recipients`); n != 1 {
			t.Errorf("%s: recipients = %d, want 1", what, n)
		}
		if n := count(t, db, `SELECT count(*) FROM incidents`); n != 1 {
			t.Errorf("%s: incidents = %d, want 1", what, n)
		}
		if n := count(t, db, `SELECT count FROM incidents`); n != 1 {
			t.Errorf("%s: incident count = %d, want 1", what, n)
		}
	}
	assertUnchanged("full disk")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	good := bad
	good.Messages = good.Messages[:2]
	if _, err := db.CommitBatch(cctx, good); err == nil {
		t.Fatal("CommitBatch with a cancelled context succeeded")
	}
	assertUnchanged("cancelled context")

	// The same batch without the message too big for the disk then commits.
	res := mustCommit(t, db, good)
	if res.Recorded != 2 || len(res.ReportIDs) != 2 || len(res.Incidents) != 2 {
		t.Errorf("retry: %+v", res)
	}
}

func TestCursorMonotonicAndUIDValidity(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if v, last, err := db.Cursor(ctx, "INBOX"); v != 0 || last != 0 || err != nil {
		t.Fatalf("Cursor of new mailbox = %d, %d, %v", v, last, err)
	}
	mustCommit(t, db, batch(10, t0, plainMsg(9), plainMsg(10)))
	mustCommit(t, db, batch(5, t0, plainMsg(4)))
	if v, last, _ := db.Cursor(ctx, "INBOX"); v != 7 || last != 10 {
		t.Errorf("cursor = %d/%d, want 7/10 (never backwards)", v, last)
	}

	b := batch(3, t0, plainMsg(3))
	b.UIDValidity = 8
	if _, err := db.CommitBatch(ctx, b); !errors.Is(err, ErrUIDValidityChanged) {
		t.Fatalf("CommitBatch with new UIDVALIDITY: %v, want ErrUIDValidityChanged", err)
	}
	if err := db.ResetMailbox(ctx, "INBOX", 8, t0); err != nil {
		t.Fatal(err)
	}
	if v, last, _ := db.Cursor(ctx, "INBOX"); v != 8 || last != 0 {
		t.Errorf("cursor after reset = %d/%d, want 8/0", v, last)
	}
	mustCommit(t, db, b)
	if v, last, _ := db.Cursor(ctx, "INBOX"); v != 8 || last != 3 {
		t.Errorf("cursor = %d/%d, want 8/3", v, last)
	}
	old, err := db.Seen(ctx, "INBOX", 7, []uint32{3, 4, 9, 10, 11})
	if err != nil {
		t.Fatal(err)
	}
	if !old[4] || !old[9] || !old[10] || old[3] || old[11] {
		t.Errorf("Seen under old UIDVALIDITY = %v", old)
	}
	// The mailbox is read again under the new UIDVALIDITY: a bounce seen
	// before (same Message-ID) is recorded but not grouped again.
	again := batch(20, t0.Add(time.Hour), bounceMsg(20, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com"))
	again.UIDValidity = 8
	again.Messages[0].MessageID = "<m9@example.com>"
	res := mustCommit(t, db, again)
	if res.Recorded != 1 || res.Relocated != 1 || len(res.ReportIDs) != 0 || len(res.Incidents) != 0 {
		t.Errorf("relocated commit: %+v", res)
	}
	fresh := batch(21, t0.Add(time.Hour), bounceMsg(21, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com"))
	fresh.UIDValidity = 8
	if res := mustCommit(t, db, fresh); res.Relocated != 0 || len(res.Incidents) != 1 {
		t.Errorf("new message after reset: %+v", res)
	}
	cur, err := db.Seen(ctx, "INBOX", 8, []uint32{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if !cur[3] || cur[4] {
		t.Errorf("Seen under new UIDVALIDITY = %v", cur)
	}
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 6 {
		t.Errorf("messages = %d, want 6 (old rows kept)", n)
	}
}

func TestSeenManyUIDs(t *testing.T) {
	db, _ := openTest(t)
	var msgs []Message
	var uids []uint32
	for u := uint32(1); u <= 1200; u++ {
		if u%3 == 0 {
			msgs = append(msgs, plainMsg(u))
		}
		uids = append(uids, u)
	}
	mustCommit(t, db, batch(1200, t0, msgs...))
	seen, err := db.Seen(context.Background(), "INBOX", 7, uids)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 400 {
		t.Errorf("len(seen) = %d, want 400", len(seen))
	}
	for _, u := range uids {
		if seen[u] != (u%3 == 0) {
			t.Fatalf("seen[%d] = %v", u, seen[u])
		}
	}
}

// fiveMicrosoft is five bounces from one IP to Microsoft and one to Google.
func fiveMicrosoft() []Message {
	var msgs []Message
	for i := uint32(1); i <= 5; i++ {
		msgs = append(msgs, bounceMsg(i, "192.0.2.1", "microsoft", bounce.ReasonBlocked, fmt.Sprintf("u%d@outlook.example.com", i)))
	}
	msgs = append(msgs, bounceMsg(6, "192.0.2.1", "google", bounce.ReasonBlocked, "g@gmail.example.com"))
	msgs = append(msgs, plainMsg(7))
	return msgs
}

func TestGroupingAndGroupWait(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	res := mustCommit(t, db, batch(7, t0, fiveMicrosoft()...))
	if res.Recorded != 7 || len(res.ReportIDs) != 6 || len(res.Incidents) != 2 || res.Enqueued != 0 {
		t.Fatalf("commit: %+v", res)
	}
	if !res.NextCheck.Equal(t0.Add(time.Minute)) {
		t.Errorf("NextCheck = %v, want group wait end %v", res.NextCheck, t0.Add(time.Minute))
	}
	open, err := db.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 {
		t.Fatalf("open incidents = %d, want 2", len(open))
	}
	byProvider := map[string]Incident{}
	for _, inc := range open {
		byProvider[inc.Key.Provider] = inc
	}
	ms, g := byProvider["microsoft"], byProvider["google"]
	if ms.Count != 5 || ms.Key.String() != "ip:192.0.2.1|microsoft|blocked" {
		t.Errorf("microsoft incident = %+v", ms)
	}
	if g.Count != 1 || g.ID == ms.ID {
		t.Errorf("google incident = %+v", g)
	}

	// Before the group wait ends: nothing.
	if tr := mustTick(t, db, t0.Add(59*time.Second)); tr.Enqueued != 0 || tr.Evaluated != 0 {
		t.Errorf("tick before group wait: %+v", tr)
	}
	tr := mustTick(t, db, t0.Add(time.Minute))
	if tr.Enqueued != 4 || tr.Evaluated != 2 {
		t.Errorf("tick at group wait: %+v, want 4 rows for 2 incidents", tr)
	}
	for _, inc := range open {
		if got, want := outboxKinds(t, db, inc.ID), []string{"slack:first", "email:first"}; !equalStrings(got, want) {
			t.Errorf("incident %d outbox = %v, want %v", inc.ID, got, want)
		}
	}
	// Ticking again at the same time enqueues nothing more.
	if tr := mustTick(t, db, t0.Add(time.Minute)); tr.Enqueued != 0 {
		t.Errorf("second tick: %+v", tr)
	}
}

func TestReplayIsHarmless(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	b := batch(7, t0, fiveMicrosoft()...)
	mustCommit(t, db, b)
	mustTick(t, db, t0.Add(time.Minute))
	before, _ := db.Stats(ctx)

	// The crash-after-commit case: the same batch again, later.
	b.Now = t0.Add(2 * time.Minute)
	res := mustCommit(t, db, b)
	if res.Recorded != 0 || res.Duplicates != 7 || len(res.ReportIDs) != 0 || len(res.Incidents) != 0 || res.Enqueued != 0 {
		t.Errorf("replay: %+v", res)
	}
	after, _ := db.Stats(ctx)
	if after != before {
		t.Errorf("stats changed on replay: %+v -> %+v", before, after)
	}
	// Even after the group interval nothing is due: nothing changed.
	if tr := mustTick(t, db, t0.Add(20*time.Minute)); tr.Enqueued != 0 {
		t.Errorf("tick after replay: %+v", tr)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox`); n != 4 {
		t.Errorf("outbox rows = %d, want 4", n)
	}
	if n := count(t, db, `SELECT max(count) FROM incidents`); n != 5 {
		t.Errorf("max incident count = %d, want 5", n)
	}
}

func TestUpdateRepeatResolve(t *testing.T) {
	db, _ := openTest(t)
	uid := uint32(0)
	add := func(now time.Time, n int) {
		var msgs []Message
		for range n {
			uid++
			msgs = append(msgs, bounceMsg(uid, "203.0.113.5", "yahoo", bounce.ReasonSpamDetected, fmt.Sprintf("x%d@yahoo.example.com", uid)))
		}
		mustCommit(t, db, batch(uid, now, msgs...))
	}
	add(t0, 2)
	mustTick(t, db, t0.Add(time.Minute)) // first
	add(t0.Add(3*time.Minute), 1)
	if tr := mustTick(t, db, t0.Add(5*time.Minute)); tr.Enqueued != 0 || !tr.NextCheck.Equal(t0.Add(11*time.Minute)) {
		t.Errorf("changed, interval not elapsed: %+v", tr)
	}
	if tr := mustTick(t, db, t0.Add(11*time.Minute)); tr.Enqueued != 2 {
		t.Errorf("update tick: %+v", tr)
	}
	// Keep it active (a bounce every 5 hours) without change at notice times,
	// and check the repeat after 24h from the last notice.
	for h := 5; h <= 20; h += 5 {
		add(t0.Add(time.Duration(h)*time.Hour), 1)
		mustTick(t, db, t0.Add(time.Duration(h)*time.Hour+10*time.Minute)) // updates
	}
	// Last notice: update at 20h10m. Repeat is due at 44h10m but the incident
	// is quiet from 26h: it resolves first.
	tr := mustTick(t, db, t0.Add(25*time.Hour))
	if tr.Enqueued != 0 || !tr.NextCheck.Equal(t0.Add(26*time.Hour)) {
		t.Errorf("before quiet: %+v", tr)
	}
	tr = mustTick(t, db, t0.Add(26*time.Hour))
	if tr.Enqueued != 2 || tr.Closed != 1 || !tr.NextCheck.IsZero() {
		t.Errorf("resolve tick: %+v", tr)
	}
	want := []string{"slack:first", "email:first", "slack:update", "email:update"}
	for range 4 {
		want = append(want, "slack:update", "email:update")
	}
	want = append(want, "slack:resolved", "email:resolved")
	if got := outboxKinds(t, db, 1); !equalStrings(got, want) {
		t.Errorf("outbox = %v\nwant %v", got, want)
	}

	// A new bounce for the same key opens a new incident.
	add(t0.Add(27*time.Hour), 1)
	open, _ := db.OpenIncidents(context.Background())
	if len(open) != 1 || open[0].ID == 1 || open[0].Count != 1 {
		t.Errorf("after resolve, open = %+v", open)
	}
}

func TestRepeat(t *testing.T) {
	db, _ := openTest(t)
	tm := timing
	tm.ResolveAfter = 48 * time.Hour
	b := batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com"))
	b.Timing = tm
	mustCommit(t, db, b)
	tick := func(now time.Time) TickResult {
		r, err := db.Tick(context.Background(), now, tm, targets)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := tick(t0.Add(time.Minute)); r.Enqueued != 2 || !r.NextCheck.Equal(t0.Add(24*time.Hour+time.Minute)) {
		t.Errorf("first: %+v", r)
	}
	if r := tick(t0.Add(24*time.Hour + time.Minute)); r.Enqueued != 2 {
		t.Errorf("repeat: %+v", r)
	}
	if got := outboxKinds(t, db, 1); !equalStrings(got, []string{"slack:first", "email:first", "slack:repeat", "email:repeat"}) {
		t.Errorf("outbox = %v", got)
	}
}

func TestMute(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	mustTick(t, db, t0.Add(time.Minute))
	until := t0.Add(3 * time.Hour)
	if err := db.Mute(ctx, 1, until, "U0123", t0.Add(2*time.Minute), []string{TargetSlack}); err != nil {
		t.Fatal(err)
	}
	for i := uint32(2); i <= 4; i++ {
		mustCommit(t, db, batch(i, t0.Add(time.Duration(i)*10*time.Minute), bounceMsg(i, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	}
	if tr := mustTick(t, db, t0.Add(2*time.Hour)); tr.Enqueued != 0 {
		t.Errorf("tick while muted: %+v", tr)
	}
	tr := mustTick(t, db, until)
	if tr.Enqueued != 2 {
		t.Errorf("tick at mute end: %+v", tr)
	}
	want := []string{"slack:first", "email:first", "slack:muted", "slack:update", "email:update"}
	if got := outboxKinds(t, db, 1); !equalStrings(got, want) {
		t.Errorf("outbox = %v, want %v", got, want)
	}
	det, err := db.IncidentDetail(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !det.MutedUntil.Equal(until) || det.Log[1].Kind != KindMuted || det.Log[1].Actor != "U0123" {
		t.Errorf("detail after mute: muted %v log %+v", det.MutedUntil, det.Log)
	}
}

func TestResolveByPerson(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	mustTick(t, db, t0.Add(time.Minute))
	ok, err := db.Resolve(ctx, 1, "U0456", t0.Add(5*time.Minute), []string{TargetSlack})
	if err != nil || !ok {
		t.Fatalf("Resolve = %v, %v", ok, err)
	}
	if ok, err := db.Resolve(ctx, 1, "U0456", t0.Add(6*time.Minute), []string{TargetSlack}); err != nil || ok {
		t.Errorf("second Resolve = %v, %v; want false", ok, err)
	}
	if tr := mustTick(t, db, t0.Add(48*time.Hour)); tr.Enqueued != 0 {
		t.Errorf("tick after resolve: %+v", tr)
	}
	det, _ := db.IncidentDetail(ctx, 1, 0)
	if det.State != incident.StateResolved || det.ResolvedBy != "U0456" {
		t.Errorf("incident = %+v", det.Incident)
	}
	if got := outboxKinds(t, db, 1); !equalStrings(got, []string{"slack:first", "email:first", "slack:resolved"}) {
		t.Errorf("outbox = %v", got)
	}
	if _, err := db.Resolve(ctx, 99, "x", t0, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve unknown = %v", err)
	}
}

func TestRestartPreservesState(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	mustCommit(t, db, batch(7, t0, fiveMicrosoft()...))
	mustTick(t, db, t0.Add(time.Minute))
	items, err := db.NextOutbox(ctx, t0.Add(time.Minute), 10, time.Minute)
	if err != nil || len(items) != 4 {
		t.Fatalf("NextOutbox = %d, %v", len(items), err)
	}
	if err := db.MarkSent(ctx, items[0].ID, "1712345678.000100", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Restart: the crashed sender's leases end, nothing is enqueued twice.
	db2, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, last, _ := db2.Cursor(ctx, "INBOX"); last != 7 {
		t.Errorf("cursor after restart = %d", last)
	}
	if tr, err := db2.Tick(ctx, t0.Add(2*time.Minute), timing, targets); err != nil || tr.Enqueued != 0 {
		t.Errorf("tick after restart = %+v, %v", tr, err)
	}
	st, _ := db2.Stats(ctx)
	if st.OutboxBacklog != 3 || st.OpenIncidents != 2 || st.MessagesSeen != 7 {
		t.Errorf("stats after restart = %+v", st)
	}
	again, err := db2.NextOutbox(ctx, t0.Add(3*time.Minute), 10, time.Minute)
	if err != nil || len(again) != 3 {
		t.Fatalf("NextOutbox after restart = %d, %v", len(again), err)
	}
	for _, it := range again {
		if it.ID == items[0].ID || it.Attempts != 2 {
			t.Errorf("re-leased item %+v", it)
		}
	}
}

func TestOutboxLeaseRetryMark(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	now := t0.Add(time.Minute)
	mustTick(t, db, now)
	// A later update for the same incident is queued behind the first.
	if err := db.Enqueue(ctx, 1, []string{TargetSlack}, "detail", []byte(`{"thread":"x"}`), now); err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(ctx, 1, nil, "detail", []byte(`not json`), now); err == nil {
		t.Error("Enqueue accepted a non-JSON payload")
	}

	slack, err := db.NextOutbox(ctx, now, 10, time.Minute, TargetSlack)
	if err != nil || len(slack) != 1 || slack[0].Kind != "first" || slack[0].Attempts != 1 || slack[0].IncidentID != 1 {
		t.Fatalf("NextOutbox(slack) = %+v, %v", slack, err)
	}
	if string(slack[0].Payload) != `{"count":1}` {
		t.Errorf("payload = %s", slack[0].Payload)
	}
	first := slack[0]
	// Leased: neither it nor the detail behind it is handed out again.
	if again, _ := db.NextOutbox(ctx, now.Add(30*time.Second), 10, time.Minute, TargetSlack); len(again) != 0 {
		t.Errorf("leased item handed out again: %+v", again)
	}
	// Lease over (the sender crashed): handed out again, attempt counted.
	again, _ := db.NextOutbox(ctx, now.Add(time.Minute), 10, time.Minute, TargetSlack)
	if len(again) != 1 || again[0].ID != first.ID || again[0].Attempts != 2 {
		t.Fatalf("after lease: %+v", again)
	}
	retryAt := now.Add(5 * time.Minute)
	if err := db.MarkFailed(ctx, first.ID, "slack: 503", retryAt); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := db.NextOutboxAt(ctx); !ok || !at.Equal(now) {
		// the email row is still due now
		t.Errorf("NextOutboxAt = %v, %v", at, ok)
	}
	if got, _ := db.NextOutbox(ctx, retryAt.Add(-time.Second), 10, time.Minute, TargetSlack); len(got) != 0 {
		t.Errorf("handed out before retryAt: %+v", got)
	}
	got, _ := db.NextOutbox(ctx, retryAt, 10, time.Minute, TargetSlack)
	if len(got) != 1 || got[0].ID != first.ID || got[0].Attempts != 3 || got[0].LastError != "slack: 503" {
		t.Fatalf("at retryAt: %+v", got)
	}
	if err := db.MarkSent(ctx, first.ID, "1712345678.000100", retryAt); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkSent(ctx, first.ID, "", retryAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkSent twice = %v, want ErrNotFound", err)
	}
	// Now the detail behind it is free.
	got, _ = db.NextOutbox(ctx, retryAt, 10, time.Minute, TargetSlack)
	if len(got) != 1 || got[0].Kind != "detail" || string(got[0].Payload) != `{"thread":"x"}` {
		t.Fatalf("after first sent: %+v", got)
	}
	if err := db.MarkAbandoned(ctx, got[0].ID, "channel_not_found", retryAt); err != nil {
		t.Fatal(err)
	}
	email, _ := db.NextOutbox(ctx, retryAt, 10, time.Minute)
	if len(email) != 1 || email[0].Target != TargetEmail {
		t.Fatalf("email item: %+v", email)
	}
	if err := db.MarkSent(ctx, email[0].ID, "<bouncewatch-outbox-2@example.jp>", retryAt); err != nil {
		t.Fatal(err)
	}
	st, _ := db.Stats(ctx)
	if st.OutboxBacklog != 0 {
		t.Errorf("backlog = %d", st.OutboxBacklog)
	}
	if _, ok, _ := db.NextOutboxAt(ctx); ok {
		t.Error("NextOutboxAt reports work in an empty outbox")
	}
	det, _ := db.IncidentDetail(ctx, 1, 0)
	outcomes := map[string]string{}
	for _, d := range det.Deliveries {
		outcomes[d.Target+":"+string(d.Kind)] = d.Outcome + "/" + d.ExternalRef
	}
	if outcomes["slack:first"] != "sent/1712345678.000100" || outcomes["slack:detail"] != "abandoned/" {
		t.Errorf("deliveries = %v", outcomes)
	}
}

func TestDetailRawSlackTokens(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	big := bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "b@outlook.example.com")
	big.Raw = bytes.Repeat([]byte("x"), MaxRawBytes+100)
	delivered := bounceMsg(3, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "c@outlook.example.com")
	delivered.Report.Recipients = append(delivered.Report.Recipients, bounce.Recipient{
		Address: "ok@outlook.example.com", Action: bounce.ActionDelivered, Provider: "microsoft", Reason: bounce.ReasonDelivered})
	auto := Message{UID: 4, Report: &bounce.Report{Kind: bounce.KindAutoReply, Subject: "不在のお知らせ"}, Raw: []byte("raw")}
	broken := Message{UID: 5, Report: &bounce.Report{Kind: bounce.KindNone, Error: "truncated MIME"}}
	mustCommit(t, db, batch(5, t0,
		bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com"), big, delivered, auto, broken))

	if n := count(t, db, `SELECT count(*) FROM reports`); n != 4 {
		t.Errorf("reports = %d, want 4 (no report for kind none)", n)
	}
	if n := count(t, db, `SELECT count(*) FROM reports WHERE raw IS NOT NULL`); n != 3 {
		t.Errorf("reports with raw = %d, want 3 (bounces only)", n)
	}
	if n := count(t, db, `SELECT count(*) FROM messages WHERE uid = 5 AND kind = 'none' AND error = 'truncated MIME'`); n != 1 {
		t.Errorf("broken message not recorded with its error")
	}

	det, err := db.IncidentDetail(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if det.Count != 3 {
		t.Errorf("count = %d, want 3 (the delivered recipient is not a member)", det.Count)
	}
	if len(det.Members) != 2 {
		t.Fatalf("members = %d, want the 2 most recent", len(det.Members))
	}
	m := det.Members[1]
	if m.Recipient.Address != "c@outlook.example.com" || det.Members[0].Recipient.Address != "b@outlook.example.com" {
		t.Errorf("members not the most recent, oldest first: %s, %s", det.Members[0].Recipient.Address, m.Recipient.Address)
	}
	if m.Report.SendingIP != "192.0.2.1" || m.Report.Original.Subject != "見積書 3" || !m.Report.Original.Date.Equal(t0.Add(-2*time.Minute)) ||
		m.Report.Subject != "Undelivered Mail Returned to Sender" || m.Recipient.Diagnostic != "550 5.7.1 rejected 3" ||
		m.Recipient.RemoteMTA != "mx.example.net" || m.Recipient.Status != "5.7.1" || len(m.Report.Recipients) != 2 {
		t.Errorf("member = %+v\nreport = %+v", m, m.Report)
	}

	sel, err := db.RawBouncesOf(ctx, 1, func(string) bool { return true }, 10, 10*MaxRawBytes)
	raws := sel.Messages
	if err != nil || len(raws) != 3 {
		t.Fatalf("RawBouncesOf = %d, %v", len(raws), err)
	}
	if raws[1].ReportID >= raws[0].ReportID || !raws[1].Truncated || len(raws[1].Data) != MaxRawBytes || raws[1].Size != MaxRawBytes+100 {
		t.Errorf("big raw: id %d truncated %v len %d size %d", raws[1].ReportID, raws[1].Truncated, len(raws[1].Data), raws[1].Size)
	}
	if raws[2].Truncated || !bytes.Contains(raws[2].Data, []byte("Subject: bounce 1")) {
		t.Errorf("small raw = %+v", raws[2])
	}

	if _, ok, err := db.SlackRef(ctx, 1, "C0123"); ok || err != nil {
		t.Errorf("SlackRef before set = %v, %v", ok, err)
	}
	if err := db.SetSlackRef(ctx, 1, "C0123", "1712345678.000100", t0); err != nil {
		t.Fatal(err)
	}
	if ts, ok, err := db.SlackRef(ctx, 1, "C0123"); !ok || err != nil || ts != "1712345678.000100" {
		t.Errorf("SlackRef = %q, %v, %v", ts, ok, err)
	}
	if id, err := db.IncidentBySlackTS(ctx, "C0123", "1712345678.000100"); id != 1 || err != nil {
		t.Errorf("IncidentBySlackTS = %d, %v", id, err)
	}
	if _, err := db.IncidentBySlackTS(ctx, "C0123", "1.2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("IncidentBySlackTS unknown = %v", err)
	}
	if err := db.PutToken(ctx, "tok-abc", 1, t0); err != nil {
		t.Fatal(err)
	}
	if id, at, err := db.Token(ctx, "tok-abc"); id != 1 || !at.Equal(t0) || err != nil {
		t.Errorf("Token = %d, %v, %v", id, at, err)
	}
	// A retried send records its token again.
	if err := db.PutToken(ctx, "tok-abc", 1, t0.Add(time.Minute)); err != nil {
		t.Errorf("PutToken again = %v, want nil", err)
	}
	if id, at, _ := db.Token(ctx, "tok-abc"); id != 1 || !at.Equal(t0) {
		t.Errorf("a token recorded again changed: %d, %v", id, at)
	}
	if _, _, err := db.Token(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token unknown = %v", err)
	}
	if err := db.PutToken(ctx, "tok-x", 42, t0); err == nil {
		t.Error("PutToken for an unknown incident succeeded (foreign keys off?)")
	}
}

func TestDelayGroupedSeparately(t *testing.T) {
	db, _ := openTest(t)
	d := bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonExpired, "a@outlook.example.com")
	d.Report.Kind = bounce.KindDelay
	d.Report.Recipients[0].Action = bounce.ActionDelayed
	d.Report.Recipients[0].Temporary = true
	res := mustCommit(t, db, batch(2, t0, d, bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	if len(res.Incidents) != 2 {
		t.Errorf("incidents = %v, want a transient and a reputation incident", res.Incidents)
	}
}

// BenchmarkCommitBatch commits 1,000 messages of which 1% are bounces.
func BenchmarkCommitBatch(b *testing.B) {
	db, _ := openTest(b)
	uid := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		msgs := make([]Message, 0, 1000)
		for i := range 1000 {
			uid++
			if i%100 == 0 {
				msgs = append(msgs, bounceMsg(uid, "192.0.2.1", "microsoft", bounce.ReasonBlocked, fmt.Sprintf("u%d@outlook.example.com", uid)))
			} else {
				msgs = append(msgs, plainMsg(uid))
			}
		}
		if _, err := db.CommitBatch(context.Background(), batch(uid, t0, msgs...)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNextOutboxAtIgnoresBlockedItems(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	now := t0.Add(time.Minute)
	if _, err := db.Tick(ctx, now, timing, []string{TargetSlack}); err != nil {
		t.Fatal(err)
	}
	if err := db.Enqueue(ctx, 1, []string{TargetSlack}, "detail", nil, now); err != nil {
		t.Fatal(err)
	}
	items, _ := db.NextOutbox(ctx, now, 10, time.Minute)
	if len(items) != 1 {
		t.Fatalf("items = %+v", items)
	}
	if at, ok, _ := db.NextOutboxAt(ctx); !ok || !at.Equal(now.Add(time.Minute)) {
		t.Errorf("NextOutboxAt while leased = %v, %v; want lease end", at, ok)
	}
	retry := now.Add(5 * time.Minute)
	if err := db.MarkFailed(ctx, items[0].ID, "timeout", retry); err != nil {
		t.Fatal(err)
	}
	// The detail is due now but waits behind the first: wake at the retry.
	if at, ok, _ := db.NextOutboxAt(ctx); !ok || !at.Equal(retry) {
		t.Errorf("NextOutboxAt = %v, %v; want %v", at, ok, retry)
	}
}

func TestRecheckAllAppliesNewTiming(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	// Restarted with a shorter group wait: the recorded next check (t0+1m)
	// is stale until RecheckAll.
	short := timing
	short.GroupWait = 10 * time.Second
	if tr, _ := db.Tick(ctx, t0.Add(20*time.Second), short, targets); tr.Enqueued != 0 {
		t.Fatalf("tick before recheck: %+v", tr)
	}
	if err := db.RecheckAll(ctx); err != nil {
		t.Fatal(err)
	}
	if tr, _ := db.Tick(ctx, t0.Add(20*time.Second), short, targets); tr.Enqueued != 2 {
		t.Errorf("tick after recheck: %+v", tr)
	}
}

func TestPruneRaw(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	mustCommit(t, db, batch(2, t0.Add(48*time.Hour), bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	n, err := db.PruneRaw(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneRaw = %d, %v", n, err)
	}
	if c := count(t, db, `SELECT count(*) FROM reports WHERE raw IS NOT NULL`); c != 1 {
		t.Errorf("reports with raw = %d, want 1", c)
	}
}

func TestTickAfterLongDowntime(t *testing.T) {
	db, _ := openTest(t)
	mustCommit(t, db, batch(1, t0, bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBlocked, "a@outlook.example.com")))
	// Down for two days: the bounce is still told (first), then resolved.
	tr := mustTick(t, db, t0.Add(48*time.Hour))
	if tr.Enqueued != 4 || tr.Closed != 1 || !tr.NextCheck.IsZero() {
		t.Errorf("tick: %+v", tr)
	}
	want := []string{"slack:first", "email:first", "slack:resolved", "email:resolved"}
	if got := outboxKinds(t, db, 1); !equalStrings(got, want) {
		t.Errorf("outbox = %v, want %v", got, want)
	}
}

// Issue 11: a delay that becomes a failure for the same recipient and
// message stays in its incident, even when the failure's reason differs; a
// recipient-side item of the same batch is an incident of its own.
func TestDelayBecomesFailureInSameIncident(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	delay := bounceMsg(1, "192.0.2.1", "microsoft", bounce.ReasonBadReputation, "a@outlook.example.com")
	delay.Report.Kind = bounce.KindDelay
	delay.Report.Recipients[0].Action = bounce.ActionDelayed
	delay.Report.Recipients[0].Status = "4.7.650"
	unknown := bounceMsg(2, "192.0.2.1", "microsoft", bounce.ReasonUserUnknown, "b@outlook.example.com")
	mustCommit(t, db, batch(2, t0, delay, unknown))

	failed := bounceMsg(3, "192.0.2.1", "microsoft", bounce.ReasonExpired, "A@outlook.example.com")
	failed.Report.Original.MessageID = delay.Report.Original.MessageID
	res := mustCommit(t, db, batch(3, t0.Add(time.Hour), failed))
	open, err := db.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 {
		t.Fatalf("open incidents = %d, want 2 (the IP incident and the unknown user)", len(open))
	}
	var ip, rcpt Incident
	for _, inc := range open {
		if inc.Key.Side == incident.SideRecipient {
			rcpt = inc
		} else {
			ip = inc
		}
	}
	if len(res.Incidents) != 1 || res.Incidents[0] != ip.ID {
		t.Errorf("the failure joined %v, want the delay's incident %d", res.Incidents, ip.ID)
	}
	if ip.Count != 2 || ip.Reason != bounce.ReasonExpired || ip.Key.Cause != bounce.ReasonBadReputation {
		t.Errorf("IP incident = %+v, want 2 members, latest reason expired, cause badreputation", ip)
	}
	if rcpt.Key.String() != "rcpt:b@outlook.example.com|userunknown" || rcpt.Key.SendingIP != "" || rcpt.Count != 1 {
		t.Errorf("recipient item = %+v", rcpt)
	}

	// The same message to c@ was delayed for the IP's reputation, then
	// refused as an unknown address: that failure is an item of its own.
	delay2 := bounceMsg(4, "192.0.2.1", "microsoft", bounce.ReasonBadReputation, "c@outlook.example.com")
	delay2.Report.Kind = bounce.KindDelay
	delay2.Report.Recipients[0].Action = bounce.ActionDelayed
	mustCommit(t, db, batch(4, t0.Add(2*time.Hour), delay2))
	unknown2 := bounceMsg(5, "192.0.2.1", "microsoft", bounce.ReasonUserUnknown, "c@outlook.example.com")
	unknown2.Report.Original.MessageID = delay2.Report.Original.MessageID
	res = mustCommit(t, db, batch(5, t0.Add(3*time.Hour), unknown2))
	if len(res.Incidents) != 1 || res.Incidents[0] == ip.ID {
		t.Errorf("an unknown address joined the IP incident %d: %v", ip.ID, res.Incidents)
	}
}
