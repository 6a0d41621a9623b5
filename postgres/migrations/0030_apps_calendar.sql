-- 0030: a school's calendar and a replacement's carried loans; see the
-- SQLite store's 0030.
CREATE TABLE apps_calendar (
	app    TEXT COLLATE "C" NOT NULL REFERENCES apps_apps (id),
	date   TEXT COLLATE "C" NOT NULL CHECK (length(date) = 8),
	school SMALLINT NOT NULL CHECK (school IN (0, 1)),
	PRIMARY KEY (app, date)
);

ALTER TABLE apps_grants ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;

CREATE INDEX apps_records_card ON apps_records (issuer, asn, app, counter);
