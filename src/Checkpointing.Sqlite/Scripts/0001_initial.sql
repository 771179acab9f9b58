-- Checkpointing SDK: initial SQLite schema.
-- Ids are GUIDs as lower-case text ("D" format); times are ISO 8601 round-trip text; money is decimal text
-- (never REAL, so sums stay exact); JSON values are text written with System.Text.Json.

CREATE TABLE runs (
    id                   TEXT    NOT NULL PRIMARY KEY,
    pipeline             TEXT    NOT NULL,
    owner_id             TEXT    NOT NULL,
    input                TEXT    NOT NULL,
    auto_continue        INTEGER NOT NULL,
    status               TEXT    NOT NULL,
    current_phase        INTEGER NULL,
    current_branch       TEXT    NULL,
    parent_checkpoint_id TEXT    NULL,
    error                TEXT    NULL,
    cost                 TEXT    NOT NULL,
    budget               TEXT    NULL,
    created_at           TEXT    NOT NULL,
    created_ticks        INTEGER NOT NULL,
    updated_at           TEXT    NOT NULL
);

CREATE INDEX ix_runs_created ON runs (created_ticks DESC, id DESC);
CREATE INDEX ix_runs_owner ON runs (owner_id, created_ticks DESC, id DESC);

CREATE TABLE branches (
    seq           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT    NOT NULL REFERENCES runs (id),
    name          TEXT    NOT NULL,
    parent_branch TEXT    NULL,
    forked_from   TEXT    NULL,
    created_at    TEXT    NOT NULL,
    UNIQUE (run_id, name)
);

CREATE TABLE checkpoints (
    seq              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    run_id           TEXT    NOT NULL REFERENCES runs (id),
    branch           TEXT    NOT NULL,
    phase            INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    parent_id        TEXT    NULL,
    status           TEXT    NOT NULL,
    approved_at      TEXT    NULL,
    created_at       TEXT    NOT NULL,
    output           TEXT    NULL,
    cost             TEXT    NOT NULL,
    created_by       TEXT    NULL,
    edit_description TEXT    NULL,
    consumed         TEXT    NOT NULL,
    UNIQUE (run_id, branch, phase, version),
    FOREIGN KEY (run_id, branch) REFERENCES branches (run_id, name)
);

CREATE INDEX ix_checkpoints_run_branch ON checkpoints (run_id, branch, seq);

CREATE TABLE artifacts (
    id            TEXT    NOT NULL PRIMARY KEY,
    checkpoint_id TEXT    NOT NULL REFERENCES checkpoints (id),
    type          TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    content       TEXT    NOT NULL,
    metadata      TEXT    NOT NULL,
    unit_index    INTEGER NULL,
    updated_at    TEXT    NOT NULL,
    updated_by    TEXT    NULL,
    reason        TEXT    NULL,
    UNIQUE (checkpoint_id, type, key)
);

CREATE TABLE artifact_versions (
    artifact_id    TEXT    NOT NULL REFERENCES artifacts (id),
    version        INTEGER NOT NULL,
    parent_version INTEGER NULL,
    content        TEXT    NOT NULL,
    blob_hash      TEXT    NULL,
    metadata       TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    created_by     TEXT    NULL,
    reason         TEXT    NULL,
    PRIMARY KEY (artifact_id, version)
);

CREATE INDEX ix_artifact_versions_blob ON artifact_versions (blob_hash) WHERE blob_hash IS NOT NULL;

CREATE TABLE continuations (
    checkpoint_id  TEXT    NOT NULL REFERENCES checkpoints (id),
    fingerprint    TEXT    NOT NULL,
    branch         TEXT    NOT NULL,
    branch_created INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (checkpoint_id, fingerprint)
);

CREATE TABLE journal_jobs (
    run_id          TEXT NOT NULL,
    execution_key   TEXT NOT NULL,
    slot            TEXT NOT NULL,
    external_job_id TEXT NOT NULL,
    PRIMARY KEY (run_id, execution_key, slot)
);

CREATE TABLE journal_units (
    run_id        TEXT    NOT NULL REFERENCES runs (id),
    execution_key TEXT    NOT NULL,
    unit_index    INTEGER NOT NULL,
    artifact      TEXT    NOT NULL,
    blob_hash     TEXT    NULL,
    cost          TEXT    NOT NULL,
    PRIMARY KEY (run_id, execution_key, unit_index)
);

CREATE INDEX ix_journal_units_blob ON journal_units (blob_hash) WHERE blob_hash IS NOT NULL;
