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

-- The adjustments: corrections of closed cycles, by their reference (the
-- idempotency key). An adjustment counts once approved by a second
-- person (approved_by, approved_ns, set once); taken_day is the closed
-- cycle that took it, set in the transaction that closes that cycle, once.
-- Nothing else of a row ever changes, and no row is removed.
CREATE TABLE clearing_adjustments (
	ref         TEXT PRIMARY KEY CHECK (length(ref) BETWEEN 1 AND 64),
	of_day      INTEGER NOT NULL,
	payer       TEXT NOT NULL,
	payee       TEXT NOT NULL CHECK (payee <> payer),
	amount_fen  INTEGER NOT NULL CHECK (amount_fen > 0),
	reason      TEXT NOT NULL,
	entered_by  TEXT NOT NULL,
	entered_ns  INTEGER NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	approved_ns INTEGER NOT NULL DEFAULT 0,
	taken_day   INTEGER,
	CHECK (approved_by <> entered_by),
	CHECK (taken_day IS NULL OR (approved_by <> '' AND taken_day > of_day))
) STRICT;

CREATE TRIGGER clearing_adjustments_once BEFORE UPDATE ON clearing_adjustments
WHEN OLD.ref IS NOT NEW.ref OR OLD.of_day IS NOT NEW.of_day OR OLD.payer IS NOT NEW.payer OR OLD.payee IS NOT NEW.payee
	OR OLD.amount_fen IS NOT NEW.amount_fen OR OLD.reason IS NOT NEW.reason OR OLD.entered_by IS NOT NEW.entered_by OR OLD.entered_ns IS NOT NEW.entered_ns
	OR (OLD.approved_by <> '' AND (OLD.approved_by IS NOT NEW.approved_by OR OLD.approved_ns IS NOT NEW.approved_ns))
	OR (OLD.taken_day IS NOT NULL AND OLD.taken_day IS NOT NEW.taken_day)
BEGIN SELECT RAISE(ABORT, 'an adjustment is never changed: only its approval and the cycle taking it are set, once'); END;
CREATE TRIGGER clearing_adjustments_no_delete BEFORE DELETE ON clearing_adjustments
BEGIN SELECT RAISE(ABORT, 'adjustments are never removed'); END;
