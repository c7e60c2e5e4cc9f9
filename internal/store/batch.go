package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/safetext"
)

// Cursor returns the recorded UIDVALIDITY and last processed UID of a
// mailbox; both are 0 for a mailbox never committed.
func (d *DB) Cursor(ctx context.Context, mailbox string) (uidValidity, lastUID uint32, err error) {
	var v, u int64
	err = d.db.QueryRowContext(ctx, `SELECT uidvalidity, last_uid FROM mailboxes WHERE name = ?`, mailbox).Scan(&v, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: cursor %s: %w", mailbox, err)
	}
	return uint32(v), uint32(u), nil
}

// ResetMailbox records a new UIDVALIDITY for a mailbox and moves its cursor
// to UID 0, so that the mailbox is read again from the start. Message rows of
// the old UIDVALIDITY are kept. When the messages come again under the new
// UIDVALIDITY, CommitBatch records them but recognises those already seen by
// Message-ID (CommitResult.Relocated) and does not group or notify them
// again; only messages without a Message-ID are analysed twice.
func (d *DB) ResetMailbox(ctx context.Context, mailbox string, uidValidity uint32, now time.Time) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO mailboxes (name, uidvalidity, last_uid, updated_at) VALUES (?, ?, 0, ?)
		ON CONFLICT (name) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0, updated_at = excluded.updated_at`,
		mailbox, int64(uidValidity), ms(now))
	if err != nil {
		return fmt.Errorf("store: reset mailbox %s: %w", mailbox, err)
	}
	// Pending dispositions name UIDs of the old UIDVALIDITY: meaningless now.
	if _, err := d.db.ExecContext(ctx, `DELETE FROM dispose_pending WHERE mailbox = ? AND uidvalidity <> ?`,
		mailbox, int64(uidValidity)); err != nil {
		return fmt.Errorf("store: reset mailbox %s: drop pending dispositions: %w", mailbox, err)
	}
	return nil
}

// maxPendingDisposal bounds the UIDs PendingDisposal returns at once; the
// rest come after those are Disposed.
const maxPendingDisposal = 1000

// PendingDisposal returns, ascending, up to 1000 UIDs of the mailbox and
// UIDVALIDITY whose disposition was recorded by CommitBatch (Batch.Dispose)
// and not yet marked Disposed.
func (d *DB) PendingDisposal(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT uid FROM dispose_pending WHERE mailbox = ? AND uidvalidity = ?
		ORDER BY uid LIMIT ?`, mailbox, int64(uidValidity), maxPendingDisposal)
	if err != nil {
		return nil, fmt.Errorf("store: pending disposal %s: %w", mailbox, err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u int64
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("store: pending disposal %s: %w", mailbox, err)
		}
		out = append(out, uint32(u))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending disposal %s: %w", mailbox, err)
	}
	return out, nil
}

