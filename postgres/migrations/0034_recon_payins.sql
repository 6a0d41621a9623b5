-- 0034: reconciliation expects the parties' pay-ins beside the payments
-- made: an expected movement's direction, DBIT for a settlement
-- instruction (every row kept before), CRDT for a pay-in, its
-- reference kept as the end_to_end_id. recon_match_once compares whole
-- rows but match_id, so it covers the new column as it is.
ALTER TABLE recon_instructions ADD COLUMN direction TEXT NOT NULL DEFAULT 'DBIT' CHECK (direction IN ('DBIT', 'CRDT'));
