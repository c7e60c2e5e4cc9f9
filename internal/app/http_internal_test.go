package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// While the port is taken, binding is retried with a backoff capped at a
// minute, and the error is logged once; cancelling is a normal stop. Ten
// minutes pass in synctest's fake time. (That the endpoints come up once
// the port is free is TestBusyMetricsPortKeepsWatching: a serving listener
// blocks outside synctest's control.)
func TestServeHTTPRetriesBusyPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		logs := &lockedBuffer{}
		a := &App{
			cfg:     Config{HTTPAddr: busy.Addr().String()},
			opts:    Options{Clock: systemClock{}},
			log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			metrics: newMetrics(),
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.serveHTTP(ctx) }()

		time.Sleep(10 * time.Minute)
		out := logs.String()
		if n := strings.Count(out, "unavailable; mail is still watched"); n != 1 {
			t.Errorf("the busy port logged as an error %d times, want once", n)
		}
		// 1+2+4+8+16+32 s, then once a minute: 15 tries in ten minutes.
		if n := strings.Count(out, "http endpoints still unavailable") + 1; n < 12 || n > 16 {
			t.Errorf("%d tries in ten minutes, want about 15:\n%s", n, out)
		}
		if strings.Contains(out, "next=2m") {
			t.Error("backoff above a minute")
		}

		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("serveHTTP after cancel = %v, want context.Canceled (a normal stop)", err)
		}
		busy.Close()
	})
}
