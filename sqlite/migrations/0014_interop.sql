-- 0014: the interconnection (package interop): the files exchanged with
-- the national interconnection centre and their records.
--
-- interop_files keeps every file exported or imported, whole (body) and
-- by its SHA-256: a file imported again is recognized by its ID and hash.
-- sent is 1 for the files we wrote. taken_day is the closed cycle that
-- settled a received ANS, INC or ERR file, set once in the transaction
-- that closes it. Times are Unix nanoseconds; days are days since
-- 1970-01-01.
CREATE TABLE interop_files (
	id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	file_type  TEXT NOT NULL CHECK (file_type IN ('OUT', 'INC', 'ANS', 'ERR', 'DSP', 'CTY', 'BLK')),
	sent       INTEGER NOT NULL CHECK (sent IN (0, 1)),
	sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
	day        INTEGER NOT NULL,
	sender     TEXT NOT NULL CHECK (length(sender) = 16),
	receiver   TEXT NOT NULL CHECK (length(receiver) = 16),
	refers     TEXT NOT NULL,
	records    INTEGER NOT NULL CHECK (records >= 0),
	amount_fen INTEGER NOT NULL,
	body       BLOB NOT NULL,
	at_ns      INTEGER NOT NULL,
	taken_day  INTEGER,
	CHECK (taken_day IS NULL OR (sent = 0 AND file_type IN ('ANS', 'INC', 'ERR')))
) STRICT;

-- The records of OUT files (out = 1: other cities' cards on our
-- terminals, pending until their issuer's answer) and INC files (out = 0:
-- our cards in other cities, decided by our verification at import).
-- acquirer is who is paid: our operator, or the acquiring city.
CREATE TABLE interop_records (
	file_id       TEXT NOT NULL REFERENCES interop_files (id),
	seq           INTEGER NOT NULL CHECK (seq > 0),
	out           INTEGER NOT NULL CHECK (out IN (0, 1)),
	issuer        TEXT NOT NULL CHECK (length(issuer) = 16),
	asn           TEXT NOT NULL CHECK (length(asn) = 20),
	counter       INTEGER NOT NULL,
	amount_fen    INTEGER NOT NULL CHECK (amount_fen >= 0),
	acquirer      TEXT NOT NULL,
	terminal_type INTEGER NOT NULL,
	product       INTEGER NOT NULL,
	card_type     INTEGER NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
	reason        INTEGER NOT NULL,
	answered_by   TEXT NOT NULL,
	PRIMARY KEY (file_id, seq),
	CHECK ((state = 'pending') = (answered_by = ''))
) STRICT, WITHOUT ROWID;

-- One of our cards' records is accepted from other cities once.
CREATE UNIQUE INDEX interop_records_card ON interop_records (issuer, asn, counter) WHERE out = 0 AND state = 'accepted';
CREATE INDEX interop_records_answered ON interop_records (answered_by, file_id, seq) WHERE out = 1 AND answered_by <> '';

