-- 0027: failed logins (package cms); see the SQLite store's 0027.
CREATE TABLE cms_login_failures (
	subject         TEXT PRIMARY KEY CHECK (length(subject) BETWEEN 1 AND 128),
	failures        INTEGER NOT NULL CHECK (failures > 0),
	first_ns        BIGINT NOT NULL,
	locked_until_ns BIGINT NOT NULL
);
CREATE INDEX cms_login_failures_first ON cms_login_failures (first_ns);
