-- 0007: the acquisition state is checkpointed in parts (see the SQLite
-- store's 0007).
DROP TABLE acquire_checkpoint;

CREATE TABLE acquire_checkpoints (
	part INTEGER PRIMARY KEY CHECK (part >= 0),
	pos  BIGINT NOT NULL,
	data BYTEA NOT NULL
);
