-- Version 4: faces at every angle (docs/CONTEXT.md: landmark visibility, hand-added face,
-- shot cut, uncertain person).
-- Per-point visibility of the 68 landmarks (float32 x 68, 0 hidden .. 1 facing the camera),
-- NULL where the backend gives none (dlib, faces from before this version).
ALTER TABLE faces ADD COLUMN visibility BLOB;
-- Where a face came from: the detector, the user's box ("manual"), or "Track this face"
-- following a hand-added face ("tracked"). Re-extraction never replaces manual/tracked faces.
ALTER TABLE faces ADD COLUMN source TEXT NOT NULL DEFAULT 'detected'
    CHECK (source IN ('detected', 'manual', 'tracked'));
-- Set when the user moved this face's landmarks: re-extraction keeps such faces.
ALTER TABLE faces ADD COLUMN landmarks_edited INTEGER NOT NULL DEFAULT 0 CHECK (landmarks_edited IN (0, 1));
-- A person proposed from too few faces or low detection scores: shown as uncertain.
ALTER TABLE persons ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0 CHECK (uncertain IN (0, 1));

-- Shot cuts of a clip: `frame` is the first frame of the new shot. Tracks never cross one.
CREATE TABLE cuts (
    clip_id INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    frame   INTEGER NOT NULL,
    score   REAL NOT NULL,                     -- the detector's content change at the cut
    PRIMARY KEY (clip_id, frame)
) WITHOUT ROWID;
-- Which clips have been looked at for cuts (a clip without cuts is also a result).
CREATE TABLE cuts_scanned (
    clip_id  INTEGER PRIMARY KEY REFERENCES clips (id) ON DELETE CASCADE,
    detector TEXT NOT NULL,
    scanned_at REAL NOT NULL
);