-- The records of ERR (error, 差错) and DSP (dispute, 争议) files, with the
-- record each corrects or disputes and that record's parties.
CREATE TABLE interop_corrections (
	file_id       TEXT NOT NULL REFERENCES interop_files (id),
	seq           INTEGER NOT NULL CHECK (seq > 0),
	file_type     TEXT NOT NULL CHECK (file_type IN ('ERR', 'DSP')),
	ref_file      TEXT NOT NULL REFERENCES interop_files (id),
	ref_seq       INTEGER NOT NULL,
	stage         INTEGER NOT NULL,
	amount_fen    INTEGER NOT NULL,
	reason        INTEGER NOT NULL,
	issuer        TEXT NOT NULL,
	acquirer      TEXT NOT NULL,
	out           INTEGER NOT NULL CHECK (out IN (0, 1)),
	product       INTEGER NOT NULL,
	card_type     INTEGER NOT NULL,
	terminal_type INTEGER NOT NULL,
	PRIMARY KEY (file_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX interop_corrections_ref ON interop_corrections (ref_file, ref_seq);

-- The records of CTY files (the interconnected cities) and BLK files
-- (other issuers' blacklists), with their days.
CREATE TABLE interop_cities (
	file_id     TEXT NOT NULL REFERENCES interop_files (id),
	seq         INTEGER NOT NULL CHECK (seq > 0),
	city        TEXT NOT NULL CHECK (length(city) = 4),
	institution TEXT NOT NULL CHECK (length(institution) = 16),
	added       INTEGER NOT NULL CHECK (added IN (0, 1)),
	announced   INTEGER NOT NULL,
	effective   INTEGER NOT NULL,
	name        TEXT NOT NULL,
	PRIMARY KEY (file_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE interop_listings (
	file_id   TEXT NOT NULL REFERENCES interop_files (id),
	seq       INTEGER NOT NULL CHECK (seq > 0),
	issuer    TEXT NOT NULL CHECK (length(issuer) = 16),
	asn       TEXT NOT NULL CHECK (length(asn) = 20),
	added     INTEGER NOT NULL CHECK (added IN (0, 1)),
	reason    TEXT NOT NULL,
	effective INTEGER NOT NULL,
	PRIMARY KEY (file_id, seq)
) STRICT, WITHOUT ROWID;

-- Nothing is removed; a file changes only by the cycle taking it, once; a
-- record only by its answer, once.
CREATE TRIGGER interop_files_once BEFORE UPDATE ON interop_files
WHEN OLD.taken_day IS NOT NULL OR NEW.taken_day IS NULL OR OLD.id IS NOT NEW.id OR OLD.file_type IS NOT NEW.file_type OR OLD.sent IS NOT NEW.sent
	OR OLD.sha256 IS NOT NEW.sha256 OR OLD.body IS NOT NEW.body OR OLD.records IS NOT NEW.records OR OLD.amount_fen IS NOT NEW.amount_fen
	OR OLD.day IS NOT NEW.day OR OLD.sender IS NOT NEW.sender OR OLD.receiver IS NOT NEW.receiver OR OLD.refers IS NOT NEW.refers OR OLD.at_ns IS NOT NEW.at_ns
BEGIN SELECT RAISE(ABORT, 'an interconnection file is never changed: only the cycle that settles it is set, once'); END;
CREATE TRIGGER interop_files_no_delete BEFORE DELETE ON interop_files
BEGIN SELECT RAISE(ABORT, 'interconnection files are never removed'); END;
CREATE TRIGGER interop_records_once BEFORE UPDATE ON interop_records
WHEN OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.file_id IS NOT NEW.file_id OR OLD.seq IS NOT NEW.seq OR OLD.out IS NOT NEW.out
	OR OLD.issuer IS NOT NEW.issuer OR OLD.asn IS NOT NEW.asn OR OLD.counter IS NOT NEW.counter OR OLD.amount_fen IS NOT NEW.amount_fen
	OR OLD.acquirer IS NOT NEW.acquirer OR OLD.terminal_type IS NOT NEW.terminal_type OR OLD.product IS NOT NEW.product OR OLD.card_type IS NOT NEW.card_type
BEGIN SELECT RAISE(ABORT, 'an interconnection record is never changed: only a pending one is answered, once'); END;
CREATE TRIGGER interop_records_no_delete BEFORE DELETE ON interop_records
BEGIN SELECT RAISE(ABORT, 'interconnection records are never removed'); END;
CREATE TRIGGER interop_corrections_no_update BEFORE UPDATE ON interop_corrections
BEGIN SELECT RAISE(ABORT, 'error and dispute records are append-only'); END;
CREATE TRIGGER interop_corrections_no_delete BEFORE DELETE ON interop_corrections
BEGIN SELECT RAISE(ABORT, 'error and dispute records are append-only'); END;
CREATE TRIGGER interop_cities_no_update BEFORE UPDATE ON interop_cities
BEGIN SELECT RAISE(ABORT, 'city records are append-only'); END;
CREATE TRIGGER interop_cities_no_delete BEFORE DELETE ON interop_cities
BEGIN SELECT RAISE(ABORT, 'city records are append-only'); END;
CREATE TRIGGER interop_listings_no_update BEFORE UPDATE ON interop_listings
BEGIN SELECT RAISE(ABORT, 'blacklist records are append-only'); END;
CREATE TRIGGER interop_listings_no_delete BEFORE DELETE ON interop_listings
BEGIN SELECT RAISE(ABORT, 'blacklist records are append-only'); END;
