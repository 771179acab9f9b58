-- Checkpointing SDK: revisions. A checkpoint counts the edits of its artifacts (revision); every artifact version
-- records the revision it was written at; a checkpoint names the parent revision it was built from. A fork then reads
-- and writes nothing per artifact: the exact inputs of a checkpoint follow from its lineage. Continuations are keyed by
-- the revision they consumed instead of a fingerprint of every artifact version.

ALTER TABLE checkpoints ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkpoints ADD COLUMN parent_revision INTEGER NULL;
ALTER TABLE artifact_versions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- Existing edits: numbered per checkpoint in the order they were written (rowid order is insertion order).
UPDATE artifact_versions SET revision = numbered.revision
FROM (
    SELECT v.artifact_id, v.version, ROW_NUMBER() OVER (PARTITION BY a.checkpoint_id ORDER BY v.rowid) AS revision
    FROM artifact_versions AS v JOIN artifacts AS a ON a.id = v.artifact_id
    WHERE v.version > 1
) AS numbered
WHERE artifact_versions.artifact_id = numbered.artifact_id AND artifact_versions.version = numbered.version;

UPDATE checkpoints SET revision = COALESCE((
    SELECT MAX(v.revision) FROM artifact_versions AS v JOIN artifacts AS a ON a.id = v.artifact_id WHERE a.checkpoint_id = checkpoints.id), 0);

-- The parent revision an existing checkpoint was built from: the latest revision among the parent's versions it pinned
-- (every parent artifact was pinned at its version as of that revision, so the two name the same state).
UPDATE checkpoints SET parent_revision = COALESCE((
    SELECT MAX(v.revision)
    FROM json_each(checkpoints.consumed) AS p
    JOIN artifact_versions AS v ON v.artifact_id = json_extract(p.value, '$.ArtifactId') AND v.version = json_extract(p.value, '$.Version')
    WHERE json_extract(p.value, '$.CheckpointId') = checkpoints.parent_id), 0)
WHERE parent_id IS NOT NULL;

ALTER TABLE checkpoints DROP COLUMN consumed;

-- Continuations keyed by (checkpoint, revision). An existing record's revision follows from its pins as above; a
-- record without pins (written before pins were stored) takes the checkpoint's revision now.
CREATE TABLE continuations_by_revision (
    checkpoint_id  TEXT    NOT NULL REFERENCES checkpoints (id),
    revision       INTEGER NOT NULL,
    branch         TEXT    NOT NULL,
    branch_created INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    requested_by   TEXT    NULL,
    description    TEXT    NULL,
    PRIMARY KEY (checkpoint_id, revision)
);

INSERT OR IGNORE INTO continuations_by_revision (checkpoint_id, revision, branch, branch_created, created_at, requested_by, description)
SELECT c.checkpoint_id,
       COALESCE(
           (SELECT MAX(v.revision)
            FROM json_each(c.pins) AS p
            JOIN artifact_versions AS v ON v.artifact_id = json_extract(p.value, '$.ArtifactId') AND v.version = json_extract(p.value, '$.Version')
            WHERE json_extract(p.value, '$.CheckpointId') = c.checkpoint_id),
           (SELECT revision FROM checkpoints WHERE id = c.checkpoint_id)),
       c.branch, c.branch_created, c.created_at, c.requested_by, c.description
FROM continuations AS c
ORDER BY c.rowid;

DROP TABLE continuations;
ALTER TABLE continuations_by_revision RENAME TO continuations;
