-- Merge targets (docs/CONTEXT.md): per dst clip, which persons or tracks a merge swaps.
-- A clip with no rows here swaps every face (not marked "not swapped"); with rows, only
-- the faces of the listed persons and tracks. Each row has an id so that choosing targets
-- in the editor is an undoable edit like any other.
CREATE TABLE merge_targets (
    id        INTEGER PRIMARY KEY,
    clip_id   INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES persons (id) ON DELETE CASCADE,
    track_id  INTEGER,                              -- a track of this clip (faces.track_id)
    CHECK ((person_id IS NULL) != (track_id IS NULL))
);
CREATE UNIQUE INDEX merge_targets_person ON merge_targets (clip_id, person_id) WHERE person_id IS NOT NULL;
CREATE UNIQUE INDEX merge_targets_track ON merge_targets (clip_id, track_id) WHERE track_id IS NOT NULL;

-- Frame ranges of a clip where nothing is swapped ("don't swap here", an I/O range on the
-- timeline): the merge leaves these frames as they are. stop is exclusive.
CREATE TABLE swap_ranges (
    id      INTEGER PRIMARY KEY,
    clip_id INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    start   INTEGER NOT NULL CHECK (start >= 0),
    stop    INTEGER NOT NULL,
    CHECK (stop > start)
);
CREATE INDEX swap_ranges_clip ON swap_ranges (clip_id);
