-- Recipient-side items of one batch go by email as one digest mail per
-- addressee (issue 11 follow-up). One row per item and addressee, written
-- right after the server accepted the mail: the other items' outbox rows
-- then find it and mail nothing. message_id '' records a digest the
-- server refused for good. token ties a reply (its In-Reply-To) to the
-- items the digest showed.
CREATE TABLE email_digests (
	incident   INTEGER NOT NULL REFERENCES incidents (id),
	addressee  TEXT    NOT NULL,
	message_id TEXT    NOT NULL,
	token      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (incident, addressee)
) STRICT;
CREATE INDEX email_digests_token ON email_digests (token) WHERE token <> '';
