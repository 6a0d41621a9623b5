-- 0005: the acquisition journal (see the SQLite store's 0005: the same
-- tables). A chunk holds one committed batch's entries back to back, each
-- outcome(1) kind(1) flags(2, big-endian) record(104).

CREATE TABLE acquire_batches (
	terminal   TEXT NOT NULL CHECK (length(terminal) = 12),
	batch_id   TEXT NOT NULL,
	hash       BYTEA NOT NULL CHECK (length(hash) = 32),
	answer     BYTEA NOT NULL,
	first_pos  BIGINT NOT NULL,
	n          INTEGER NOT NULL,
	ledger_key TEXT NOT NULL,
	at_ns      BIGINT NOT NULL,
	PRIMARY KEY (terminal, batch_id)
);

CREATE TABLE acquire_journal (
	first_pos BIGINT PRIMARY KEY CHECK (first_pos > 0),
	n         INTEGER NOT NULL CHECK (n > 0),
	terminal  TEXT NOT NULL,
	batch_id  TEXT NOT NULL,
	data      BYTEA NOT NULL CHECK (length(data) = n * 108)
);

CREATE TABLE acquire_rejections (
	pos      BIGSERIAL PRIMARY KEY,
	terminal TEXT NOT NULL,
	batch_id TEXT NOT NULL,
	idx      INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	detail   TEXT NOT NULL,
	raw      BYTEA NOT NULL,
	at_ns    BIGINT NOT NULL
);

CREATE INDEX acquire_rejections_terminal ON acquire_rejections (terminal, pos);

CREATE TABLE acquire_checkpoint (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	pos  BIGINT NOT NULL,
	data BYTEA NOT NULL
);

CREATE FUNCTION acquire_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;

CREATE TRIGGER acquire_journal_append_only BEFORE UPDATE OR DELETE ON acquire_journal
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_batches_append_only BEFORE UPDATE OR DELETE ON acquire_batches
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_rejections_append_only BEFORE UPDATE OR DELETE ON acquire_rejections
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_journal_no_truncate BEFORE TRUNCATE ON acquire_journal
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_batches_no_truncate BEFORE TRUNCATE ON acquire_batches
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_rejections_no_truncate BEFORE TRUNCATE ON acquire_rejections
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();
