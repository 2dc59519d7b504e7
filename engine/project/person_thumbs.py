"""A person's picture: their best face, for the browser, the grid's filter, the train dialog.

``person_thumbnail(store, person_id)`` returns the crop file of the person's best face,
or None when the person has no face with a crop on disk. The crops are already the
aligned face images extraction wrote, so there is nothing to render or cache: a caller
loads the JPEG and scales it. "Best" is the sharpest of the near-frontal faces (|yaw|
under 25 degrees) in the training set, falling back to the sharpest of any pose, then to
excluded faces, so a person always has a picture while they have faces at all.

One indexed query (``faces_person``); callers on the Qt thread load the image in a
worker (``load_thumbnail``) when they show many persons.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from engine.project import layout

if TYPE_CHECKING:
    from engine.project.store import ProjectStore

FRONTAL_YAW: Final = 25.0
#: How many ranked faces are tried before giving up (crops may have been deleted).
CANDIDATES: Final = 8


def best_faces(store: ProjectStore, person_id: int, limit: int = CANDIDATES) -> list[tuple[int, str]]:
    """(face id, crop path) of the person's faces, best first (module docstring), at most ``limit``."""
    rows = store.connection.execute(
        "SELECT id, crop_path FROM faces WHERE person_id = ? AND crop_path IS NOT NULL "
        "ORDER BY excluded, abs(coalesce(yaw, 90)) >= ?, coalesce(sharpness, 0) DESC, id LIMIT ?",
        (person_id, FRONTAL_YAW, limit),
    )
    return [(r[0], r[1]) for r in rows]


def person_thumbnail(store: ProjectStore, person_id: int) -> Path | None:
    """The crop JPEG of ``person_id``'s best face, or None (no faces, or no crop on disk)."""
    for _face_id, rel in best_faces(store, person_id):
        path = layout.inside(store.root, rel)
        if path.is_file():
            return path
    return None


def person_thumbnails(store: ProjectStore) -> dict[int, Path]:
    """person id -> best-face crop, for every person that has one."""
    ids = [r[0] for r in store.connection.execute("SELECT id FROM persons ORDER BY id")]
    found = {pid: person_thumbnail(store, pid) for pid in ids}
    return {pid: path for pid, path in found.items() if path is not None}


def load_thumbnail(path: Path, size: int = 48) -> np.ndarray:
    """The crop at ``path`` as an RGB array ``size`` x ``size`` (for icons)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[:, :, ::-1])
