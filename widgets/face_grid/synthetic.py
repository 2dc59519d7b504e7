"""Synthetic faces for the face grid's demo, tests and benchmark: a plausible FaceTable of any
size and procedurally drawn, deterministic thumbnails (no project, no files)."""

from __future__ import annotations

import time
from typing import Final

import numpy as np

from widgets.face_grid.model import FaceTable

_SKIN: Final = np.array([[224, 172, 105], [198, 134, 66], [141, 85, 36], [241, 194, 125], [255, 219, 172]], np.uint8)


def synthetic_table(count: int, *, seed: int = 0, clips: int = 8, persons: int = 6,
                    embedding_dim: int | None = 16) -> FaceTable:
    """``count`` faces over ``clips`` clips (the first quarter src, the rest dst), in store
    order (clip, frame), with persons, ~3 % excluded, ~15 % masked, pose, sharpness and —
    unless ``embedding_dim`` is None — identity embeddings clustered by person (2 % missing)."""
    rng = np.random.default_rng(seed)
    clip_id = np.sort(rng.integers(0, clips, count)).astype(np.int64) + 1
    frame = np.empty(count, np.int64)
    for c in np.unique(clip_id):
        at = np.flatnonzero(clip_id == c)
        frame[at] = np.sort(rng.integers(0, max(1, at.size), at.size))
    role = (clip_id > max(1, clips // 4)).astype(np.int8)
    person_id = np.where(rng.random(count) < 0.9, (clip_id * 7 + rng.integers(0, 2, count)) % persons, -1)
    embedding = None
    if embedding_dim:
        centres = rng.normal(0, 1, (persons + 1, embedding_dim)).astype(np.float32)
        embedding = centres[person_id] + rng.normal(0, 0.35, (count, embedding_dim)).astype(np.float32)
        embedding[rng.random(count) < 0.02] = np.nan
    return FaceTable.build(
        np.arange(1, count + 1, dtype=np.int64),
        clip_id=clip_id,
        frame=frame,
        role=role,
        person_id=person_id,
        excluded=rng.random(count) < 0.03,
        has_mask=rng.random(count) < 0.15,
        sharpness=rng.gamma(4.0, 0.25, count).astype(np.float32),
        yaw=np.clip(rng.normal(0, 25, count), -85, 85).astype(np.float32),
        pitch=np.clip(rng.normal(0, 12, count), -45, 45).astype(np.float32),
        embedding=embedding,
    )


class SyntheticThumbnails:
    """A :class:`~widgets.face_grid.thumbnails.ThumbnailSource` that draws a cartoon face per id:
    skin tone and background from the id, eyes and nose turned by the face's yaw and pitch.

    Deterministic for a given id (the pixel snapshot relies on it) and thread-safe.
    ``delay_s`` imitates the time a real source spends decoding a JPEG.
    """

    def __init__(self, table: FaceTable | None = None, *, size: int = 128, delay_s: float = 0.0) -> None:
        self.table = table
        self.size = size
        self.delay_s = delay_s
        self.calls = 0  # loads so far (tests count them; the += is not atomic, it is a hint)

    def load(self, face_id: int) -> np.ndarray:
        import cv2

        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        s, fid = self.size, int(face_id)
        yaw = pitch = 0.0
        if self.table is not None:
            row = int(self.table.rows_of([fid])[0])
            if row >= 0:
                yaw = float(np.nan_to_num(self.table.yaw[row]))
                pitch = float(np.nan_to_num(self.table.pitch[row]))
        h = (fid * 2654435761) & 0xFFFFFFFF
        bg = np.array([40 + (h & 63), 40 + ((h >> 6) & 63), 50 + ((h >> 12) & 63)], np.uint8)
        img = np.empty((s, s, 3), np.uint8)
        img[:] = bg
        img[:, :, 2] = np.linspace(bg[2], min(255, int(bg[2]) + 60), s, dtype=np.uint8)[:, None]
        skin = tuple(int(v) for v in _SKIN[(h >> 18) % len(_SKIN)])
        cx = s // 2 + round(yaw / 90 * s * 0.12)
        cy = s // 2 - round(pitch / 45 * s * 0.08)
        cv2.ellipse(img, (s // 2, s // 2 + s // 20), (s * 3 // 10, s * 4 // 10), 0, 0, 360, skin, -1, cv2.LINE_8)
        hair = tuple(int(v) for v in (30 + (h >> 21) % 90, 20 + (h >> 24) % 60, 10 + (h >> 27) % 40))
        cv2.ellipse(img, (s // 2, s // 2 - s // 5), (s * 3 // 10, s // 6), 0, 180, 360, hair, -1, cv2.LINE_8)
        eye_dx, eye_y, r = s // 8, cy - s // 14, max(2, s // 28)
        for ex in (cx - eye_dx, cx + eye_dx):
            cv2.circle(img, (ex, eye_y), r * 2, (245, 245, 245), -1, cv2.LINE_8)
            cv2.circle(img, (ex, eye_y), r, (30, 30, 40), -1, cv2.LINE_8)
        cv2.line(img, (cx, cy), (cx + round(yaw / 90 * s * 0.06), cy + s // 12), (150, 90, 60), max(1, s // 64),
                 cv2.LINE_8)
        cv2.ellipse(img, (cx, cy + s // 6), (s // 9, s // 28), 0, 0, 180, (160, 50, 60), max(1, s // 48), cv2.LINE_8)
        return img
