-- 0027: failed logins (package cms), per subject ("staff:NAME", or
-- "holder:" and a cardholder's document look-up hash): the failures
-- counted in the window, when the window's first failure was, and the
-- instant the subject is refused until (0: not refused), so that a
-- restart or a second process keeps the count and the lock. A row whose
-- window is over is dropped at the next failure written.
CREATE TABLE cms_login_failures (
	subject         TEXT PRIMARY KEY CHECK (length(subject) BETWEEN 1 AND 128),
	failures        INTEGER NOT NULL CHECK (failures > 0),
	first_ns        INTEGER NOT NULL,
	locked_until_ns INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_login_failures_first ON cms_login_failures (first_ns);
