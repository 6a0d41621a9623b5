-- 0005: the acquisition journal.
--
-- The journal of accepted records is the subledger of card float. It is
-- append-only and kept in chunks, one row per committed upload batch: the
-- sequencer decides every record in memory, so no per-record index is
-- needed on the write path, and one row per batch is what lets SQLite book
-- 100k records a second. A chunk holds its entries back to back, each
-- outcome(1) kind(1) flags(2, big-endian) record(104).

CREATE TABLE acquire_batches (
	terminal   TEXT NOT NULL CHECK (length(terminal) = 12),
	batch_id   TEXT NOT NULL,
	hash       BLOB NOT NULL CHECK (length(hash) = 32),
	answer     BLOB NOT NULL, -- the answer sent, JSON
	first_pos  INTEGER NOT NULL, -- its entries: first_pos .. first_pos + n - 1
	n          INTEGER NOT NULL,
	ledger_key TEXT NOT NULL, -- the idempotency key of its ledger entries' prefix
	at_ns      INTEGER NOT NULL,
	PRIMARY KEY (terminal, batch_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE acquire_journal (
	first_pos INTEGER PRIMARY KEY CHECK (first_pos > 0),
	n         INTEGER NOT NULL CHECK (n > 0),
	terminal  TEXT NOT NULL,
	batch_id  TEXT NOT NULL,
	data      BLOB NOT NULL CHECK (length(data) = n * 108)
) STRICT;

CREATE TABLE acquire_rejections (
	pos      INTEGER PRIMARY KEY,
	terminal TEXT NOT NULL,
	batch_id TEXT NOT NULL,
	idx      INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	detail   TEXT NOT NULL,
	raw      BLOB NOT NULL,
	at_ns    INTEGER NOT NULL
) STRICT;

CREATE INDEX acquire_rejections_terminal ON acquire_rejections (terminal, pos);

CREATE TABLE acquire_checkpoint (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	pos  INTEGER NOT NULL,
	data BLOB NOT NULL
) STRICT;

-- Nothing journaled is ever changed or removed.
CREATE TRIGGER acquire_journal_no_update BEFORE UPDATE ON acquire_journal
BEGIN SELECT RAISE(ABORT, 'the acquisition journal is append-only'); END;
CREATE TRIGGER acquire_journal_no_delete BEFORE DELETE ON acquire_journal
BEGIN SELECT RAISE(ABORT, 'the acquisition journal is append-only'); END;
CREATE TRIGGER acquire_batches_no_update BEFORE UPDATE ON acquire_batches
BEGIN SELECT RAISE(ABORT, 'committed batches are append-only'); END;
CREATE TRIGGER acquire_batches_no_delete BEFORE DELETE ON acquire_batches
BEGIN SELECT RAISE(ABORT, 'committed batches are append-only'); END;
CREATE TRIGGER acquire_rejections_no_update BEFORE UPDATE ON acquire_rejections
BEGIN SELECT RAISE(ABORT, 'the rejection journal is append-only'); END;
CREATE TRIGGER acquire_rejections_no_delete BEFORE DELETE ON acquire_rejections
BEGIN SELECT RAISE(ABORT, 'the rejection journal is append-only'); END;
