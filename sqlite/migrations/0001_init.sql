-- 0001: the registry and the ledger.
--
-- Times are Unix nanoseconds (INTEGER), hashes lower-case hex (TEXT), ID
-- codes upper-case hex (TEXT), enumerations their names (TEXT): the same
-- representation as the PostgreSQL schema, readable with the sqlite3 shell.

CREATE TABLE parties (
	id                 TEXT PRIMARY KEY,
	role               TEXT NOT NULL CHECK (role IN ('issuer', 'operator')),
	code               TEXT NOT NULL UNIQUE CHECK (length(code) = 16),
	sector             TEXT NOT NULL,
	name               TEXT NOT NULL,
	own                INTEGER NOT NULL CHECK (own IN (0, 1)),
	settlement_account TEXT NOT NULL,
	created_ns         INTEGER NOT NULL,
	updated_ns         INTEGER NOT NULL
) STRICT;

-- At most one party is our own issuer.
CREATE UNIQUE INDEX parties_own ON parties (own) WHERE own = 1;

CREATE TABLE terminals (
	id          TEXT PRIMARY KEY CHECK (length(id) = 12),
	psam        TEXT NOT NULL UNIQUE CHECK (length(psam) = 20),
	operator    TEXT NOT NULL REFERENCES parties (id),
	kind        TEXT NOT NULL,
	line        INTEGER NOT NULL,
	station     INTEGER NOT NULL,
	vehicle     TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
	credential  TEXT NOT NULL, -- SHA-256 of the API token, hex; '' if none
	created_ns  INTEGER NOT NULL,
	updated_ns  INTEGER NOT NULL
) STRICT;

CREATE INDEX terminals_operator ON terminals (operator, id);

-- Running balances, moved in the transaction that appends the postings.
CREATE TABLE accounts (
	name         TEXT PRIMARY KEY,
	debits_fen   INTEGER NOT NULL CHECK (debits_fen >= 0),
	credits_fen  INTEGER NOT NULL CHECK (credits_fen >= 0),
	postings     INTEGER NOT NULL CHECK (postings >= 0),
	last_seq     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The journal of the general ledger: append-only, hash-chained.
CREATE TABLE entries (
	seq          INTEGER PRIMARY KEY CHECK (seq > 0),
	key          TEXT NOT NULL UNIQUE,
	kind         TEXT NOT NULL,
	source       TEXT NOT NULL,
	product      INTEGER NOT NULL,
	count        INTEGER NOT NULL,
	memo         TEXT NOT NULL,
	reversal_of  INTEGER REFERENCES entries (seq),
	at_ns        INTEGER NOT NULL,
	input_hash   TEXT NOT NULL CHECK (length(input_hash) = 64),
	hash         TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;

CREATE INDEX entries_source ON entries (source, seq);
-- An entry is reversed at most once (NULLs, entries that reverse nothing,
-- are distinct). Not a partial index: the foreign key of reversal_of needs
-- a full one to find children, or every insert scans the table.
CREATE UNIQUE INDEX entries_reversal_of ON entries (reversal_of);

-- Postings are written before their entry (the entry's insert checks them)
-- so the reference to the entry is checked at commit.
CREATE TABLE postings (
	entry_seq   INTEGER NOT NULL REFERENCES entries (seq) DEFERRABLE INITIALLY DEFERRED,
	idx         INTEGER NOT NULL,
	account     TEXT NOT NULL REFERENCES accounts (name),
	amount_fen  INTEGER NOT NULL,
	PRIMARY KEY (entry_seq, idx)
) STRICT, WITHOUT ROWID;

-- The store never persists an unbalanced entry: when an entry row goes in,
-- its postings (already written) must be two or more and sum to zero.
CREATE TRIGGER entries_balanced AFTER INSERT ON entries
WHEN (SELECT count(*) < 2 OR coalesce(sum(amount_fen), 0) <> 0 FROM postings WHERE entry_seq = NEW.seq)
BEGIN
	SELECT RAISE(ABORT, 'ledger: unbalanced entry');
END;

-- Once its entry is in, an entry's postings are closed.
CREATE TRIGGER postings_closed BEFORE INSERT ON postings
WHEN EXISTS (SELECT 1 FROM entries WHERE seq = NEW.entry_seq)
BEGIN
	SELECT RAISE(ABORT, 'ledger: the entry of these postings is booked');
END;

-- Append-only: corrections are new entries (reversals), never edits.
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN
	SELECT RAISE(ABORT, 'ledger: entries are append-only');
END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN
	SELECT RAISE(ABORT, 'ledger: entries are append-only');
END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN
	SELECT RAISE(ABORT, 'ledger: postings are append-only');
END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN
	SELECT RAISE(ABORT, 'ledger: postings are append-only');
END;
