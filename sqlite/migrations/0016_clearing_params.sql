-- 0016: the versions of the concession shares, the commission schedules
-- and the net debit caps (clearing.ParamStore).
--
-- One row per version: its kind (concession, commission, debit_cap), the
-- party it is of (the funder, the channel, the capped party), the day it
-- takes effect (days since 1970-01-01) and its text in its file format
-- (clearing.DecodeConcessions, the fee file format, clearing.DecodeCaps:
-- the header and the version's lines), who set it and when (Unix
-- nanoseconds). A version is never changed or removed: a new one is a
-- new version.
CREATE TABLE clearing_param_versions (
	kind          TEXT NOT NULL CHECK (kind IN ('concession', 'commission', 'debit_cap')),
	party         TEXT NOT NULL CHECK (length(party) BETWEEN 1 AND 32),
	effective_day INTEGER NOT NULL,
	body          TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	set_ns        INTEGER NOT NULL,
	PRIMARY KEY (kind, party, effective_day)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER clearing_param_versions_no_update BEFORE UPDATE ON clearing_param_versions
BEGIN SELECT RAISE(ABORT, 'a clearing parameter version is never changed: set a new one'); END;
CREATE TRIGGER clearing_param_versions_no_delete BEFORE DELETE ON clearing_param_versions
BEGIN SELECT RAISE(ABORT, 'clearing parameter versions are never removed'); END;
