-- 0012 (as the SQLite store's 0012): the versions of the operators' and merchants' fee schedules.
--
-- One row per version: the party, the day it takes effect (days since
-- 1970-01-01) and the schedule in the fee file format (clearing.DecodeFees:
-- the header and the version's rules), who set it and when (Unix
-- nanoseconds). A version is never changed or removed: a new schedule is
-- a new version.
CREATE TABLE clearing_fee_versions (
	party         TEXT NOT NULL CHECK (length(party) BETWEEN 1 AND 32),
	effective_day BIGINT NOT NULL,
	schedule      TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	set_ns        BIGINT NOT NULL,
	PRIMARY KEY (party, effective_day)
);

CREATE FUNCTION clearing_fee_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'fee schedule versions are never changed or removed: set a new one';
END $$;
CREATE TRIGGER clearing_fee_versions_append_only BEFORE UPDATE OR DELETE ON clearing_fee_versions
	FOR EACH ROW EXECUTE FUNCTION clearing_fee_versions_append_only();
CREATE TRIGGER clearing_fee_versions_no_truncate BEFORE TRUNCATE ON clearing_fee_versions
	FOR EACH STATEMENT EXECUTE FUNCTION clearing_fee_versions_append_only();

-- The adjustments (see the SQLite store's 0012).
CREATE TABLE clearing_adjustments (
	ref         TEXT PRIMARY KEY CHECK (length(ref) BETWEEN 1 AND 64),
	of_day      BIGINT NOT NULL,
	payer       TEXT NOT NULL,
	payee       TEXT NOT NULL CHECK (payee <> payer),
	amount_fen  BIGINT NOT NULL CHECK (amount_fen > 0),
	reason      TEXT NOT NULL,
	entered_by  TEXT NOT NULL,
	entered_ns  BIGINT NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	approved_ns BIGINT NOT NULL DEFAULT 0,
	taken_day   BIGINT,
	CHECK (approved_by <> entered_by),
	CHECK (taken_day IS NULL OR (approved_by <> '' AND taken_day > of_day))
);

CREATE FUNCTION clearing_adjustments_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.ref IS DISTINCT FROM NEW.ref OR OLD.of_day IS DISTINCT FROM NEW.of_day OR OLD.payer IS DISTINCT FROM NEW.payer
		OR OLD.payee IS DISTINCT FROM NEW.payee OR OLD.amount_fen IS DISTINCT FROM NEW.amount_fen OR OLD.reason IS DISTINCT FROM NEW.reason
		OR OLD.entered_by IS DISTINCT FROM NEW.entered_by OR OLD.entered_ns IS DISTINCT FROM NEW.entered_ns
		OR (OLD.approved_by <> '' AND (OLD.approved_by IS DISTINCT FROM NEW.approved_by OR OLD.approved_ns IS DISTINCT FROM NEW.approved_ns))
		OR (OLD.taken_day IS NOT NULL AND OLD.taken_day IS DISTINCT FROM NEW.taken_day) THEN
		RAISE EXCEPTION 'an adjustment is never changed or removed: only its approval and the cycle taking it are set, once';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER clearing_adjustments_once BEFORE UPDATE OR DELETE ON clearing_adjustments
	FOR EACH ROW EXECUTE FUNCTION clearing_adjustments_once();
CREATE TRIGGER clearing_adjustments_no_truncate BEFORE TRUNCATE ON clearing_adjustments
	FOR EACH STATEMENT EXECUTE FUNCTION clearing_adjustments_once();
