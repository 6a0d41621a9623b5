-- 0009: the online loads of card management's load host (package cms):
-- each load's session (card, online counter, balance before, key version,
-- algorithm), its amount, terminal and channel, and where it stands
-- (unconfirmed until the card's TAC or its later records settle it). The
-- key is the operation's, whose flows and ledger entries book the money.
CREATE TABLE cms_loads (
	key                TEXT PRIMARY KEY REFERENCES cms_operations (key),
	issuer             TEXT NOT NULL CHECK (length(issuer) = 16),
	asn                TEXT NOT NULL CHECK (length(asn) = 20),
	counter            INTEGER NOT NULL CHECK (counter BETWEEN 0 AND 65535),
	amount_fen         INTEGER NOT NULL CHECK (amount_fen > 0),
	balance_before_fen INTEGER NOT NULL,
	terminal           TEXT NOT NULL CHECK (length(terminal) = 12),
	key_version        INTEGER NOT NULL,
	alg                INTEGER NOT NULL,
	channel_type       INTEGER NOT NULL,
	channel_party      TEXT NOT NULL,
	channel_ref        TEXT NOT NULL,
	authorized_ns      INTEGER NOT NULL,
	status             TEXT NOT NULL CHECK (status IN ('unconfirmed', 'confirmed', 'reversed')),
	settled_ns         INTEGER NOT NULL,
	settlement         TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_loads_card ON cms_loads (issuer, asn, authorized_ns);
CREATE INDEX cms_loads_unconfirmed ON cms_loads (key) WHERE status = 'unconfirmed';

-- A load is settled once (a reversed one may be confirmed by a late TAC),
-- and only its status and settlement change.
CREATE TRIGGER cms_loads_settled_once BEFORE UPDATE ON cms_loads
WHEN OLD.status = 'confirmed' OR (OLD.status = 'reversed' AND NEW.status <> 'confirmed') OR NEW.key <> OLD.key OR NEW.amount_fen <> OLD.amount_fen OR NEW.asn <> OLD.asn
BEGIN SELECT RAISE(ABORT, 'cms: a settled load is never changed'); END;
CREATE TRIGGER cms_loads_no_delete BEFORE DELETE ON cms_loads
BEGIN SELECT RAISE(ABORT, 'cms: loads are never deleted'); END;
