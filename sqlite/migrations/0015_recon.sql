-- 0015: reconciliation (package recon): the bank's statements imported,
-- the closed cycles' settlement instructions expected on them, the
-- movements the bank booked, the matches made and staff's resolutions.
--
-- Days are days since 1970-01-01, times Unix nanoseconds. Nothing is
-- ever removed; an instruction's or a movement's match_id is set once
-- (NULL while unmatched), and nothing else of a row changes. A
-- resolution's audit record is in cms_audit, written in its transaction.
CREATE TABLE recon_statements (
	id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 35),
	sha256      TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
	format      TEXT NOT NULL CHECK (format IN ('camt053', 'csv')),
	message_id  TEXT NOT NULL,
	account     TEXT NOT NULL,
	movements   INTEGER NOT NULL,
	imported_by TEXT NOT NULL,
	imported_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE recon_matches (
	id             INTEGER PRIMARY KEY,
	state          TEXT NOT NULL CHECK (state IN ('matched', 'mismatched')),
	how            TEXT NOT NULL,
	instructed_fen INTEGER NOT NULL,
	bank_fen       INTEGER NOT NULL,
	statement      TEXT NOT NULL REFERENCES recon_statements (id),
	made_ns        INTEGER NOT NULL,
	CHECK ((state = 'matched') = (instructed_fen = bank_fen))
) STRICT;

CREATE TABLE recon_instructions (
	end_to_end_id TEXT PRIMARY KEY CHECK (length(end_to_end_id) BETWEEN 1 AND 35),
	cycle_day     INTEGER NOT NULL,
	message_id    TEXT NOT NULL,
	party         TEXT NOT NULL,
	name          TEXT NOT NULL,
	account       TEXT NOT NULL,
	amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
	due_day       INTEGER NOT NULL,
	remittance    TEXT NOT NULL,
	match_id      INTEGER REFERENCES recon_matches (id)
) STRICT;
CREATE INDEX recon_instructions_open ON recon_instructions (end_to_end_id) WHERE match_id IS NULL;

CREATE TABLE recon_movements (
	id         INTEGER PRIMARY KEY,
	statement  TEXT NOT NULL REFERENCES recon_statements (id),
	seq        INTEGER NOT NULL CHECK (seq > 0),
	direction  TEXT NOT NULL CHECK (direction IN ('DBIT', 'CRDT')),
	amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
	booked_day INTEGER NOT NULL,
	value_day  INTEGER NOT NULL,
	bank_ref   TEXT NOT NULL,
	info       TEXT NOT NULL,
	parts      TEXT NOT NULL, -- the transaction details, JSON (recon.Part)
	match_id   INTEGER REFERENCES recon_matches (id),
	UNIQUE (statement, seq)
) STRICT;
CREATE INDEX recon_movements_open ON recon_movements (id) WHERE match_id IS NULL;

-- One resolution per finding (match-N, bank-N or an EndToEndId).
CREATE TABLE recon_resolutions (
	finding  TEXT PRIMARY KEY CHECK (length(finding) BETWEEN 1 AND 40),
	decision TEXT NOT NULL CHECK (decision IN ('corrected', 'accepted', 'not_ours', 'written_off')),
	note     TEXT NOT NULL CHECK (length(note) >= 1),
	by_staff TEXT NOT NULL CHECK (length(by_staff) >= 1),
	point    TEXT NOT NULL CHECK (length(point) >= 1),
	at_ns    INTEGER NOT NULL
) STRICT;

CREATE TRIGGER recon_statements_no_update BEFORE UPDATE ON recon_statements
BEGIN SELECT RAISE(ABORT, 'recon: an imported statement is never changed'); END;
CREATE TRIGGER recon_statements_no_delete BEFORE DELETE ON recon_statements
BEGIN SELECT RAISE(ABORT, 'recon: statements are never removed'); END;
CREATE TRIGGER recon_matches_no_update BEFORE UPDATE ON recon_matches
BEGIN SELECT RAISE(ABORT, 'recon: a match is never changed'); END;
CREATE TRIGGER recon_matches_no_delete BEFORE DELETE ON recon_matches
BEGIN SELECT RAISE(ABORT, 'recon: matches are never removed'); END;
CREATE TRIGGER recon_resolutions_no_update BEFORE UPDATE ON recon_resolutions
BEGIN SELECT RAISE(ABORT, 'recon: a resolution is never changed'); END;
CREATE TRIGGER recon_resolutions_no_delete BEFORE DELETE ON recon_resolutions
BEGIN SELECT RAISE(ABORT, 'recon: resolutions are never removed'); END;
CREATE TRIGGER recon_instructions_once BEFORE UPDATE ON recon_instructions
WHEN OLD.match_id IS NOT NULL OR OLD.end_to_end_id IS NOT NEW.end_to_end_id OR OLD.cycle_day IS NOT NEW.cycle_day OR OLD.message_id IS NOT NEW.message_id
	OR OLD.party IS NOT NEW.party OR OLD.name IS NOT NEW.name OR OLD.account IS NOT NEW.account OR OLD.amount_fen IS NOT NEW.amount_fen
	OR OLD.due_day IS NOT NEW.due_day OR OLD.remittance IS NOT NEW.remittance
BEGIN SELECT RAISE(ABORT, 'recon: an instruction is never changed: only its match is set, once'); END;
CREATE TRIGGER recon_instructions_no_delete BEFORE DELETE ON recon_instructions
BEGIN SELECT RAISE(ABORT, 'recon: instructions are never removed'); END;
CREATE TRIGGER recon_movements_once BEFORE UPDATE ON recon_movements
WHEN OLD.match_id IS NOT NULL OR OLD.id IS NOT NEW.id OR OLD.statement IS NOT NEW.statement OR OLD.seq IS NOT NEW.seq OR OLD.direction IS NOT NEW.direction
	OR OLD.amount_fen IS NOT NEW.amount_fen OR OLD.booked_day IS NOT NEW.booked_day OR OLD.value_day IS NOT NEW.value_day
	OR OLD.bank_ref IS NOT NEW.bank_ref OR OLD.info IS NOT NEW.info OR OLD.parts IS NOT NEW.parts
BEGIN SELECT RAISE(ABORT, 'recon: a movement is never changed: only its match is set, once'); END;
CREATE TRIGGER recon_movements_no_delete BEFORE DELETE ON recon_movements
BEGIN SELECT RAISE(ABORT, 'recon: movements are never removed'); END;
