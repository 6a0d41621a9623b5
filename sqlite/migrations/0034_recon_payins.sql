-- 0034: reconciliation expects the parties' pay-ins beside the payments
-- made: an expected movement's direction, DBIT for a settlement
-- instruction (every row kept before), CRDT for a pay-in, its
-- reference kept as the end_to_end_id. The trigger that lets only the
-- match be set, once, is made again to cover the new column.
ALTER TABLE recon_instructions ADD COLUMN direction TEXT NOT NULL DEFAULT 'DBIT' CHECK (direction IN ('DBIT', 'CRDT'));

DROP TRIGGER recon_instructions_once;
CREATE TRIGGER recon_instructions_once BEFORE UPDATE ON recon_instructions
WHEN OLD.match_id IS NOT NULL OR OLD.end_to_end_id IS NOT NEW.end_to_end_id OR OLD.cycle_day IS NOT NEW.cycle_day OR OLD.message_id IS NOT NEW.message_id
	OR OLD.party IS NOT NEW.party OR OLD.name IS NOT NEW.name OR OLD.account IS NOT NEW.account OR OLD.amount_fen IS NOT NEW.amount_fen
	OR OLD.due_day IS NOT NEW.due_day OR OLD.remittance IS NOT NEW.remittance OR OLD.direction IS NOT NEW.direction
BEGIN SELECT RAISE(ABORT, 'recon: an instruction is never changed: only its match is set, once'); END;
