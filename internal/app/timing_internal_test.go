package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

// fakeTimeApp is an App whose incident clock and sender run inside a
// synctest bubble: time is synctest's, mail is handed to the sink as the
// watcher would (there is no IMAP server: synctest cannot drive a real
// network). Notices are printed as JSON lines.
type fakeTimeApp struct {
	a      *App
	out    *lockedBuffer
	uid    uint32
	cancel context.CancelFunc // ends the loops as a stop signal does
	stop   func()
}

func startFakeTime(t *testing.T, cfg Config) *fakeTimeApp {
	t.Helper()
	return startFakeTimeTo(t, cfg, &lockedBuffer{})
}

// startFakeTimeTo is startFakeTime printing to w, whose output f.out keeps.
func startFakeTimeTo(t *testing.T, cfg Config, w io.Writer) *fakeTimeApp {
	t.Helper()
	return startFakeTimeWith(t, cfg, w, nil)
}

// startFakeTimeWith is startFakeTimeTo with a last say on the configuration
// and the options.
func startFakeTimeWith(t *testing.T, cfg Config, w io.Writer, adjust func(*Config, *Options)) *fakeTimeApp {
	t.Helper()
	cfg.IMAPAddr, cfg.IMAPTLS, cfg.IMAPUsername, cfg.IMAPPassword, cfg.IMAPAuth = "192.0.2.1:993", "implicit", "office@example.jp", "x", "password"
	cfg.IMAPMailbox, cfg.IMAPAfter, cfg.IMAPProbe = "INBOX", "none", time.Minute
	cfg.DB, cfg.Notify, cfg.DNSServer = filepath.Join(t.TempDir(), "bw.db"), "stdout", DNSServerOff
	out := &lockedBuffer{}
	opts := Options{Stdout: io.MultiWriter(w, out), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if adjust != nil {
		adjust(&cfg, &opts)
	}
	a, err := New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := a.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.runLoops(ctx, []loop{{"incidents", a.incidentLoop}, {"sender", a.senderLoop}}) }()
	f := &fakeTimeApp{a: a, out: out, cancel: cancel}
	f.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loops: %v", err)
		}
		a.db.Close()
	}
	return f
}

// deliver hands one message to the sink as the next UID, as the watcher does.
func (f *fakeTimeApp) deliver(t *testing.T, raw []byte) {
	t.Helper()
	f.uid++
	hdr, _, _ := bytes.Cut(raw, []byte("\n\n"))
	if _, err := f.a.sink.Deliver(t.Context(), imapwatch.Batch{Mailbox: "INBOX", UIDValidity: 1, LastUID: f.uid,
		Messages: []imapwatch.Message{{UID: f.uid, Size: int64(len(raw)), Header: hdr, Body: raw}}}); err != nil {
		t.Fatal(err)
	}
}

type printed struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// notices returns the incident notices printed so far.
func (f *fakeTimeApp) notices(t *testing.T) []printed {
	t.Helper()
	var out []printed
	for _, l := range strings.Split(strings.TrimSpace(f.out.String()), "\n") {
		var ev struct {
			Event string `json:"event"`
			printed
		}
		if l == "" || json.Unmarshal([]byte(l), &ev) != nil || ev.Event != "incident" {
			continue
		}
		out = append(out, ev.printed)
	}
	return out
}

func outlookBounceTo(t *testing.T, rcpt string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mail", "heteml-outlookjp-ratelimit-failed.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "taro.example@outlook.jp", rcpt))
}

