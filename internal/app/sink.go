package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/notify/email"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// sink receives new messages from the watcher, triages them and records
// the results, the cursor and any due notifications in one transaction.
type sink struct {
	db       *store.DB
	log      *slog.Logger
	now      func() time.Time
	timing   incident.Timing
	targets  []string
	maxAge   time.Duration                                          // older bounces are recorded, not notified
	quietAll bool                                                   // backfill: record everything, notify nothing
	onCommit func(res store.CommitResult, reports []*bounce.Report) // called after each commit; must not block
	// replies recognises replies to our summaries (nil: email is off).
	replies *replies
	// onParseError counts messages recorded with a parse error. Optional.
	onParseError func()
	// onTruncated counts bounces recorded with only their first
	// recipients (bounce.Report.Truncated). Optional.
	onTruncated func()
}

var _ imapwatch.DisposalSink = (*sink)(nil)

// PendingDisposal returns the UIDs whose disposition was recorded with their
// batch and not yet applied.
func (s *sink) PendingDisposal(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error) {
	return s.db.PendingDisposal(ctx, mailbox, uidValidity)
}

// Disposed clears the pending disposition of uids.
func (s *sink) Disposed(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error {
	return s.db.Disposed(ctx, mailbox, uidValidity, uids)
}

func (s *sink) Cursor(ctx context.Context, mailbox string) (uint32, uint32, error) {
	return s.db.Cursor(ctx, mailbox)
}

func (s *sink) ResetMailbox(ctx context.Context, mailbox string, uidValidity uint32) error {
	return s.db.ResetMailbox(ctx, mailbox, uidValidity, s.now())
}

func (s *sink) Candidate(header []byte, size int64) bool {
	if s.replies != nil && s.replies.isReply(header) {
		return true
	}
	if email.IsSummaryID(headerMessageID(header)) {
		// One of our own summaries, delivered to the watched mailbox (the
		// sender of a bounced mail was the mailbox itself): never triaged,
		// so a summary is never summarised.
		return false
	}
	return bounce.Candidate(header)
}

// Deliver triages a batch in UID order and commits it. It returns the UIDs
// of bounces and delay notices, to which the configured disposition applies.
func (s *sink) Deliver(ctx context.Context, b imapwatch.Batch) ([]uint32, error) {
	batch := store.Batch{
		Mailbox:     b.Mailbox,
		UIDValidity: b.UIDValidity,
		LastUID:     b.LastUID,
		Now:         s.now(),
		Timing:      s.timing,
		Targets:     s.targets,
	}
	var dispose []uint32
	var reports []*bounce.Report
	var reportUIDs []uint32 // the message of each report
	for _, m := range b.Messages {
		msg := store.Message{UID: m.UID, Size: m.Size, MessageID: headerMessageID(m.Header)}
		if m.Body != nil {
			rep := bounce.Analyze(m.Body)
			if m.Truncated && rep.Error == "" && rep.Kind == bounce.KindNone {
				rep.Error = "message larger than the fetch limit; only its beginning was read"
			}
			msg.Report = rep
			msg.Err = rep.Error
			if email.IsSummaryID(rep.Original.MessageID) {
				// The bounce of one of our summaries: recorded, never
				// grouped or notified (no loop between us and a full mailbox).
				msg.Quiet = true
			}
			if s.quietAll || s.maxAge > 0 && !rep.Date.IsZero() && batch.Now.Sub(rep.Date) > s.maxAge {
				msg.Quiet = true
			}
			// A backfill (quietAll) notifies nothing, so it answers no reply either.
			if s.replies != nil && !s.quietAll && rep.Kind != bounce.KindBounce && rep.Kind != bounce.KindDelay {
				rq, err := s.replies.request(ctx, m.Body, batch.Now)
				if err != nil {
					return nil, err
				}
				if rq != nil {
					msg.Requests = append(msg.Requests, *rq)
				}
			}
			switch rep.Kind {
			case bounce.KindBounce, bounce.KindDelay:
				msg.Raw = m.Body
				dispose = append(dispose, m.UID)
				if !msg.Quiet || s.quietAll {
					reports = append(reports, rep)
					reportUIDs = append(reportUIDs, m.UID)
				}
			}
			if rep.Error != "" {
				// Recorded with its error (never dropped) and shown here and in /metrics.
				s.log.Warn("message could not be read fully", "uid", m.UID, "message_id", msg.MessageID, "kind", rep.Kind, "error", rep.Error)
				if s.onParseError != nil {
					s.onParseError()
				}
			}
			s.log.Debug("triaged", "uid", m.UID, "kind", rep.Kind, "recipients", len(rep.Recipients), "error", rep.Error)
		} else {
			s.log.Debug("not a candidate", "uid", m.UID, "size", m.Size)
		}
		batch.Messages = append(batch.Messages, msg)
	}
	// Recorded with the batch, so a kill before the disposition loses none.
	batch.Dispose = dispose
	res, err := s.db.CommitBatch(ctx, batch)
	if errors.Is(err, store.ErrUIDValidityChanged) {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	for _, f := range res.Failed {
		// Recorded with its reason and passed over: one bad message never stops the mailbox.
		s.log.Warn("message could not be recorded as it is; recorded as not processed and skipped", "uid", f.UID, "reason", f.Reason)
		// Its report was not recorded: it is not printed or counted either.
		for i := 0; i < len(reports); i++ {
			if reportUIDs[i] == f.UID {
				reports = slices.Delete(reports, i, i+1)
				reportUIDs = slices.Delete(reportUIDs, i, i+1)
				i--
			}
		}
	}
	for i, rep := range reports {
		if rep.Truncated {
			// Once per recorded message (a failed commit logs nothing: the
			// batch comes again), and the notices say it too (notify.CapNote).
			s.log.Warn("bounce names more recipients than are recorded; only the first ones are recorded and notified",
				"uid", reportUIDs[i], "recorded", len(rep.Recipients), "kind", rep.Kind)
			if s.onTruncated != nil {
				s.onTruncated()
			}
		}
	}
	if s.onCommit != nil {
		s.onCommit(res, reports)
	}
	return dispose, nil
}

// headerMessageID reads the Message-ID from a raw header block.
func headerMessageID(header []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(header)))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
}
