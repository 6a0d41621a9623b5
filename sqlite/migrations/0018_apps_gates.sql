-- 0018: application systems, part two (package apps).
--
-- What each application's gates require of a card's entitlement file:
-- the file version at which the application's grant on the card last
-- changed, one row an application and card, renumbered from one counter
-- (apps_gate_seq) at each change, so that a gate downloads the changes
-- after the last number it holds. Every writer of grants takes the
-- counter first, so that numbers are committed in their order.
CREATE TABLE apps_gate_versions (
	app     TEXT NOT NULL REFERENCES apps_apps (id),
	issuer  TEXT NOT NULL CHECK (length(issuer) = 16),
	asn     TEXT NOT NULL CHECK (length(asn) = 20),
	version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
	seq     INTEGER NOT NULL UNIQUE,
	PRIMARY KEY (app, issuer, asn)
) STRICT, WITHOUT ROWID;
CREATE INDEX apps_gate_versions_app ON apps_gate_versions (app, seq);

CREATE TABLE apps_gate_seq (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	seq INTEGER NOT NULL
) STRICT;

-- The grants kept so far, at their card's version now.
INSERT INTO apps_gate_versions (app, issuer, asn, version, seq)
	SELECT g.app, g.issuer, g.asn, f.version, row_number() OVER (ORDER BY g.app, g.issuer, g.asn)
	FROM apps_grants g JOIN apps_files f ON f.issuer = g.issuer AND f.asn = g.asn;
INSERT INTO apps_gate_seq (one, seq) SELECT 1, count(*) FROM apps_gate_versions;

-- Card management's audit records Follow could not apply (a subject or
-- a snapshot that does not parse): kept with the reason, reported, and
-- passed over with the cursor in the transaction that stores them.
CREATE TABLE apps_quarantine (
	audit_seq INTEGER PRIMARY KEY,
	subject   TEXT NOT NULL,
	action    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at_ns     INTEGER NOT NULL
) STRICT;

-- Each application's position in the acquisition journal: one reader
-- files every application's records, and an application added later
-- starts at 0, so that its gates' records filed before it existed are
-- not passed over. The one cursor of 0013 becomes each application's.
CREATE TABLE apps_records_cursors (
	app TEXT PRIMARY KEY REFERENCES apps_apps (id),
	pos INTEGER NOT NULL CHECK (pos >= 0)
) STRICT, WITHOUT ROWID;
INSERT INTO apps_records_cursors (app, pos)
	SELECT a.id, c.pos FROM apps_apps a, apps_records_cursor c WHERE c.one = 1;
DROP TABLE apps_records_cursor;
