package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
)

// Incident is an incident as stored.
type Incident struct {
	ID int64
	incident.Incident
	Reason     bounce.Reason // reason of the latest member
	ResolvedAt time.Time
	NextCheck  time.Time // when Tick next evaluates it; zero when closed
	UpdatedAt  time.Time
}

// NoticePayload is the JSON payload of first, update, repeat, resolved and
// muted outbox rows. Senders render the incident's current state (Incident),
// so the payload only records what the decision saw.
type NoticePayload struct {
	Count int       `json:"count"`           // incident count when decided
	Actor string    `json:"actor,omitempty"` // person who resolved or muted
	Until time.Time `json:"until,omitzero"`  // muted until
}

const incidentCols = `id, key, sending_ip, reporting_mta, provider, family, reason, state, first_at, last_at, count,
	muted_until, resolved_at, resolved_by, next_check_at, updated_at, side, cause, sender_domain, recipient`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(row scanner) (Incident, error) {
	var inc Incident
	var key, family, reason, state, side, cause string
	var firstAt, lastAt, mutedUntil, resolvedAt, nextCheck, updatedAt int64
	if err := row.Scan(&inc.ID, &key, &inc.Key.SendingIP, &inc.Key.ReportingMTA, &inc.Key.Provider, &family, &reason, &state,
		&firstAt, &lastAt, &inc.Count, &mutedUntil, &resolvedAt, &inc.ResolvedBy, &nextCheck, &updatedAt,
		&side, &cause, &inc.Key.SenderDomain, &inc.Key.Recipient); err != nil {
		return Incident{}, err
	}
	inc.Key.Family = incident.Family(family)
	inc.Key.Side, inc.Key.Cause = incident.Side(side), bounce.Reason(cause)
	if inc.Key.Side == "" { // recorded before incidents had a side
		inc.Key.Side, inc.Key.Cause = incident.SideOf(bounce.Reason(reason)), bounce.Reason(reason)
		if inc.Key.Side == incident.SideRecipient {
			inc.Key.Side = incident.SidePath // keyed by origin, not by one recipient
		}
	}
	inc.Reason = bounce.Reason(reason)
	inc.State = incident.State(state)
	inc.FirstAt, inc.LastAt = fromMS(firstAt), fromMS(lastAt)
	inc.MutedUntil, inc.ResolvedAt = fromMS(mutedUntil), fromMS(resolvedAt)
	inc.NextCheck, inc.UpdatedAt = fromMS(nextCheck), fromMS(updatedAt)
	return inc, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadIncident(ctx context.Context, q querier, id int64) (Incident, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	return inc, err
}

// LogEntry is one entry of an incident's notification log.
type LogEntry struct {
	ID    int64
	Kind  Kind // first, update, repeat, resolved, muted
	Count int
	At    time.Time
	Actor string // the person, for resolved and muted by hand
}

func loadLog(ctx context.Context, q querier, id int64) ([]LogEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, count, at, actor FROM notifications WHERE incident = ? ORDER BY at, id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var log []LogEntry
	for rows.Next() {
		var e LogEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Count, &at, &e.Actor); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		log = append(log, e)
	}
	return log, rows.Err()
}