// The incident clock in the app's loops, in synctest's time: the first
// notice comes when the group wait ends and not a moment before, a later
// bounce gives one update when the group interval ends, and the incident
// is resolved after the configured quiet time. Six hours pass in
// microseconds; the loops sleep on the app's clock, so nothing polls.
func TestIncidentTimingInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := startFakeTime(t, Config{GroupWait: 5 * time.Minute, GroupInterval: 30 * time.Minute,
			RepeatInterval: 24 * time.Hour, ResolveAfter: 6 * time.Hour})
		defer f.stop()
		var t0 time.Time
		at := func(d time.Duration) { // wait until t0+d and for the loops to act
			time.Sleep(time.Until(t0.Add(d)))
			synctest.Wait()
		}
		want := func(when string, kinds ...string) {
			t.Helper()
			var got []string
			for _, n := range f.notices(t) {
				got = append(got, n.Kind)
			}
			if strings.Join(got, ",") != strings.Join(kinds, ",") {
				t.Errorf("%s: notices %v, want %v", when, got, kinds)
			}
		}

		f.deliver(t, outlookBounceTo(t, "a.example@outlook.jp"))
		t0 = time.Now() // recorded as seen no later than this
		at(5*time.Minute - time.Second)
		want("just before the group wait ends")
		at(5 * time.Minute)
		want("when the group wait ends", "first")

		at(10 * time.Minute)
		f.deliver(t, outlookBounceTo(t, "b.example@outlook.jp"))
		at(35*time.Minute - time.Second)
		want("just before the group interval ends", "first")
		at(35 * time.Minute)
		want("when the group interval ends", "first", "update")
		if n := f.notices(t); len(n) == 2 && n[1].Count != 2 {
			t.Errorf("the update counts %d, want 2", n[1].Count)
		}

		quiet := 10*time.Minute + 6*time.Hour // after the last bounce
		at(quiet - time.Second)
		want("just before the quiet time ends", "first", "update")
		at(quiet)
		want("when the quiet time ends", "first", "update", "resolved")
	})
}

// flakyWriter refuses its first fail notices and records when each notice
// was tried (the report lines printed on commit pass through).
type flakyWriter struct {
	mu    sync.Mutex
	fail  int
	tries []time.Time
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !bytes.Contains(p, []byte(`"event":"incident"`)) {
		return len(p), nil
	}
	w.tries = append(w.tries, time.Now())
	if len(w.tries) <= w.fail {
		return 0, errors.New("stdout closed for a while")
	}
	return len(p), nil
}

func (w *flakyWriter) times() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.tries)
}

// A notice whose delivery fails is retried on the app's clock with
// exponential, jittered backoff (attempt n waits between 2^(n-1) and
// 2^n times half the 5 s base), and printed once when it goes through.
func TestOutboxRetryBackoffInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &flakyWriter{fail: 3}
		f := startFakeTimeTo(t, Config{GroupWait: time.Minute, GroupInterval: time.Hour, RepeatInterval: 24 * time.Hour, ResolveAfter: 24 * time.Hour}, w)
		defer f.stop()
		f.deliver(t, outlookBounceTo(t, "a.example@outlook.jp"))
		t0 := time.Now() // recorded as seen no later than this
		time.Sleep(time.Hour)
		synctest.Wait()

		tries := w.times()
		if len(tries) != 4 {
			t.Fatalf("%d tries, want 3 refused and 1 accepted", len(tries))
		}
		if d := tries[0].Sub(t0); d > time.Minute || d < time.Minute-time.Second {
			t.Errorf("first try %v after the bounce, want the group wait (1m)", d)
		}
		for i, base := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
			if gap := tries[i+1].Sub(tries[i]); gap < base/2 || gap > base {
				t.Errorf("retry %d came %v after the failure, want between %v and %v", i+1, gap, base/2, base)
			}
		}
		if n := len(f.notices(t)); n != 1 {
			t.Errorf("%d notices printed, want 1", n)
		}
		st, err := f.a.db.Stats(t.Context())
		if err != nil || st.OutboxBacklog != 0 {
			t.Errorf("outbox backlog %d (%v), want 0", st.OutboxBacklog, err)
		}
	})
}

// inMemory is an HTTP transport that hands each request to a handler in
// the caller's goroutine: no network, so it works inside a synctest
// bubble. It records when each API method was called.
type inMemory struct {
	h     http.Handler
	mu    sync.Mutex
	calls []apiCall
}

type apiCall struct {
	method string
	at     time.Time
}

func (m *inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	m.calls = append(m.calls, apiCall{path.Base(r.URL.Path), time.Now()})
	m.mu.Unlock()
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	if r.Body != nil {
		r.Body.Close()
	}
	return rec.Result(), nil
}

// called returns when method ("" for any) was called.
func (m *inMemory) called(method string) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	for _, c := range m.calls {
		if method == "" || c.method == method {
			out = append(out, c.at)
		}
	}
	return out
}

