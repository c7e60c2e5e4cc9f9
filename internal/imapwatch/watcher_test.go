package imapwatch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
)

func newWatcher(t *testing.T, cfg imapwatch.Config, sink imapwatch.Sink, lb *logBuffer) *imapwatch.Watcher {
	t.Helper()
	if lb == nil {
		lb = &logBuffer{}
	}
	w, err := imapwatch.New(cfg, sink, newLogger(lb))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func uids(msgs []imapwatch.Message) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func TestCatchUpThenIdleFetchesOnlyCandidatesWhole(t *testing.T) {
	ts := newTestServer(t, nil)
	var raw [][]byte
	add := func(i int, cand bool) {
		m := testMessage(i, cand, 50_000)
		if cand {
			m = testMessage(i, cand, 1_000)
		}
		raw = append(raw, m)
		ts.append(t, "INBOX", m)
	}
	add(1, false)
	add(2, true)
	add(3, false)

	sink := newFakeSink()
	w := newWatcher(t, baseConfig(ts.addr), sink, nil)
	runWatcher(t, w)
	waitFor(t, "catch-up", func() bool { return sink.count() == 3 })

	// Seen during IDLE.
	add(4, true)
	add(5, false)
	waitFor(t, "new messages", func() bool { return sink.count() == 5 })

	msgs := sink.messages()
	if got, want := uids(msgs), []uint32{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("delivered UIDs %v, want %v", got, want)
	}
	var want int64
	var total int64
	for i, m := range msgs {
		total += int64(len(raw[i]))
		if m.Size != int64(len(raw[i])) {
			t.Errorf("UID %d: size %d, want %d", m.UID, m.Size, len(raw[i]))
		}
		cand := i == 1 || i == 3
		if cand != (m.Body != nil) {
			t.Errorf("UID %d: candidate=%v but body fetched=%v", m.UID, cand, m.Body != nil)
		}
		if cand && string(m.Body) != string(raw[i]) {
			t.Errorf("UID %d: body differs from the appended message", m.UID)
		}
		if !strings.HasPrefix(string(raw[i]), string(m.Header)) || !strings.HasSuffix(string(m.Header), "\r\n\r\n") {
			t.Errorf("UID %d: header %q is not the message's header", m.UID, m.Header)
		}
		want += int64(len(m.Header)) + int64(len(m.Body))
	}
	st := w.Status()
	if st.BytesFetched != want {
		t.Errorf("BytesFetched = %d, want %d (headers + candidate bodies)", st.BytesFetched, want)
	}
	if st.BytesFetched*10 > total {
		t.Errorf("fetched %d bytes of %d: non-candidates were fetched whole", st.BytesFetched, total)
	}
	if !st.Connected || st.MessagesDelivered != 5 || st.LastActivity.IsZero() || st.WireBytes < st.BytesFetched {
		t.Errorf("status %+v", st)
	}
}

func TestRestartResumesAtCursor(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 1; i <= 3; i++ {
		ts.append(t, "INBOX", testMessage(i, i == 2, 100))
	}
	sink := newFakeSink()
	w1 := newWatcher(t, baseConfig(ts.addr), sink, nil)
	stop := runWatcher(t, w1)
	waitFor(t, "first run", func() bool { return sink.count() == 3 })
	stop()

	ts.append(t, "INBOX", testMessage(4, true, 100))
	ts.append(t, "INBOX", testMessage(5, false, 100))
	w2 := newWatcher(t, baseConfig(ts.addr), sink, nil)
	runWatcher(t, w2)
	waitFor(t, "second run", func() bool { return sink.count() >= 5 })
	if got := uids(sink.messages()); !slices.Equal(got, []uint32{1, 2, 3, 4, 5}) {
		t.Fatalf("delivered %v; want each UID once", got)
	}
	if st := w2.Status(); st.MessagesDelivered != 2 {
		t.Errorf("second watcher delivered %d messages, want 2", st.MessagesDelivered)
	}
}

func TestUIDValidityChangeResetsCursor(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.append(t, "INBOX", testMessage(1, false, 100))
	ts.append(t, "INBOX", testMessage(2, false, 100))
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, baseConfig(ts.addr), sink, lb)
	runWatcher(t, w)
	waitFor(t, "first delivery", func() bool { return sink.count() == 2 })
	_, oldValidity, _ := func() (uint32, uint32, error) {
		v, l, err := sink.Cursor(context.Background(), "INBOX")
		return l, v, err
	}()

	// Recreate INBOX: a new UIDVALIDITY, UIDs start again at 1.
	if err := ts.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := ts.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	ts.append(t, "INBOX", testMessage(3, true, 100))
	ts.kick()

	waitFor(t, "delivery after reset", func() bool { return sink.count() == 3 })
	msgs := sink.messages()
	if msgs[2].UID != 1 || msgs[2].Body == nil {
		t.Fatalf("after reset got UID %d (body %v), want UID 1 with body", msgs[2].UID, msgs[2].Body != nil)
	}
	v, last, _ := sink.Cursor(context.Background(), "INBOX")
	if v == oldValidity || last != 1 {
		t.Errorf("cursor (%d,%d), want new validity (old %d) and last UID 1", v, last, oldValidity)
	}
	if !strings.Contains(lb.String(), "UIDVALIDITY changed") {
		t.Errorf("no UIDVALIDITY warning logged:\n%s", lb)
	}
}