// record adds a log entry and an outbox row per target.
func record(ctx context.Context, tx *sql.Tx, id int64, kind Kind, p NoticePayload, now time.Time, targets []string) (int, error) {
	r, err := tx.ExecContext(ctx, `INSERT INTO notifications (incident, kind, count, at, actor) VALUES (?, ?, ?, ?, ?)`,
		id, string(kind), p.Count, ms(now), p.Actor)
	if err != nil {
		return 0, err
	}
	nid, err := r.LastInsertId()
	if err != nil {
		return 0, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	for _, t := range targets {
		if err := enqueue(ctx, tx, id, nid, t, kind, payload, now); err != nil {
			return 0, err
		}
	}
	return len(targets), nil
}

// evaluate applies incident.Decide to one incident (again at once when a
// notice is followed by another due now) and returns the number of outbox
// rows enqueued.
func evaluate(ctx context.Context, tx *sql.Tx, id int64, now time.Time, t incident.Timing, targets []string) (int, error) {
	enqueued := 0
	// A first notice for an already quiet incident is followed at once by
	// its resolved notice; two rounds cover every chain Decide produces.
	for round := 0; round < 3; round++ {
		inc, err := loadIncident(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		log, err := loadLog(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		nlog := make([]incident.Notification, len(log))
		for i, e := range log {
			nlog[i] = incident.Notification{Kind: incident.Kind(e.Kind), At: e.At, Count: e.Count}
		}
		dec := incident.Decide(inc.Incident, nlog, now, t)
		if dec.Notify {
			n, err := record(ctx, tx, id, Kind(dec.Kind), NoticePayload{Count: inc.Count}, now, targets)
			if err != nil {
				return 0, err
			}
			enqueued += n
		}
		if dec.Close {
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'resolved', resolved_at = ?, next_check_at = 0,
				updated_at = ? WHERE id = ?`, ms(now), ms(now), id); err != nil {
				return 0, err
			}
			return enqueued, nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET next_check_at = ? WHERE id = ?`, msCeil(dec.NextCheck), id); err != nil {
			return 0, err
		}
		if !dec.Notify || dec.NextCheck.After(now) || dec.NextCheck.IsZero() {
			return enqueued, nil
		}
	}
	return enqueued, nil
}

// nextCheck returns the earliest next check over open incidents; zero when none.
func nextCheck(ctx context.Context, q querier) (time.Time, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT min(next_check_at) FROM incidents WHERE state = 'open' AND next_check_at > 0`).Scan(&v); err != nil {
		return time.Time{}, err
	}
	return fromMS(v.Int64), nil
}

// TickResult says what Tick did.
type TickResult struct {
	Evaluated int       // incidents evaluated
	Enqueued  int       // outbox rows enqueued
	Closed    int       // incidents resolved because quiet
	NextCheck time.Time // when to call Tick next; zero when no open incident needs it
}

// Tick evaluates incident.Decide for every open incident whose next check is
// due at now and, in one transaction, records the notices it decides (log
// entry plus outbox rows for targets) and closes quiet incidents. This is how
// the group wait, updates, repeats and resolution happen between batches.
// Call it at the returned NextCheck and after CommitBatch.
func (d *DB) Tick(ctx context.Context, now time.Time, t incident.Timing, targets []string) (TickResult, error) {
	var res TickResult
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res = TickResult{}
		ids, err := queryIDs(ctx, tx, `SELECT id FROM incidents WHERE state = 'open' AND next_check_at <= ? ORDER BY id`, ms(now))
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, err := evaluate(ctx, tx, id, now, t, targets)
			if err != nil {
				return fmt.Errorf("incident %d: %w", id, err)
			}
			res.Evaluated++
			res.Enqueued += n
			var state string
			if err := tx.QueryRowContext(ctx, `SELECT state FROM incidents WHERE id = ?`, id).Scan(&state); err != nil {
				return err
			}
			if state == string(incident.StateResolved) {
				res.Closed++
			}
		}
		res.NextCheck, err = nextCheck(ctx, tx)
		return err
	})
	if err != nil {
		return TickResult{}, fmt.Errorf("store: tick: %w", err)
	}
	return res, nil
}

// RecheckAll makes the next Tick evaluate every open incident, whatever its
// recorded next check. Call it once at start: next checks were computed with
// the Timing of the previous run, which may have changed. Evaluating again is
// harmless, Decide reads the notification log.
func (d *DB) RecheckAll(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `UPDATE incidents SET next_check_at = 0 WHERE state = 'open'`); err != nil {
		return fmt.Errorf("store: recheck: %w", err)
	}
	return nil
}

// PruneRaw drops the raw bytes of reports seen before the given time (the
// parsed report is kept) and returns how many were dropped.
func (d *DB) PruneRaw(ctx context.Context, before time.Time) (int64, error) {
	r, err := d.db.ExecContext(ctx, `UPDATE reports SET raw = NULL WHERE raw IS NOT NULL AND seen_at < ?`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune raw: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune raw: %w", err)
	}
	return n, nil
}

// PruneOutbox deletes outbox rows finished before the given time (their
// notification log stays) and returns how many were deleted.
func (d *DB) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	// The newest row is kept so that row IDs (used in idempotency keys and
	// Message-ID nonces) are never handed out twice.
	r, err := d.db.ExecContext(ctx, `DELETE FROM outbox WHERE done_at > 0 AND done_at < ? AND id < (SELECT max(id) FROM outbox)`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune outbox: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune outbox: %w", err)
	}
	return n, nil
}

func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// OpenIncidents returns the open incidents, oldest first.
func (d *DB) OpenIncidents(ctx context.Context) ([]Incident, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE state = 'open' ORDER BY first_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: open incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("store: open incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: open incidents: %w", err)
	}
	return out, nil
}

// Member is one bounced recipient of an incident.
type Member struct {
	RecipientID int64
	ReportID    int64
	At          time.Time      // when the bounce was seen
	Report      *bounce.Report // the whole report, rebuilt from storage (shared by members of one report)
	Recipient   bounce.Recipient
}

// Delivery is one outbox row of an incident, for its timeline.
type Delivery struct {
	ID          int64
	Target      string
	Kind        Kind
	Attempts    int
	CreatedAt   time.Time
	DoneAt      time.Time // zero while pending
	Outcome     string    // "", sent or abandoned
	LastError   string
	ExternalRef string // Slack ts, email Message-ID, ...
}

// Detail is an incident with its members and timeline.
type Detail struct {
	Incident
	Members    []Member   // the most recent members (up to the limit asked), oldest first
	Log        []LogEntry // notification log, oldest first
	Deliveries []Delivery // outbox rows, oldest first
}

// IncidentDetail returns an incident with up to memberLimit of its most recent
// members (all when memberLimit <= 0), its log and its deliveries. It returns
// an error wrapping ErrNotFound for an unknown id.
func (d *DB) IncidentDetail(ctx context.Context, id int64, memberLimit int) (*Detail, error) {
	var det *Detail
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		det, err = loadDetail(ctx, tx, id, memberLimit, d.reports)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: incident %d: %w", id, err)
	}
	return det, nil
}

// IncidentDetails is IncidentDetail for several incidents at once, in the
// order given, read in one transaction.
func (d *DB) IncidentDetails(ctx context.Context, ids []int64, memberLimit int) ([]*Detail, error) {
	out := make([]*Detail, 0, len(ids))
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			det, err := loadDetail(ctx, tx, id, memberLimit, d.reports)
			if err != nil {
				return fmt.Errorf("incident %d: %w", id, err)
			}
			out = append(out, det)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: incidents: %w", err)
	}
	return out, nil
}

// loadDetail reads one incident with its members, log and deliveries;
// reports caches the decoded reports by id.
func loadDetail(ctx context.Context, tx *sql.Tx, id int64, memberLimit int, reports *reportCache) (*Detail, error) {
	inc, err := loadIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	det := &Detail{Incident: inc}
	if det.Members, err = loadMembers(ctx, tx, id, memberLimit, reports); err != nil {
		return nil, err
	}
	if det.Log, err = loadLog(ctx, tx, id); err != nil {
		return nil, err
	}
	if det.Deliveries, err = loadDeliveries(ctx, tx, id); err != nil {
		return nil, err
	}
	return det, nil
}

// decodeReport rebuilds a report from its stored JSON and the columns that
// hold what the JSON leaves out.
func decodeReport(id int64, kind, subject, from, msgID, fbType string, date, arrival, origDate int64, js string) (*bounce.Report, error) {
	rep := &bounce.Report{}
	if err := json.Unmarshal([]byte(js), rep); err != nil {
		return nil, fmt.Errorf("report %d: decode: %w", id, err)
	}
	rep.Kind = bounce.Kind(kind)
	rep.Subject, rep.From, rep.MessageID, rep.FeedbackType = subject, from, msgID, fbType
	rep.Date, rep.ArrivalDate, rep.Original.Date = fromMS(date), fromMS(arrival), fromMS(origDate)
	return rep, nil
}

func loadMembers(ctx context.Context, q querier, id int64, limit int, reports *reportCache) ([]Member, error) {
	if limit <= 0 {
		limit = -1
	}
	// The members first, then each report once (a report's JSON names all
	// its recipients: read and decoded per member it would cost n² for a
	// bounce of n recipients).
	rows, err := q.QueryContext(ctx, `SELECT * FROM (
		SELECT m.recipient, m.at, c.address, c.action, c.status, c.reply_code, c.reason, c.hard, c.temporary,
			c.remote_mta, c.provider, c.diagnostic, c.command, c.report
		FROM incident_members m JOIN recipients c ON c.id = m.recipient
		WHERE m.incident = ? ORDER BY m.at DESC, m.recipient DESC LIMIT ?) ORDER BY at, recipient`, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var at, hard, temp int64
		var reason string
		rc := &m.Recipient
		if err := rows.Scan(&m.RecipientID, &at, &rc.Address, &rc.Action, &rc.Status, &rc.ReplyCode, &reason, &hard, &temp,
			&rc.RemoteMTA, &rc.Provider, &rc.Diagnostic, &rc.Command, &m.ReportID); err != nil {
			return nil, err
		}
		m.At = fromMS(at)
		rc.Reason, rc.Hard, rc.Temporary = bounce.Reason(reason), hard != 0, temp != 0
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		rep, err := loadReport(ctx, q, out[i].ReportID, reports)
		if err != nil {
			return nil, err
		}
		out[i].Report = rep
	}
	return out, nil
}

// loadReport returns a stored report, decoded once and then kept in reports.
func loadReport(ctx context.Context, q querier, rid int64, reports *reportCache) (*bounce.Report, error) {
	if rep, ok := reports.get(rid); ok {
		return rep, nil
	}
	var date, arrival, origDate int64
	var kind, subject, from, msgID, fbType, js string
	if err := q.QueryRowContext(ctx, `SELECT kind, subject, from_addr, message_id, feedback_type, date, arrival_date, orig_date, json
		FROM reports WHERE id = ?`, rid).Scan(&kind, &subject, &from, &msgID, &fbType, &date, &arrival, &origDate, &js); err != nil {
		return nil, fmt.Errorf("report %d: %w", rid, err)
	}
	rep, err := decodeReport(rid, kind, subject, from, msgID, fbType, date, arrival, origDate, js)
	if err != nil {
		return nil, err
	}
	reports.put(rid, rep)
	return rep, nil
}

func loadDeliveries(ctx context.Context, q querier, id int64) ([]Delivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, target, kind, attempts, created_at, done_at, outcome, last_error, external_ref
		FROM outbox WHERE incident = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var dl Delivery
		var created, done int64
		if err := rows.Scan(&dl.ID, &dl.Target, &dl.Kind, &dl.Attempts, &created, &done, &dl.Outcome, &dl.LastError, &dl.ExternalRef); err != nil {
			return nil, err
		}
		dl.CreatedAt, dl.DoneAt = fromMS(created), fromMS(done)
		out = append(out, dl)
	}
	return out, rows.Err()
}

// Mute silences an incident until the given time (the zero time unmutes),
// records who did it in the log and enqueues a "muted" row for targets (nil
// for none) so that, e.g., the Slack message can show it. Notices that fall
// due while muted are decided when the mute ends.
func (d *DB) Mute(ctx context.Context, id int64, until time.Time, actor string, now time.Time, targets []string) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		_, err := mute(ctx, tx, id, until, actor, now, targets, true)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: mute incident %d: %w", id, err)
	}
	return nil
}

// mute is Mute inside a transaction. Unless always, a mute that already
// lasts until or beyond until is left alone (a repeated request changes
// nothing). It returns how many outbox rows it queued.
func mute(ctx context.Context, tx *sql.Tx, id int64, until time.Time, actor string, now time.Time, targets []string, always bool) (int, error) {
	inc, err := loadIncident(ctx, tx, id)
	if err != nil {
		return 0, err
	}
	if !always && !inc.MutedUntil.Before(until) {
		return 0, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET muted_until = ?, updated_at = ? WHERE id = ?`, ms(until), ms(now), id); err != nil {
		return 0, err
	}
	n, err := record(ctx, tx, id, KindMuted, NoticePayload{Count: inc.Count, Actor: actor, Until: until}, now, targets)
	if err != nil {
		return 0, err
	}
	if inc.State != incident.StateOpen {
		return n, nil
	}
	// Recompute the next check (the mute end) without notifying now:
	// Tick at that time decides.
	next := until
	if next.Before(now) {
		next = now
	}
	_, err = tx.ExecContext(ctx, `UPDATE incidents SET next_check_at = ? WHERE id = ?`, msCeil(next), id)
	return n, err
}

// Resolve closes an incident by hand: no further notices. It records a
// "resolved" log entry with the actor and enqueues a resolved row for targets
// (nil for none). It reports false, and does nothing, when the incident was
// already resolved.
func (d *DB) Resolve(ctx context.Context, id int64, actor string, now time.Time, targets []string) (bool, error) {
	done := false
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		n, err := resolve(ctx, tx, id, actor, now, targets)
		done = n >= 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: resolve incident %d: %w", id, err)
	}
	return done, nil
}

// resolve is Resolve inside a transaction; it returns how many outbox rows
// it queued, -1 when the incident was already resolved.
func resolve(ctx context.Context, tx *sql.Tx, id int64, actor string, now time.Time, targets []string) (int, error) {
	inc, err := loadIncident(ctx, tx, id)
	if err != nil {
		return -1, err
	}
	if inc.State == incident.StateResolved {
		return -1, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?,
		next_check_at = 0, updated_at = ? WHERE id = ?`, ms(now), actor, ms(now), id); err != nil {
		return -1, err
	}
	return record(ctx, tx, id, KindResolved, NoticePayload{Count: inc.Count, Actor: actor}, now, targets)
}

// RawMessage is the stored bytes of one bounce.
type RawMessage struct {
	ReportID  int64
	Subject   string // Subject of the bounce itself
	Data      []byte // at most MaxRawBytes
	Size      int64  // size of the whole message
	Truncated bool   // Data is shorter than the message
}

// SlackRef returns the ts of the Slack message showing an incident in a
// channel; ok is false when none was posted yet.
func (d *DB) SlackRef(ctx context.Context, incidentID int64, channel string) (ts string, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT ts FROM slack_messages WHERE incident = ? AND channel = ?`, incidentID, channel).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: slack ref %d: %w", incidentID, err)
	}
	return ts, true, nil
}

