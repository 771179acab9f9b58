-- Checkpointing SDK: the current checkpoint of a run (its latest of a status) is read from this index alone,
-- whatever the number of checkpoints of the run and of other runs.

CREATE INDEX ix_checkpoints_run_status ON checkpoints (run_id, status, seq);
