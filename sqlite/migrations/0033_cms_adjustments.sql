-- 0033: manual adjustments of a card's money (package cms,
-- Manager.Adjust), each approved by a supervisor.
--
-- A credit of a card whose balance is on its chip is a remote top-up
-- paid by the issuer's adjustment account: channel type 6
-- (cms.AdjustmentPay) as a top-up's payer. SQLite cannot change a
-- column's CHECK in place: cms_topups is rebuilt as 0017 made it and
-- 0024 left it, its payer_type taking 6 too, its rows, indexes and
-- triggers kept.
CREATE TABLE cms_topups_0033 (
	id            TEXT PRIMARY KEY CHECK (length(id) = 16),
	op_key        TEXT NOT NULL UNIQUE REFERENCES cms_operations (key),
	issuer        TEXT NOT NULL CHECK (length(issuer) = 16),
	asn           TEXT NOT NULL CHECK (length(asn) = 20),
	amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
	payer_type    INTEGER NOT NULL CHECK (payer_type BETWEEN 1 AND 4 OR payer_type = 6),
	payer_party   TEXT NOT NULL,
	payer_ref     TEXT NOT NULL,
	paid_by       TEXT NOT NULL,
	paid_at_point TEXT NOT NULL,
	paid_ns       INTEGER NOT NULL,
	claim_by_ns   INTEGER NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'expired', 'refunded')),
	settled_ns    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO cms_topups_0033 SELECT id, op_key, issuer, asn, amount_fen, payer_type, payer_party, payer_ref, paid_by, paid_at_point, paid_ns, claim_by_ns, state, settled_ns FROM cms_topups;
DROP TABLE cms_topups;
ALTER TABLE cms_topups_0033 RENAME TO cms_topups;
CREATE INDEX cms_topups_card ON cms_topups (issuer, asn, paid_ns);
CREATE INDEX cms_topups_pending ON cms_topups (id) WHERE state = 'pending';
CREATE TRIGGER cms_topups_settled_once BEFORE UPDATE ON cms_topups
WHEN OLD.state <> 'pending' OR NEW.id <> OLD.id OR NEW.op_key <> OLD.op_key OR NEW.issuer <> OLD.issuer OR NEW.amount_fen <> OLD.amount_fen
	OR NEW.payer_type <> OLD.payer_type OR NEW.payer_party <> OLD.payer_party OR NEW.payer_ref <> OLD.payer_ref OR NEW.claim_by_ns <> OLD.claim_by_ns
	OR (NEW.state = 'pending' AND (NEW.asn = OLD.asn OR NEW.settled_ns <> OLD.settled_ns))
	OR (NEW.state <> 'pending' AND NEW.asn <> OLD.asn)
BEGIN SELECT RAISE(ABORT, 'cms: a top-up is settled once, from pending, or moves pending to its card''s replacement'); END;
CREATE TRIGGER cms_topups_no_delete BEFORE DELETE ON cms_topups
BEGIN SELECT RAISE(ABORT, 'cms: top-ups are never deleted'); END;

-- A card's adjustments are listed from their approvals (action
-- 'adjust', subject the card), newest first.
CREATE INDEX cms_approvals_subject ON cms_approvals (subject, action, id);
