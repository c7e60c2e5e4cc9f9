package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
)

// fakeTimeApp is an App whose incident clock and sender run inside a
// synctest bubble: time is synctest's, mail is handed to the sink as the
// watcher would (there is no IMAP server: synctest cannot drive a real
// network). Notices are printed as JSON lines.
type fakeTimeApp struct {
	a    *App
	out  *lockedBuffer
	uid  uint32
	stop func()
}

func startFakeTime(t *testing.T, cfg Config) *fakeTimeApp {
	t.Helper()
	cfg.IMAPAddr, cfg.IMAPTLS, cfg.IMAPUsername, cfg.IMAPPassword, cfg.IMAPAuth = "192.0.2.1:993", "implicit", "office@example.jp", "x", "password"
	cfg.IMAPMailbox, cfg.IMAPAfter, cfg.IMAPProbe = "INBOX", "none", time.Minute
	cfg.DB, cfg.Notify, cfg.DNSServer = filepath.Join(t.TempDir(), "bw.db"), "stdout", DNSServerOff
	out := &lockedBuffer{}
	a, err := New(t.Context(), cfg, Options{Stdout: out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.runLoops(ctx, []loop{{"incidents", a.incidentLoop}, {"sender", a.senderLoop}}) }()
	f := &fakeTimeApp{a: a, out: out}
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
		t0 := time.Now()
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
		at(5*time.Minute - time.Millisecond)
		want("just before the group wait ends")
		at(5 * time.Minute)
		want("when the group wait ends", "first")

		at(10 * time.Minute)
		f.deliver(t, outlookBounceTo(t, "b.example@outlook.jp"))
		at(35*time.Minute - time.Millisecond)
		want("just before the group interval ends", "first")
		at(35 * time.Minute)
		want("when the group interval ends", "first", "update")
		if n := f.notices(t); len(n) == 2 && n[1].Count != 2 {
			t.Errorf("the update counts %d, want 2", n[1].Count)
		}

		quiet := 10*time.Minute + 6*time.Hour // after the last bounce
		at(quiet - time.Millisecond)
		want("just before the quiet time ends", "first", "update")
		at(quiet)
		want("when the quiet time ends", "first", "update", "resolved")
	})
}