// SetSlackRef records the Slack message showing an incident in a channel
// (replacing an earlier one). Call it right after chat.postMessage succeeded,
// before MarkSent.
func (d *DB) SetSlackRef(ctx context.Context, incidentID int64, channel, ts string, now time.Time) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO slack_messages (incident, channel, ts, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident, channel) DO UPDATE SET ts = excluded.ts, created_at = excluded.created_at`,
		incidentID, channel, ts, ms(now))
	if err != nil {
		return fmt.Errorf("store: set slack ref %d: %w", incidentID, err)
	}
	return nil
}

// IncidentBySlackTS returns the incident a Slack message (or a thread under
// it) belongs to; an error wrapping ErrNotFound when none.
func (d *DB) IncidentBySlackTS(ctx context.Context, channel, ts string) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, `SELECT incident FROM slack_messages WHERE channel = ? AND ts = ?`, channel, ts).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: slack message %s/%s: %w", channel, ts, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("store: slack message %s/%s: %w", channel, ts, err)
	}
	return id, nil
}

// PutToken records a token (made by the caller from crypto/rand) that an
// email summary of the incident carries, so that a reply can be matched.
// Recording a token again is harmless (a retried send reuses its token).
func (d *DB) PutToken(ctx context.Context, token string, incidentID int64, now time.Time) error {
	if token == "" {
		return errors.New("store: put token: empty token")
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO email_tokens (token, incident, created_at) VALUES (?, ?, ?)
		ON CONFLICT (token) DO NOTHING`, token, incidentID, ms(now)); err != nil {
		return fmt.Errorf("store: put token: %w", err)
	}
	return nil
}

