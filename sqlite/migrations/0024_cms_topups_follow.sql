-- 0024: a remote top-up follows its card to the replacement (package
-- cms, TopUps.follow): a pending row may have its card (asn) rewritten,
-- staying pending, and nothing else; otherwise a top-up is settled once,
-- from pending, only its state and time changing, as 0017 had it.
DROP TRIGGER cms_topups_settled_once;
CREATE TRIGGER cms_topups_settled_once BEFORE UPDATE ON cms_topups
WHEN OLD.state <> 'pending' OR NEW.id <> OLD.id OR NEW.op_key <> OLD.op_key OR NEW.issuer <> OLD.issuer OR NEW.amount_fen <> OLD.amount_fen
	OR NEW.payer_type <> OLD.payer_type OR NEW.payer_party <> OLD.payer_party OR NEW.payer_ref <> OLD.payer_ref OR NEW.claim_by_ns <> OLD.claim_by_ns
	OR (NEW.state = 'pending' AND (NEW.asn = OLD.asn OR NEW.settled_ns <> OLD.settled_ns))
	OR (NEW.state <> 'pending' AND NEW.asn <> OLD.asn)
BEGIN SELECT RAISE(ABORT, 'cms: a top-up is settled once, from pending, or moves pending to its card''s replacement'); END;
