-- 0009: the online loads of card management's load host; see the SQLite
-- store's 0009.
CREATE TABLE cms_loads (
	key                TEXT PRIMARY KEY REFERENCES cms_operations (key),
	issuer             TEXT NOT NULL CHECK (length(issuer) = 16),
	asn                TEXT NOT NULL CHECK (length(asn) = 20),
	counter            BIGINT NOT NULL CHECK (counter BETWEEN 0 AND 65535),
	amount_fen         BIGINT NOT NULL CHECK (amount_fen > 0),
	balance_before_fen BIGINT NOT NULL,
	terminal           TEXT NOT NULL CHECK (length(terminal) = 12),
	key_version        BIGINT NOT NULL,
	alg                BIGINT NOT NULL,
	channel_type       BIGINT NOT NULL,
	channel_party      TEXT NOT NULL,
	channel_ref        TEXT NOT NULL,
	authorized_ns      BIGINT NOT NULL,
	status             TEXT NOT NULL CHECK (status IN ('unconfirmed', 'confirmed', 'reversed')),
	settled_ns         BIGINT NOT NULL,
	settlement         TEXT NOT NULL
);
CREATE INDEX cms_loads_card ON cms_loads (issuer, asn, authorized_ns);
CREATE INDEX cms_loads_unconfirmed ON cms_loads (key COLLATE "C") WHERE status = 'unconfirmed';

-- A load is settled once (a reversed one may be confirmed by a late TAC),
-- and only its status and settlement change.
CREATE FUNCTION cms_loads_settled_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR OLD.status = 'confirmed' OR (OLD.status = 'reversed' AND NEW.status <> 'confirmed') OR NEW.key <> OLD.key OR NEW.amount_fen <> OLD.amount_fen OR NEW.asn <> OLD.asn THEN
		RAISE EXCEPTION 'cms: a settled load is never changed, a load never deleted' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER cms_loads_settled_once BEFORE UPDATE OR DELETE ON cms_loads
	FOR EACH ROW EXECUTE FUNCTION cms_loads_settled_once();
