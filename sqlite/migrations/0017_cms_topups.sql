-- 0017: remote top-ups (补登) of card management (package cms) and the
-- channel every money operation passed through.
--
-- A top-up is paid into the issuer's top-up pending account and claimed
-- on its card by an online load through channel topup_claim (type 5,
-- channel_ref the top-up's ID): the row keeps the payer's side
-- (pending, expired, refunded); the claim's side is its load's status in
-- cms_loads, so that the two never disagree. The sweep records a
-- confirmed claim as claimed, so that the pending rows stay few.
CREATE TABLE cms_topups (
	id            TEXT PRIMARY KEY CHECK (length(id) = 16),
	op_key        TEXT NOT NULL UNIQUE REFERENCES cms_operations (key),
	issuer        TEXT NOT NULL CHECK (length(issuer) = 16),
	asn           TEXT NOT NULL CHECK (length(asn) = 20),
	amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
	payer_type    INTEGER NOT NULL CHECK (payer_type BETWEEN 1 AND 4),
	payer_party   TEXT NOT NULL,
	payer_ref     TEXT NOT NULL,
	paid_by       TEXT NOT NULL,
	paid_at_point TEXT NOT NULL,
	paid_ns       INTEGER NOT NULL,
	claim_by_ns   INTEGER NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'expired', 'refunded')),
	settled_ns    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_topups_card ON cms_topups (issuer, asn, paid_ns);
CREATE INDEX cms_topups_pending ON cms_topups (id) WHERE state = 'pending';
CREATE INDEX cms_loads_claims ON cms_loads (channel_ref) WHERE channel_type = 5;

-- A top-up is settled once, from pending, and only its state and time
-- change; none is deleted.
CREATE TRIGGER cms_topups_settled_once BEFORE UPDATE ON cms_topups
WHEN OLD.state <> 'pending' OR NEW.state = 'pending' OR NEW.id <> OLD.id OR NEW.op_key <> OLD.op_key OR NEW.asn <> OLD.asn OR NEW.amount_fen <> OLD.amount_fen
	OR NEW.payer_type <> OLD.payer_type OR NEW.payer_party <> OLD.payer_party OR NEW.payer_ref <> OLD.payer_ref OR NEW.claim_by_ns <> OLD.claim_by_ns
BEGIN SELECT RAISE(ABORT, 'cms: a top-up is settled once, from pending'); END;
CREATE TRIGGER cms_topups_no_delete BEFORE DELETE ON cms_topups
BEGIN SELECT RAISE(ABORT, 'cms: top-ups are never deleted'); END;

-- The channel each money operation's money passed through, with its
-- service point: what clearing reckons a channel's commission per load
-- from (cms.ChannelMove). Append-only.
CREATE TABLE cms_channel_moves (
	op_key        TEXT PRIMARY KEY REFERENCES cms_operations (key),
	at_ns         INTEGER NOT NULL,
	channel_type  INTEGER NOT NULL CHECK (channel_type BETWEEN 1 AND 5),
	channel_party TEXT NOT NULL,
	channel_ref   TEXT NOT NULL,
	service_point TEXT NOT NULL,
	actor         TEXT NOT NULL,
	fen           INTEGER NOT NULL,
	load_fen      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cms_channel_moves_at ON cms_channel_moves (at_ns);
CREATE TRIGGER cms_channel_moves_no_update BEFORE UPDATE ON cms_channel_moves
BEGIN SELECT RAISE(ABORT, 'cms: channel moves are never changed'); END;
CREATE TRIGGER cms_channel_moves_no_delete BEFORE DELETE ON cms_channel_moves
BEGIN SELECT RAISE(ABORT, 'cms: channel moves are never deleted'); END;