// Token returns the incident of an email token and when the token was
// issued; an error wrapping ErrNotFound when unknown (never issued by this
// database: forged, or the database was recreated). Tokens are never logged.
func (d *DB) Token(ctx context.Context, token string) (incidentID int64, issued time.Time, err error) {
	var at int64
	err = d.db.QueryRowContext(ctx, `SELECT incident, created_at FROM email_tokens WHERE token = ?`, token).Scan(&incidentID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("store: token: %w", ErrNotFound)
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: token: %w", err)
	}
	return incidentID, fromMS(at), nil
}

// RawSelection is what RawBouncesOf chose.
type RawSelection struct {
	Messages []RawMessage // newest first
	Others   int          // bounces of mail someone else sent: left out
	OverCap  int          // bounces of the requester's mail left out by the caps
}

// RawBouncesOf returns the stored bytes of the bounces of an incident whose
// original message was sent by the requester (mine says so of the stored
// original From), newest first, at most limit of them and at most maxBytes
// in all; it counts the ones it left out.
func (d *DB) RawBouncesOf(ctx context.Context, incidentID int64, mine func(origFrom string) bool, limit int, maxBytes int64) (RawSelection, error) {
	var sel RawSelection
	rows, err := d.db.QueryContext(ctx, `SELECT r.id, r.orig_from, length(r.raw) FROM reports r
		WHERE r.raw IS NOT NULL AND r.id IN (
			SELECT c.report FROM incident_members m JOIN recipients c ON c.id = m.recipient WHERE m.incident = ?)
		ORDER BY r.id DESC`, incidentID)
	if err != nil {
		return sel, fmt.Errorf("store: raw bounces %d: %w", incidentID, err)
	}
	var pick []int64
	var total int64
	for rows.Next() {
		var id, n int64
		var from string
		if err := rows.Scan(&id, &from, &n); err != nil {
			rows.Close()
			return sel, fmt.Errorf("store: raw bounces %d: %w", incidentID, err)
		}
		switch {
		case !mine(from):
			sel.Others++
		case len(pick) >= limit || total+n > maxBytes:
			sel.OverCap++
		default:
			pick = append(pick, id)
			total += n
		}
	}
	if err := rows.Close(); err != nil {
		return sel, fmt.Errorf("store: raw bounces %d: %w", incidentID, err)
	}
	if err := rows.Err(); err != nil {
		return sel, fmt.Errorf("store: raw bounces %d: %w", incidentID, err)
	}
	for _, id := range pick {
		var m RawMessage
		if err := d.db.QueryRowContext(ctx, `SELECT id, subject, raw, raw_size FROM reports WHERE id = ?`, id).Scan(
			&m.ReportID, &m.Subject, &m.Data, &m.Size); err != nil {
			return sel, fmt.Errorf("store: raw bounce %d: %w", id, err)
		}
		m.Truncated = int64(len(m.Data)) < m.Size
		sel.Messages = append(sel.Messages, m)
	}
	return sel, nil
}