// A 429 with Retry-After pauses the whole Slack workspace, in synctest's
// time: one request is made during the pause (not one per incident), the
// next comes when it ends, and then the three incidents are posted oldest
// first, each once.
func TestSlackRetryAfterPausesWorkspaceInFakeTime(t *testing.T) {
	fake := slacktest.New(t) // outside the bubble: its listener is a real socket
	synctest.Test(t, func(t *testing.T) {
		api := &inMemory{h: fake.Handler()}
		fake.FailNext(slacktest.PostMessage, slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "30"})
		cfg := Config{GroupWait: time.Minute, GroupInterval: time.Hour, RepeatInterval: 24 * time.Hour, ResolveAfter: 24 * time.Hour}
		f := startFakeTimeWith(t, cfg, &lockedBuffer{}, func(cfg *Config, opts *Options) {
			cfg.Notify, cfg.SlackToken, cfg.SlackChannel, cfg.SlackAPIURL = "slack", slacktest.BotToken, "C0BOUNCE", fake.APIURL()
			opts.HTTPClient = &http.Client{Transport: api}
		})
		defer f.stop()
		t0 := time.Now()
		for _, name := range []string{"heteml-outlookjp-ratelimit-failed.eml", "gmail-5.7.26-authfailure.eml", "spamhaus-ocn-blocked.eml"} {
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mail", name))
			if err != nil {
				t.Fatal(err)
			}
			f.deliver(t, b)
		}
		time.Sleep(time.Minute + 29*time.Second) // the group wait, then most of the pause
		synctest.Wait()
		if n := len(api.called("")); n != 1 {
			t.Errorf("%d API calls during the Retry-After, want 1", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()

		posts := api.called(slacktest.PostMessage)
		if len(posts) != 4 {
			t.Fatalf("%d chat.postMessage calls, want 4 (one refused, one per incident)", len(posts))
		}
		if d := posts[0].Sub(t0); d < time.Minute || d > time.Minute+time.Second {
			t.Errorf("first call %v after the bounces, want the group wait (1m)", d)
		}
		if d := posts[1].Sub(posts[0]); d != 30*time.Second {
			t.Errorf("next call %v after the 429, want the Retry-After (30s)", d)
		}
		var last int64
		for _, p := range fake.Posts() {
			id, err := f.a.db.IncidentBySlackTS(t.Context(), "C0BOUNCE", p.TS)
			if err != nil || id == 0 {
				t.Fatalf("post %s not recorded: %v", p.TS, err)
			}
			if id < last {
				t.Errorf("incident %d posted after incident %d: not oldest first", id, last)
			}
			last = id
		}
		if n := len(fake.Posts()); n != 3 {
			t.Errorf("%d posts, want 3", n)
		}
	})
}

// stopOnWrite is a stdout that is stopped while a notice is being written:
// the process is told to stop (SIGTERM) in the middle of a send, and the
// write fails with the cancellation. Other lines (reports) are taken.
type stopOnWrite struct{ stop func() }

func (w *stopOnWrite) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"event":"incident"`)) {
		return len(p), nil
	}
	w.stop()
	return 0, context.Canceled
}

// A notice interrupted by a graceful stop is due at once after the restart:
// the stop is no failure of the receiver, so it neither waits out a backoff
// nor counts as an attempt (issue 13, item 5).
func TestNoticeInterruptedByStopIsDueAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{GroupWait: time.Minute, GroupInterval: time.Hour, RepeatInterval: 24 * time.Hour, ResolveAfter: 24 * time.Hour}
		db := filepath.Join(t.TempDir(), "bw.db")
		keep := func(c *Config, o *Options) { c.DB = db; o.RetryBase = time.Hour }
		w := &stopOnWrite{}
		first := startFakeTimeWith(t, cfg, w, keep)
		w.stop = first.cancel
		first.deliver(t, outlookBounceTo(t, "a.example@outlook.jp"))
		time.Sleep(2 * time.Minute) // the group wait ends, the send is interrupted
		synctest.Wait()
		first.stop()
		if n := len(first.notices(t)); n != 0 {
			t.Fatalf("%d notices printed by the stopped process, want 0", n)
		}

		second := startFakeTimeWith(t, cfg, io.Discard, keep)
		defer second.stop()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(second.notices(t)); n != 1 {
			t.Errorf("%d notices a second after the restart, want the interrupted one at once", n)
		}
	})
}
