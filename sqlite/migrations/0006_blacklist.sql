-- 0006: the blacklist, as the append-only log of its changes; the list is
-- the replay of the log (package blacklist).
CREATE TABLE blacklist_changes (
	version INTEGER PRIMARY KEY CHECK (version > 0),
	issuer  TEXT NOT NULL CHECK (length(issuer) = 16),
	asn     TEXT NOT NULL CHECK (length(asn) = 20),
	added   INTEGER NOT NULL CHECK (added IN (0, 1)),
	reason  TEXT NOT NULL,
	by_whom TEXT NOT NULL,
	at_ns   INTEGER NOT NULL
) STRICT;

CREATE TRIGGER blacklist_changes_no_update BEFORE UPDATE ON blacklist_changes
BEGIN SELECT RAISE(ABORT, 'the blacklist log is append-only'); END;
CREATE TRIGGER blacklist_changes_no_delete BEFORE DELETE ON blacklist_changes
BEGIN SELECT RAISE(ABORT, 'the blacklist log is append-only'); END;
