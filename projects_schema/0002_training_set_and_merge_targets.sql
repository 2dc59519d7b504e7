-- Version 2: the training set and the merge targets are separate (docs/CONTEXT.md).
-- `faces.excluded` now means only "left out of the training set"; `swap_excluded` means
-- "not swapped by a merge" (the face stays as it is in the rendered frame).
-- A v1 project used one flag for both, so every excluded face keeps both meanings.
ALTER TABLE faces ADD COLUMN swap_excluded INTEGER NOT NULL DEFAULT 0 CHECK (swap_excluded IN (0, 1));
UPDATE faces SET swap_excluded = excluded WHERE excluded = 1;