func TestDispositionFlag(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.append(t, "INBOX", testMessage(1, true, 100))
	ts.append(t, "INBOX", testMessage(2, false, 100))
	ts.append(t, "INBOX", testMessage(3, true, 100))
	cfg := baseConfig(ts.addr)
	d, err := imapwatch.ParseDisposition("flag:bouncewatch-triaged")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Disposition = d
	sink := newFakeSink()
	runWatcher(t, newWatcher(t, cfg, sink, nil))
	waitFor(t, "delivery", func() bool { return sink.count() == 3 })
	waitFor(t, "flags", func() bool {
		f := ts.flags(t, "INBOX")
		return slices.Contains(f[1], "bouncewatch-triaged") && slices.Contains(f[3], "bouncewatch-triaged")
	})
	f := ts.flags(t, "INBOX")
	if slices.Contains(f[2], "bouncewatch-triaged") || len(f) != 3 {
		t.Errorf("flags %v: ordinary mail touched or messages lost", f)
	}
	for uid, fl := range f {
		if slices.Contains(fl, imap.FlagDeleted) || slices.Contains(fl, imap.FlagSeen) {
			t.Errorf("UID %d has %v: fetching must not mark seen or deleted", uid, fl)
		}
	}
}

func TestDispositionMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps imap.CapSet
		// without MOVE the original stays in INBOX, flagged.
		wantInboxAfter int
	}{
		{"MOVE", nil, 1},
		{"COPY fallback", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.caps)
			ts.append(t, "INBOX", testMessage(1, true, 100))
			ts.append(t, "INBOX", testMessage(2, false, 100))
			ts.append(t, "INBOX", testMessage(3, true, 100))
			cfg := baseConfig(ts.addr)
			d, err := imapwatch.ParseDisposition("move:Bounces/Triaged")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Disposition = d
			sink := newFakeSink()
			runWatcher(t, newWatcher(t, cfg, sink, nil))
			waitFor(t, "delivery", func() bool { return sink.count() == 3 })
			waitFor(t, "moved", func() bool {
				st, err := ts.user.Status("Bounces/Triaged", &imap.StatusOptions{NumMessages: true})
				return err == nil && *st.NumMessages == 2
			})
			inbox := ts.flags(t, "INBOX")
			if len(inbox) != tc.wantInboxAfter {
				t.Errorf("INBOX has %d messages, want %d", len(inbox), tc.wantInboxAfter)
			}
			if _, ok := inbox[2]; !ok {
				t.Errorf("ordinary message UID 2 left INBOX")
			}
			if tc.wantInboxAfter == 3 && !slices.ContainsFunc(inbox[1], func(f imap.Flag) bool { return strings.EqualFold(string(f), imapwatch.DefaultKeyword) }) {
				t.Errorf("copied original not flagged: %v", inbox[1])
			}
			for uid, fl := range inbox {
				if slices.Contains(fl, imap.FlagDeleted) {
					t.Errorf("UID %d marked deleted", uid)
				}
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	sink := newFakeSink()
	for _, tc := range []struct {
		addr, tls string
		probe     time.Duration
		wantErr   string
	}{
		{"192.0.2.10:143", "none", 0, "loopback"},
		{"imap.example.com:143", "none", 0, "loopback"},
		{"127.0.0.1:143", "none", 0, ""},
		{"localhost:143", "none", 0, ""},
		{"[::1]:143", "none", 0, ""},
		{"imap.example.com:993", "", 0, ""},
		{"imap.example.com:143", "starttls", 0, ""},
		{"imap.example.com:993", "", 6 * time.Minute, "probe interval"},
		{"imap.example.com", "", 0, "address"},
	} {
		cfg := imapwatch.Config{Addr: tc.addr, TLS: imapwatch.TLSMode(tc.tls), Username: testUser, Auth: imapwatch.Password("x"), ProbeInterval: tc.probe}
		_, err := imapwatch.New(cfg, sink, nil)
		if tc.wantErr == "" && err != nil {
			t.Errorf("%s/%s: unexpected error %v", tc.addr, tc.tls, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s/%s: error %v, want one mentioning %q", tc.addr, tc.tls, err, tc.wantErr)
		}
	}
	for _, s := range []string{"flag:bad keyword", "move:", "delete"} {
		if _, err := imapwatch.ParseDisposition(s); err == nil {
			t.Errorf("ParseDisposition(%q) accepted", s)
		}
	}
	if d, _ := imapwatch.ParseDisposition("flag"); d.Keyword != imapwatch.DefaultKeyword {
		t.Errorf("flag default keyword %q", d.Keyword)
	}
}

// recordingAfter replaces time.After for reconnect delays: it records each
// delay and fires at once, so attempts are counted without real waiting.
type recordingAfter struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recordingAfter) after(d time.Duration) <-chan time.Time {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	ch := make(chan time.Time, 1)
	// Yield briefly so the loop does not spin the CPU in the test.
	go func() { time.Sleep(time.Millisecond); ch <- time.Now() }()
	return ch
}

func (r *recordingAfter) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.delays)
}

