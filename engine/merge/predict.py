"""From a clip's faces on decoded frames to what the merge needs: crops, the swap
model's output, and the mask sources.

:class:`FacePredictor` holds a loaded swap model and the project, and is shared by the
preview (one frame at a time, cached) and the render (batches of frames):

- **which faces**: the clip's faces not marked "not swapped" (``swap_excluded``), by frame, in the order of
  their index on the frame (the order they are composited in);
- **where**: :func:`engine.merge.stability.placements`, the model's face type and
  resolution through each face's (optionally track-smoothed) landmarks;
- **prediction**: crops of a whole batch go through the model in one call; on a CPU
  with native bfloat16 (AVX512-BF16, AMX) the model runs in bfloat16 and channels-last,
  2-2.5x faster than float32 (measured 21 against 54 ms per 128 px face on one core),
  the policy XSeg inference already follows; pixels move by a level or two of 255;
- **mask sources** (:meth:`FacePredictor.sources`): the hull from the placement's
  landmarks, the model's two learned masks, the dst face's resolved mask
  (:func:`engine.masks.resolve.best_mask`, so a keyframe label the user drew wins; XSeg
  runs live only when the face has nothing better than the hull), and XSeg on the
  swapped face. XSeg crops are made in the XSeg model's own framing and the masks are
  warped into the swap model's crop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from engine.faces.align import alignment_matrix, crop_face
from engine.masks.hull import hull_mask
from engine.masks.raster import crop_to_crop, warp_mask
from engine.masks.repo import crop_matrix
from engine.masks.resolve import best_mask
from engine.merge.masks import FloatMask
from engine.merge.settings import MaskSource, MergeSettingsError
from engine.merge.stability import Placement, placements
from engine.project.models import Face

if TYPE_CHECKING:
    from engine.masks.xseg_apply import XSegPredictor
    from engine.project.store import ProjectStore
    from engine.swap.inference import SwapModel

Frame = npt.NDArray[np.uint8]
Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True, eq=False)
class Prediction:
    """One face cropped and swapped (crop-space arrays of the model's resolution)."""

    face: Face
    placement: Placement
    dst: npt.NDArray[np.uint8]
    swapped: npt.NDArray[np.float32]
    learned_dst: FloatMask
    learned_src: FloatMask


class FacePredictor:
    """A swap model at work on one project (see the module docstring).

    Parameters
    ----------
    batch_size : crops per model call.
    xseg_device : where live XSeg runs (``auto``: CUDA when available).
    precision : on a CPU, ``auto`` (bfloat16 where the CPU has it natively, else float32),
        ``fp32`` or ``bf16``; on CUDA the swap model's own policy (bfloat16) applies.
    """

    def __init__(self, store: ProjectStore, model: SwapModel, *, batch_size: int = 8, xseg_device: str = "auto",
                 precision: Precision = "auto", persons: Sequence[int] | None = None) -> None:
        self.store = store
        #: a render's ``--person``: swap these persons' faces only (else the clip's merge targets)
        self.persons = list(persons) if persons else None
        self.model = model
        self.face_type = model.face_type
        self.size = model.resolution
        self.batch_size = batch_size
        self.xseg_device = xseg_device
        self.cpu_bf16 = False
        if model.device.type == "cpu" and precision != "fp32":
            import torch

            from engine.masks.xseg_apply import bf16_ok

            self.cpu_bf16 = precision == "bf16" or bf16_ok(model.device)
            if self.cpu_bf16:
                model.net.to(memory_format=torch.channels_last)
        self._faces: dict[int, dict[int, list[Face]]] = {}
        self._placements: dict[tuple[int, float], dict[int, Placement]] = {}
        self._xseg: dict[int | None, XSegPredictor | None] = {}

    # ------------------------------------------------------------------ faces and places
    def faces_by_frame(self, clip_id: int) -> dict[int, list[Face]]:
        """frame -> the clip's faces to swap on it, by index (cached): not marked "not
        swapped", outside "don't swap here" ranges, of the merge targets
        (:mod:`engine.project.targets`)."""
        if clip_id not in self._faces:
            from engine.project.targets import swap_filter

            wanted = swap_filter(self.store, self.store.clip(clip_id), self.persons)
            by_frame: dict[int, list[Face]] = defaultdict(list)
            for f in self.store.faces(clip_id=clip_id):
                if wanted.wants(f):
                    by_frame[f.frame].append(f)
            for faces in by_frame.values():
                faces.sort(key=lambda f: f.idx)
            self._faces[clip_id] = dict(by_frame)
        return self._faces[clip_id]

    def placements(self, clip_id: int, strength: float) -> dict[int, Placement]:
        key = (clip_id, float(strength))
        if key not in self._placements:
            faces = [f for fs in self.faces_by_frame(clip_id).values() for f in fs]
            self._placements[key] = placements(faces, self.face_type, self.size, strength)
        return self._placements[key]

    def forget(self, clip_id: int | None = None) -> None:
        """Drop cached faces and placements (after the user edits faces)."""
        if clip_id is None:
            self._faces.clear()
            self._placements.clear()
            return
        self._faces.pop(clip_id, None)
        for key in [k for k in self._placements if k[0] == clip_id]:
            del self._placements[key]

    # ------------------------------------------------------------------ the model
    def predict(self, items: Sequence[tuple[Face, Placement, Frame]]) -> list[Prediction]:
        """Crop and swap every ``(face, placement, frame)`` in one batched model call."""
        if not items:
            return []
        crops = np.stack([crop_face(frame, pl.matrix, self.size) for _, pl, frame in items])
        swapped, mask_dst, mask_src = self._swap(crops)
        return [Prediction(face, pl, crops[i], swapped[i], mask_dst[i], mask_src[i])
                for i, (face, pl, _) in enumerate(items)]

    def _swap(self, crops: npt.NDArray[np.uint8]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model on uint8 crops: (swapped (N, R, R, 3), mask_dst, mask_src (N, R, R)) float32."""
        if not self.cpu_bf16:
            out = self.model.swap(crops, batch_size=self.batch_size)
            return out.swapped, out.mask_dst, out.mask_src
        import torch

        parts: list[list[np.ndarray]] = [[], [], []]
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for i in range(0, len(crops), self.batch_size):
                x = torch.from_numpy(crops[i:i + self.batch_size]).permute(0, 3, 1, 2).float().div_(255.0)
                outs = self.model.net.swap(x.contiguous(memory_format=torch.channels_last))
                for k, t in enumerate(outs):
                    t = t.float().clamp_(0.0, 1.0)
                    parts[k].append(t.permute(0, 2, 3, 1).contiguous().numpy() if k == 0 else t[:, 0].numpy())
        swapped, mask_dst, mask_src = (np.concatenate(p) for p in parts)
        return swapped, mask_dst, mask_src

    # ------------------------------------------------------------------ mask sources
    def xseg(self, model_id: int | None) -> XSegPredictor | None:
        """The XSeg predictor for ``model_id`` (None: the newest), or None when the project
        has no XSeg model; loaded once."""
        if model_id not in self._xseg:
            from engine.masks.repo import xseg_model
            from engine.masks.shapes import MaskError
            from engine.masks.xseg_apply import XSegPredictor

            if model_id is None and not self.store.models("xseg"):
                self._xseg[model_id] = None
            else:
                try:
                    self._xseg[model_id] = XSegPredictor.load(self.store, xseg_model(self.store, model_id),
                                                              device=self.xseg_device)
                except MaskError as exc:
                    raise MergeSettingsError(f"XSeg mask: {exc}") from None
        return self._xseg[model_id]

    def sources(
        self,
        preds: Sequence[Prediction],
        frames: Sequence[Frame],
        names: Sequence[MaskSource],
        *,
        xseg_model: int | None = None,
        have: Sequence[dict[str, FloatMask]] | None = None,
    ) -> list[dict[str, FloatMask]]:
        """The mask sources ``names`` of each prediction (``frames[i]`` is the frame of
        ``preds[i]``), float32 in the model's crop. Sources already in ``have[i]`` are
        kept, not recomputed (the preview's cache)."""
        r = self.size
        out: list[dict[str, FloatMask]] = [dict(h) for h in have] if have is not None else [{} for _ in preds]
        for p, got in zip(preds, out, strict=True):
            if "hull" in names and "hull" not in got:
                got["hull"] = _float(hull_mask(p.placement.landmarks, p.placement.matrix, r))
            if "learned_dst" in names:
                got["learned_dst"] = p.learned_dst
            if "learned_src" in names:
                got["learned_src"] = p.learned_src
        if "xseg_dst" in names:
            live: list[int] = []
            for i, p in enumerate(preds):
                if "xseg_dst" in out[i]:
                    continue
                resolved = best_mask(self.store, p.face, face_type=self.face_type, size=r, model_id=xseg_model)
                if resolved.source == "hull" and self.xseg(xseg_model) is not None:
                    live.append(i)
                else:
                    stored = crop_matrix(p.face, self.face_type, r)
                    moved = resolved.mask if np.allclose(stored, p.placement.matrix) else warp_mask(
                        resolved.mask, stored, p.placement.matrix, r)
                    out[i]["xseg_dst"] = _float(moved)
            if live:
                masks = self._run_xseg([preds[i] for i in live], [frames[i] for i in live], xseg_model, swapped=False)
                for i, m in zip(live, masks, strict=True):
                    out[i]["xseg_dst"] = m
        if "xseg_src" in names:
            todo = [i for i in range(len(preds)) if "xseg_src" not in out[i]]
            if todo:
                if self.xseg(xseg_model) is None:
                    raise MergeSettingsError("mask source xseg_src needs an XSeg model; train one "
                                             "('facesmith xseg train') or pick other mask sources")
                masks = self._run_xseg([preds[i] for i in todo], [frames[i] for i in todo], xseg_model, swapped=True)
                for i, m in zip(todo, masks, strict=True):
                    out[i]["xseg_src"] = m
        return out

    def _run_xseg(self, preds: Sequence[Prediction], frames: Sequence[Frame], model_id: int | None,
                  *, swapped: bool) -> list[FloatMask]:
        """XSeg on the dst faces (or the swapped faces pasted over them), in XSeg's framing,
        warped back into the swap model's crop."""
        xs = self.xseg(model_id)
        assert xs is not None
        cfg = xs.config
        crops: list[np.ndarray] = []
        mats: list[np.ndarray] = []
        for p, frame in zip(preds, frames, strict=True):
            m = alignment_matrix(p.placement.landmarks, cfg.face_type, cfg.resolution)
            crop = crop_face(frame, m, cfg.resolution)
            if swapped:
                warp = crop_to_crop(p.placement.matrix, m)
                face = np.clip(p.swapped * 255.0 + 0.5, 0, 255).astype(np.uint8)
                moved = cv2.warpAffine(face, warp, (cfg.resolution, cfg.resolution), flags=cv2.INTER_LINEAR)
                inside = cv2.warpAffine(np.full(p.swapped.shape[:2], 255, np.uint8), warp,
                                        (cfg.resolution, cfg.resolution), flags=cv2.INTER_LINEAR)
                a = inside[..., None].astype(np.float32) / 255.0
                crop = (crop * (1.0 - a) + moved * a + 0.5).astype(np.uint8)
            crops.append(crop)
            mats.append(m)
        masks = xs.predict(np.stack(crops))
        return [_float(warp_mask(mask, m, p.placement.matrix, self.size)) for mask, m, p in zip(masks, mats, preds, strict=True)]


def _float(mask: Any) -> FloatMask:
    return np.asarray(mask, dtype=np.float32) / 255.0
