-- 0015: reconciliation (package recon); see the SQLite store's 0015.
-- IDs COLLATE "C": listed bytewise, as on SQLite. Match and movement IDs
-- are taken as max + 1 under the audit log's lock (as cardholders' are),
-- so that they are dense and the same on both engines.
CREATE TABLE recon_statements (
	id          TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 35),
	sha256      TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
	format      TEXT NOT NULL CHECK (format IN ('camt053', 'csv')),
	message_id  TEXT NOT NULL,
	account     TEXT NOT NULL,
	movements   BIGINT NOT NULL,
	imported_by TEXT NOT NULL,
	imported_ns BIGINT NOT NULL
);

CREATE TABLE recon_matches (
	id             BIGINT PRIMARY KEY,
	state          TEXT NOT NULL CHECK (state IN ('matched', 'mismatched')),
	how            TEXT NOT NULL,
	instructed_fen BIGINT NOT NULL,
	bank_fen       BIGINT NOT NULL,
	statement      TEXT COLLATE "C" NOT NULL REFERENCES recon_statements (id),
	made_ns        BIGINT NOT NULL,
	CHECK ((state = 'matched') = (instructed_fen = bank_fen))
);

CREATE TABLE recon_instructions (
	end_to_end_id TEXT COLLATE "C" PRIMARY KEY CHECK (length(end_to_end_id) BETWEEN 1 AND 35),
	cycle_day     BIGINT NOT NULL,
	message_id    TEXT NOT NULL,
	party         TEXT NOT NULL,
	name          TEXT NOT NULL,
	account       TEXT NOT NULL,
	amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
	due_day       BIGINT NOT NULL,
	remittance    TEXT NOT NULL,
	match_id      BIGINT REFERENCES recon_matches (id)
);
CREATE INDEX recon_instructions_open ON recon_instructions (end_to_end_id) WHERE match_id IS NULL;

CREATE TABLE recon_movements (
	id         BIGINT PRIMARY KEY,
	statement  TEXT COLLATE "C" NOT NULL REFERENCES recon_statements (id),
	seq        BIGINT NOT NULL CHECK (seq > 0),
	direction  TEXT NOT NULL CHECK (direction IN ('DBIT', 'CRDT')),
	amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
	booked_day BIGINT NOT NULL,
	value_day  BIGINT NOT NULL,
	bank_ref   TEXT NOT NULL,
	info       TEXT NOT NULL,
	parts      TEXT NOT NULL,
	match_id   BIGINT REFERENCES recon_matches (id),
	UNIQUE (statement, seq)
);
CREATE INDEX recon_movements_open ON recon_movements (id) WHERE match_id IS NULL;

CREATE TABLE recon_resolutions (
	finding  TEXT COLLATE "C" PRIMARY KEY CHECK (length(finding) BETWEEN 1 AND 40),
	decision TEXT NOT NULL CHECK (decision IN ('corrected', 'accepted', 'not_ours', 'written_off')),
	note     TEXT NOT NULL CHECK (length(note) >= 1),
	by_staff TEXT NOT NULL CHECK (length(by_staff) >= 1),
	point    TEXT NOT NULL CHECK (length(point) >= 1),
	at_ns    BIGINT NOT NULL
);

CREATE FUNCTION recon_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'recon: % is append-only: nothing of it is changed or removed', TG_TABLE_NAME;
END $$;
CREATE TRIGGER recon_statements_append_only BEFORE UPDATE OR DELETE ON recon_statements FOR EACH ROW EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_statements_no_truncate BEFORE TRUNCATE ON recon_statements FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_matches_append_only BEFORE UPDATE OR DELETE ON recon_matches FOR EACH ROW EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_matches_no_truncate BEFORE TRUNCATE ON recon_matches FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_resolutions_append_only BEFORE UPDATE OR DELETE ON recon_resolutions FOR EACH ROW EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_resolutions_no_truncate BEFORE TRUNCATE ON recon_resolutions FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only();

-- An instruction's or a movement's match is set once; nothing else of
-- either changes, and neither is removed.
CREATE FUNCTION recon_match_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.match_id IS NOT NULL
		OR (to_jsonb(OLD) - 'match_id') IS DISTINCT FROM (to_jsonb(NEW) - 'match_id') THEN
		RAISE EXCEPTION 'recon: % rows are never changed: only their match is set, once', TG_TABLE_NAME;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER recon_instructions_once BEFORE UPDATE OR DELETE ON recon_instructions FOR EACH ROW EXECUTE FUNCTION recon_match_once();
CREATE TRIGGER recon_instructions_no_truncate BEFORE TRUNCATE ON recon_instructions FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only();
CREATE TRIGGER recon_movements_once BEFORE UPDATE OR DELETE ON recon_movements FOR EACH ROW EXECUTE FUNCTION recon_match_once();
CREATE TRIGGER recon_movements_no_truncate BEFORE TRUNCATE ON recon_movements FOR EACH STATEMENT EXECUTE FUNCTION recon_append_only();
