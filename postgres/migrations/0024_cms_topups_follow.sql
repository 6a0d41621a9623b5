-- 0024: a remote top-up follows its card to the replacement; see the
-- SQLite store's 0024.
CREATE OR REPLACE FUNCTION cms_topups_settled_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' OR OLD.state <> 'pending' OR NEW.id <> OLD.id OR NEW.op_key <> OLD.op_key OR NEW.issuer <> OLD.issuer
		OR NEW.amount_fen <> OLD.amount_fen OR NEW.payer_type <> OLD.payer_type OR NEW.payer_party <> OLD.payer_party
		OR NEW.payer_ref <> OLD.payer_ref OR NEW.claim_by_ns <> OLD.claim_by_ns
		OR (NEW.state = 'pending' AND (NEW.asn = OLD.asn OR NEW.settled_ns <> OLD.settled_ns))
		OR (NEW.state <> 'pending' AND NEW.asn <> OLD.asn) THEN
		RAISE EXCEPTION 'cms: a top-up is settled once, from pending, or moves pending to its card''s replacement, and is never deleted' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