// Disposed clears the pending disposition of uids (the server applied it,
// or refused it for good).
func (d *DB) Disposed(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range uids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM dispose_pending WHERE mailbox = ? AND uidvalidity = ? AND uid = ?`,
				mailbox, int64(uidValidity), int64(u)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: disposed %s: %w", mailbox, err)
	}
	return nil
}

// Seen reports which of uids are already recorded for the mailbox and
// UIDVALIDITY, so the watcher can skip fetching them.
func (d *DB) Seen(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) (map[uint32]bool, error) {
	seen := make(map[uint32]bool, len(uids))
	const chunk = 500
	for start := 0; start < len(uids); start += chunk {
		part := uids[start:min(start+chunk, len(uids))]
		args := make([]any, 0, len(part)+2)
		args = append(args, mailbox, int64(uidValidity))
		q := []byte(`SELECT uid FROM messages WHERE mailbox = ? AND uidvalidity = ? AND uid IN (`)
		for i, u := range part {
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, '?')
			args = append(args, int64(u))
		}
		q = append(q, ')')
		rows, err := d.db.QueryContext(ctx, string(q), args...)
		if err != nil {
			return nil, fmt.Errorf("store: seen: %w", err)
		}
		for rows.Next() {
			var u int64
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: seen: %w", err)
			}
			seen[uint32(u)] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: seen: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: seen: %w", err)
		}
	}
	return seen, nil
}

// Message is one message of a batch.
type Message struct {
	UID       uint32
	MessageID string // Message-ID header of the message itself
	Size      int64  // RFC822.SIZE
	// Report is the analysis; nil when the message was not fetched (not a
	// candidate): it is recorded with kind none.
	Report *bounce.Report
	// Raw is the whole message, kept (up to MaxRawBytes) for bounce and delay
	// kinds only.
	Raw []byte
	// Err says why the message could not be fetched or analysed; it is
	// recorded, not fatal. Report.Error is used when Err is empty.
	Err string
	// Quiet records the report without grouping it into an incident: a
	// bounce too old to notify about (first start, long downtime, backfill).
	Quiet bool
	// Requests are outbox rows the message asks for (a reply to a summary
	// asking for detail), queued in the same transaction as the message, so
	// a request is neither lost nor queued twice.
	Requests []Request
}

// Batch is what CommitBatch records in one transaction.
type Batch struct {
	Mailbox     string
	UIDValidity uint32
	// LastUID is the cursor after this batch: every UID up to it has been
	// handled (recorded in Messages, or in an earlier batch, or deliberately
	// skipped). The cursor never moves backwards.
	LastUID  uint32
	Messages []Message
	Now      time.Time
	Timing   incident.Timing
	// Targets are the enabled notification targets (stdout, slack, email);
	// with none, notices are still logged (and so never sent later).
	Targets []string
	// Dispose are UIDs whose disposition (flag or move) is to be applied
	// after the commit; they stay pending (PendingDisposal) until Disposed.
	Dispose []uint32
}

// CommitResult says what CommitBatch did.
type CommitResult struct {
	Recorded   int       // new message rows (including Failed)
	Failed     []Failed  // messages recorded as failed to process (see CommitBatch)
	Duplicates int       // messages already recorded (a replay): nothing else was done for them
	Relocated  int       // recorded, but seen under an earlier UIDVALIDITY (same Message-ID): not analysed again
	ReportIDs  []int64   // new report rows
	Incidents  []int64   // incidents that got new members, ascending
	Enqueued   int       // outbox rows enqueued
	NextCheck  time.Time // when Tick should next run (earliest over open incidents); zero when none
}

// CommitBatch records a batch of messages of one mailbox in one transaction:
// the cursor, a row per message, reports and recipients (kinds other than
// none), incident membership for the failed or delayed recipients of bounce
// and delay reports, and the notices incident.Decide says are due now, as
// notification log entries and outbox rows for b.Targets. Either all of it
// is recorded or nothing. A message already recorded (same mailbox,
// UIDVALIDITY and UID) is counted as a duplicate and otherwise ignored, so
// replaying a batch after a crash is harmless.
//
// A message that cannot be recorded as it is (a constraint fails, say a
// reply's request names an incident the database no longer has, or any
// other store error that is not about the database's I/O) is recorded as
// failed to process instead: its message row only, with kind as analysed and
// the error "not processed: <reason>", nothing else of it (no report, no
// grouping, no request), and it is listed in CommitResult.Failed. The batch
// and the cursor go on, so one bad message never stops the mailbox. Only an
// I/O failure of the database (disk full, read-only, busy, corrupt, closed,
// cancelled) fails the batch and holds the cursor, to be retried.
//
// It returns ErrUIDValidityChanged when the mailbox is recorded with another
// UIDVALIDITY.
func (d *DB) CommitBatch(ctx context.Context, b Batch) (CommitResult, error) {
	var res CommitResult
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res = CommitResult{}
		if err := advanceCursor(ctx, tx, b); err != nil {
			return err
		}
		touched := map[int64]bool{}
		for _, m := range b.Messages {
			if err := recordOrFail(ctx, tx, b, m, &res, touched); err != nil {
				return fmt.Errorf("uid %d: %w", m.UID, err)
			}
		}
		for id := range touched {
			res.Incidents = append(res.Incidents, id)
		}
		sort.Slice(res.Incidents, func(i, j int) bool { return res.Incidents[i] < res.Incidents[j] })
		for _, id := range res.Incidents {
			n, err := evaluate(ctx, tx, id, b.Now, b.Timing, b.Targets)
			if err != nil {
				return err
			}
			res.Enqueued += n
		}
		for _, u := range b.Dispose {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dispose_pending (mailbox, uidvalidity, uid) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, b.Mailbox, int64(b.UIDValidity), int64(u)); err != nil {
				return fmt.Errorf("dispose pending uid %d: %w", u, err)
			}
		}
		next, err := nextCheck(ctx, tx)
		res.NextCheck = next
		return err
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("store: commit batch %s: %w", b.Mailbox, err)
	}
	return res, nil
}

func advanceCursor(ctx context.Context, tx *sql.Tx, b Batch) error {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT uidvalidity FROM mailboxes WHERE name = ?`, b.Mailbox).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO mailboxes (name, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?)`,
			b.Mailbox, int64(b.UIDValidity), int64(b.LastUID), ms(b.Now))
		return err
	case err != nil:
		return err
	case uint32(v) != b.UIDValidity:
		return fmt.Errorf("%w: recorded %d, batch %d", ErrUIDValidityChanged, v, b.UIDValidity)
	}
	_, err = tx.ExecContext(ctx, `UPDATE mailboxes SET last_uid = max(last_uid, ?), updated_at = ? WHERE name = ?`,
		int64(b.LastUID), ms(b.Now), b.Mailbox)
	return err
}

// Failed is a message recorded as failed to process.
type Failed struct {
	UID    uint32
	Reason string // why it could not be recorded as it is
}

// failedPrefix starts the error of a message recorded as failed to process.
const failedPrefix = "not processed: "

// maxFailReason bounds the stored reason of a failed message.
const maxFailReason = 500

// recordOrFail records one message inside a savepoint; when that fails for a
// reason of the message's own (not I/O), it rolls the savepoint back and
// records the message as failed to process.
func recordOrFail(ctx context.Context, tx *sql.Tx, b Batch, m Message, res *CommitResult, touched map[int64]bool) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT message`); err != nil {
		return err
	}
	var part CommitResult
	mine := map[int64]bool{}
	err := recordMessage(ctx, tx, b, m, &part, mine)
	if err == nil {
		if _, err := tx.ExecContext(ctx, `RELEASE message`); err != nil {
			return err
		}
		res.Recorded += part.Recorded
		res.Duplicates += part.Duplicates
		res.Relocated += part.Relocated
		res.Enqueued += part.Enqueued
		res.ReportIDs = append(res.ReportIDs, part.ReportIDs...)
		for id := range mine {
			touched[id] = true
		}
		return nil
	}
	if HoldsCursor(err) {
		return err
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO message`); rerr != nil {
		return errors.Join(err, rerr)
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE message`); rerr != nil {
		return errors.Join(err, rerr)
	}
	reason := cutUTF8(err.Error(), maxFailReason)
	kind := bounce.KindNone
	if m.Report != nil {
		kind = m.Report.Kind
	}
	r, ierr := tx.ExecContext(ctx, `INSERT INTO messages (mailbox, uidvalidity, uid, message_id, size, kind, error, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING`,
		b.Mailbox, int64(b.UIDValidity), int64(m.UID), cutUTF8(m.MessageID, 998), m.Size, string(kind), failedPrefix+reason, ms(b.Now))
	switch {
	case ierr != nil && HoldsCursor(ierr):
		return fmt.Errorf("record as failed (%v): %w", err, ierr)
	case ierr != nil:
		// Not even the bare row can be written (the message itself breaks
		// a rule of the table; the failed statement changed nothing): it
		// is passed over, and the caller logs it.
		res.Failed = append(res.Failed, Failed{UID: m.UID, Reason: cutUTF8(reason+"; not recorded at all: "+ierr.Error(), 2*maxFailReason)})
		return nil
	}
	if n, _ := r.RowsAffected(); n == 0 {
		res.Duplicates++
		return nil
	}
	res.Recorded++
	res.Failed = append(res.Failed, Failed{UID: m.UID, Reason: reason})
	return nil
}

