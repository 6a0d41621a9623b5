-- 0018: application systems, part two; see the SQLite store's 0018.
CREATE TABLE apps_gate_versions (
	app     TEXT COLLATE "C" NOT NULL REFERENCES apps_apps (id),
	issuer  TEXT NOT NULL CHECK (length(issuer) = 16),
	asn     TEXT NOT NULL CHECK (length(asn) = 20),
	version BIGINT NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
	seq     BIGINT NOT NULL UNIQUE,
	PRIMARY KEY (app, issuer, asn)
);
CREATE INDEX apps_gate_versions_app ON apps_gate_versions (app, seq);

CREATE TABLE apps_gate_seq (
	one BIGINT PRIMARY KEY CHECK (one = 1),
	seq BIGINT NOT NULL
);

INSERT INTO apps_gate_versions (app, issuer, asn, version, seq)
	SELECT g.app, g.issuer, g.asn, f.version, row_number() OVER (ORDER BY g.app, g.issuer, g.asn)
	FROM apps_grants g JOIN apps_files f ON f.issuer = g.issuer AND f.asn = g.asn;
INSERT INTO apps_gate_seq (one, seq) SELECT 1, count(*) FROM apps_gate_versions;

CREATE TABLE apps_quarantine (
	audit_seq BIGINT PRIMARY KEY,
	subject   TEXT NOT NULL,
	action    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	at_ns     BIGINT NOT NULL
);

CREATE TABLE apps_records_cursors (
	app TEXT COLLATE "C" PRIMARY KEY REFERENCES apps_apps (id),
	pos BIGINT NOT NULL CHECK (pos >= 0)
);
INSERT INTO apps_records_cursors (app, pos)
	SELECT a.id, c.pos FROM apps_apps a, apps_records_cursor c WHERE c.one = 1;
DROP TABLE apps_records_cursor;
