-- 0010: what clearing reads of the journal, and the cycles (see the
-- SQLite store's 0010: the same tables).
CREATE TABLE acquire_chunk_totals (
	first_pos  BIGINT PRIMARY KEY CHECK (first_pos > 0),
	n          INTEGER NOT NULL CHECK (n > 0),
	amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
	at_ns      BIGINT NOT NULL
);

CREATE TABLE acquire_greys (
	pos        BIGINT NOT NULL CHECK (pos > 0),
	idx        INTEGER NOT NULL CHECK (idx >= 0),
	move       TEXT NOT NULL CHECK (move IN ('confirmed', 'released', 'reversed')),
	terminal   TEXT NOT NULL CHECK (length(terminal) = 12),
	seq        BIGINT NOT NULL,
	issuer     TEXT NOT NULL CHECK (length(issuer) = 16),
	asn        TEXT NOT NULL CHECK (length(asn) = 20),
	counter    INTEGER NOT NULL,
	card_type  INTEGER NOT NULL,
	product    INTEGER NOT NULL,
	amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
	PRIMARY KEY (pos, idx)
);

CREATE TRIGGER acquire_chunk_totals_append_only BEFORE UPDATE OR DELETE ON acquire_chunk_totals
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_chunk_totals_no_truncate BEFORE TRUNCATE ON acquire_chunk_totals
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_greys_append_only BEFORE UPDATE OR DELETE ON acquire_greys
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER acquire_greys_no_truncate BEFORE TRUNCATE ON acquire_greys
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();

CREATE TABLE clearing_cycles (
	day         INTEGER PRIMARY KEY,
	state       TEXT NOT NULL CHECK (state IN ('opened', 'computed', 'reviewed', 'approved', 'closed')),
	cutoff_ns   BIGINT NOT NULL,
	range_from  BIGINT NOT NULL CHECK (range_from >= 0),
	range_to    BIGINT NOT NULL CHECK (range_to >= range_from),
	opened_ns   BIGINT NOT NULL,
	computed_ns BIGINT NOT NULL,
	computed_by TEXT NOT NULL,
	reviewed_ns BIGINT NOT NULL,
	reviewed_by TEXT NOT NULL,
	approved_ns BIGINT NOT NULL,
	approved_by TEXT NOT NULL,
	closed_ns   BIGINT NOT NULL,
	closed_by   TEXT NOT NULL,
	result      BYTEA,
	files       BYTEA,
	CHECK (state <> 'closed' OR (closed_ns <> 0 AND result IS NOT NULL AND files IS NOT NULL))
);

-- A closed cycle is immutable, and no cycle is ever removed.
CREATE FUNCTION clearing_cycle_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		RAISE EXCEPTION 'cycles are never removed';
	END IF;
	RAISE EXCEPTION 'a closed cycle is immutable';
END $$;
CREATE TRIGGER clearing_cycles_closed BEFORE UPDATE ON clearing_cycles
	FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION clearing_cycle_closed();
CREATE TRIGGER clearing_cycles_no_delete BEFORE DELETE ON clearing_cycles
	FOR EACH ROW EXECUTE FUNCTION clearing_cycle_closed();
CREATE TRIGGER clearing_cycles_no_truncate BEFORE TRUNCATE ON clearing_cycles
	FOR EACH STATEMENT EXECUTE FUNCTION clearing_cycle_closed();
