-- 0028 (as the SQLite store's 0028): our own error (差错) and dispute
-- (争议) cases (interop.Case).
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
	day           BIGINT NOT NULL,
	ref_file      TEXT NOT NULL REFERENCES interop_files (id),
	ref_seq       BIGINT NOT NULL CHECK (ref_seq > 0),
	credit        BIGINT NOT NULL CHECK (credit IN (0, 1)),
	amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0 AND amount_fen <= 4294967295),
	reason        BIGINT NOT NULL CHECK (reason > 0),
	note          TEXT NOT NULL,
	raised_by     TEXT NOT NULL CHECK (raised_by <> ''),
	at_ns         BIGINT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
	answer_reason BIGINT NOT NULL,
	answered_by   TEXT NOT NULL,
	CHECK ((state = 'pending') = (answered_by = '')),
	CHECK (file_type = 'ERR' OR credit = 0)
);
CREATE UNIQUE INDEX interop_cases_record ON interop_cases (file_type, ref_file, ref_seq);
CREATE INDEX interop_cases_day ON interop_cases (file_type, day, at_ns, ref);

-- A case is never removed, and changes once: its answer.
CREATE FUNCTION interop_cases_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.ref IS DISTINCT FROM NEW.ref
		OR OLD.input_sha256 IS DISTINCT FROM NEW.input_sha256 OR OLD.file_type IS DISTINCT FROM NEW.file_type OR OLD.day IS DISTINCT FROM NEW.day
		OR OLD.ref_file IS DISTINCT FROM NEW.ref_file OR OLD.ref_seq IS DISTINCT FROM NEW.ref_seq OR OLD.credit IS DISTINCT FROM NEW.credit
		OR OLD.amount_fen IS DISTINCT FROM NEW.amount_fen OR OLD.reason IS DISTINCT FROM NEW.reason OR OLD.note IS DISTINCT FROM NEW.note
		OR OLD.raised_by IS DISTINCT FROM NEW.raised_by OR OLD.at_ns IS DISTINCT FROM NEW.at_ns THEN
		RAISE EXCEPTION 'an error or dispute case is never changed or removed: only a pending one is answered, once';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER interop_cases_once BEFORE UPDATE OR DELETE ON interop_cases FOR EACH ROW EXECUTE FUNCTION interop_cases_once();
CREATE TRIGGER interop_cases_no_truncate BEFORE TRUNCATE ON interop_cases FOR EACH STATEMENT EXECUTE FUNCTION interop_cases_once();

-- The registry's parties take a third type, funder (registry.PartyFunder:
-- the transport bureau that funds concessions).
ALTER TABLE parties DROP CONSTRAINT parties_role_check;
ALTER TABLE parties ADD CONSTRAINT parties_role_check CHECK (role IN ('issuer', 'operator', 'funder'));