// HoldsCursor says whether a store error is about the database itself (I/O,
// a full or read-only disk, a lock, corruption, a closed handle, a cancelled
// context), so that the same batch should be tried again later, rather than
// about the data being recorded (a constraint, a value SQLite refuses, an
// encoding error), which no retry would fix.
func HoldsCursor(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
		return false
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM,
		sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_AUTH, sqlite3.SQLITE_ABORT, sqlite3.SQLITE_SCHEMA:
		return true
	}
	return false
}

// cutUTF8 returns s as valid UTF-8 of at most n bytes.
func cutUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Request is an outbox row asked for by a message (a reply to a summary) or
// by a person in Slack, with the change of the incident it asks for. The
// change is applied in the transaction that records the request, so it
// happens exactly once with it, before the answer is sent.
type Request struct {
	IncidentID int64
	Target     string
	Kind       Kind
	Payload    []byte // JSON
	// MuteUntil, when not zero, mutes the incident until then; a mute
	// already lasting longer is kept.
	MuteUntil time.Time
	// Resolve closes the incident (nothing is done when it is closed).
	Resolve bool
	// Actor is who asked (for the incident's log).
	Actor string
}

// applyRequest carries out a request's change of its incident and queues its
// outbox row. targets receive the muted or resolved notice. It returns how many outbox rows it queued.
func applyRequest(ctx context.Context, tx *sql.Tx, rq Request, now time.Time, targets []string) (int, error) {
	if len(rq.Payload) > 0 && !json.Valid(rq.Payload) {
		return 0, errors.New("request payload is not JSON")
	}
	queued := 0
	if !rq.MuteUntil.IsZero() {
		n, err := mute(ctx, tx, rq.IncidentID, rq.MuteUntil, rq.Actor, now, targets, false)
		if err != nil {
			return 0, err
		}
		queued += n
	}
	if rq.Resolve {
		n, err := resolve(ctx, tx, rq.IncidentID, rq.Actor, now, targets)
		if err != nil {
			return 0, err
		}
		queued += max(n, 0)
	}
	if err := enqueue(ctx, tx, rq.IncidentID, 0, rq.Target, rq.Kind, rq.Payload, now); err != nil {
		return 0, err
	}
	return queued + 1, nil
}

