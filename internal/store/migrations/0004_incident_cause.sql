-- Incidents keyed by cause and by who acts (issue 11): the side of the cause
-- (sending, recipient, path), the cause itself (the reason), and the origin
-- of a domain problem or the one recipient of a recipient-side item. Rows of
-- earlier versions keep their key; their cause is their latest reason.
ALTER TABLE incidents ADD COLUMN side TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN cause TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN sender_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
UPDATE incidents SET cause = reason;

-- Recipient-side items of one batch share one Slack digest message; several
-- incidents then point at one ts (slack_messages holds one incident per ts).
CREATE TABLE slack_digests (
	incident   INTEGER NOT NULL REFERENCES incidents (id),
	channel    TEXT    NOT NULL,
	ts         TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (incident, channel)
) STRICT;
CREATE INDEX slack_digests_ts ON slack_digests (channel, ts);

-- Following a recipient's mail from a delay to its failure.
CREATE INDEX reports_orig_message_id ON reports (orig_message_id) WHERE orig_message_id <> '';
