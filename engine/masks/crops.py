"""Aligned crops of many faces at one face type and size (for XSeg training and apply).

A model works in its own framing (face type, resolution), which need not be the one the
faces were extracted with. Crops come from the best source that gives exactly the crop
:func:`engine.masks.repo.crop_matrix` defines:

- the face's cached crop file (``faces/<shard>/<id>.jpg``), when it has the same face
  type and at least the wanted size: one small JPEG decode and an area resize, much
  cheaper than decoding a 1080p frame;
- otherwise the clip's frame, read in frame order with one
  :class:`~engine.media.FrameReader` per clip (sequential decoding, no seeks), warped
  through the alignment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from engine.errors import ProjectError
from engine.faces.align import as_face_type, crop_face
from engine.masks.repo import crop_matrix
from engine.media import FrameReader
from engine.project import layout
from engine.project.models import Face
from engine.project.store import ProjectStore

Crop = npt.NDArray[np.uint8]


class CropReader:
    """Reads the ``size`` crops of ``face_type`` of faces, from cache files or frames.

    Parameters
    ----------
    use_cached : read cached crop files when they fit (see the module docs).
    """

    def __init__(self, store: ProjectStore, face_type: str, size: int, *, use_cached: bool = True) -> None:
        self.root = store.root
        self.face_type = as_face_type(face_type).value
        self.size = int(size)
        self.use_cached = use_cached
        self._clips = {c.id: c for c in store.clips()}
        from engine.project.images import frame_source

        self._sources = {c.id: frame_source(store, c) for c in self._clips.values()}
        self._readers: dict[int, FrameReader] = {}
        #: how many crops came from files / from frames (for benchmarks and logs)
        self.from_files = 0
        self.from_frames = 0

    def _cached(self, face: Face) -> Crop | None:
        if not (self.use_cached and face.crop_path and face.face_type == self.face_type
                and face.crop_size >= self.size):
            return None
        try:
            path = layout.inside(self.root, face.crop_path)
        except ValueError:
            return None
        data = _read_bytes(path)
        if data is None:
            return None
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape[:2] != (face.crop_size, face.crop_size):
            return None
        if face.crop_size != self.size:
            bgr = cv2.resize(bgr, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _reader(self, clip_id: int) -> FrameReader:
        reader = self._readers.get(clip_id)
        if reader is None:
            clip = self._clips.get(clip_id)
            if clip is None:
                raise ProjectError(self.root, f"no clip with id {clip_id}")
            if clip.missing:
                raise ProjectError(clip.path, f"clip '{clip.name}' is missing; relink it with 'facesmith relink'")
            reader = self._sources[clip_id].open()  # type: ignore[assignment]
            self._readers[clip_id] = reader
        return reader

    def read(self, faces: Sequence[Face]) -> Iterator[tuple[Face, Crop]]:
        """``(face, crop)`` for every face, in clip and frame order (not the given order)."""
        ordered = sorted(faces, key=lambda f: (f.clip_id, f.frame, f.idx))
        for clip_id, group in groupby(ordered, key=lambda f: f.clip_id):
            pending: list[Face] = []
            for face in group:
                crop = self._cached(face)
                if crop is not None:
                    self.from_files += 1
                    yield face, crop
                else:
                    pending.append(face)
            if not pending:
                continue
            reader = self._reader(clip_id)
            for frame_no, same_frame in groupby(pending, key=lambda f: f.frame):
                frame = reader.read(frame_no)
                for face in same_frame:
                    self.from_frames += 1
                    yield face, crop_face(frame, crop_matrix(face, self.face_type, self.size), self.size)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self) -> CropReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
