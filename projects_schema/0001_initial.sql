-- Facesmith project database, version 1: the whole data model of ARCHITECTURE.md section 4.
-- Times are Unix seconds (REAL). Geometry is in frame pixel coordinates.
-- Arrays are little-endian blobs: landmarks float32 68x2, embedding float16 128, alignment float64 2x3.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE clips (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('src', 'dst')),
    path          TEXT NOT NULL UNIQUE,
    size_bytes    INTEGER NOT NULL,
    fingerprint   TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    fps_num       INTEGER NOT NULL,
    fps_den       INTEGER NOT NULL,
    frame_count   INTEGER NOT NULL,
    duration_s    REAL NOT NULL,
    rotation      INTEGER NOT NULL DEFAULT 0,
    codec         TEXT NOT NULL,
    audio_streams INTEGER NOT NULL DEFAULT 0,
    audio_codec   TEXT,
    in_frame      INTEGER NOT NULL DEFAULT 0,
    out_frame     INTEGER,                       -- exclusive; NULL = to the end
    added_at      REAL NOT NULL,
    CHECK (in_frame >= 0),
    CHECK (out_frame IS NULL OR out_frame > in_frame)
);
CREATE INDEX clips_fingerprint ON clips (fingerprint);

CREATE TABLE persons (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    wanted     INTEGER NOT NULL DEFAULT 0 CHECK (wanted IN (0, 1)),
    created_at REAL NOT NULL
);

CREATE TABLE faces (
    id          INTEGER PRIMARY KEY,
    clip_id     INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame       INTEGER NOT NULL,
    idx         INTEGER NOT NULL DEFAULT 0,       -- the face's number on its frame
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    score       REAL NOT NULL,
    landmarks   BLOB NOT NULL,                     -- float32 68x2, frame pixels
    face_type   TEXT NOT NULL,                     -- half, mid_full, full, whole, head (checked by the store:
                                               -- a CHECK here costs a third of bulk-insert time)
    crop_size   INTEGER NOT NULL,
    alignment   BLOB NOT NULL,                     -- float64 2x3, frame -> crop
    yaw REAL, pitch REAL, roll REAL,
    sharpness   REAL,
    mouth_open  REAL, eyes_open REAL, smile REAL, brow_raise REAL,
    embedding   BLOB,                              -- float16 128, or NULL
    track_id    INTEGER,
    person_id   INTEGER REFERENCES persons (id) ON DELETE SET NULL,
    excluded    INTEGER NOT NULL DEFAULT 0 CHECK (excluded IN (0, 1)),
    crop_path   TEXT,                              -- relative to the project folder
    created_at  REAL NOT NULL,
    UNIQUE (clip_id, frame, idx)
);
-- Partial: extraction inserts faces before tracks and persons exist, so these cost
-- nothing during bulk inserts; `person_id = ?` queries still use them.
CREATE INDEX faces_person ON faces (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX faces_track ON faces (clip_id, track_id) WHERE track_id IS NOT NULL;

-- Frames an extraction has looked at (with or without faces): lets extraction resume.
CREATE TABLE scanned_frames (
    clip_id    INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame      INTEGER NOT NULL,
    face_count INTEGER NOT NULL,
    PRIMARY KEY (clip_id, frame)
) WITHOUT ROWID;

CREATE TABLE models (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('xseg', 'swap')),
    name       TEXT NOT NULL,
    arch       TEXT NOT NULL,
    face_type  TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    config     TEXT NOT NULL DEFAULT '{}',         -- JSON
    iteration  INTEGER NOT NULL DEFAULT 0,
    path       TEXT NOT NULL,                      -- models/<id>/, relative
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE masks (
    id         INTEGER PRIMARY KEY,
    face_id    INTEGER NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('label', 'predicted')),
    shapes     TEXT,                               -- label: JSON polygons/strokes, frame px
    raster     BLOB,                               -- predicted: PNG in crop coordinates
    face_type  TEXT,                               -- of the raster's crop
    resolution INTEGER,                            -- of the raster
    model_id   INTEGER REFERENCES models (id) ON DELETE CASCADE,
    updated_at REAL NOT NULL,
    CHECK ((kind = 'label' AND shapes IS NOT NULL) OR (kind = 'predicted' AND raster IS NOT NULL))
);
CREATE UNIQUE INDEX masks_one_label ON masks (face_id) WHERE kind = 'label';
CREATE UNIQUE INDEX masks_one_prediction ON masks (face_id, model_id) WHERE kind = 'predicted';

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',    -- JSON, validated when queued
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
    priority        INTEGER NOT NULL DEFAULT 0,    -- higher runs first; then by id
    progress        REAL NOT NULL DEFAULT 0,
    status_text     TEXT NOT NULL DEFAULT '',
    error_text      TEXT,                          -- traceback of a failure
    result          TEXT,                          -- JSON: the job's ChangeSet summary and outputs
    checkpoint      TEXT,                          -- JSON: where a paused/killed job resumes
    preview_path    TEXT,                          -- latest preview, relative
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    pause_requested  INTEGER NOT NULL DEFAULT 0,
    worker          TEXT,                          -- host:pid of the worker running it
    attempts        INTEGER NOT NULL DEFAULT 0,
    heartbeat_at    REAL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL NOT NULL
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);
CREATE INDEX jobs_updated ON jobs (updated_at);

CREATE TABLE job_metrics (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step   INTEGER NOT NULL,
    name   TEXT NOT NULL,
    value  REAL NOT NULL,
    t      REAL NOT NULL
);
CREATE INDEX job_metrics_series ON job_metrics (job_id, name, step);

CREATE TABLE job_events (
    id     INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step   INTEGER,
    kind   TEXT NOT NULL,                          -- e.g. 'rollback', 'checkpoint', 'warning'
    text   TEXT NOT NULL,
    t      REAL NOT NULL
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE renders (
    id          INTEGER PRIMARY KEY,
    clip_id     INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    job_id      INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    model_id    INTEGER REFERENCES models (id) ON DELETE SET NULL,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    frame_start INTEGER NOT NULL,
    frame_end   INTEGER NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL
);
