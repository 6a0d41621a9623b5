-- 0028: our own error (差错) and dispute (争议) cases (interop.Case).
--
-- Staff raise a case about a record of an OUT file (another city's card
-- on our terminal, accepted by its issuer) or of an INC file (our card
-- in another city, accepted by us); the day's cases of a type go out in
-- our ERR or DSP file of that day (its records in the order of at_ns,
-- ref), and the answer to that file decides each once. ref is the
-- idempotency key staff gave, input_sha256 the hash of what they asked:
-- the same key with another input is refused. One case of a type per
-- record.
CREATE TABLE interop_cases (
	ref           TEXT PRIMARY KEY CHECK (length(ref) BETWEEN 1 AND 64),
	input_sha256  TEXT NOT NULL CHECK (length(input_sha256) = 64),
	file_type     TEXT NOT NULL CHECK (file_type IN ('ERR', 'DSP')),
	day           INTEGER NOT NULL,
	ref_file      TEXT NOT NULL REFERENCES interop_files (id),
	ref_seq       INTEGER NOT NULL CHECK (ref_seq > 0),
	credit        INTEGER NOT NULL CHECK (credit IN (0, 1)),
	amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0 AND amount_fen <= 4294967295),
	reason        INTEGER NOT NULL CHECK (reason > 0),
	note          TEXT NOT NULL,
	raised_by     TEXT NOT NULL CHECK (raised_by <> ''),
	at_ns         INTEGER NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
	answer_reason INTEGER NOT NULL,
	answered_by   TEXT NOT NULL,
	CHECK ((state = 'pending') = (answered_by = '')),
	CHECK (file_type = 'ERR' OR credit = 0)
) STRICT;
CREATE UNIQUE INDEX interop_cases_record ON interop_cases (file_type, ref_file, ref_seq);
CREATE INDEX interop_cases_day ON interop_cases (file_type, day, at_ns, ref);

-- A case is never removed, and changes once: its answer.
CREATE TRIGGER interop_cases_once BEFORE UPDATE ON interop_cases
WHEN OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.ref IS NOT NEW.ref OR OLD.input_sha256 IS NOT NEW.input_sha256
	OR OLD.file_type IS NOT NEW.file_type OR OLD.day IS NOT NEW.day OR OLD.ref_file IS NOT NEW.ref_file OR OLD.ref_seq IS NOT NEW.ref_seq
	OR OLD.credit IS NOT NEW.credit OR OLD.amount_fen IS NOT NEW.amount_fen OR OLD.reason IS NOT NEW.reason OR OLD.note IS NOT NEW.note
	OR OLD.raised_by IS NOT NEW.raised_by OR OLD.at_ns IS NOT NEW.at_ns
BEGIN SELECT RAISE(ABORT, 'an error or dispute case is never changed: only a pending one is answered, once'); END;
CREATE TRIGGER interop_cases_no_delete BEFORE DELETE ON interop_cases
BEGIN SELECT RAISE(ABORT, 'error and dispute cases are never removed'); END;

-- The registry's parties take a third type, funder (registry.PartyFunder:
-- the transport bureau that funds concessions). SQLite changes a CHECK by
-- rebuilding the table; terminals refer to parties, so they are rebuilt
-- with it (a parent dropped under its children's rows fails the foreign
-- key): both copied as they are, the copies renamed (the rename carries
-- the terminals' reference over), their indexes made again.
CREATE TABLE parties_0028 (
	id                 TEXT PRIMARY KEY,
	role               TEXT NOT NULL CHECK (role IN ('issuer', 'operator', 'funder')),
	code               TEXT NOT NULL UNIQUE CHECK (length(code) = 16),
	sector             TEXT NOT NULL,
	name               TEXT NOT NULL,
	own                INTEGER NOT NULL CHECK (own IN (0, 1)),
	settlement_account TEXT NOT NULL,
	created_ns         INTEGER NOT NULL,
	updated_ns         INTEGER NOT NULL
) STRICT;
INSERT INTO parties_0028 (id, role, code, sector, name, own, settlement_account, created_ns, updated_ns)
	SELECT id, role, code, sector, name, own, settlement_account, created_ns, updated_ns FROM parties;
CREATE TABLE terminals_0028 (
	id          TEXT PRIMARY KEY CHECK (length(id) = 12),
	psam        TEXT NOT NULL UNIQUE CHECK (length(psam) = 20),
	operator    TEXT NOT NULL REFERENCES parties_0028 (id),
	kind        TEXT NOT NULL,
	line        INTEGER NOT NULL,
	station     INTEGER NOT NULL,
	vehicle     TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
	credential  TEXT NOT NULL, -- SHA-256 of the API token, hex; '' if none
	created_ns  INTEGER NOT NULL,
	updated_ns  INTEGER NOT NULL
) STRICT;
INSERT INTO terminals_0028 (id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns)
	SELECT id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns FROM terminals;
DROP TABLE terminals;
DROP TABLE parties;
ALTER TABLE parties_0028 RENAME TO parties;
ALTER TABLE terminals_0028 RENAME TO terminals;
CREATE UNIQUE INDEX parties_own ON parties (own) WHERE own = 1;
CREATE INDEX terminals_operator ON terminals (operator, id);
