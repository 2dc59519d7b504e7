-- Merge keys, face overrides and the quality strip (docs/CONTEXT.md).
--
-- A merge key is one merge setting's value at a frame of a clip; values between keys
-- interpolate ('linear') or hold ('hold') from the key on. A face override is a partial
-- set of merge settings one face gets over its clip's settings and keys. Both have an
-- `id` so that every edit is an undoable row change.
CREATE TABLE merge_keys (
    id      INTEGER PRIMARY KEY,
    clip_id INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame   INTEGER NOT NULL CHECK (frame >= 0),
    setting TEXT NOT NULL,
    value   TEXT NOT NULL,                          -- JSON: a number, or a name (enums), or a list (mask)
    interp  TEXT NOT NULL DEFAULT 'linear' CHECK (interp IN ('linear', 'hold')),
    UNIQUE (clip_id, setting, frame)
);
CREATE INDEX merge_keys_clip ON merge_keys (clip_id, frame);

CREATE TABLE face_overrides (
    id       INTEGER PRIMARY KEY,
    face_id  INTEGER NOT NULL UNIQUE REFERENCES faces (id) ON DELETE CASCADE,
    settings TEXT NOT NULL                          -- JSON object: a subset of the merge settings
);

-- The quality strip: per-frame scores of a merged result, one set per `qa` job.
CREATE TABLE qa_frames (
    job_id    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    clip_id   INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame     INTEGER NOT NULL,
    faces     INTEGER NOT NULL,                     -- faces scored on the frame (0: nothing to score)
    id_src    REAL,                                 -- identity similarity to the src person (1 - L2 distance)
    id_dst    REAL,                                 -- identity similarity to the original dst face
    landmarks REAL,                                 -- mean landmark distance / inter-ocular distance
    yaw       REAL,                                 -- |yaw difference|, degrees
    pitch     REAL,                                 -- |pitch difference|, degrees
    jitter    REAL,                                 -- pasted-face motion not in the dst face / inter-ocular
    seam      REAL,                                 -- extra edge contrast on the mask border, levels of 255
    color     REAL,                                 -- colour step across the mask border, delta E
    PRIMARY KEY (job_id, frame)
) WITHOUT ROWID;
CREATE INDEX qa_frames_clip ON qa_frames (clip_id, job_id);
