-- Version 3: image clips (docs/CONTEXT.md): a clip can be a folder of stills, an image
-- sequence pattern, one still, or an imported face set; each image is a frame with its
-- own size. For these `clips.path` is the folder, pattern or file the user added, and
-- `clips.width`/`height` are the largest image's.
ALTER TABLE clips ADD COLUMN kind TEXT NOT NULL DEFAULT 'video' CHECK (kind IN ('video', 'images', 'faceset'));

CREATE TABLE clip_images (
    clip_id    INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame      INTEGER NOT NULL,                   -- 0-based, in natural name order
    path       TEXT NOT NULL,                      -- absolute; relative to the project folder for files it owns
    width      INTEGER NOT NULL,                   -- after EXIF orientation
    height     INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    orientation INTEGER NOT NULL DEFAULT 1,        -- EXIF orientation tag (1 = as stored)
    PRIMARY KEY (clip_id, frame)
) WITHOUT ROWID;