// DigestRef returns the ts of the Slack digest message that shows a
// recipient-side item in a channel; ok is false when none was posted yet.
func (d *DB) DigestRef(ctx context.Context, incidentID int64, channel string) (ts string, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT ts FROM slack_digests WHERE incident = ? AND channel = ?`, incidentID, channel).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: digest ref %d: %w", incidentID, err)
	}
	return ts, true, nil
}

// SetDigestRef records that one digest message at ts shows the given
// items in a channel (replacing earlier refs). Call it right after
// chat.postMessage succeeded, before MarkSent.
func (d *DB) SetDigestRef(ctx context.Context, incidentIDs []int64, channel, ts string, now time.Time) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range incidentIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO slack_digests (incident, channel, ts, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (incident, channel) DO UPDATE SET ts = excluded.ts, created_at = excluded.created_at`,
				id, channel, ts, ms(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set digest ref: %w", err)
	}
	return nil
}

// DigestItems returns the items a digest message shows, in ascending order.
func (d *DB) DigestItems(ctx context.Context, channel, ts string) ([]int64, error) {
	ids, err := queryIDs(ctx, d.db, `SELECT incident FROM slack_digests WHERE channel = ? AND ts = ? ORDER BY incident`, channel, ts)
	if err != nil {
		return nil, fmt.Errorf("store: digest items %s: %w", ts, err)
	}
	return ids, nil
}

