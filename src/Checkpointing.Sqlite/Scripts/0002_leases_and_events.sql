-- Checkpointing SDK: run leases (owner, expiry, fencing token), continuation pins and requester, the event log.
-- Times stay ISO 8601 round-trip text (they keep their offset); the *_ticks columns beside them hold the same instant
-- as UTC ticks, so comparisons and ordering are exact whatever offset a time was written with (as created_ticks).

ALTER TABLE runs ADD COLUMN lease_owner TEXT NULL;
ALTER TABLE runs ADD COLUMN lease_expires_at TEXT NULL;
ALTER TABLE runs ADD COLUMN lease_expires_ticks INTEGER NULL;
ALTER TABLE runs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN updated_ticks INTEGER NOT NULL DEFAULT 0;

-- Existing runs: UTC ticks from the stored text (julianday of 0001-01-01 is 1721425.5; a day is 864000000000 ticks).
-- Precise to a few microseconds, which only orders runs that were waiting before the upgrade.
UPDATE runs SET updated_ticks = CAST(ROUND((julianday(updated_at) - 1721425.5) * 864000000000.0) AS INTEGER);

-- The next-work claim: queued or running runs, least recently updated first, with the lease expiry at hand.
CREATE INDEX ix_runs_work ON runs (updated_ticks, id, lease_owner, lease_expires_ticks) WHERE status IN ('Queued', 'Running');

ALTER TABLE continuations ADD COLUMN pins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE continuations ADD COLUMN requested_by TEXT NULL;
ALTER TABLE continuations ADD COLUMN description TEXT NULL;

-- The event log: sequence numbers grow across runs; writes are serialised by SQLite's write lock, so a reader never
-- sees a sequence number before every smaller one is committed. The payload is stored verbatim.
CREATE TABLE events (
    sequence INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id   TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    payload  TEXT    NOT NULL,
    at       TEXT    NOT NULL
);

CREATE INDEX ix_events_run ON events (run_id, sequence);
