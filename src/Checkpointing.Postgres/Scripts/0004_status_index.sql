-- Checkpointing SDK: the current checkpoint of a run (its latest of a status) is read from this index alone; without
-- it PostgreSQL may walk the whole checkpoints table backwards through its primary key for a run with none pending.
-- Runs inside one transaction with search_path set to the store's schema, under the migration advisory lock.

CREATE INDEX ix_checkpoints_run_status ON checkpoints (run_id, status, seq);
