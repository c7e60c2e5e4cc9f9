-- One row that /readyz rewrites: proof that the database accepts writes.
CREATE TABLE health (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
);
