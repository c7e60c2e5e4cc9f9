package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// Notification targets.
const (
	TargetStdout = "stdout"
	TargetSlack  = "slack"
	TargetEmail  = "email"
)

// Kind says what an outbox row (and an entry of an incident's notification
// log) is about: the one vocabulary of notification kinds. Package incident
// decides the notices (first, update, repeat, resolved; incident.Kind
// converts to Kind) and people ask for the rest; senders convert to their
// own rendering types (notify.Kind) at the edge.
type Kind string

// Kinds of outbox rows.
const (
	KindFirst         = Kind(incident.KindFirst)    // a new incident
	KindUpdate        = Kind(incident.KindUpdate)   // more bounces in a known incident
	KindRepeat        = Kind(incident.KindRepeat)   // a reminder about a known incident
	KindResolved      = Kind(incident.KindResolved) // closed, by the clock or a person
	KindMuted    Kind = "muted"                     // a person muted the incident (the payload has "until")
	KindDetail   Kind = "detail"                    // the long version, on request
	KindAnswer   Kind = "answer"                    // an answer in a Slack thread to a person's request
	KindReply    Kind = "reply"                     // an answer by mail to a person's reply
)

// OutboxItem is one message to deliver to one target.
//
// Delivery is at least once: NextOutbox leases an item and counts the attempt
// before the sender tries, and a sender that crashes mid-send leaves the item
// to be retried once the lease ends. So senders must make a retry harmless:
//   - Slack: chat.update of a known ts (SlackRef) is idempotent. A
//     chat.postMessage is not: after a successful post, call SetSlackRef
//     before MarkSent; on a retry (Attempts > 1) with no SlackRef, look for a
//     message carrying IdempotencyKey (e.g. in the message metadata, via
//     conversations.history) before posting again.
//   - Email: use IdempotencyKey in the Message-ID so that a duplicate can be
//     recognised by the reader's client.
type OutboxItem struct {
	ID         int64
	IncidentID int64 // 0 when the item concerns no incident
	Target     string
	Kind       Kind
	Payload    json.RawMessage // NoticePayload for notices; the caller's JSON for Enqueue
	Attempts   int             // attempts so far, including the one this lease is for
	CreatedAt  time.Time
	LastError  string // error of the previous attempt
	// Parts are the references recorded with MarkPart by earlier attempts
	// (for email: the Message-IDs of the mails already accepted), in order.
	Parts []string
}

// IdempotencyKey is a stable identifier of the item across attempts.
func (o OutboxItem) IdempotencyKey() string {
	return "bouncewatch-outbox-" + strconv.FormatInt(o.ID, 10)
}

