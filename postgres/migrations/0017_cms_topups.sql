-- 0017: remote top-ups (补登) of card management and the channel every
-- money operation passed through; see the SQLite store's 0017.
CREATE TABLE cms_topups (
	id            TEXT PRIMARY KEY CHECK (length(id) = 16),
	op_key        TEXT NOT NULL UNIQUE REFERENCES cms_operations (key),
	issuer        TEXT NOT NULL CHECK (length(issuer) = 16),
	asn           TEXT NOT NULL CHECK (length(asn) = 20),
	amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
	payer_type    BIGINT NOT NULL CHECK (payer_type BETWEEN 1 AND 4),
	payer_party   TEXT NOT NULL,
	payer_ref     TEXT NOT NULL,
	paid_by       TEXT NOT NULL,
	paid_at_point TEXT NOT NULL,
	paid_ns       BIGINT NOT NULL,
	claim_by_ns   BIGINT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'expired', 'refunded')),
	settled_ns    BIGINT NOT NULL
);
CREATE INDEX cms_topups_card ON cms_topups (issuer, asn, paid_ns);
CREATE INDEX cms_topups_pending ON cms_topups (id COLLATE "C") WHERE state = 'pending';
CREATE INDEX cms_loads_claims ON cms_loads (channel_ref) WHERE channel_type = 5;

-- A top-up is settled once, from pending, and only its state and time
-- change; none is deleted.
CREATE FUNCTION cms_topups_settled_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR OLD.state <> 'pending' OR NEW.state = 'pending' OR NEW.id <> OLD.id OR NEW.op_key <> OLD.op_key OR NEW.asn <> OLD.asn
		OR NEW.amount_fen <> OLD.amount_fen OR NEW.payer_type <> OLD.payer_type OR NEW.payer_party <> OLD.payer_party
		OR NEW.payer_ref <> OLD.payer_ref OR NEW.claim_by_ns <> OLD.claim_by_ns THEN
		RAISE EXCEPTION 'cms: a top-up is settled once, from pending, and never deleted' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER cms_topups_settled_once BEFORE UPDATE OR DELETE ON cms_topups
	FOR EACH ROW EXECUTE FUNCTION cms_topups_settled_once();

-- The channel each money operation's money passed through, with its
-- service point (cms.ChannelMove). Append-only.
CREATE TABLE cms_channel_moves (
	op_key        TEXT PRIMARY KEY REFERENCES cms_operations (key),
	at_ns         BIGINT NOT NULL,
	channel_type  BIGINT NOT NULL CHECK (channel_type BETWEEN 1 AND 5),
	channel_party TEXT NOT NULL,
	channel_ref   TEXT NOT NULL,
	service_point TEXT NOT NULL,
	actor         TEXT NOT NULL,
	fen           BIGINT NOT NULL,
	load_fen      BIGINT NOT NULL
);
CREATE INDEX cms_channel_moves_at ON cms_channel_moves (at_ns);
CREATE FUNCTION cms_channel_moves_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'cms: channel moves are never changed or deleted' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER cms_channel_moves_append_only BEFORE UPDATE OR DELETE ON cms_channel_moves
	FOR EACH ROW EXECUTE FUNCTION cms_channel_moves_append_only();
