-- UIDs whose disposition (flag or move) is still to be applied. Written in
-- the transaction that records the batch and moves the cursor, deleted once
-- the server applied it: a process killed in between applies it at the next
-- session start. Rows of another UIDVALIDITY mean nothing and are dropped.
CREATE TABLE dispose_pending (
	mailbox     TEXT    NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid         INTEGER NOT NULL,
	PRIMARY KEY (mailbox, uidvalidity, uid)
) STRICT;