func TestWrongPasswordBacksOffAndLogsOnce(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.append(t, "INBOX", testMessage(1, false, 100))
	ts.setPassword("changed by the admin")
	baseline := ts.loginCount()

	rec := &recordingAfter{}
	cfg := baseConfig(ts.addr)
	cfg.AuthBackoff = 20 * time.Minute
	cfg.After = rec.after
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, cfg, sink, lb)
	runWatcher(t, w)
	waitFor(t, "five attempts", func() bool { return len(rec.get()) >= 5 })

	for i, d := range rec.get() {
		if d != cfg.AuthBackoff {
			t.Fatalf("delay %d after auth failure = %v, want AuthBackoff %v", i, d, cfg.AuthBackoff)
		}
	}
	if n, d := ts.loginCount()-baseline, len(rec.get()); n > d+1 {
		t.Errorf("%d logins for %d backoff waits: attempts not gated by backoff", n, d)
	}
	errorsLogged := 0
	for _, r := range lb.records(t) {
		if r["level"] == "ERROR" {
			errorsLogged++
			if !strings.Contains(r["err"].(string), "authentication rejected") {
				t.Errorf("error log does not say authentication failed: %v", r)
			}
		}
	}
	if errorsLogged != 1 {
		t.Errorf("%d error logs for repeated auth failures, want 1", errorsLogged)
	}
	if strings.Contains(lb.String(), testPassword) || strings.Contains(lb.String(), "changed by the admin") {
		t.Errorf("password in logs")
	}
	if sink.count() != 0 {
		t.Fatal("delivered without login")
	}

	// The admin fixes the password: the watcher resumes on its next attempt.
	ts.setPassword(testPassword)
	waitFor(t, "delivery after fix", func() bool { return sink.count() == 1 })
}

