-- 0008: card management (package cms); see the SQLite store's 0008.
CREATE TABLE cms_holders (
	id         BIGINT PRIMARY KEY CHECK (id > 0),
	lookup     TEXT NOT NULL UNIQUE CHECK (length(lookup) = 64),
	ciphertext BYTEA NOT NULL
);

CREATE TABLE cms_cards (
	issuer       TEXT NOT NULL CHECK (length(issuer) = 16),
	asn          TEXT NOT NULL CHECK (length(asn) = 20),
	product      TEXT NOT NULL,
	holder       BIGINT REFERENCES cms_holders (id),
	state        TEXT NOT NULL,
	version      BIGINT NOT NULL CHECK (version > 0),
	applied_ns   BIGINT NOT NULL,
	issued_ns    BIGINT NOT NULL,
	lost_ns      BIGINT NOT NULL,
	closed_ns    BIGINT NOT NULL,
	expiry       TEXT NOT NULL,
	review_due   TEXT NOT NULL,
	replaced_by  TEXT NOT NULL,
	replaces     TEXT NOT NULL,
	state_before TEXT NOT NULL,
	PRIMARY KEY (issuer, asn)
);
CREATE INDEX cms_cards_holder ON cms_cards (holder) WHERE holder IS NOT NULL;

CREATE TABLE cms_audit (
	seq           BIGINT PRIMARY KEY CHECK (seq > 0),
	at_ns         BIGINT NOT NULL,
	actor         TEXT NOT NULL,
	service_point TEXT NOT NULL,
	subject       TEXT NOT NULL,
	action        TEXT NOT NULL,
	before        TEXT NOT NULL,
	after         TEXT NOT NULL,
	hash          TEXT NOT NULL CHECK (length(hash) = 64)
);

CREATE TRIGGER cms_audit_append_only BEFORE UPDATE OR DELETE ON cms_audit
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER cms_audit_no_truncate BEFORE TRUNCATE ON cms_audit
	FOR EACH STATEMENT EXECUTE FUNCTION acquire_append_only();

CREATE TABLE cms_operations (
	key        TEXT PRIMARY KEY,
	input_hash TEXT NOT NULL CHECK (length(input_hash) = 64),
	at_ns      BIGINT NOT NULL
);

CREATE TABLE cms_flows (
	seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	op_key    TEXT NOT NULL REFERENCES cms_operations (key),
	n         INTEGER NOT NULL CHECK (n >= 0),
	asn       TEXT NOT NULL CHECK (length(asn) = 20),
	flow_type TEXT NOT NULL,
	fen       BIGINT NOT NULL,
	UNIQUE (op_key, n)
);
CREATE INDEX cms_flows_asn ON cms_flows (asn);

CREATE TRIGGER cms_operations_append_only BEFORE UPDATE OR DELETE ON cms_operations
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
CREATE TRIGGER cms_flows_append_only BEFORE UPDATE OR DELETE ON cms_flows
	FOR EACH ROW EXECUTE FUNCTION acquire_append_only();
