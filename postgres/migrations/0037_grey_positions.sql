-- 0037 (as the SQLite store's 0037): a grey decision names the grey
-- record's own journal position (acquire.GreyDecision.GreyPos), and an
-- OUT file's record the grey record it sends (interop.Rec.GreyPos), each
-- grey sent once. The decisions stored before get their grey's position
-- from the journal: the entry of outcome grey (3) and class suspense (2)
-- of the decision's card, counter, terminal and terminal sequence at or
-- before the decision's position, read from the chunks of the terminals
-- with grey decisions only (a chunk's terminal is its records'); one not
-- found keeps 0, which the interconnection refuses to send. The
-- append-only trigger is off for the backfill, in this migration's
-- transaction only.
ALTER TABLE acquire_greys ADD COLUMN grey_pos BIGINT NOT NULL DEFAULT 0 CHECK (grey_pos >= 0);

ALTER TABLE acquire_greys DISABLE TRIGGER acquire_greys_append_only;
WITH e AS MATERIALIZED (
	-- The layout's offsets (record/doc.go) after the entry's 4 bytes
	-- (outcome, class, flags): issuer at 5, ASN at 13, counter at 27,
	-- terminal at 37, terminal sequence at 53; substring counts from 1.
	SELECT j.first_pos + k AS pos, j.terminal,
		substring(j.data FROM k * 108 + 58 FOR 4) AS seq, upper(encode(substring(j.data FROM k * 108 + 10 FOR 8), 'hex')) AS issuer,
		encode(substring(j.data FROM k * 108 + 18 FOR 10), 'hex') AS asn, substring(j.data FROM k * 108 + 32 FOR 2) AS counter,
		upper(encode(substring(j.data FROM k * 108 + 42 FOR 6), 'hex')) AS record_terminal
	FROM acquire_journal j CROSS JOIN LATERAL generate_series(0, j.n - 1) AS k
	WHERE j.terminal IN (SELECT terminal FROM acquire_greys) AND j.first_pos <= (SELECT max(pos) FROM acquire_greys)
		AND get_byte(j.data, k * 108) = 3 AND get_byte(j.data, k * 108 + 1) = 2
)
UPDATE acquire_greys g SET grey_pos = coalesce((SELECT max(e.pos) FROM e
	WHERE e.terminal = g.terminal AND e.record_terminal = g.terminal AND e.seq = decode(lpad(to_hex(g.seq), 8, '0'), 'hex') AND e.pos <= g.pos
		AND e.issuer = g.issuer AND e.asn = g.asn AND e.counter = decode(lpad(to_hex(g.counter), 4, '0'), 'hex')), 0);
ALTER TABLE acquire_greys ENABLE TRIGGER acquire_greys_append_only;

ALTER TABLE interop_records ADD COLUMN grey_pos BIGINT NOT NULL DEFAULT 0 CHECK (grey_pos >= 0);
CREATE UNIQUE INDEX interop_records_grey ON interop_records (grey_pos) WHERE grey_pos > 0;
CREATE OR REPLACE FUNCTION interop_records_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.file_id IS DISTINCT FROM NEW.file_id OR OLD.seq IS DISTINCT FROM NEW.seq
		OR OLD.out IS DISTINCT FROM NEW.out OR OLD.issuer IS DISTINCT FROM NEW.issuer OR OLD.asn IS DISTINCT FROM NEW.asn
		OR OLD.counter IS DISTINCT FROM NEW.counter OR OLD.amount_fen IS DISTINCT FROM NEW.amount_fen OR OLD.acquirer IS DISTINCT FROM NEW.acquirer
		OR OLD.terminal_type IS DISTINCT FROM NEW.terminal_type OR OLD.product IS DISTINCT FROM NEW.product OR OLD.card_type IS DISTINCT FROM NEW.card_type
		OR OLD.grey_pos IS DISTINCT FROM NEW.grey_pos THEN
		RAISE EXCEPTION 'an interconnection record is never changed or removed: only a pending one is answered, once';
	END IF;
	RETURN NEW;
END $$;
