-- 0036 (as the SQLite store's 0036): the registry's parties take a
-- fourth type, payer (registry.PartyPayer: a payment company or top-up
-- agent that collects remote top-ups and owes the issuer for them in
-- each clearing cycle).
ALTER TABLE parties DROP CONSTRAINT parties_role_check;
ALTER TABLE parties ADD CONSTRAINT parties_role_check CHECK (role IN ('issuer', 'operator', 'funder', 'payer'));
