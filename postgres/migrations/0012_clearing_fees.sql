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
