-- 0037: a grey decision names the grey record's own journal position
-- (acquire.GreyDecision.GreyPos), so that another city's card's grey
-- record confirmed on its balance is read back and sent to its issuer in
-- our OUT file; and an OUT file's record names the grey record it sends
-- (0 for a record of the journal's own: interop.Rec.GreyPos), each grey
-- sent once.
--
-- The decisions stored before this migration get their grey's position
-- here, from the journal: the grey record is the entry of outcome grey (3)
-- and class suspense (2) of the decision's card, counter, terminal and
-- terminal sequence at or before the decision's position (the last such,
-- a grey journaled twice being a duplicate the second time). A chunk's
-- terminal is its records' (acquisition rejects a record another terminal
-- uploads), so only the chunks of the terminals with grey decisions are
-- read, each entry once. A decision whose grey is not found keeps 0, which
-- the interconnection refuses to send (Conflict) rather than guess.
-- acquire_greys stays append-only: its trigger is dropped for the
-- backfill, in this migration's transaction, and made again.
ALTER TABLE acquire_greys ADD COLUMN grey_pos INTEGER NOT NULL DEFAULT 0 CHECK (grey_pos >= 0);

-- Entry offsets of a chunk: 0 .. the longest chunk of those terminals.
CREATE TABLE greys_0037_offsets (i INTEGER PRIMARY KEY);
WITH RECURSIVE k(i) AS (
	SELECT 0 WHERE EXISTS (SELECT 1 FROM acquire_greys)
	UNION ALL
	SELECT i + 1 FROM k WHERE i + 1 < (SELECT coalesce(max(n), 0) FROM acquire_journal WHERE terminal IN (SELECT terminal FROM acquire_greys)))
INSERT INTO greys_0037_offsets SELECT i FROM k;

-- The grey records of those terminals, by the fields a decision names,
-- in the layout's offsets (record/doc.go) after the entry's 4 bytes
-- (outcome, class, flags): issuer at 5, ASN at 13, counter at 27,
-- terminal at 37, terminal sequence at 53.
CREATE TABLE greys_0037_entries (
	pos      INTEGER PRIMARY KEY,
	terminal TEXT NOT NULL,
	seq      TEXT NOT NULL,
	issuer   TEXT NOT NULL,
	asn      TEXT NOT NULL,
	counter  TEXT NOT NULL
);
INSERT INTO greys_0037_entries (pos, terminal, seq, issuer, asn, counter)
	SELECT j.first_pos + k.i, hex(substr(j.data, k.i * 108 + 42, 6)), hex(substr(j.data, k.i * 108 + 58, 4)),
		hex(substr(j.data, k.i * 108 + 10, 8)), lower(hex(substr(j.data, k.i * 108 + 18, 10))), hex(substr(j.data, k.i * 108 + 32, 2))
	FROM acquire_journal j JOIN greys_0037_offsets k ON k.i < j.n
	WHERE j.terminal IN (SELECT terminal FROM acquire_greys) AND j.first_pos <= (SELECT max(pos) FROM acquire_greys)
		AND substr(j.data, k.i * 108 + 1, 2) = x'0302';
CREATE INDEX greys_0037_entries_tap ON greys_0037_entries (terminal, seq, pos);

DROP TRIGGER acquire_greys_no_update;
UPDATE acquire_greys SET grey_pos = coalesce((SELECT max(e.pos) FROM greys_0037_entries e
	WHERE e.terminal = acquire_greys.terminal AND e.seq = printf('%08X', acquire_greys.seq) AND e.pos <= acquire_greys.pos
		AND e.issuer = acquire_greys.issuer AND e.asn = acquire_greys.asn AND e.counter = printf('%04X', acquire_greys.counter)), 0);
CREATE TRIGGER acquire_greys_no_update BEFORE UPDATE ON acquire_greys
BEGIN SELECT RAISE(ABORT, 'the grey decisions are append-only'); END;
DROP TABLE greys_0037_entries;
DROP TABLE greys_0037_offsets;

-- An OUT file's record of a grey record confirmed on its balance names
-- it; a grey is sent once.
ALTER TABLE interop_records ADD COLUMN grey_pos INTEGER NOT NULL DEFAULT 0 CHECK (grey_pos >= 0);
CREATE UNIQUE INDEX interop_records_grey ON interop_records (grey_pos) WHERE grey_pos > 0;
DROP TRIGGER interop_records_once;
CREATE TRIGGER interop_records_once BEFORE UPDATE ON interop_records
WHEN OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.file_id IS NOT NEW.file_id OR OLD.seq IS NOT NEW.seq OR OLD.out IS NOT NEW.out
	OR OLD.issuer IS NOT NEW.issuer OR OLD.asn IS NOT NEW.asn OR OLD.counter IS NOT NEW.counter OR OLD.amount_fen IS NOT NEW.amount_fen
	OR OLD.acquirer IS NOT NEW.acquirer OR OLD.terminal_type IS NOT NEW.terminal_type OR OLD.product IS NOT NEW.product OR OLD.card_type IS NOT NEW.card_type
	OR OLD.grey_pos IS NOT NEW.grey_pos
BEGIN SELECT RAISE(ABORT, 'an interconnection record is never changed: only a pending one is answered, once'); END;
