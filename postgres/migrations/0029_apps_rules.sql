-- 0029: the application rules of the back office; see the SQLite
-- store's 0029.
ALTER TABLE apps_records ADD COLUMN flag TEXT NOT NULL DEFAULT '';

CREATE TABLE apps_periods (
	app      TEXT COLLATE "C" NOT NULL REFERENCES apps_apps (id),
	start    TEXT COLLATE "C" NOT NULL,
	end_time TEXT COLLATE "C" NOT NULL,
	capacity BIGINT NOT NULL CHECK (capacity > 0),
	PRIMARY KEY (app, start)
);