// Pending is what one new digest message gathers: the recipient-side items
// whose first notice for a target is not sent yet and that no digest in the
// channel shows.
type Pending struct {
	Items []int64 // ascending
	// FirstRow is the lowest outbox row among the items' first notices: a
	// key for the digest that stays the same whichever row posts it.
	FirstRow int64
	// Tried says an earlier attempt at one of these rows failed: the digest
	// may have been posted with its answer lost.
	Tried bool
}

// PendingDigest returns what a new digest for target in channel gathers,
// at most limit items.
func (d *DB) PendingDigest(ctx context.Context, target, channel string, limit int) (Pending, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT o.incident, min(o.id), max(o.last_error <> '' OR o.attempts > 1)
		FROM outbox o JOIN incidents i ON i.id = o.incident
		WHERE o.target = ? AND o.kind = 'first' AND o.done_at = 0 AND i.side = 'recipient'
		AND NOT EXISTS (SELECT 1 FROM slack_digests s WHERE s.incident = o.incident AND s.channel = ?)
		GROUP BY o.incident ORDER BY o.incident LIMIT ?`, target, channel, limit)
	if err != nil {
		return Pending{}, fmt.Errorf("store: pending digest: %w", err)
	}
	defer rows.Close()
	var p Pending
	for rows.Next() {
		var id, row int64
		var tried bool
		if err := rows.Scan(&id, &row, &tried); err != nil {
			return Pending{}, fmt.Errorf("store: pending digest: %w", err)
		}
		p.Items = append(p.Items, id)
		if p.FirstRow == 0 || row < p.FirstRow {
			p.FirstRow = row
		}
		p.Tried = p.Tried || tried
	}
	if err := rows.Err(); err != nil {
		return Pending{}, fmt.Errorf("store: pending digest: %w", err)
	}
	return p, nil
}
