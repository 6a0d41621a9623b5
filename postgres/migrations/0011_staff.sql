-- 0011: staff accounts, sessions and approvals (package cms); see the SQLite store's 0011.
CREATE TABLE cms_staff (
	name          TEXT COLLATE "C" PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32), -- paged by name, bytewise as on SQLite
	role          TEXT NOT NULL,
	service_point TEXT NOT NULL,
	point_type    TEXT NOT NULL,
	disabled      BIGINT NOT NULL CHECK (disabled IN (0, 1)),
	password_hash TEXT NOT NULL,
	created_ns    BIGINT NOT NULL
);

CREATE TABLE cms_staff_sessions (
	token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
	name       TEXT NOT NULL REFERENCES cms_staff (name),
	expires_ns BIGINT NOT NULL
);
CREATE INDEX cms_staff_sessions_expires ON cms_staff_sessions (expires_ns);

CREATE TABLE cms_approvals (
	id           BIGINT PRIMARY KEY CHECK (id > 0),
	action       TEXT NOT NULL,
	subject      TEXT NOT NULL,
	request      TEXT NOT NULL,
	amount_fen   BIGINT NOT NULL,
	requested_by TEXT NOT NULL REFERENCES cms_staff (name),
	requested_ns BIGINT NOT NULL,
	state        TEXT NOT NULL,
	decided_by   TEXT NOT NULL,
	decided_ns   BIGINT NOT NULL
);

CREATE TABLE cms_holder_accounts (
	holder        BIGINT PRIMARY KEY REFERENCES cms_holders (id),
	password_hash TEXT NOT NULL,
	created_ns    BIGINT NOT NULL
);

CREATE TABLE cms_holder_sessions (
	token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
	holder     BIGINT NOT NULL REFERENCES cms_holder_accounts (holder),
	expires_ns BIGINT NOT NULL
);
CREATE INDEX cms_holder_sessions_expires ON cms_holder_sessions (expires_ns);
