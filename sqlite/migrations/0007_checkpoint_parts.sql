-- 0007: the acquisition state is checkpointed in parts (a card shard, or
-- the terminals), each at its own journal position. The single checkpoint
-- of 0005 goes: the journal is the truth, and the first start replays it.
DROP TABLE acquire_checkpoint;

CREATE TABLE acquire_checkpoints (
	part INTEGER PRIMARY KEY CHECK (part >= 0),
	pos  INTEGER NOT NULL,
	data BLOB NOT NULL
) STRICT;
