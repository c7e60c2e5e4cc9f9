package imapwatch_test

// End-to-end tests against a real Dovecot. They run only with
// BOUNCEWATCH_DOVECOT=1 (see .ci/dovecot.sh); otherwise they are skipped.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
)

func dovecotConfig(s *dovecottest.Server) imapwatch.Config {
	return imapwatch.Config{
		Addr:       s.Addr,
		TLS:        imapwatch.TLSNone,
		Username:   s.User,
		Auth:       imapwatch.Password(s.Password),
		BackoffMin: 5 * time.Millisecond,
		BackoffMax: 50 * time.Millisecond,
		Timeout:    10 * time.Second,
	}
}

func TestDovecotCatchUpIdleAndMove(t *testing.T) {
	s := dovecottest.Start(t, nil)
	var msgs [][]byte
	for i := 1; i <= 5; i++ {
		msgs = append(msgs, testMessage(i, i%2 == 0, 2000))
	}
	s.Fill(t, "INBOX", msgs)

	cfg := dovecotConfig(s)
	cfg.Disposition = imapwatch.Disposition{Kind: imapwatch.DispositionMove, Folder: "Bounces"}
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, cfg, sink, lb)
	runWatcher(t, w)
	waitFor(t, "catch-up", func() bool { return sink.count() == 5 })

	s.Append(t, "INBOX", testMessage(6, true, 2000))
	s.Append(t, "INBOX", testMessage(7, false, 2000))
	waitFor(t, "IDLE delivery", func() bool { return sink.count() == 7 })
	waitFor(t, "moved", func() bool { return s.Count(t, "Bounces") == 3 })
	if n := s.Count(t, "INBOX"); n != 4 {
		t.Errorf("INBOX has %d messages, want the 4 ordinary ones", n)
	}
	for _, m := range sink.messages() {
		cand := strings.Contains(string(m.Header), "X-Test-Candidate: yes")
		if cand != (m.Body != nil) {
			t.Errorf("UID %d: candidate %v, body fetched %v", m.UID, cand, m.Body != nil)
		}
	}
	if !strings.Contains(lb.String(), `"mode":"idle"`) {
		t.Errorf("watcher did not use IDLE against Dovecot:\n%s", lb)
	}
}

