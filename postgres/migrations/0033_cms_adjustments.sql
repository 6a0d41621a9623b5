-- 0033: manual adjustments of a card's money; see the SQLite store's
-- 0033. A top-up's payer may be the issuer's adjustment account
-- (channel type 6, cms.AdjustmentPay).
ALTER TABLE cms_topups DROP CONSTRAINT cms_topups_payer_type_check;
ALTER TABLE cms_topups ADD CONSTRAINT cms_topups_payer_type_check CHECK (payer_type BETWEEN 1 AND 4 OR payer_type = 6);
CREATE INDEX cms_approvals_subject ON cms_approvals (subject, action, id);
