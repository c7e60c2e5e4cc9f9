package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// waiting is a loop that runs until its context ends, as the app's loops
// do, and says so on stopped.
func waiting(name string, stopped chan<- string) loop {
	return loop{name, func(ctx context.Context) error {
		<-ctx.Done()
		stopped <- name
		return fmt.Errorf("%s loop: %w", name, ctx.Err())
	}}
}

// A loop that fails stops the others; Run's loops return its error, named
// after it, once all have stopped, and only the failure is logged.
func TestRunLoopsFailureStopsTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &lockedBuffer{}
		a := &App{log: slog.New(slog.NewTextHandler(logs, nil))}
		boom := errors.New("database is locked for good")
		stopped := make(chan string, 3)
		failing := loop{"sender", func(ctx context.Context) error {
			time.Sleep(time.Minute)
			return boom
		}}
		err := a.runLoops(t.Context(), []loop{waiting("imap", stopped), failing, waiting("http", stopped)})
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sender: ") {
			t.Errorf("runLoops = %v, want the sender's error named after it", err)
		}
		// Every other loop has stopped when runLoops returns.
		close(stopped)
		var names []string
		for n := range stopped {
			names = append(names, n)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"http", "imap"}) {
			t.Errorf("stopped loops = %v, want http and imap", names)
		}
		out := logs.String()
		if strings.Count(out, "msg=stopped") != 1 || !strings.Contains(out, "component=sender") {
			t.Errorf("want one log line, for the failed loop:\n%s", out)
		}
	})
}

// The context ending is a normal stop: nil, nothing logged, even when a loop
// wraps the cancellation in its own error.
func TestRunLoopsCancellationIsANormalStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &lockedBuffer{}
		a := &App{log: slog.New(slog.NewTextHandler(logs, nil))}
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan string, 3)
		go func() {
			time.Sleep(time.Hour)
			cancel()
		}()
		done := loop{"housekeeping", func(context.Context) error { return nil }} // finished early: no failure
		if err := a.runLoops(ctx, []loop{waiting("imap", stopped), waiting("sender", stopped), done}); err != nil {
			t.Errorf("runLoops after cancel = %v, want nil", err)
		}
		if len(stopped) != 2 {
			t.Errorf("%d loops saw the stop, want 2", len(stopped))
		}
		if out := logs.String(); out != "" {
			t.Errorf("a normal stop logged:\n%s", out)
		}
	})
}
