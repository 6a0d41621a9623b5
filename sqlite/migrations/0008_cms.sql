-- 0008: card management (package cms): cardholders, only in their
-- protected form (the ciphertext of their personal data and the keyed
-- look-up hash of their document), cards, and the append-only,
-- hash-chained audit log of every change to either.
CREATE TABLE cms_holders (
	id         INTEGER PRIMARY KEY CHECK (id > 0),
	lookup     TEXT NOT NULL UNIQUE CHECK (length(lookup) = 64),
	ciphertext BLOB NOT NULL
) STRICT;

CREATE TABLE cms_cards (
	issuer       TEXT NOT NULL CHECK (length(issuer) = 16),
	asn          TEXT NOT NULL CHECK (length(asn) = 20),
	product      TEXT NOT NULL,
	holder       INTEGER REFERENCES cms_holders (id),
	state        TEXT NOT NULL,
	version      INTEGER NOT NULL CHECK (version > 0),
	applied_ns   INTEGER NOT NULL,
	issued_ns    INTEGER NOT NULL,
	lost_ns      INTEGER NOT NULL,
	closed_ns    INTEGER NOT NULL,
	expiry       TEXT NOT NULL,
	review_due   TEXT NOT NULL,
	replaced_by  TEXT NOT NULL,
	replaces     TEXT NOT NULL,
	state_before TEXT NOT NULL,
	PRIMARY KEY (issuer, asn)
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_cards_holder ON cms_cards (holder) WHERE holder IS NOT NULL;

CREATE TABLE cms_audit (
	seq           INTEGER PRIMARY KEY CHECK (seq > 0),
	at_ns         INTEGER NOT NULL,
	actor         TEXT NOT NULL,
	service_point TEXT NOT NULL,
	subject       TEXT NOT NULL,
	action        TEXT NOT NULL,
	before        TEXT NOT NULL,
	after         TEXT NOT NULL,
	hash          TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;

CREATE TRIGGER cms_audit_no_update BEFORE UPDATE ON cms_audit
BEGIN SELECT RAISE(ABORT, 'cms: the audit log is append-only'); END;
CREATE TRIGGER cms_audit_no_delete BEFORE DELETE ON cms_audit
BEGIN SELECT RAISE(ABORT, 'cms: the audit log is append-only'); END;

-- Money operations: each key once, with the hash of its request; the
-- flows of the cards it moved (the per-card terms of conservation). The
-- ledger entries are in the ledger, under keys derived from the key.
CREATE TABLE cms_operations (
	key        TEXT PRIMARY KEY,
	input_hash TEXT NOT NULL CHECK (length(input_hash) = 64),
	at_ns      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE cms_flows (
	seq       INTEGER PRIMARY KEY,
	op_key    TEXT NOT NULL REFERENCES cms_operations (key),
	n         INTEGER NOT NULL CHECK (n >= 0),
	asn       TEXT NOT NULL CHECK (length(asn) = 20),
	flow_type TEXT NOT NULL,
	fen       INTEGER NOT NULL,
	UNIQUE (op_key, n)
) STRICT;
CREATE INDEX cms_flows_asn ON cms_flows (asn);

CREATE TRIGGER cms_operations_no_update BEFORE UPDATE ON cms_operations
BEGIN SELECT RAISE(ABORT, 'cms: operations are append-only'); END;
CREATE TRIGGER cms_operations_no_delete BEFORE DELETE ON cms_operations
BEGIN SELECT RAISE(ABORT, 'cms: operations are append-only'); END;
CREATE TRIGGER cms_flows_no_update BEFORE UPDATE ON cms_flows
BEGIN SELECT RAISE(ABORT, 'cms: flows are append-only'); END;
CREATE TRIGGER cms_flows_no_delete BEFORE DELETE ON cms_flows
BEGIN SELECT RAISE(ABORT, 'cms: flows are append-only'); END;
