-- 0030: a school's calendar and a replacement's carried loans (package
-- apps). A school's calendar lists its holidays (school 0: weekdays with
-- no school) and make-up days (school 1: a Saturday or Sunday of school,
-- 调休); any other weekday is a school day (apps.Calendar).
CREATE TABLE apps_calendar (
	app    TEXT NOT NULL REFERENCES apps_apps (id),
	date   TEXT NOT NULL CHECK (length(date) = 8),
	school INTEGER NOT NULL CHECK (school IN (0, 1)),
	PRIMARY KEY (app, date)
) STRICT, WITHOUT ROWID;

-- The use a grant's card starts a new entitlement file with: a
-- replacement's library loans out, carried from the old card's last
-- record (apps.Office.Follow); 0 otherwise.
ALTER TABLE apps_grants ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;

-- A card's records of an application, by its counter (Store.LastRecord).
CREATE INDEX apps_records_card ON apps_records (issuer, asn, app, counter);
