// Package store owns bouncewatch's SQLite database, the source of truth: the
// per-mailbox IMAP cursor, every message seen, analysed reports with their
// recipients and raw bytes, incidents and their notification log, the outbox
// of notifications to deliver, Slack message references and email reply
// tokens.
//
// The invariant: CommitBatch records the cursor and everything learnt from a
// batch of messages in one transaction, and notifications become outbox rows
// in the same transaction as the decision to send them. A crash at any point
// loses nothing and doubles nothing; a sender marks an outbox row done only
// when the receiver accepted it.
//
// Grouping and timing decisions are made by package incident; this package
// persists their inputs and applies their outcome. A *DB is safe for
// concurrent use. No method reads a clock: every time is passed in.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotFound is returned (wrapped) when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrUIDValidityChanged is returned by CommitBatch when the batch's
// UIDVALIDITY differs from the recorded one: call ResetMailbox first.
var ErrUIDValidityChanged = errors.New("store: uidvalidity changed")

// MaxRawBytes bounds the raw bytes kept per bounce; longer messages are kept
// truncated (the header and the DSN parts come first) with their full size.
const MaxRawBytes = 512 << 10

// Log keys.
const (
	logKeyPath      = "path"
	logKeyMigration = "migration"
)

// DB is an open bouncewatch database.
type DB struct {
	db     *sql.DB
	logger *slog.Logger
	// reports holds the last decoded reports: one bounce naming a thousand
	// recipients is a thousand items whose notices all read it.
	reports *reportCache
}

// Open opens (creating if needed) the database at path and applies pending
// migrations. The connection uses WAL (readers never block the writer),
// foreign keys, a 5 s busy timeout, IMMEDIATE write transactions (no lock
// upgrade deadlocks) and synchronous=FULL: commits are rare and small here
// (one per IMAP batch or outbox send), and FULL makes a commit survive power
// loss, so an outbox row marked sent stays sent and a Slack ts is not
// forgotten, which NORMAL does not guarantee in WAL mode. The connection pool
// holds several connections, so path must be a file (":memory:" would give
// each connection its own database); tests use a file in t.TempDir(). Close
// must be called.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	d := &DB{db: sqldb, logger: logger.With(logKeyPath, path), reports: newReportCache(reportCacheSize)}
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := d.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: name must start with a positive number and '_'", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("store: migration %q: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: migrations %q and %q share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies, in order and each in its own transaction, the embedded
// migrations not yet recorded in schema_migrations.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store: schema_migrations: %w", err)
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := d.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UnixMilli()); err != nil {
				return err
			}
			d.logger.Info("applied migration", logKeyMigration, m.name)
			return nil
		}); err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (d *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ms converts a time to stored milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// msCeil is ms rounded up, for wake-up times: a check stored as ms must not
// fall due before the time Decide asked for.
func msCeil(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	v := t.UnixMilli()
	if time.UnixMilli(v).Before(t) {
		v++
	}
	return v
}

// fromMS converts stored milliseconds back; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
