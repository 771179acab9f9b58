-- Checkpointing SDK: run leases, continuation pins and requester, the event log.
-- Runs inside one transaction with search_path set to the store's schema, under the migration advisory lock.

-- The lease of the executor running the run's phases. lease_token is the fencing token: it grows with every claim (and
-- with every change made outside the lease), and a fenced write is applied only while it still matches.
ALTER TABLE runs
    ADD COLUMN lease_owner      text        NULL,
    ADD COLUMN lease_expires_at timestamptz NULL,
    ADD COLUMN lease_token      bigint      NOT NULL DEFAULT 0;

-- The work state that claims scan: only queued and running runs, oldest change first. Paused, failed, completed and
-- cancelled runs (nearly all rows, over time) are not in the index. ClaimNextRunAsync reads it in this order with
-- FOR UPDATE SKIP LOCKED and filters out the runs whose lease is still held.
CREATE INDEX ix_runs_work ON runs (updated_at, id) INCLUDE (lease_owner, lease_expires_at)
    WHERE status IN ('Queued', 'Running');

-- What a continuation pinned (the artifact versions the next phase consumes), who asked for it and why; seq gives the
-- order listings follow.
ALTER TABLE continuations
    ADD COLUMN pins         jsonb  NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN requested_by text   NULL,
    ADD COLUMN description  text   NULL,
    ADD COLUMN seq          bigint GENERATED ALWAYS AS IDENTITY;

CREATE INDEX ix_continuations_checkpoint ON continuations (checkpoint_id, seq);

-- The event log read across processes. sequence is assigned from event_counter inside the appending transaction (the
-- counter row stays locked until it commits), so sequences become visible in order and a reader that polls
-- "sequence > last seen" never skips one. payload is the event's JSON text, kept verbatim (not jsonb).
CREATE TABLE events (
    sequence bigint      NOT NULL PRIMARY KEY,
    run_id   uuid        NOT NULL,
    type     text        NOT NULL,
    payload  text        NOT NULL,
    at       timestamptz NOT NULL
);

CREATE INDEX ix_events_run ON events (run_id, sequence);

CREATE TABLE event_counter (
    id   boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (id),
    last bigint  NOT NULL
);

INSERT INTO event_counter (id, last) VALUES (true, 0);
