package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EmailDigestRef returns the Message-ID of the digest mail that told
// addressee about a recipient-side item; ok is false when none was mailed
// yet. A digest the server refused for good has the Message-ID "".
func (d *DB) EmailDigestRef(ctx context.Context, incidentID int64, addressee string) (msgID string, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT message_id FROM email_digests WHERE incident = ? AND addressee = ?`,
		incidentID, strings.ToLower(addressee)).Scan(&msgID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: email digest ref %d: %w", incidentID, err)
	}
	return msgID, true, nil
}

// SetEmailDigest records, in one transaction, that the digest mail msgID
// (carrying token) told addressee about the given items. Call it right
// after the mail server accepted the mail, before MarkSent: the items'
// other outbox rows then mail nothing. msgID "" records a refusal.
func (d *DB) SetEmailDigest(ctx context.Context, incidentIDs []int64, addressee, msgID, token string, now time.Time) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range incidentIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO email_digests (incident, addressee, message_id, token, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident, addressee) DO NOTHING`,
				id, strings.ToLower(addressee), msgID, token, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set email digest: %w", err)
	}
	return nil
}

// EmailDigestItems returns the items the digest mail carrying token
// showed, in ascending order; none when the token is not a digest's.
func (d *DB) EmailDigestItems(ctx context.Context, token string) ([]int64, error) {
	if token == "" {
		return nil, nil
	}
	ids, err := queryIDs(ctx, d.db, `SELECT incident FROM email_digests WHERE token = ? ORDER BY incident`, strings.ToLower(token))
	if err != nil {
		return nil, fmt.Errorf("store: email digest items: %w", err)
	}
	return ids, nil
}

// PendingItem is a recipient-side item whose first notice by email is not
// sent yet.
type PendingItem struct {
	Incident int64
	Row      int64 // the lowest outbox row of its first notice
	Tried    bool  // an earlier attempt at one of its rows failed
}

// PendingEmailItems returns, oldest first and at most limit, the
// recipient-side items whose first notice by email is not sent yet and
// that no digest mail to addressee has told of. The caller keeps those
// that go to addressee.
func (d *DB) PendingEmailItems(ctx context.Context, addressee string, limit int) ([]PendingItem, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT o.incident, min(o.id), max(o.last_error <> '' OR o.attempts > 1)
		FROM outbox o JOIN incidents i ON i.id = o.incident
		WHERE o.target = ? AND o.kind = 'first' AND o.done_at = 0 AND i.side = 'recipient'
		AND NOT EXISTS (SELECT 1 FROM email_digests e WHERE e.incident = o.incident AND e.addressee = ?)
		GROUP BY o.incident ORDER BY o.incident LIMIT ?`, TargetEmail, strings.ToLower(addressee), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending email items: %w", err)
	}
	defer rows.Close()
	var out []PendingItem
	for rows.Next() {
		var p PendingItem
		if err := rows.Scan(&p.Incident, &p.Row, &p.Tried); err != nil {
			return nil, fmt.Errorf("store: pending email items: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending email items: %w", err)
	}
	return out, nil
}