func enqueue(ctx context.Context, tx *sql.Tx, incidentID, notificationID int64, target string, kind Kind, payload []byte, now time.Time) error {
	var inc, nid any
	if incidentID != 0 {
		inc = incidentID
	}
	if notificationID != 0 {
		nid = notificationID
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (incident, notification, target, kind, payload, created_at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, inc, nid, target, string(kind), string(payload), ms(now), ms(now))
	return err
}

// Enqueue adds an outbox row per target for an incident (0 for none), e.g.
// a detail reply. payload must be JSON (nil means {}).
func (d *DB) Enqueue(ctx context.Context, incidentID int64, targets []string, kind Kind, payload []byte, now time.Time) error {
	if len(payload) > 0 && !json.Valid(payload) {
		return errors.New("store: enqueue: payload is not JSON")
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range targets {
			if err := enqueue(ctx, tx, incidentID, 0, t, kind, payload, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: enqueue %s: %w", kind, err)
	}
	return nil
}

// unblocked holds for an outbox row o with no earlier undone row of the same
// incident and target.
const unblocked = `NOT EXISTS (SELECT 1 FROM outbox p WHERE p.incident = o.incident AND p.target = o.target
	AND p.done_at = 0 AND p.id < o.id)`

// NextOutbox leases up to limit items due at now for targets (all targets
// when none are given): not done, next attempt due, not leased by someone
// else, and with no earlier undone item for the same incident and target (so
// a first notice is delivered before its updates). The oldest come first:
// after an outage the first incident is told first. Each item's attempt is
// counted and it is leased until now+lease; after that, an item neither
// marked sent nor failed (a crashed sender) is handed out again. lease must
// exceed the time a send may take.
func (d *DB) NextOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration, targets ...string) ([]OutboxItem, error) {
	if limit <= 0 {
		limit = 1
	}
	var items []OutboxItem
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		items = nil
		q := `SELECT o.id, coalesce(o.incident, 0), o.target, o.kind, o.payload, o.attempts, o.created_at, o.last_error, o.external_ref
			FROM outbox o
			WHERE o.done_at = 0 AND o.next_attempt_at <= ?1 AND o.lease_until <= ?1 AND ` + unblocked
		args := []any{ms(now)}
		if len(targets) > 0 {
			q += ` AND o.target IN (`
			for i, t := range targets {
				if i > 0 {
					q += `,`
				}
				q += `?`
				args = append(args, t)
			}
			q += `)`
		}
		q += ` ORDER BY o.id LIMIT ?`
		args = append(args, limit)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var it OutboxItem
			var payload, parts string
			var created int64
			if err := rows.Scan(&it.ID, &it.IncidentID, &it.Target, &it.Kind, &payload, &it.Attempts, &created, &it.LastError, &parts); err != nil {
				rows.Close()
				return err
			}
			if parts != "" {
				it.Parts = strings.Split(parts, " ")
			}
			it.Payload = json.RawMessage(payload)
			it.CreatedAt = fromMS(created)
			it.Attempts++
			items = append(items, it)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, lease_until = ? WHERE id = ?`,
				ms(now.Add(lease)), it.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: next outbox: %w", err)
	}
	return items, nil
}

// MarkSent records that the receiver accepted an item; externalRef is what
// identifies the delivered message there (Slack ts, email Message-ID), or "".
func (d *DB) MarkSent(ctx context.Context, id int64, externalRef string, now time.Time) error {
	return d.finish(ctx, id, `UPDATE outbox SET done_at = ?, outcome = 'sent', external_ref = ?, lease_until = 0, last_error = ''
		WHERE id = ? AND done_at = 0`, ms(now), externalRef, id)
}

// MarkPart records that one part of an item was delivered (for email: one
// recipient's mail, ref its Message-ID, which must not contain a space)
// before the next part is tried: a retry, also after a crash, finds it in
// OutboxItem.Parts and skips it. MarkSent replaces the parts with the
// final reference.
func (d *DB) MarkPart(ctx context.Context, id int64, ref string) error {
	if ref == "" || strings.ContainsAny(ref, " \r\n") {
		return fmt.Errorf("store: outbox %d: part reference %q is empty or has a space", id, ref)
	}
	return d.finish(ctx, id, `UPDATE outbox SET external_ref = CASE WHEN external_ref = '' THEN ?1 ELSE external_ref || ' ' || ?1 END
		WHERE id = ?2 AND done_at = 0`, ref, id)
}

// Postpone hands an item back without counting the attempt it was leased
// for: the sender did not try it (the receiver is paused as a whole, see
// notify.ErrNotAttempted). It is due again at retryAt.
func (d *DB) Postpone(ctx context.Context, id int64, retryAt time.Time) error {
	return d.finish(ctx, id, `UPDATE outbox SET attempts = max(attempts - 1, 0), next_attempt_at = ?, lease_until = 0
		WHERE id = ? AND done_at = 0`, ms(retryAt), id)
}

// ReleaseLeases frees every item leased by an earlier process, so that a
// notice in flight when that process died is retried at once instead of
// after its lease. Call it once at start, before the first NextOutbox: it
// assumes that one process at a time delivers from a database.
func (d *DB) ReleaseLeases(ctx context.Context) (int64, error) {
	r, err := d.db.ExecContext(ctx, `UPDATE outbox SET lease_until = 0 WHERE done_at = 0 AND lease_until <> 0`)
	if err != nil {
		return 0, fmt.Errorf("store: release leases: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: release leases: %w", err)
	}
	return n, nil
}

// MarkFailed records a failed attempt that is worth retrying at retryAt (the
// caller computes the backoff and honours Retry-After).
func (d *DB) MarkFailed(ctx context.Context, id int64, errText string, retryAt time.Time) error {
	return d.finish(ctx, id, `UPDATE outbox SET last_error = ?, next_attempt_at = ?, lease_until = 0 WHERE id = ? AND done_at = 0`,
		safetext.Clip(errText, safetext.MaxError), ms(retryAt), id)
}

// MarkAbandoned records that an item will not be delivered (a permanent
// error); it no longer counts as backlog or blocks later items.
func (d *DB) MarkAbandoned(ctx context.Context, id int64, errText string, now time.Time) error {
	return d.finish(ctx, id, `UPDATE outbox SET done_at = ?, outcome = 'abandoned', last_error = ?, lease_until = 0
		WHERE id = ? AND done_at = 0`, ms(now), safetext.Clip(errText, safetext.MaxError), id)
}

// finish runs an update on one undone outbox row; ErrNotFound when the row
// does not exist or is already done.
func (d *DB) finish(ctx context.Context, id int64, q string, args ...any) error {
	r, err := d.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: outbox %d: %w", id, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: outbox %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: outbox %d (missing or done): %w", id, ErrNotFound)
	}
	return nil
}

// NextOutboxAt returns when an undone item next becomes available (its next
// attempt or the end of its lease, whichever is later), ignoring items queued
// behind an earlier undone item of the same incident and target (they become
// available when the sender finishes that one); ok is false when there is no
// such item. The sender loop sleeps until then or a kick.
func (d *DB) NextOutboxAt(ctx context.Context) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT min(max(o.next_attempt_at, o.lease_until)) FROM outbox o
		WHERE o.done_at = 0 AND `+unblocked).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next outbox time: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(v.Int64).UTC(), true, nil
}

// Ping checks that the database answers and accepts a write (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	// A real write, committed: a full disk, a read-only file system or a
	// lost lock shows here.
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO health (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
			time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: not writable: %w", err)
	}
	return nil
}

// Stats are counters for metrics.
type Stats struct {
	MessagesSeen  int64     // message rows
	Reports       int64     // report rows (bounces, delays, auto-replies, ...)
	OpenIncidents int64     // incidents in state open
	OutboxBacklog int64     // outbox rows not done
	OutboxOldest  time.Time // creation of the oldest undone row; zero when none
}

// Stats returns the counters.
func (d *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	var oldest sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM messages),
		(SELECT count(*) FROM reports),
		(SELECT count(*) FROM incidents WHERE state = 'open'),
		(SELECT count(*) FROM outbox WHERE done_at = 0),
		(SELECT min(created_at) FROM outbox WHERE done_at = 0)`).Scan(
		&s.MessagesSeen, &s.Reports, &s.OpenIncidents, &s.OutboxBacklog, &oldest)
	if err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	s.OutboxOldest = fromMS(oldest.Int64)
	return s, nil
}
