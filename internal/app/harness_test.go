package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/demo"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// Helpers shared by the end-to-end tests of notifications and replies.

// horizon: an incident decision due further away than this (a repeat, the
// resolution after a day of quiet, the end of a mute) does not happen
// within a test.
const horizon = time.Minute

// running is an App run by a test.
type running struct {
	a    *app.App
	stop func()
}

// runApp runs an App until the test ends or stop is called.
func runApp(t *testing.T, cfg app.Config) *running {
	t.Helper()
	return runAppWith(t, cfg, app.Options{RetryBase: 50 * time.Millisecond, Stdout: io.Discard})
}

// runAppWith is runApp with options (a logger is added when none is given).
func runAppWith(t *testing.T, cfg app.Config, opts app.Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() && os.Getenv("BW_TEST_LOG") != "" {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	a, err := app.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	r := &running{a: a}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("app did not stop")
		}
	}
	t.Cleanup(r.stop)
	return r
}

// stats reads the store's counters.
func (r *running) stats(t *testing.T) store.Stats {
	t.Helper()
	st, err := r.a.DB().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitSeen waits until the store has recorded n messages and everything
// they cause has happened (see settled).
// A third argument (the group wait, which older tests passed) is ignored:
// waitSeen waits for the decisions themselves.
func (r *running) waitSeen(t *testing.T, n int64, _ ...time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages recorded and everything they cause done", n), func() bool { return r.settled(t, n) })
}

// settled says whether the app has done all it is going to do soon: n
// messages are recorded, no incident has a decision due within horizon (a
// first notice after the group wait, an update after the group interval)
// and every outbox row is done. What a test asserts after that cannot
// change unless the test adds mail, a reply or a Slack event: a second post,
// a stray mail, an update of a muted incident would already have happened.
// The order of the reads matters: once n messages are recorded only the
// incident clock adds outbox rows, and it adds none when no decision is
// due, so an empty outbox read after that is final.
func (r *running) settled(t *testing.T, n int64) bool {
	t.Helper()
	if r.stats(t).MessagesSeen < n {
		return false
	}
	if !r.decided(t) {
		return false
	}
	return r.stats(t).OutboxBacklog == 0
}

// decided says whether no open incident has a decision due within horizon.
func (r *running) decided(t *testing.T) bool {
	t.Helper()
	incs, err := r.a.DB().OpenIncidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(horizon)
	for _, inc := range incs {
		if inc.NextCheck.Before(soon) {
			return false
		}
	}
	return true
}

func (r *running) detail(t *testing.T, id int64) *store.Detail {
	t.Helper()
	det, err := r.a.DB().IncidentDetail(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return det
}

// outlookBounce is the Outlook rate-limit bounce (sending IP 203.0.113.25)
// for another recipient, sent by from.
func outlookBounce(t *testing.T, rcpt, from string) []byte {
	t.Helper()
	m := string(fixture(t, "heteml-outlookjp-ratelimit-failed.eml"))
	m = strings.ReplaceAll(m, "taro.example@outlook.jp", rcpt)
	if from != "" {
		m = strings.ReplaceAll(m, "sales@example.co.jp", from)
	}
	// Each bounce is its own message.
	m = strings.ReplaceAll(m, "Message-Id: <1715697072.4VbXyZ1abcz9sTq@", "Message-Id: <"+strings.ReplaceAll(rcpt, "@", ".")+".1715697072@")
	return []byte(m)
}

// ordinary is a plain business mail (not a bounce), unique by n.
func ordinary(n int) []byte {
	return []byte(fmt.Sprintf("From: Hanako <hanako@example.org>\r\nTo: office@example.jp\r\nSubject: meeting %d\r\n"+
		"Date: Tue, 14 May 2024 10:00:00 +0900\r\nMessage-ID: <ordinary.%d@example.org>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nSee you tomorrow.\r\n", n, n))
}

// startIMAP starts the in-process IMAP server, closed when the test ends.
func startIMAP(t *testing.T) *demo.Server {
	t.Helper()
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// startSlackApp starts the in-process IMAP server and the fake Slack, and
// returns them with the config that watches the one and posts to the other
// (a fresh database in the test's directory).
func startSlackApp(t *testing.T) (*demo.Server, *slacktest.Server, app.Config) {
	t.Helper()
	srv := startIMAP(t)
	fake := slacktest.New(t)
	return srv, fake, slackConfig(t, srv, fake, filepath.Join(t.TempDir(), "bw.db"))
}

// startEmailApp starts the in-process IMAP server and the SMTP test server,
// and returns them with the config that watches the one and mails through
// the other (a fresh database in the test's directory).
func startEmailApp(t *testing.T) (*demo.Server, *smtpBox, app.Config) {
	t.Helper()
	srv := startIMAP(t)
	sm := startSMTP(t)
	return srv, sm, emailConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), sm)
}

// inbox delivers into the in-process IMAP server's INBOX, failing the test
// when the server refuses.
func inbox(t *testing.T, srv *demo.Server) mailbox {
	return func(m []byte) {
		if err := srv.Append(m); err != nil {
			t.Fatal(err)
		}
	}
}
