"""The merge preview: one frame merged with given settings, fast enough for sliders.

The editor's merge workspace calls :meth:`MergeEngine.merge_frame` on a worker thread
whenever a slider moves. Most slider moves change nothing the swap model sees (mask
erosion, blur, colour transfer, sharpening, opacity, face scale and offset all act
after the model), so the engine keeps, per face, the model's output and the mask
sources, and a slider move only re-runs the merge itself (a few milliseconds). Only a
new frame, a different alignment smoothing (the crop moves) or a new mask source
(XSeg) costs a model call. Decoded frames, faces and placements are cached as well.

The preview merges exactly as the render does (same :class:`FacePredictor`, same
temporal windows: with mask smoothing on, the neighbouring frames of each face's track
are predicted too), so what the user sees is what is rendered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.media import FrameReader
from engine.project.images import open_reader
from engine.merge.composite import FaceLayer, FrameMerge, merge_frame
from engine.merge.keys import KeyedSettings
from engine.merge.masks import FloatMask, combine, temporal_blend
from engine.merge.predict import FacePredictor, Precision, Prediction
from engine.merge.settings import MergeSettings
from engine.project.models import Clip, Face
from engine.project.store import ProjectStore

_CACHE_FACES: Final = 256


class _Lru(OrderedDict[Hashable, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or_none(self, key: Hashable) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass(frozen=True, eq=False)
class Preview:
    """A merged frame and what it cost.

    Attributes
    ----------
    image : the merged frame, uint8 RGB.
    alpha : where faces were merged (the union of their masks), float32 [0, 1].
    faces : how many faces were merged.
    timings : milliseconds per stage (``decode``, ``predict``, ``masks``, ``merge``, ``total``).
    merge : the full result (placed faces), for overlays.
    """

    image: npt.NDArray[np.uint8]
    alpha: FloatMask
    faces: int
    timings: dict[str, float] = field(default_factory=dict)
    merge: FrameMerge | None = None


class MergeEngine:
    """A loaded swap model plus caches, for previews of one project.

    Parameters
    ----------
    store : the open project (used from the calling thread only).
    model_id : the swap model; None picks the most recently trained one.
    device : ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
    precision : ``auto`` (bfloat16 where the device has it natively), ``fp32`` or ``bf16``.
    """

    def __init__(self, store: ProjectStore, model_id: int | None = None, *, device: str = "auto",
                 batch_size: int = 8, precision: Precision = "auto") -> None:
        from engine.merge.render import load_model, pick_model

        self.store = store
        self.model_id = pick_model(store, model_id)
        self.model = load_model(store, self.model_id, device)
        self.predictor = FacePredictor(store, self.model, batch_size=batch_size, xseg_device=device,
                                       precision=precision)
        self._readers: dict[int, FrameReader] = {}
        self._predictions = _Lru(_CACHE_FACES)
        self._sources = _Lru(_CACHE_FACES)

    # ------------------------------------------------------------------ inputs
    def _reader(self, clip: Clip) -> FrameReader:
        reader = self._readers.get(clip.id)
        if reader is None:
            reader = open_reader(self.store, clip, cache_frames=8)  # type: ignore[assignment]
            self._readers[clip.id] = reader
        return reader

    def _track_neighbours(self, clip: Clip, face: Face, radius: int) -> list[tuple[int, Face]]:
        if radius <= 0 or face.track_id is None:
            return []
        by_frame = self.predictor.faces_by_frame(clip.id)
        out = []
        for d in range(-radius, radius + 1):
            if d == 0:
                continue
            for other in by_frame.get(face.frame + d, []):
                if other.track_id == face.track_id:
                    out.append((d, other))
        return out

    def forget(self) -> None:
        """Drop everything cached about faces (call after faces or masks were edited)."""
        self._predictions.clear()
        self._sources.clear()
        self.predictor.forget()

    # ------------------------------------------------------------------ the preview
    def merge_frame(self, clip: str | int | Clip, frame: int, settings: MergeSettings,
                    keyed: KeyedSettings | None = None) -> Preview:
        """Frame ``frame`` of ``clip`` merged with ``settings`` (see the module docs); with
        ``keyed`` (merge keys and face overrides over ``settings``) each face gets its own
        settings at this frame, as in the render."""
        t_start = time.perf_counter()
        clip_row = clip if isinstance(clip, Clip) else self.store.find_clip(clip)
        reader = self._reader(clip_row)
        image = reader.read(frame)
        t_decode = time.perf_counter()
        faces = self.predictor.faces_by_frame(clip_row.id).get(int(frame), [])
        if not faces:
            ms = (time.perf_counter() - t_start) * 1000.0
            return Preview(image, np.zeros(image.shape[:2], np.float32), 0,
                           {"decode": (t_decode - t_start) * 1000.0, "predict": 0.0, "masks": 0.0, "merge": 0.0,
                            "total": ms})
        keyed = keyed if keyed is not None and not keyed.static else None
        frame_settings = settings if keyed is None else keyed.at(int(frame))

        def of(f: Face) -> MergeSettings:
            return settings if keyed is None else keyed.for_face(f.id, f.frame)

        radius = settings.temporal_radius
        wanted: dict[int, Face] = {f.id: f for f in faces}
        for f in faces:
            wanted.update({n.id: n for _, n in self._track_neighbours(clip_row, f, radius)})
        strength = {f.id: of(f).smooth_alignment for f in wanted.values()}
        missing = [f for f in wanted.values() if self._predictions.get_or_none((f.id, strength[f.id])) is None]
        frames: dict[int, np.ndarray] = {int(frame): image}
        for f in missing:
            if f.frame not in frames:
                frames[f.frame] = reader.read(f.frame)
        t_decode = time.perf_counter()
        if missing:
            items = [(f, self.predictor.placements(clip_row.id, strength[f.id])[f.id], frames[f.frame])
                     for f in missing]
            preds = self.predictor.predict(items)
            for f, p in zip(missing, preds, strict=True):
                self._predictions.put((f.id, strength[f.id]), p)
        t_predict = time.perf_counter()
        raw: dict[int, FloatMask] = {}
        for f in wanted.values():
            fs = of(f)
            pred: Prediction = self._predictions.get_or_none((f.id, strength[f.id]))
            key = (f.id, strength[f.id], settings.xseg_model)
            have = self._sources.get_or_none(key) or {}
            if not all(n in have or n == "full" for n in fs.mask):
                if f.frame not in frames:
                    frames[f.frame] = reader.read(f.frame)
                have = self.predictor.sources([pred], [frames[f.frame]], fs.mask,
                                              xseg_model=settings.xseg_model, have=[have])[0]
                self._sources.put(key, have)
            raw[f.id] = combine(have, fs.mask, self.predictor.size)
        layers = []
        for f in faces:
            pred = self._predictions.get_or_none((f.id, strength[f.id]))
            mask = raw[f.id]
            if radius:
                near = [(d, raw[n.id]) for d, n in self._track_neighbours(clip_row, f, radius)]
                mask = temporal_blend(mask, near, radius)
            layers.append(FaceLayer(f.id, pred.placement.matrix, pred.dst.astype(np.float32) / 255.0,
                                    pred.swapped, mask))
        t_masks = time.perf_counter()
        per = None if keyed is None else [of(f) for f in faces]
        merged = merge_frame(image, layers, frame_settings, per)
        t_end = time.perf_counter()
        timings = {"decode": (t_decode - t_start) * 1000.0, "predict": (t_predict - t_decode) * 1000.0,
                   "masks": (t_masks - t_predict) * 1000.0, "merge": (t_end - t_masks) * 1000.0,
                   "total": (t_end - t_start) * 1000.0}
        return Preview(merged.image, merged.alpha, len(merged.faces), timings, merged)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self) -> MergeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
