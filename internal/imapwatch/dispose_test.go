package imapwatch_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
)

// pendingSink is a fakeSink that keeps the UIDs to dispose with each
// delivered batch, as the store does (imapwatch.DisposalSink). afterDeliver,
// when set, runs once after the first successful Deliver: the seam where the
// process dies between the commit and the disposition.
type pendingSink struct {
	*fakeSink
	mu           sync.Mutex
	pending      map[uint32]map[uint32]bool // UIDVALIDITY -> UIDs
	afterDeliver func()
}

var _ imapwatch.DisposalSink = (*pendingSink)(nil)

func newPendingSink() *pendingSink {
	return &pendingSink{fakeSink: newFakeSink(), pending: map[uint32]map[uint32]bool{}}
}

func (s *pendingSink) Deliver(ctx context.Context, b imapwatch.Batch) ([]uint32, error) {
	d, err := s.fakeSink.Deliver(ctx, b)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.pending[b.UIDValidity] == nil {
		s.pending[b.UIDValidity] = map[uint32]bool{}
	}
	for _, u := range d {
		s.pending[b.UIDValidity][u] = true
	}
	hook := s.afterDeliver
	s.afterDeliver = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return d, nil
}

func (s *pendingSink) PendingDisposal(ctx context.Context, mailbox string, v uint32) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint32
	for u := range s.pending[v] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

func (s *pendingSink) Disposed(ctx context.Context, mailbox string, v uint32, uids []uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range uids {
		delete(s.pending[v], u)
	}
	return nil
}

func (s *pendingSink) left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.pending {
		n += len(m)
	}
	return n
}

// The connection dies after the batch was delivered (committed) and before
// the disposition: the next session applies it before anything else, and
// nothing is delivered twice.
func TestDispositionAfterDeathBetweenCommitAndDispose(t *testing.T) {
	for _, disp := range []string{"flag:bouncewatch-triaged", "move:Bounces/Triaged"} {
		t.Run(strings.SplitN(disp, ":", 2)[0], func(t *testing.T) {
			ts := newTestServer(t, nil)
			ts.append(t, "INBOX", testMessage(1, true, 100))
			ts.append(t, "INBOX", testMessage(2, false, 100))
			ts.append(t, "INBOX", testMessage(3, true, 100))
			cfg := baseConfig(ts.addr)
			d, err := imapwatch.ParseDisposition(disp)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Disposition = d
			sink := newPendingSink()
			sink.afterDeliver = ts.kick // the session dies right after the commit
			lb := &logBuffer{}
			runWatcher(t, newWatcher(t, cfg, sink, lb))

			waitFor(t, "pending dispositions cleared", func() bool { return sink.count() == 3 && sink.left() == 0 })
			if ts.loginCount() < 2 {
				t.Fatalf("logins = %d: the first session was not cut", ts.loginCount())
			}
			if got := sink.count(); got != 3 {
				t.Errorf("delivered %d messages, want 3 (none twice)", got)
			}
			if !strings.Contains(lb.String(), "left over from the last session") {
				t.Errorf("the leftover dispositions were not applied at session start:\n%s", lb)
			}
			inbox := ts.flags(t, "INBOX")
			if _, ok := inbox[2]; !ok || slices.Contains(inbox[2], imap.Flag(imapwatch.DefaultKeyword)) || slices.Contains(inbox[2], "bouncewatch-triaged") {
				t.Errorf("ordinary message UID 2 touched: %v", inbox)
			}
			if d.Kind == imapwatch.DispositionFlag {
				for _, uid := range []uint32{1, 3} {
					if !slices.Contains(inbox[uid], "bouncewatch-triaged") {
						t.Errorf("UID %d not flagged after the restart: %v", uid, inbox[uid])
					}
				}
				return
			}
			st, err := ts.user.Status("Bounces/Triaged", &imap.StatusOptions{NumMessages: true})
			if err != nil {
				t.Fatal(err)
			}
			if *st.NumMessages != 2 || len(inbox) != 1 {
				t.Errorf("%d moved, %d left in INBOX; want 2 and 1", *st.NumMessages, len(inbox))
			}
		})
	}
}
