-- 0010: what clearing reads of the journal, and the cycles.
--
-- acquire_chunk_totals keeps each journal chunk's count, sum of amounts
-- and commit time, written in the commit of the chunk: a cycle claims a
-- range by these (the count and sum computed apart from the entries) and
-- then proves that the entries it read add up to them. The chunks
-- committed before this migration get theirs at the next Open (the store
-- backfills the journal's prefix without totals); a chunk without totals
-- after one with them is a table changed behind the platform's back, and
-- a range holding one is refused.
CREATE TABLE acquire_chunk_totals (
	first_pos  INTEGER PRIMARY KEY CHECK (first_pos > 0),
	n          INTEGER NOT NULL CHECK (n > 0),
	amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
	at_ns      INTEGER NOT NULL
) STRICT;

-- acquire_greys keeps what a journaled record (or load) did to a grey
-- record in suspense, at the record's position: confirmed, released,
-- reversed (acquire.GreyDecision).
CREATE TABLE acquire_greys (
	pos        INTEGER NOT NULL CHECK (pos > 0),
	idx        INTEGER NOT NULL CHECK (idx >= 0),
	move       TEXT NOT NULL CHECK (move IN ('confirmed', 'released', 'reversed')),
	terminal   TEXT NOT NULL CHECK (length(terminal) = 12),
	seq        INTEGER NOT NULL,
	issuer     TEXT NOT NULL CHECK (length(issuer) = 16),
	asn        TEXT NOT NULL CHECK (length(asn) = 20),
	counter    INTEGER NOT NULL,
	card_type  INTEGER NOT NULL,
	product    INTEGER NOT NULL,
	amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
	PRIMARY KEY (pos, idx)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER acquire_chunk_totals_no_update BEFORE UPDATE ON acquire_chunk_totals
BEGIN SELECT RAISE(ABORT, 'the journal''s chunk totals are append-only'); END;
CREATE TRIGGER acquire_chunk_totals_no_delete BEFORE DELETE ON acquire_chunk_totals
BEGIN SELECT RAISE(ABORT, 'the journal''s chunk totals are append-only'); END;
CREATE TRIGGER acquire_greys_no_update BEFORE UPDATE ON acquire_greys
BEGIN SELECT RAISE(ABORT, 'the grey decisions are append-only'); END;
CREATE TRIGGER acquire_greys_no_delete BEFORE DELETE ON acquire_greys
BEGIN SELECT RAISE(ABORT, 'the grey decisions are append-only'); END;

-- One row per cycle (a business day: days since 1970-01-01). Times are
-- Unix nanoseconds, 0 for not yet; result is the cleared cycle (JSON),
-- files the hashes of its settlement files (JSON), set at close.
CREATE TABLE clearing_cycles (
	day         INTEGER PRIMARY KEY,
	state       TEXT NOT NULL CHECK (state IN ('opened', 'computed', 'reviewed', 'approved', 'closed')),
	cutoff_ns   INTEGER NOT NULL,
	range_from  INTEGER NOT NULL CHECK (range_from >= 0),
	range_to    INTEGER NOT NULL CHECK (range_to >= range_from),
	opened_ns   INTEGER NOT NULL,
	computed_ns INTEGER NOT NULL,
	computed_by TEXT NOT NULL,
	reviewed_ns INTEGER NOT NULL,
	reviewed_by TEXT NOT NULL,
	approved_ns INTEGER NOT NULL,
	approved_by TEXT NOT NULL,
	closed_ns   INTEGER NOT NULL,
	closed_by   TEXT NOT NULL,
	result      BLOB,
	files       BLOB,
	CHECK (state <> 'closed' OR (closed_ns <> 0 AND result IS NOT NULL AND files IS NOT NULL))
) STRICT;

-- A closed cycle is immutable, and no cycle is ever removed.
CREATE TRIGGER clearing_cycles_closed BEFORE UPDATE ON clearing_cycles WHEN OLD.state = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed cycle is immutable'); END;
CREATE TRIGGER clearing_cycles_no_delete BEFORE DELETE ON clearing_cycles
BEGIN SELECT RAISE(ABORT, 'cycles are never removed'); END;
