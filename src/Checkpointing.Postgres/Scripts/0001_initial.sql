-- Checkpointing SDK: initial PostgreSQL schema.
-- Runs inside one transaction with search_path set to the store's schema, under the migration advisory lock.
-- Ids are uuid, times timestamptz (microseconds), money numeric (exact sums), JSON values jsonb.
-- seq columns (identity) give the creation order that listings follow.

CREATE TABLE runs (
    id                   uuid        NOT NULL PRIMARY KEY,
    pipeline             text        NOT NULL,
    owner_id             text        NOT NULL,
    input                jsonb       NOT NULL,
    auto_continue        boolean     NOT NULL,
    status               text        NOT NULL,
    current_phase        integer     NULL,
    current_branch       text        NULL,
    parent_checkpoint_id uuid        NULL,
    error                text        NULL,
    cost                 numeric     NOT NULL,
    budget               numeric     NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE INDEX ix_runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX ix_runs_owner ON runs (owner_id, created_at DESC, id DESC);

CREATE TABLE branches (
    seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        uuid        NOT NULL REFERENCES runs (id),
    name          text        NOT NULL,
    parent_branch text        NULL,
    forked_from   uuid        NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT uq_branches_run_name UNIQUE (run_id, name)
);

CREATE TABLE checkpoints (
    seq              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               uuid        NOT NULL,
    run_id           uuid        NOT NULL REFERENCES runs (id),
    branch           text        NOT NULL,
    phase            integer     NOT NULL,
    version          integer     NOT NULL,
    parent_id        uuid        NULL,
    status           text        NOT NULL,
    approved_at      timestamptz NULL,
    created_at       timestamptz NOT NULL,
    output           jsonb       NULL,
    cost             numeric     NOT NULL,
    created_by       text        NULL,
    edit_description text        NULL,
    consumed         jsonb       NOT NULL,
    CONSTRAINT uq_checkpoints_id UNIQUE (id),
    CONSTRAINT uq_checkpoints_version UNIQUE (run_id, branch, phase, version),
    CONSTRAINT fk_checkpoints_branch FOREIGN KEY (run_id, branch) REFERENCES branches (run_id, name)
);

CREATE INDEX ix_checkpoints_run_branch ON checkpoints (run_id, branch, seq);

CREATE TABLE artifacts (
    id            uuid        NOT NULL PRIMARY KEY,
    checkpoint_id uuid        NOT NULL REFERENCES checkpoints (id),
    type          text        NOT NULL,
    key           text        NOT NULL,
    version       integer     NOT NULL,
    content       jsonb       NOT NULL,
    metadata      jsonb       NOT NULL,
    unit_index    integer     NULL,
    updated_at    timestamptz NOT NULL,
    updated_by    text        NULL,
    reason        text        NULL,
    CONSTRAINT uq_artifacts_type_key UNIQUE (checkpoint_id, type, key)
);

CREATE TABLE artifact_versions (
    artifact_id    uuid        NOT NULL REFERENCES artifacts (id),
    version        integer     NOT NULL,
    parent_version integer     NULL,
    content        jsonb       NOT NULL,
    blob_hash      text        NULL,
    metadata       jsonb       NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text        NULL,
    reason         text        NULL,
    CONSTRAINT pk_artifact_versions PRIMARY KEY (artifact_id, version)
);

CREATE INDEX ix_artifact_versions_blob ON artifact_versions (blob_hash) WHERE blob_hash IS NOT NULL;

CREATE TABLE continuations (
    checkpoint_id  uuid        NOT NULL REFERENCES checkpoints (id),
    fingerprint    text        NOT NULL,
    branch         text        NOT NULL,
    branch_created boolean     NOT NULL,
    created_at     timestamptz NOT NULL,
    CONSTRAINT pk_continuations PRIMARY KEY (checkpoint_id, fingerprint)
);

CREATE TABLE journal_jobs (
    run_id          uuid NOT NULL,
    execution_key   text NOT NULL,
    slot            text NOT NULL,
    external_job_id text NOT NULL,
    PRIMARY KEY (run_id, execution_key, slot)
);

CREATE TABLE journal_units (
    run_id        uuid    NOT NULL REFERENCES runs (id),
    execution_key text    NOT NULL,
    unit_index    integer NOT NULL,
    artifact      jsonb   NOT NULL,
    blob_hash     text    NULL,
    cost          numeric NOT NULL,
    PRIMARY KEY (run_id, execution_key, unit_index)
);

CREATE INDEX ix_journal_units_blob ON journal_units (blob_hash) WHERE blob_hash IS NOT NULL;
