-- 0012: the versions of the operators' and merchants' fee schedules.
--
-- One row per version: the party, the day it takes effect (days since
-- 1970-01-01) and the schedule in the fee file format (clearing.DecodeFees:
-- the header and the version's rules), who set it and when (Unix
-- nanoseconds). A version is never changed or removed: a new schedule is
-- a new version.
CREATE TABLE clearing_fee_versions (
	party         TEXT NOT NULL CHECK (length(party) BETWEEN 1 AND 32),
	effective_day INTEGER NOT NULL,
	schedule      TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	set_ns        INTEGER NOT NULL,
	PRIMARY KEY (party, effective_day)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER clearing_fee_versions_no_update BEFORE UPDATE ON clearing_fee_versions
BEGIN SELECT RAISE(ABORT, 'a fee schedule version is never changed: set a new one'); END;
CREATE TRIGGER clearing_fee_versions_no_delete BEFORE DELETE ON clearing_fee_versions
BEGIN SELECT RAISE(ABORT, 'fee schedule versions are never removed'); END;