func TestDovecotRepeatedKick(t *testing.T) {
	s := dovecottest.Start(t, nil)
	sink := newFakeSink()
	w := newWatcher(t, dovecotConfig(s), sink, nil)
	runWatcher(t, w)
	for i := 1; i <= 5; i++ {
		waitFor(t, "connected", func() bool { return w.Status().Connected })
		s.Append(t, "INBOX", testMessage(i, false, 500))
		waitFor(t, "delivery", func() bool { return sink.count() == i })
		s.Kick(t)
		waitFor(t, "reconnect", func() bool { return w.Status().Reconnects >= uint64(i) })
	}
	s.Append(t, "INBOX", testMessage(6, false, 500))
	waitFor(t, "final delivery", func() bool { return sink.count() == 6 })
	if got := uids(sink.messages()); !slices.Equal(got, []uint32{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestDovecotUIDValidityChange(t *testing.T) {
	s := dovecottest.Start(t, nil)
	s.Append(t, "INBOX", testMessage(1, false, 500))
	s.Append(t, "INBOX", testMessage(2, false, 500))
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, dovecotConfig(s), sink, lb)
	runWatcher(t, w)
	waitFor(t, "delivery", func() bool { return sink.count() == 2 })
	oldV, _, _ := sink.Cursor(context.Background(), "INBOX")

	s.SetUIDValidity(t, "INBOX", oldV+1000)
	s.Kick(t)
	// Every message is new under the new UIDVALIDITY.
	waitFor(t, "redelivery", func() bool { return sink.count() == 4 })
	v, last, _ := sink.Cursor(context.Background(), "INBOX")
	if v != oldV+1000 || last == 0 {
		t.Errorf("cursor (%d, %d), want validity %d", v, last, oldV+1000)
	}
	if !strings.Contains(lb.String(), "UIDVALIDITY changed") {
		t.Errorf("no warning logged")
	}
}

func TestDovecotMailboxRenamedAwayAndBack(t *testing.T) {
	s := dovecottest.Start(t, nil)
	s.Create(t, "Shared")
	s.Append(t, "Shared", testMessage(1, false, 500))
	cfg := dovecotConfig(s)
	cfg.Mailbox = "Shared"
	rec := &recordingAfter{}
	cfg.After = rec.after
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, cfg, sink, lb)
	runWatcher(t, w)
	waitFor(t, "delivery", func() bool { return sink.count() == 1 })

	s.Rename(t, "Shared", "Shared-old")
	s.Kick(t)
	waitFor(t, "failed selects", func() bool { return strings.Contains(lb.String(), `cannot select mailbox \"Shared\"`) })
	s.Rename(t, "Shared-old", "Shared")
	s.Append(t, "Shared", testMessage(2, false, 500))
	waitFor(t, "delivery after rename back", func() bool { return sink.count() == 2 })
	if got := uids(sink.messages()); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestDovecotWrongPassword(t *testing.T) {
	s := dovecottest.Start(t, nil)
	s.Append(t, "INBOX", testMessage(1, false, 500))
	s.SetPassword(t, "rotated-by-admin")
	rec := &recordingAfter{}
	cfg := dovecotConfig(s)
	cfg.After = rec.after
	cfg.AuthBackoff = 30 * time.Minute
	sink := newFakeSink()
	lb := &logBuffer{}
	runWatcher(t, newWatcher(t, cfg, sink, lb))
	waitFor(t, "attempts", func() bool { return len(rec.get()) >= 2 })
	for _, d := range rec.get() {
		if d != cfg.AuthBackoff {
			t.Fatalf("delay %v after rejected login, want %v", d, cfg.AuthBackoff)
		}
	}
	if n := strings.Count(lb.String(), `"level":"ERROR"`); n != 1 {
		t.Errorf("%d error logs, want 1:\n%s", n, lb)
	}
	s.SetPassword(t, s.Password)
	waitFor(t, "delivery after fix", func() bool { return sink.count() == 1 })
}

func TestDovecotLargeMessage(t *testing.T) {
	s := dovecottest.Start(t, nil)
	big := testMessage(1, true, 20<<20)
	s.Append(t, "INBOX", big)
	for _, tc := range []struct {
		max       int64
		truncated bool
	}{{0, false}, {5 << 20, true}} {
		cfg := dovecotConfig(s)
		cfg.MaxFetchSize = tc.max
		sink := newFakeSink()
		w := newWatcher(t, cfg, sink, nil)
		stop := runWatcher(t, w)
		waitFor(t, "delivery", func() bool { return sink.count() == 1 })
		stop()
		m := sink.messages()[0]
		want := big
		if tc.truncated {
			want = big[:tc.max]
		}
		if m.Truncated != tc.truncated || string(m.Body) != string(want) {
			t.Errorf("max %d: truncated %v, %d bytes; want %v, %d bytes", tc.max, m.Truncated, len(m.Body), tc.truncated, len(want))
		}
	}
}

func TestDovecotPollModeWithoutIDLE(t *testing.T) {
	s := dovecottest.Start(t, &dovecottest.Options{ExtraConfig: "imap_capability = IMAP4rev1 SASL-IR LITERAL+ UIDPLUS\n"})
	cfg := dovecotConfig(s)
	cfg.PollInterval = 50 * time.Millisecond
	sink := newFakeSink()
	lb := &logBuffer{}
	runWatcher(t, newWatcher(t, cfg, sink, lb))
	s.Append(t, "INBOX", testMessage(1, true, 500))
	waitFor(t, "delivery", func() bool { return sink.count() == 1 })
	if !strings.Contains(lb.String(), `"mode":"poll"`) {
		t.Errorf("watcher did not fall back to polling:\n%s", lb)
	}
}

func TestDovecotBacklog10000(t *testing.T) {
	s := dovecottest.Start(t, nil)
	const n = 10_000
	var msgs [][]byte
	for i := 1; i <= n; i++ {
		msgs = append(msgs, testMessage(i, i%100 == 0, 1500))
	}
	s.Fill(t, "INBOX", msgs)
	cfg := dovecotConfig(s)
	sink := newFakeSink()
	w := newWatcher(t, cfg, sink, nil)
	start := time.Now()
	runWatcher(t, w)
	waitFor(t, "backlog", func() bool { return sink.count() == n })
	t.Logf("caught up %d messages in %v, %d bytes fetched", n, time.Since(start), w.Status().BytesFetched)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.batches) < n/200 {
		t.Errorf("%d batches for %d messages: deliveries not bounded", len(sink.batches), n)
	}
	bodies := 0
	for _, m := range sink.delivered {
		if m.Body != nil {
			bodies++
		}
	}
	if bodies != n/100 {
		t.Errorf("%d bodies fetched, want %d", bodies, n/100)
	}
}

// BenchmarkDovecotCatchUp measures catching up a backlog with 1% candidates.
func BenchmarkDovecotCatchUp(b *testing.B) {
	s := dovecottest.Start(b, nil)
	const n = 2000
	var msgs [][]byte
	for i := 1; i <= n; i++ {
		msgs = append(msgs, testMessage(i, i%100 == 0, 4000))
	}
	s.Fill(b, "INBOX", msgs)
	s.Count(b, "INBOX") // let Dovecot index the maildir before timing
	var fetched int64
	b.ResetTimer()
	for b.Loop() {
		sink := newFakeSink()
		w, err := imapwatch.New(dovecotConfig(s), sink, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		for sink.count() < n {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
		fetched += w.Status().BytesFetched
	}
	b.ReportMetric(float64(fetched)/float64(b.N)/n, "fetched-B/msg")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}
