"""Propagation: a mask for the faces of a track between two keyframes.

None of DeepFaceLab, FaceSwap or MVE carries a mask from a labelled frame to its
neighbours; iperov's answer is "label a few varied frames and train". Training is the
right answer for a whole clip, but until a model is trained (and as extra training data
once it is) the frames next to a keyframe are nearly the same face, and their mask is
nearly the keyframe's mask moved with the face.

"Moved with the face" means through the alignments: a keyframe's label, in its frame's
pixels, is taken into its aligned crop, assumed to sit at the same place of the aligned
face on the other frame, and taken back out through that face's alignment. Head motion,
scale and roll are followed exactly; only what alignment does not model (expression,
out-of-plane turns, hair moving) is not. Between two keyframes the two carried masks are
cross-faded by frame distance, so a mask changes smoothly from one label to the next.

Each propagated mask has a **confidence** in [0, 1]: it decays with the distance (in
frames) to the nearest keyframe (half as fast between two keyframes), and between two
keyframes it is scaled by how well their carried masks agree (IoU), since disagreement
means the mask changes shape in between.
Training uses it as the sample's loss weight; the fallback chain
(:func:`engine.masks.resolve.best_mask`) uses a propagated mask only above a threshold.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from engine.faces.align import invert_alignment
from engine.masks.raster import Mask, iou, rasterize
from engine.masks.repo import crop_matrix
from engine.masks.shapes import LabelMask
from engine.project.models import Face

#: Frames over which confidence falls to 1/e (half a second at 25 fps).
DEFAULT_DECAY_FRAMES: Final = 12.0
#: Beyond this distance to the nearest keyframe nothing is propagated.
DEFAULT_MAX_DISTANCE: Final = 50
#: The alignment both faces are compared in when their face types differ.
_REFERENCE_TYPE: Final = "whole"
_REFERENCE_SIZE: Final = 256


def carry_matrix(src: Face, dst: Face) -> npt.NDArray[np.float64]:
    """The 2x3 map from ``src``'s frame pixels to ``dst``'s frame pixels that keeps the
    aligned face in place: ``inv(A_dst) @ A_src``."""
    same = src.face_type == dst.face_type
    ftype = src.face_type if same else _REFERENCE_TYPE
    a_src = crop_matrix(src, ftype, _REFERENCE_SIZE)
    a_dst = crop_matrix(dst, ftype, _REFERENCE_SIZE)
    inv_dst = np.vstack([invert_alignment(a_dst), [0.0, 0.0, 1.0]])
    return (inv_dst @ np.vstack([a_src, [0.0, 0.0, 1.0]]))[:2].copy()


def carry_label(label: LabelMask, src: Face, dst: Face) -> LabelMask:
    """``src``'s label moved onto ``dst``'s frame (a copy-paste that follows the face)."""
    return label.transformed(carry_matrix(src, dst))


@dataclass(frozen=True)
class Neighbours:
    """The keyframes around a face on its track (either may be missing)."""

    before: Face | None
    after: Face | None

    def distance(self, frame: int) -> int | None:
        ds = [abs(frame - k.frame) for k in (self.before, self.after) if k is not None]
        return min(ds) if ds else None


def track_neighbours(
    faces: Sequence[Face], keyframe_faces: Iterable[Face], *, max_distance: int = DEFAULT_MAX_DISTANCE
) -> dict[int, Neighbours]:
    """face id -> the nearest keyframes before and after it on the same track.

    Faces without a track, without a keyframe within ``max_distance`` frames, or that are
    keyframes themselves are left out.
    """
    by_track: dict[tuple[int, int], list[Face]] = defaultdict(list)
    for k in keyframe_faces:
        if k.track_id is not None:
            by_track[(k.clip_id, k.track_id)].append(k)
    for ks in by_track.values():
        ks.sort(key=lambda k: k.frame)
    frames = {key: [k.frame for k in ks] for key, ks in by_track.items()}
    out: dict[int, Neighbours] = {}
    for f in faces:
        if f.track_id is None:
            continue
        key = (f.clip_id, f.track_id)
        ks = by_track.get(key)
        if not ks:
            continue
        i = bisect.bisect_left(frames[key], f.frame)
        if i < len(ks) and ks[i].frame == f.frame:
            continue  # a keyframe itself
        before = ks[i - 1] if i > 0 and f.frame - ks[i - 1].frame <= max_distance else None
        after = ks[i] if i < len(ks) and ks[i].frame - f.frame <= max_distance else None
        if before is not None or after is not None:
            out[f.id] = Neighbours(before, after)
    return out


@dataclass(frozen=True, eq=False)
class Propagated:
    """A propagated mask in some crop of a face, and how far to trust it."""

    mask: Mask
    confidence: float


def propagate(
    face: Face,
    neighbours: Neighbours,
    labels: Mapping[int, LabelMask],
    matrix: npt.ArrayLike,
    size: int,
    *,
    decay_frames: float = DEFAULT_DECAY_FRAMES,
) -> Propagated | None:
    """The mask carried onto ``face``'s crop (alignment ``matrix``, side ``size``) from its
    neighbouring keyframes, cross-faded by frame distance."""
    carried: list[tuple[Mask, int]] = []
    for k in (neighbours.before, neighbours.after):
        if k is None or k.id not in labels:
            continue
        label = carry_label(labels[k.id], k, face)
        carried.append((rasterize(label, matrix, size), abs(face.frame - k.frame)))
    if not carried:
        return None
    nearest = min(d for _, d in carried)
    confidence = math.exp(-nearest / max(decay_frames, 1e-6))
    if len(carried) == 1:
        return Propagated(carried[0][0], confidence)
    (m0, d0), (m1, d1) = carried
    w = d0 / max(d0 + d1, 1)  # weight of the *after* keyframe grows as we approach it
    blended = m0.astype(np.float32) * (1.0 - w) + m1.astype(np.float32) * w
    # Held from both sides, the mask is known better than from one: the decay is halved,
    # and the two labels' agreement scales it (they disagree where the shape changes).
    confidence = iou(m0, m1) * math.exp(-nearest / max(2.0 * decay_frames, 1e-6))
    return Propagated(np.clip(np.round(blended), 0, 255).astype(np.uint8), float(confidence))
