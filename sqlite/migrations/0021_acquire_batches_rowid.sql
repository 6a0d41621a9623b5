-- 0021: acquire_batches becomes a rowid table.
--
-- As a WITHOUT ROWID table it kept each batch's answer (tens of kB of
-- JSON for a thousand records) in its primary key's B-tree, and SQLite
-- compares a key whose row overflows its page by reading the whole row:
-- every look-up of a batch (each upload asks whether it was committed)
-- and every insert read a few answers' overflow pages at each level of
-- the tree, about 3% of bench ingest's CPU and growing with the table.
-- Now the primary key is an index of (terminal, batch_id, rowid), a few
-- dozen bytes an entry, and the row is read only when the batch is found.
-- Rows are copied as they are; the append-only triggers come back.
CREATE TABLE acquire_batches_0021 (
	terminal   TEXT NOT NULL CHECK (length(terminal) = 12),
	batch_id   TEXT NOT NULL,
	hash       BLOB NOT NULL CHECK (length(hash) = 32),
	answer     BLOB NOT NULL, -- the answer sent, JSON
	first_pos  INTEGER NOT NULL, -- its entries: first_pos .. first_pos + n - 1
	n          INTEGER NOT NULL,
	ledger_key TEXT NOT NULL, -- the idempotency key of its ledger entries' prefix
	at_ns      INTEGER NOT NULL,
	PRIMARY KEY (terminal, batch_id)
) STRICT;

INSERT INTO acquire_batches_0021 (terminal, batch_id, hash, answer, first_pos, n, ledger_key, at_ns)
	SELECT terminal, batch_id, hash, answer, first_pos, n, ledger_key, at_ns FROM acquire_batches ORDER BY first_pos;
DROP TABLE acquire_batches;
ALTER TABLE acquire_batches_0021 RENAME TO acquire_batches;

CREATE TRIGGER acquire_batches_no_update BEFORE UPDATE ON acquire_batches
BEGIN SELECT RAISE(ABORT, 'committed batches are append-only'); END;
CREATE TRIGGER acquire_batches_no_delete BEFORE DELETE ON acquire_batches
BEGIN SELECT RAISE(ABORT, 'committed batches are append-only'); END;
