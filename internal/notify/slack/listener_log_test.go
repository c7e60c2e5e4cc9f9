package slack

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/notify/slack/slacktest"
)

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// While Socket Mode cannot connect, the same failure is warned about once,
// not on every reconnection attempt.
func TestListenerWarnsOncePerFailure(t *testing.T) {
	f := slacktest.New(t)
	release := f.Down(slacktest.ConnectionsOpen, slacktest.ServerError)
	logs := &lockedLog{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := NewListener(ListenerConfig{AppToken: slacktest.AppToken, BotUserID: slacktest.BotUser, APIURL: f.APIURL()}, recorder{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "connection failed again") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no repeated attempts:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	release()
	cancel()
	<-done
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one unchanged failure, want 1:\n%s", n, logs.String())
	}
}
