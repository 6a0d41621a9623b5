-- 0029: the application rules of the back office (package apps).
-- A record's flag: what the back office saw on filing it, kept with it
-- (a canteen purchase past the pupil's daily limit: canteen_limit).
ALTER TABLE apps_records ADD COLUMN flag TEXT NOT NULL DEFAULT '';

-- A venue's periods of the day, each with its capacity of admissions
-- (apps.Office.SetPeriods); start and end are BCD times in hex, as
-- apps_records.time, so the admissions of a period are a range of it.
CREATE TABLE apps_periods (
	app      TEXT NOT NULL REFERENCES apps_apps (id),
	start    TEXT NOT NULL,
	end_time TEXT NOT NULL,
	capacity INTEGER NOT NULL CHECK (capacity > 0),
	PRIMARY KEY (app, start)
) STRICT, WITHOUT ROWID;
