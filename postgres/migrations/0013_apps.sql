-- 0013: application systems (package apps); see the SQLite store's 0013.
-- IDs COLLATE "C": listed bytewise, as on SQLite.
CREATE TABLE apps_apps (
	id         TEXT COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	scope      BIGINT NOT NULL CHECK (scope BETWEEN 0 AND 4294967295),
	party      TEXT NOT NULL,
	credential TEXT NOT NULL UNIQUE CHECK (length(credential) = 64),
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
