-- 0011: staff accounts (package cms): each with its role and service
-- point and the bcrypt hash of its password; their sessions, kept by the
-- SHA-256 of the token; the requests that need a second person's
-- approval. Changes to the first and the last are in cms_audit.
CREATE TABLE cms_staff (
	name          TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
	role          TEXT NOT NULL,
	service_point TEXT NOT NULL,
	point_type    TEXT NOT NULL,
	disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	password_hash TEXT NOT NULL,
	created_ns    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE cms_staff_sessions (
	token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
	name       TEXT NOT NULL REFERENCES cms_staff (name),
	expires_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_staff_sessions_expires ON cms_staff_sessions (expires_ns);

CREATE TABLE cms_approvals (
	id           INTEGER PRIMARY KEY CHECK (id > 0),
	action       TEXT NOT NULL,
	subject      TEXT NOT NULL,
	request      TEXT NOT NULL,
	amount_fen   INTEGER NOT NULL,
	requested_by TEXT NOT NULL REFERENCES cms_staff (name),
	requested_ns INTEGER NOT NULL,
	state        TEXT NOT NULL,
	decided_by   TEXT NOT NULL,
	decided_ns   INTEGER NOT NULL
) STRICT;

-- Cardholders' own credentials for self service (the app, the website):
-- the bcrypt hash of each one's password, and their sessions.
CREATE TABLE cms_holder_accounts (
	holder        INTEGER PRIMARY KEY REFERENCES cms_holders (id),
	password_hash TEXT NOT NULL,
	created_ns    INTEGER NOT NULL
) STRICT;

CREATE TABLE cms_holder_sessions (
	token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
	holder     INTEGER NOT NULL REFERENCES cms_holder_accounts (holder),
	expires_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_holder_sessions_expires ON cms_holder_sessions (expires_ns);
