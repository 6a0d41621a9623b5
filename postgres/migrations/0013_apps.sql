-- 0013: application systems (package apps); see the SQLite store's 0013.
-- IDs COLLATE "C": listed bytewise, as on SQLite.
CREATE TABLE apps_apps (
	id         TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	scope      BIGINT NOT NULL CHECK (scope BETWEEN 0 AND 4294967295),
	party      TEXT NOT NULL,
	credential TEXT NOT NULL UNIQUE CHECK (length(credential) = 64),
	webhook_url    TEXT NOT NULL,
	webhook_secret TEXT NOT NULL,
	created_ns BIGINT NOT NULL,
	UNIQUE (kind, scope)
);

CREATE TABLE apps_grants (
	app        TEXT COLLATE "C" NOT NULL REFERENCES apps_apps (id),
	issuer     TEXT NOT NULL CHECK (length(issuer) = 16),
	asn        TEXT NOT NULL CHECK (length(asn) = 20),
	kind       TEXT NOT NULL,
	scope      BIGINT NOT NULL,
	valid_from TEXT NOT NULL CHECK (length(valid_from) = 8),
	valid_to   TEXT NOT NULL CHECK (length(valid_to) = 8),
	class      INTEGER NOT NULL,
	limit_n    INTEGER NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('active', 'revoked', 'blocked')),
	changed_ns BIGINT NOT NULL,
	PRIMARY KEY (app, issuer, asn)
);
CREATE INDEX apps_grants_card ON apps_grants (issuer, asn);

CREATE TABLE apps_files (
	issuer  TEXT NOT NULL,
	asn     TEXT NOT NULL,
	version BIGINT NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
	PRIMARY KEY (issuer, asn)
);

-- The webhook outbox: each lifecycle event for each application, queued
-- in the transaction that changed the grants and moved the cursor over
-- card management's audit log (apps_cursor, one row).
CREATE TABLE apps_outbox (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app          TEXT NOT NULL REFERENCES apps_apps (id),
	key          TEXT NOT NULL UNIQUE,
	type         TEXT NOT NULL,
	body         TEXT NOT NULL,
	attempts     BIGINT NOT NULL,
	next_ns      BIGINT NOT NULL,
	delivered_ns BIGINT NOT NULL,
	failed       BIGINT NOT NULL CHECK (failed IN (0, 1))
);
CREATE INDEX apps_outbox_due ON apps_outbox (next_ns) WHERE delivered_ns = 0 AND failed = 0;

CREATE TABLE apps_cursor (
	one      BIGINT PRIMARY KEY CHECK (one = 1),
	audit_seq BIGINT NOT NULL
);

-- Each application's accepted records (check-ins, admissions, loans),
-- filed from the acquisition journal by their kind and scope up to a
-- cursor (apps_records_cursor, one row) moved in the same transaction.
CREATE TABLE apps_records (
	pos          BIGINT PRIMARY KEY,
	app          TEXT NOT NULL REFERENCES apps_apps (id),
	issuer       TEXT NOT NULL,
	asn          TEXT NOT NULL,
	terminal     TEXT NOT NULL,
	terminal_seq BIGINT NOT NULL,
	action       BIGINT NOT NULL,
	date         TEXT NOT NULL,
	time         TEXT NOT NULL,
	place        BIGINT NOT NULL,
	uses         BIGINT NOT NULL,
	counter      BIGINT NOT NULL
);
CREATE INDEX apps_records_app ON apps_records (app, pos);
CREATE INDEX apps_records_day ON apps_records (app, date);

CREATE TABLE apps_records_cursor (
	one BIGINT PRIMARY KEY CHECK (one = 1),
	pos BIGINT NOT NULL
);
