-- 0036: the registry's parties take a fourth type, payer
-- (registry.PartyPayer: a payment company or top-up agent that collects
-- remote top-ups and owes the issuer for them in each clearing cycle).
-- SQLite changes a CHECK by rebuilding the table, as 0028 did: terminals
-- refer to parties, so they are rebuilt with it (a parent dropped under
-- its children's rows fails the foreign key), both copied as they are,
-- the copies renamed (the rename carries the terminals' reference over),
-- their indexes made again.
CREATE TABLE parties_0036 (
	id                 TEXT PRIMARY KEY,
	role               TEXT NOT NULL CHECK (role IN ('issuer', 'operator', 'funder', 'payer')),
	code               TEXT NOT NULL UNIQUE CHECK (length(code) = 16),
	sector             TEXT NOT NULL,
	name               TEXT NOT NULL,
	own                INTEGER NOT NULL CHECK (own IN (0, 1)),
	settlement_account TEXT NOT NULL,
	created_ns         INTEGER NOT NULL,
	updated_ns         INTEGER NOT NULL
) STRICT;
INSERT INTO parties_0036 (id, role, code, sector, name, own, settlement_account, created_ns, updated_ns)
	SELECT id, role, code, sector, name, own, settlement_account, created_ns, updated_ns FROM parties;
CREATE TABLE terminals_0036 (
	id          TEXT PRIMARY KEY CHECK (length(id) = 12),
	psam        TEXT NOT NULL UNIQUE CHECK (length(psam) = 20),
	operator    TEXT NOT NULL REFERENCES parties_0036 (id),
	kind        TEXT NOT NULL,
	line        INTEGER NOT NULL,
	station     INTEGER NOT NULL,
	vehicle     TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
	credential  TEXT NOT NULL, -- SHA-256 of the API token, hex; '' if none
	created_ns  INTEGER NOT NULL,
	updated_ns  INTEGER NOT NULL
) STRICT;
INSERT INTO terminals_0036 (id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns)
	SELECT id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns FROM terminals;
DROP TABLE terminals;
DROP TABLE parties;
ALTER TABLE parties_0036 RENAME TO parties;
ALTER TABLE terminals_0036 RENAME TO terminals;
CREATE UNIQUE INDEX parties_own ON parties (own) WHERE own = 1;
CREATE INDEX terminals_operator ON terminals (operator, id);