func TestServerClosesConnectionReconnects(t *testing.T) {
	ts := newTestServer(t, nil)
	sink := newFakeSink()
	w := newWatcher(t, baseConfig(ts.addr), sink, nil)
	runWatcher(t, w)
	for i := 1; i <= 3; i++ {
		waitFor(t, "connected", func() bool { return w.Status().Connected })
		ts.append(t, "INBOX", testMessage(i, false, 100))
		waitFor(t, "delivery", func() bool { return sink.count() == i })
		ts.kick()
		waitFor(t, "reconnect", func() bool { return w.Status().Reconnects >= uint64(i) })
	}
	ts.append(t, "INBOX", testMessage(4, false, 100))
	waitFor(t, "delivery after kicks", func() bool { return sink.count() == 4 })
	if got := uids(sink.messages()); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestSilentConnectionDetectedByProbe(t *testing.T) {
	ts := newTestServer(t, nil)
	proxy := newBlackholeProxy(t, ts.addr)
	cfg := baseConfig(proxy.addr)
	cfg.ProbeInterval = 100 * time.Millisecond
	cfg.Timeout = 300 * time.Millisecond
	sink := newFakeSink()
	w := newWatcher(t, cfg, sink, nil)
	runWatcher(t, w)

	ts.append(t, "INBOX", testMessage(1, false, 100))
	waitFor(t, "delivery", func() bool { return sink.count() == 1 })
	before := w.Status().Reconnects

	// The path goes silent: no RST, no FIN, nothing.
	proxy.freeze()
	ts.append(t, "INBOX", testMessage(2, false, 100))
	waitFor(t, "reconnect after silence", func() bool { return w.Status().Reconnects > before })
	waitFor(t, "delivery after reconnect", func() bool { return sink.count() == 2 })
	if st := w.Status(); !strings.Contains(st.LastError, "timeout") {
		t.Errorf("last error %q, want a timeout", st.LastError)
	}
}

func TestLargeMessageCapped(t *testing.T) {
	ts := newTestServer(t, nil)
	big := testMessage(1, true, 300_000)
	ts.append(t, "INBOX", big)
	small := testMessage(2, true, 1_000)
	ts.append(t, "INBOX", small)
	cfg := baseConfig(ts.addr)
	cfg.MaxFetchSize = 64 << 10
	sink := newFakeSink()
	w := newWatcher(t, cfg, sink, nil)
	runWatcher(t, w)
	waitFor(t, "delivery", func() bool { return sink.count() == 2 })
	m := sink.messages()
	if len(m[0].Body) != 64<<10 || !m[0].Truncated || string(m[0].Body) != string(big[:64<<10]) {
		t.Errorf("large: body %d bytes, truncated %v; want the first %d bytes, truncated", len(m[0].Body), m[0].Truncated, 64<<10)
	}
	if m[0].Size != int64(len(big)) {
		t.Errorf("large: size %d, want %d", m[0].Size, len(big))
	}
	if m[1].Truncated || string(m[1].Body) != string(small) {
		t.Errorf("small message altered: truncated %v, %d bytes", m[1].Truncated, len(m[1].Body))
	}
	if got := w.Status().BytesFetched; got > int64(64<<10+len(small)+2000) {
		t.Errorf("fetched %d bytes; cap not honoured", got)
	}
}

func TestMailboxRenamedAwayAndBack(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.append(t, "INBOX", testMessage(1, false, 100))
	cfg := baseConfig(ts.addr)
	cfg.Mailbox = "Shared"
	if err := ts.user.Create("Shared", nil); err != nil {
		t.Fatal(err)
	}
	ts.append(t, "Shared", testMessage(1, false, 100))
	rec := &recordingAfter{}
	cfg.After = rec.after
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, cfg, sink, lb)
	runWatcher(t, w)
	waitFor(t, "delivery", func() bool { return sink.count() == 1 })

	if err := ts.user.Rename("Shared", "Shared-old", nil); err != nil {
		t.Fatal(err)
	}
	ts.kick()
	waitFor(t, "several failed selects", func() bool { return len(rec.get()) >= 4 })
	if !strings.Contains(lb.String(), `cannot select mailbox \"Shared\"`) {
		t.Errorf("no clear mailbox error logged:\n%s", lb)
	}
	if err := ts.user.Rename("Shared-old", "Shared", nil); err != nil {
		t.Fatal(err)
	}
	ts.append(t, "Shared", testMessage(2, false, 100))
	waitFor(t, "delivery after rename back", func() bool { return sink.count() == 2 })
	if got := uids(sink.messages()); !slices.Equal(got, []uint32{1, 2}) {
		t.Fatalf("delivered %v", got)
	}
}

