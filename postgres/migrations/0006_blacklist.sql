-- 0006: the blacklist, as the append-only log of its changes (see the
-- SQLite store's 0006).
CREATE TABLE blacklist_changes (
	version BIGINT PRIMARY KEY CHECK (version > 0),
	issuer  TEXT NOT NULL CHECK (length(issuer) = 16),
	asn     TEXT NOT NULL CHECK (length(asn) = 20),
	added   BOOLEAN NOT NULL,
	reason  TEXT NOT NULL,
	by_whom TEXT NOT NULL,
	at_ns   BIGINT NOT NULL
);

CREATE TRIGGER blacklist_changes_append_only BEFORE UPDATE OR DELETE ON blacklist_changes
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER blacklist_changes_no_truncate BEFORE TRUNCATE ON blacklist_changes
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();
