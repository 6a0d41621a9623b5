-- 0038 (as the SQLite store's 0038): a cycle keeps the version of the
-- settlement rules it was computed under (clearing.SettlementVersion),
-- which its files are written under for good. Every cycle kept before
-- is of version 0 (clearing.SettlementPayers: pay-ins expected of
-- remote top-ups' payers only), so that its files are written again as
-- it closed with them. Adding a column with a constant default rewrites
-- no row and fires no update trigger: the closed cycles are not changed.
ALTER TABLE clearing_cycles ADD COLUMN settlement_version SMALLINT NOT NULL DEFAULT 0 CHECK (settlement_version BETWEEN 0 AND 255);