// Request records a request made outside the mailbox (a Slack thread reply
// or button): it applies the change it asks for and queues its answer, in
// one transaction. targets receive the muted or resolved notice. An unknown
// incident gives an error wrapping ErrNotFound.
func (d *DB) Request(ctx context.Context, rq Request, now time.Time, targets []string) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := loadIncident(ctx, tx, rq.IncidentID); err != nil {
			return err
		}
		_, err := applyRequest(ctx, tx, rq, now, targets)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: request %s: %w", rq.Kind, err)
	}
	return nil
}

func recordMessage(ctx context.Context, tx *sql.Tx, b Batch, m Message, res *CommitResult, touched map[int64]bool) error {
	kind := bounce.KindNone
	errText := m.Err
	if m.Report != nil {
		kind = m.Report.Kind
		if errText == "" {
			errText = m.Report.Error
		}
	}
	// The error may quote the message (a malformed header line): bounded.
	errText = safetext.Clip(errText, safetext.MaxError)
	relocated := false
	if m.MessageID != "" {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM messages WHERE mailbox = ? AND message_id = ? AND (uidvalidity < ? OR uidvalidity > ?) LIMIT 1`,
			b.Mailbox, m.MessageID, int64(b.UIDValidity), int64(b.UIDValidity)).Scan(&one)
		switch {
		case err == nil:
			relocated = true
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	// ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only a replay is
	// ignored; other constraint violations still fail the batch.
	r, err := tx.ExecContext(ctx, `INSERT INTO messages (mailbox, uidvalidity, uid, message_id, size, kind, error, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING`,
		b.Mailbox, int64(b.UIDValidity), int64(m.UID), m.MessageID, m.Size, string(kind), errText, ms(b.Now))
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		res.Duplicates++
		return nil
	}
	res.Recorded++
	for _, rq := range m.Requests {
		n, err := applyRequest(ctx, tx, rq, b.Now, b.Targets)
		if err != nil {
			return fmt.Errorf("request for incident %d: %w", rq.IncidentID, err)
		}
		res.Enqueued += n
	}
	if relocated {
		res.Relocated++
		return nil
	}
	if m.Report == nil || kind == bounce.KindNone {
		return nil
	}
	msgID, err := r.LastInsertId()
	if err != nil {
		return err
	}
	reportID, err := insertReport(ctx, tx, msgID, m, b.Now)
	if err != nil {
		return err
	}
	res.ReportIDs = append(res.ReportIDs, reportID)
	grouped := (kind == bounce.KindBounce || kind == bounce.KindDelay) && !m.Quiet
	for _, rc := range m.Report.Recipients {
		rcID, err := insertRecipient(ctx, tx, reportID, rc)
		if err != nil {
			return err
		}
		if !grouped || !(rc.Failed() || rc.Action == bounce.ActionDelayed) {
			continue
		}
		incID, err := followedIncident(ctx, tx, m.Report, rc)
		if err != nil {
			return err
		}
		if incID != 0 {
			err = joinIncident(ctx, tx, incID, rc, rcID, b.Now)
		} else {
			incID, err = addMember(ctx, tx, incident.KeyOf(m.Report, rc), rc, rcID, b.Now)
		}
		if err != nil {
			return err
		}
		touched[incID] = true
	}
	return nil
}

func insertReport(ctx context.Context, tx *sql.Tx, msgID int64, m Message, now time.Time) (int64, error) {
	rep := m.Report
	if len(rep.Error) > safetext.MaxError {
		cp := *rep
		cp.Error = safetext.Clip(rep.Error, safetext.MaxError)
		rep = &cp
	}
	js, err := json.Marshal(rep)
	if err != nil {
		return 0, fmt.Errorf("encode report: %w", err)
	}
	var raw []byte
	var rawSize int64
	if rep.Kind == bounce.KindBounce || rep.Kind == bounce.KindDelay {
		rawSize = int64(len(m.Raw))
		raw = m.Raw[:min(len(m.Raw), MaxRawBytes)]
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO reports (message, kind, sending_ip, reporting_mta, subject, from_addr, message_id,
		feedback_type, date, arrival_date, orig_message_id, orig_from, orig_to, orig_subject, orig_date, json, raw, raw_size, seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		msgID, string(rep.Kind), rep.SendingIP, rep.ReportingMTA, rep.Subject, rep.From, rep.MessageID,
		rep.FeedbackType, ms(rep.Date), ms(rep.ArrivalDate), rep.Original.MessageID, rep.Original.From, rep.Original.To,
		rep.Original.Subject, ms(rep.Original.Date), string(js), raw, rawSize, ms(now))
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

func insertRecipient(ctx context.Context, tx *sql.Tx, reportID int64, rc bounce.Recipient) (int64, error) {
	r, err := tx.ExecContext(ctx, `INSERT INTO recipients (report, address, action, status, reply_code, reason, hard, temporary,
		remote_mta, provider, diagnostic, command) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		reportID, rc.Address, rc.Action, rc.Status, rc.ReplyCode, string(rc.Reason), boolInt(rc.Hard), boolInt(rc.Temporary),
		rc.RemoteMTA, rc.Provider, rc.Diagnostic, rc.Command)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

// addMember adds a recipient to the open incident of its key, opening one
// when there is none, and returns the incident's id.
func addMember(ctx context.Context, tx *sql.Tx, k incident.Key, rc bounce.Recipient, rcID int64, now time.Time) (int64, error) {
	key := k.String()
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM incidents WHERE key = ? AND state = 'open'`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		r, err := tx.ExecContext(ctx, `INSERT INTO incidents (key, sending_ip, reporting_mta, provider, family, reason, state,
			first_at, last_at, count, updated_at, side, cause, sender_domain, recipient)
			VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, 0, ?, ?, ?, ?, ?)`,
			key, k.SendingIP, k.ReportingMTA, k.Provider, string(k.Family), string(rc.Reason), ms(now), ms(now), ms(now),
			string(k.Side), string(k.Cause), k.SenderDomain, k.Recipient)
		if err != nil {
			return 0, err
		}
		if id, err = r.LastInsertId(); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, err
	}
	return id, joinIncident(ctx, tx, id, rc, rcID, now)
}

// joinIncident adds a recipient to incident id.
func joinIncident(ctx context.Context, tx *sql.Tx, id int64, rc bounce.Recipient, rcID int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET count = count + 1, last_at = max(last_at, ?), reason = ?, updated_at = ?
		WHERE id = ?`, ms(now), string(rc.Reason), ms(now), id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_members (incident, recipient, at) VALUES (?, ?, ?)`, id, rcID, ms(now))
	return err
}

// followedIncident returns the open incident that already holds this
// recipient for the same original message (its Message-ID), or 0: a delay
// that becomes a failure, or a second delay notice, stays in the incident
// (and the Slack message) that showed it, even when the reason words differ.
func followedIncident(ctx context.Context, tx *sql.Tx, rep *bounce.Report, rc bounce.Recipient) (int64, error) {
	if rep == nil || rep.Original.MessageID == "" || rc.Address == "" {
		return 0, nil
	}
	// A recipient's own problem (the address turned out unknown) never
	// joins an incident about our sending server: it is an item of its own.
	onlyItems := incident.SideOf(rc.Reason) == incident.SideRecipient
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT i.id FROM reports r JOIN recipients c ON c.report = r.id
		JOIN incident_members m ON m.recipient = c.id JOIN incidents i ON i.id = m.incident
		WHERE r.orig_message_id = ? AND c.address = ? COLLATE NOCASE AND i.state = 'open'
		AND (? = 0 OR i.side = 'recipient')
		ORDER BY m.at DESC LIMIT 1`, rep.Original.MessageID, rc.Address, boolInt(onlyItems)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}
