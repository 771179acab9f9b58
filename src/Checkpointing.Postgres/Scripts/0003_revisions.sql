-- Checkpointing SDK: revisions. A checkpoint counts the edits of its artifacts (revision); every artifact version
-- records the revision it was written at; a checkpoint names the parent revision it was built from. A fork then reads
-- and writes nothing per artifact: the exact inputs of a checkpoint follow from its lineage. Continuations are keyed by
-- the revision they consumed instead of a fingerprint of every artifact version.
-- Runs inside one transaction with search_path set to the store's schema, under the migration advisory lock.

ALTER TABLE checkpoints
    ADD COLUMN revision        bigint NOT NULL DEFAULT 0,
    ADD COLUMN parent_revision bigint NULL;

ALTER TABLE artifact_versions ADD COLUMN revision bigint NOT NULL DEFAULT 0;

-- Existing edits: numbered per checkpoint in the order they were written.
UPDATE artifact_versions AS t SET revision = numbered.revision
FROM (
    SELECT v.artifact_id, v.version,
           ROW_NUMBER() OVER (PARTITION BY a.checkpoint_id ORDER BY v.created_at, v.artifact_id, v.version) AS revision
    FROM artifact_versions AS v JOIN artifacts AS a ON a.id = v.artifact_id
    WHERE v.version > 1
) AS numbered
WHERE t.artifact_id = numbered.artifact_id AND t.version = numbered.version;

UPDATE checkpoints AS c SET revision = COALESCE((
    SELECT MAX(v.revision) FROM artifact_versions AS v JOIN artifacts AS a ON a.id = v.artifact_id WHERE a.checkpoint_id = c.id), 0);

-- The parent revision an existing checkpoint was built from: the latest revision among the parent's versions it pinned
-- (every parent artifact was pinned at its version as of that revision, so the two name the same state).
UPDATE checkpoints AS c SET parent_revision = COALESCE((
    SELECT MAX(v.revision)
    FROM jsonb_array_elements(c.consumed) AS p
    JOIN artifact_versions AS v ON v.artifact_id = (p ->> 'ArtifactId')::uuid AND v.version = (p ->> 'Version')::integer
    WHERE (p ->> 'CheckpointId')::uuid = c.parent_id), 0)
WHERE c.parent_id IS NOT NULL;

ALTER TABLE checkpoints DROP COLUMN consumed;

-- Continuations keyed by (checkpoint, revision). An existing record's revision follows from its pins as above; a
-- record without pins (written before pins were stored) takes the checkpoint's revision now. Should two old records
-- name one revision, the first is kept.
ALTER TABLE continuations ADD COLUMN revision bigint NULL;

UPDATE continuations AS t SET revision = COALESCE(
    (SELECT MAX(v.revision)
     FROM jsonb_array_elements(t.pins) AS p
     JOIN artifact_versions AS v ON v.artifact_id = (p ->> 'ArtifactId')::uuid AND v.version = (p ->> 'Version')::integer
     WHERE (p ->> 'CheckpointId')::uuid = t.checkpoint_id),
    (SELECT c.revision FROM checkpoints AS c WHERE c.id = t.checkpoint_id));

DELETE FROM continuations AS t
WHERE EXISTS (SELECT 1 FROM continuations AS o WHERE o.checkpoint_id = t.checkpoint_id AND o.revision = t.revision AND o.seq < t.seq);

ALTER TABLE continuations
    DROP CONSTRAINT pk_continuations,
    DROP COLUMN fingerprint,
    DROP COLUMN pins,
    ALTER COLUMN revision SET NOT NULL,
    ADD CONSTRAINT pk_continuations PRIMARY KEY (checkpoint_id, revision);
