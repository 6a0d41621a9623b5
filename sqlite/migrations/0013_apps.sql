-- 0013: application systems (package apps): each application with the
-- SHA-256 of its API token, one a kind and scope; each application's
-- grant on a card, whatever its state; each card's entitlement file
-- version, raised in the transaction of every change of its grants.
CREATE TABLE apps_apps (
	id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	scope      INTEGER NOT NULL CHECK (scope BETWEEN 0 AND 4294967295),
	party      TEXT NOT NULL,
	credential TEXT NOT NULL UNIQUE CHECK (length(credential) = 64),
	webhook_url    TEXT NOT NULL,
	webhook_secret TEXT NOT NULL,
	created_ns INTEGER NOT NULL,
	UNIQUE (kind, scope)
) STRICT, WITHOUT ROWID;

CREATE TABLE apps_grants (
	app        TEXT NOT NULL REFERENCES apps_apps (id),
	issuer     TEXT NOT NULL CHECK (length(issuer) = 16),
	asn        TEXT NOT NULL CHECK (length(asn) = 20),
	kind       TEXT NOT NULL,
	scope      INTEGER NOT NULL,
	valid_from TEXT NOT NULL CHECK (length(valid_from) = 8),
	valid_to   TEXT NOT NULL CHECK (length(valid_to) = 8),
	class      INTEGER NOT NULL,
	limit_n    INTEGER NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('active', 'revoked', 'blocked')),
	changed_ns INTEGER NOT NULL,
	PRIMARY KEY (app, issuer, asn)
) STRICT, WITHOUT ROWID;
CREATE INDEX apps_grants_card ON apps_grants (issuer, asn);

CREATE TABLE apps_files (
	issuer  TEXT NOT NULL,
	asn     TEXT NOT NULL,
	version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
	PRIMARY KEY (issuer, asn)
) STRICT, WITHOUT ROWID;

-- The webhook outbox: each lifecycle event for each application, queued
-- in the transaction that changed the grants and moved the cursor over
-- card management's audit log (apps_cursor, one row).
CREATE TABLE apps_outbox (
	id           INTEGER PRIMARY KEY,
	app          TEXT NOT NULL REFERENCES apps_apps (id),
	key          TEXT NOT NULL UNIQUE,
	type         TEXT NOT NULL,
	body         TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_ns      INTEGER NOT NULL,
	delivered_ns INTEGER NOT NULL,
	failed       INTEGER NOT NULL CHECK (failed IN (0, 1))
) STRICT;
CREATE INDEX apps_outbox_due ON apps_outbox (next_ns) WHERE delivered_ns = 0 AND failed = 0;

CREATE TABLE apps_cursor (
	one      INTEGER PRIMARY KEY CHECK (one = 1),
	audit_seq INTEGER NOT NULL
) STRICT;

-- Each application's accepted records (check-ins, admissions, loans),
-- filed from the acquisition journal by their kind and scope up to a
-- cursor (apps_records_cursor, one row) moved in the same transaction.
CREATE TABLE apps_records (
	pos          INTEGER PRIMARY KEY,
	app          TEXT NOT NULL REFERENCES apps_apps (id),
	issuer       TEXT NOT NULL,
	asn          TEXT NOT NULL,
	terminal     TEXT NOT NULL,
	terminal_seq INTEGER NOT NULL,
	action       INTEGER NOT NULL,
	date         TEXT NOT NULL,
	time         TEXT NOT NULL,
	place        INTEGER NOT NULL,
	uses         INTEGER NOT NULL,
	counter      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX apps_records_app ON apps_records (app, pos);
CREATE INDEX apps_records_day ON apps_records (app, date);

CREATE TABLE apps_records_cursor (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	pos INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
