-- The "seen under another UIDVALIDITY" check seeks by (mailbox, message_id)
-- and skips the current UIDVALIDITY with two range seeks instead of scanning
-- every copy of a repeated Message-ID.
CREATE INDEX messages_message_id_validity ON messages (mailbox, message_id, uidvalidity);
DROP INDEX messages_message_id;
