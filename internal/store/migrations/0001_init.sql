-- 0001: the initial schema. Times are INTEGER milliseconds since the Unix
-- epoch (UTC); 0 means "none". Booleans are INTEGER 0/1.

-- One row per watched mailbox: the IMAP cursor. last_uid only ever grows
-- within one uidvalidity; a new uidvalidity resets it (old message rows stay,
-- they are keyed by uidvalidity).
CREATE TABLE mailboxes (
	name        TEXT    PRIMARY KEY,
	uidvalidity INTEGER NOT NULL CHECK (uidvalidity >= 0),
	last_uid    INTEGER NOT NULL DEFAULT 0 CHECK (last_uid >= 0),
	updated_at  INTEGER NOT NULL
) STRICT;

-- Every message looked at, bounce or not: what it was and whether it failed.
CREATE TABLE messages (
	id          INTEGER PRIMARY KEY,
	mailbox     TEXT    NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid         INTEGER NOT NULL CHECK (uid > 0),
	message_id  TEXT    NOT NULL DEFAULT '',
	size        INTEGER NOT NULL DEFAULT 0,
	kind        TEXT    NOT NULL,
	error       TEXT    NOT NULL DEFAULT '',
	seen_at     INTEGER NOT NULL,
	UNIQUE (mailbox, uidvalidity, uid)
) STRICT;
CREATE INDEX messages_message_id ON messages (mailbox, message_id);

-- One analysed report per message of a kind other than none. json is the full
-- bounce.Report as bounce marshals it; the fields it leaves out are columns.
-- raw keeps the message bytes (bounce and delay only, at most MaxRawBytes;
-- raw_size is the full size).
CREATE TABLE reports (
	id                INTEGER PRIMARY KEY,
	message           INTEGER NOT NULL UNIQUE REFERENCES messages (id),
	kind              TEXT    NOT NULL,
	sending_ip        TEXT    NOT NULL DEFAULT '',
	reporting_mta     TEXT    NOT NULL DEFAULT '',
	subject           TEXT    NOT NULL DEFAULT '',
	from_addr         TEXT    NOT NULL DEFAULT '',
	message_id        TEXT    NOT NULL DEFAULT '',
	feedback_type     TEXT    NOT NULL DEFAULT '',
	date              INTEGER NOT NULL DEFAULT 0,
	arrival_date      INTEGER NOT NULL DEFAULT 0,
	orig_message_id   TEXT    NOT NULL DEFAULT '',
	orig_from         TEXT    NOT NULL DEFAULT '',
	orig_to           TEXT    NOT NULL DEFAULT '',
	orig_subject      TEXT    NOT NULL DEFAULT '',
	orig_date         INTEGER NOT NULL DEFAULT 0,
	json              TEXT    NOT NULL,
	raw               BLOB,
	raw_size          INTEGER NOT NULL DEFAULT 0,
	seen_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE recipients (
	id          INTEGER PRIMARY KEY,
	report      INTEGER NOT NULL REFERENCES reports (id),
	address     TEXT    NOT NULL,
	action      TEXT    NOT NULL DEFAULT '',
	status      TEXT    NOT NULL DEFAULT '',
	reply_code  TEXT    NOT NULL DEFAULT '',
	reason      TEXT    NOT NULL DEFAULT '',
	hard        INTEGER NOT NULL DEFAULT 0,
	temporary   INTEGER NOT NULL DEFAULT 0,
	remote_mta  TEXT    NOT NULL DEFAULT '',
	provider    TEXT    NOT NULL DEFAULT '',
	diagnostic  TEXT    NOT NULL DEFAULT '',
	command     TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX recipients_report ON recipients (report);
CREATE INDEX recipients_address ON recipients (address);

-- Incidents: bounces grouped by key (incident.Key.String()). At most one open
-- incident per key; a bounce for a key whose incident is resolved opens a new
-- one. next_check_at is when incident.Decide may next say something (0: never).
CREATE TABLE incidents (
	id            INTEGER PRIMARY KEY,
	key           TEXT    NOT NULL,
	sending_ip    TEXT    NOT NULL DEFAULT '',
	reporting_mta TEXT    NOT NULL DEFAULT '',
	provider      TEXT    NOT NULL,
	family        TEXT    NOT NULL,
	reason        TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL CHECK (state IN ('open', 'resolved')),
	first_at      INTEGER NOT NULL,
	last_at       INTEGER NOT NULL,
	count         INTEGER NOT NULL DEFAULT 0,
	muted_until   INTEGER NOT NULL DEFAULT 0,
	resolved_at   INTEGER NOT NULL DEFAULT 0,
	resolved_by   TEXT    NOT NULL DEFAULT '',
	next_check_at INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE state = 'open';
CREATE INDEX incidents_due ON incidents (next_check_at) WHERE state = 'open';

CREATE TABLE incident_members (
	incident  INTEGER NOT NULL REFERENCES incidents (id),
	recipient INTEGER NOT NULL REFERENCES recipients (id),
	at        INTEGER NOT NULL,
	PRIMARY KEY (incident, recipient)
) STRICT;
CREATE INDEX incident_members_recipient ON incident_members (recipient);

-- The notification log: one row per decision (first, update, repeat,
-- resolved) and per person's action (muted, resolved with actor set). count is
-- the incident's count at that time. incident.Decide reads it.
CREATE TABLE notifications (
	id       INTEGER PRIMARY KEY,
	incident INTEGER NOT NULL REFERENCES incidents (id),
	kind     TEXT    NOT NULL,
	count    INTEGER NOT NULL DEFAULT 0,
	at       INTEGER NOT NULL,
	actor    TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX notifications_incident ON notifications (incident, at);

-- The outbox: one row per message to deliver to one target. A row is leased
-- (lease_until) and its attempt counted before the send; done_at is set when
-- the receiver accepted (outcome 'sent') or the sender gave up ('abandoned').
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	incident        INTEGER REFERENCES incidents (id),
	notification    INTEGER REFERENCES notifications (id),
	target          TEXT    NOT NULL CHECK (target <> ''),
	kind            TEXT    NOT NULL,
	payload         TEXT    NOT NULL DEFAULT '{}',
	attempts        INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	lease_until     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	done_at         INTEGER NOT NULL DEFAULT 0,
	outcome         TEXT    NOT NULL DEFAULT '' CHECK (outcome IN ('', 'sent', 'abandoned')),
	external_ref    TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE done_at = 0;
CREATE INDEX outbox_incident ON outbox (incident, target, id);

-- The Slack message that shows an incident in a channel (edited in place).
CREATE TABLE slack_messages (
	incident   INTEGER NOT NULL REFERENCES incidents (id),
	channel    TEXT    NOT NULL,
	ts         TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (incident, channel),
	UNIQUE (channel, ts)
) STRICT;

-- Tokens put in email summaries so that a reply can be tied to its incident.
CREATE TABLE email_tokens (
	token      TEXT    PRIMARY KEY,
	incident   INTEGER NOT NULL REFERENCES incidents (id),
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX email_tokens_incident ON email_tokens (incident);