func TestBacklogInBoundedBatchesResumesAfterFailure(t *testing.T) {
	ts := newTestServer(t, nil)
	const n = 450
	for i := 1; i <= n; i++ {
		ts.append(t, "INBOX", testMessage(i, i%50 == 0, 200))
	}
	cfg := baseConfig(ts.addr)
	cfg.FetchBatch = 100
	cfg.DeliverBatch = 60
	sink := newFakeSink()
	sink.failNext = nil
	// Fail the third delivery, as a crash of the store would.
	var calls int
	failing := &failingSink{fakeSink: sink, failAt: 3, calls: &calls}
	w := newWatcher(t, cfg, failing, nil)
	runWatcher(t, w)
	waitFor(t, "backlog", func() bool { return sink.count() == n })
	got := uids(sink.messages())
	for i, u := range got {
		if u != uint32(i+1) {
			t.Fatalf("delivered UIDs not each once in order at %d: %d", i, u)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, b := range sink.batches {
		if len(b.Messages) > cfg.DeliverBatch {
			t.Errorf("batch of %d messages, limit %d", len(b.Messages), cfg.DeliverBatch)
		}
	}
	if w.Status().Reconnects < 1 {
		t.Errorf("a failed delivery should end the session")
	}
}

type failingSink struct {
	*fakeSink
	failAt int
	calls  *int
}

func (f *failingSink) Deliver(ctx context.Context, b imapwatch.Batch) ([]uint32, error) {
	*f.calls++
	if *f.calls == f.failAt {
		return nil, errors.New("store unavailable")
	}
	return f.fakeSink.Deliver(ctx, b)
}

// tokenEndpoint is an OAuth2 token endpoint that issues numbered tokens and
// tells the IMAP test server which one it accepts.
type tokenEndpoint struct {
	mu       sync.Mutex
	issued   int
	forms    []map[string]string
	lifetime int // seconds
	ts       *testServer
}

func (e *tokenEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(rw, err.Error(), 400)
		return
	}
	e.mu.Lock()
	e.issued++
	tok := "tok-" + strconv.Itoa(e.issued)
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	e.forms = append(e.forms, form)
	life := e.lifetime
	e.mu.Unlock()
	if form["client_secret"] != "s3cret" {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(401)
		rw.Write([]byte(`{"error":"invalid_client","error_description":"bad secret"}`))
		return
	}
	e.ts.mu.Lock()
	e.ts.token = tok
	e.ts.mu.Unlock()
	rw.Header().Set("Content-Type", "application/json")
	rw.Write([]byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":` + strconv.Itoa(life) + `}`))
}

func (e *tokenEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.issued
}

func TestXOAuth2MicrosoftFreshTokenPerConnection(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mu.Lock()
	ts.token = "not-yet-issued"
	ts.mu.Unlock()
	ep := &tokenEndpoint{lifetime: 3600, ts: ts}
	hs := httptest.NewServer(ep)
	defer hs.Close()

	src := imapwatch.NewMicrosoftTokenSource("tenant-id", "client-id", "s3cret", hs.Client())
	src.TokenURL = hs.URL + "/tenant-id/oauth2/v2.0/token"
	cfg := baseConfig(ts.addr)
	cfg.Auth = imapwatch.XOAuth2{Source: src}
	sink := newFakeSink()
	lb := &logBuffer{}
	w := newWatcher(t, cfg, sink, lb)
	runWatcher(t, w)

	ts.append(t, "INBOX", testMessage(1, false, 100))
	waitFor(t, "delivery", func() bool { return sink.count() == 1 })
	ts.kick()
	waitFor(t, "reconnect", func() bool { return w.Status().Reconnects >= 1 && w.Status().Connected })
	ts.append(t, "INBOX", testMessage(2, false, 100))
	waitFor(t, "delivery after reconnect", func() bool { return sink.count() == 2 })

	ts.mu.Lock()
	ok := slices.Clone(ts.xoauthOK)
	ts.mu.Unlock()
	if len(ok) < 2 || ok[0] == ok[1] {
		t.Errorf("accepted tokens %v: want a new token per connection", ok)
	}
	ep.mu.Lock()
	f := ep.forms[0]
	ep.mu.Unlock()
	if f["grant_type"] != "client_credentials" || f["scope"] != imapwatch.MicrosoftIMAPScope || f["client_id"] != "client-id" {
		t.Errorf("token request %v", f)
	}
	if strings.Contains(lb.String(), "tok-") || strings.Contains(lb.String(), "s3cret") {
		t.Errorf("secret or token in logs:\n%s", lb)
	}
	if strings.Contains(src.String(), "s3cret") {
		t.Errorf("String() leaks the secret: %s", src)
	}
}

func TestXOAuth2RenewsBeforeExpiry(t *testing.T) {
	ts := newTestServer(t, nil)
	// 121 s lifetime: the session ends 2 min before expiry, i.e. after ~1 s.
	ep := &tokenEndpoint{lifetime: 121, ts: ts}
	hs := httptest.NewServer(ep)
	defer hs.Close()
	src := imapwatch.NewGoogleTokenSource("client-id", "s3cret", "refresh-1", hs.Client())
	src.TokenURL = hs.URL
	cfg := baseConfig(ts.addr)
	cfg.Auth = imapwatch.XOAuth2{Source: src}
	sink := newFakeSink()
	w := newWatcher(t, cfg, sink, nil)
	runWatcher(t, w)
	waitFor(t, "renewal", func() bool { return ep.count() >= 3 })
	ts.mu.Lock()
	bad := ts.xoauthBad
	ts.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d rejected XOAUTH2 attempts; renewal should precede expiry", bad)
	}
	ep.mu.Lock()
	f := ep.forms[0]
	ep.mu.Unlock()
	if f["grant_type"] != "refresh_token" || f["refresh_token"] != "refresh-1" {
		t.Errorf("token request %v", f)
	}
}

func TestXOAuth2RejectedIsAuthError(t *testing.T) {
	ts := newTestServer(t, nil)
	ep := &tokenEndpoint{lifetime: 3600, ts: ts}
	hs := httptest.NewServer(ep)
	defer hs.Close()
	src := imapwatch.NewMicrosoftTokenSource("t", "client-id", "wrong", hs.Client())
	src.TokenURL = hs.URL
	rec := &recordingAfter{}
	cfg := baseConfig(ts.addr)
	cfg.Auth = imapwatch.XOAuth2{Source: src}
	cfg.AuthBackoff = time.Hour
	cfg.After = rec.after
	lb := &logBuffer{}
	runWatcher(t, newWatcher(t, cfg, newFakeSink(), lb))
	waitFor(t, "attempts", func() bool { return len(rec.get()) >= 2 })
	for _, d := range rec.get() {
		if d != time.Hour {
			t.Fatalf("delay %v after rejected client secret, want AuthBackoff", d)
		}
	}
	if !strings.Contains(lb.String(), "invalid_client") || strings.Contains(lb.String(), "wrong") {
		t.Errorf("log should name the issuer's error without the secret:\n%s", lb)
	}
}

func TestTLSModes(t *testing.T) {
	for _, tc := range []struct {
		mode     imapwatch.TLSMode
		implicit bool
	}{{imapwatch.TLSImplicit, true}, {imapwatch.TLSStartTLS, false}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			ts, cliTLS := newTLSTestServer(t, tc.implicit)
			cfg := baseConfig(ts.addr)
			cfg.TLS = tc.mode
			cfg.TLSConfig = cliTLS
			sink := newFakeSink()
			runWatcher(t, newWatcher(t, cfg, sink, nil))
			ts.appendTLS(t, cliTLS, tc.implicit, testMessage(1, true, 100))
			waitFor(t, "delivery over TLS", func() bool { return sink.count() == 1 })
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		ts, _ := newTLSTestServer(t, true)
		cfg := baseConfig(ts.addr)
		cfg.TLS = imapwatch.TLSImplicit
		rec := &recordingAfter{}
		cfg.After = rec.after
		lb := &logBuffer{}
		w := newWatcher(t, cfg, newFakeSink(), lb)
		runWatcher(t, w)
		waitFor(t, "attempts", func() bool { return len(rec.get()) >= 2 })
		if st := w.Status(); st.Connected || !strings.Contains(st.LastError, "certificate") {
			t.Errorf("status %+v, want a certificate error", st)
		}
	})
}
