-- 0001: the registry and the ledger.
--
-- Times are Unix nanoseconds (BIGINT), hashes lower-case hex (TEXT), ID
-- codes upper-case hex (TEXT), enumerations their names (TEXT): the same
-- representation as the SQLite schema. Objects are created in the first
-- schema of the search_path (tests give each run its own schema).

CREATE TABLE parties (
	id                 TEXT PRIMARY KEY,
	role               TEXT NOT NULL CHECK (role IN ('issuer', 'operator')),
	code               TEXT NOT NULL UNIQUE CHECK (length(code) = 16),
	sector             TEXT NOT NULL,
	name               TEXT NOT NULL,
	own                BOOLEAN NOT NULL,
	settlement_account TEXT NOT NULL,
	created_ns         BIGINT NOT NULL,
	updated_ns         BIGINT NOT NULL
);

-- At most one party is our own issuer.
CREATE UNIQUE INDEX parties_own ON parties (own) WHERE own;

CREATE TABLE terminals (
	id          TEXT PRIMARY KEY CHECK (length(id) = 12),
	psam        TEXT NOT NULL UNIQUE CHECK (length(psam) = 20),
	operator    TEXT NOT NULL REFERENCES parties (id),
	kind        TEXT NOT NULL,
	line        BIGINT NOT NULL,
	station     BIGINT NOT NULL,
	vehicle     TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
	credential  TEXT NOT NULL, -- SHA-256 of the API token, hex; '' if none
	created_ns  BIGINT NOT NULL,
	updated_ns  BIGINT NOT NULL
);

CREATE INDEX terminals_operator ON terminals (operator, id);

-- Running balances, moved in the transaction that appends the postings.
CREATE TABLE accounts (
	name         TEXT COLLATE "C" PRIMARY KEY,
	debits_fen   BIGINT NOT NULL CHECK (debits_fen >= 0),
	credits_fen  BIGINT NOT NULL CHECK (credits_fen >= 0),
	postings     BIGINT NOT NULL CHECK (postings >= 0),
	last_seq     BIGINT NOT NULL
);

-- The journal of the general ledger: append-only, hash-chained.
CREATE TABLE entries (
	seq          BIGINT PRIMARY KEY CHECK (seq > 0),
	key          TEXT NOT NULL UNIQUE,
	kind         TEXT NOT NULL,
	source       TEXT NOT NULL,
	product      INTEGER NOT NULL,
	count        BIGINT NOT NULL,
	memo         TEXT NOT NULL,
	reversal_of  BIGINT REFERENCES entries (seq),
	at_ns        BIGINT NOT NULL,
	input_hash   TEXT NOT NULL CHECK (length(input_hash) = 64),
	hash         TEXT NOT NULL CHECK (length(hash) = 64)
);

CREATE INDEX entries_source ON entries (source, seq);
-- An entry is reversed at most once (NULLs, entries that reverse nothing,
-- are distinct). Not a partial index: the foreign key of reversal_of needs
-- a full one to find children, or every insert scans the table.
CREATE UNIQUE INDEX entries_reversal_of ON entries (reversal_of);

-- Postings are written before their entry (the entry's insert checks them)
-- so the reference to the entry is checked at commit.
CREATE TABLE postings (
	entry_seq   BIGINT NOT NULL REFERENCES entries (seq) DEFERRABLE INITIALLY DEFERRED,
	idx         INTEGER NOT NULL,
	account     TEXT COLLATE "C" NOT NULL REFERENCES accounts (name),
	amount_fen  BIGINT NOT NULL,
	PRIMARY KEY (entry_seq, idx)
);

-- The store never persists an unbalanced entry: when an entry row goes in,
-- its postings (already written) must be two or more and sum to zero.
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	n     BIGINT;
	total NUMERIC;
BEGIN
	SELECT count(*), coalesce(sum(amount_fen), 0) INTO n, total FROM postings WHERE entry_seq = NEW.seq;
	IF n < 2 OR total <> 0 THEN
		RAISE EXCEPTION 'ledger: unbalanced entry % (% postings, sum %)', NEW.seq, n, total
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER entries_balanced AFTER INSERT ON entries
	FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();

-- Once its entry is in, an entry's postings are closed.
CREATE FUNCTION ledger_postings_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM entries WHERE seq = NEW.entry_seq) THEN
		RAISE EXCEPTION 'ledger: the entry of these postings (%) is booked', NEW.entry_seq
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER postings_closed BEFORE INSERT ON postings
	FOR EACH ROW EXECUTE FUNCTION ledger_postings_closed();

-- Append-only: corrections are new entries (reversals), never edits.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'ledger: % are append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END
$$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
	FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
	FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
	FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
