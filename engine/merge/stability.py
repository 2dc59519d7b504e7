"""Temporal stability: where each face is cropped and pasted, smoothed along its track,
and the measure of how much a pasted face jitters.

Why faces jitter. A swap model is trained on aligned crops, so it draws its face close
to the mean-face position of the crop whatever small shift the crop had; pasting back
through the inverse alignment then carries every frame-to-frame wobble of the detected
landmarks (a pixel or two of detector noise) straight onto the pasted face, which then
slides over the head it sits on. Smoothing the landmarks of each track before the
alignment is computed (:func:`placements`, a zero-phase Savitzky-Golay filter from
:func:`engine.faces.tracks.smooth_landmarks`) removes the noise without the lag of a
causal filter. Faces without a track are left as they are.

:func:`relative_motion` is the jitter figure of ``benchmarks/render_speed.py``: the mean
frame-to-frame motion of the pasted face's landmarks minus the motion of the dst face's
true landmarks (see its docstring).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.faces.align import alignment_matrix, invert_alignment, transform_points
from engine.faces.shape68 import MEAN_SHAPE_68
from engine.faces.tracks import smooth_landmarks
from engine.masks.repo import crop_matrix
from engine.project.models import Face


@dataclass(frozen=True, eq=False)
class Placement:
    """Where one face is cropped for the model (and pasted back from).

    Attributes
    ----------
    matrix : frame -> crop ``(2, 3)`` for the model's face type and resolution.
    landmarks : the (possibly smoothed) landmarks the matrix was built from, frame px.
    """

    matrix: npt.NDArray[np.float64]
    landmarks: npt.NDArray[np.float64]


def placements(faces: Sequence[Face], face_type: str, size: int, strength: float = 0.0) -> dict[int, Placement]:
    """face id -> :class:`Placement`, with landmarks smoothed along tracks by ``strength``
    (0..1, as :func:`~engine.faces.tracks.smooth_landmarks`; 0 keeps each face's own
    alignment). Give every face of the clip, not just a range, so a render of frames
    100-200 places faces exactly as a render of the whole clip does."""
    out: dict[int, Placement] = {}
    tracks: dict[int, list[Face]] = defaultdict(list)
    for f in faces:
        if strength > 0.0 and f.track_id is not None:
            tracks[f.track_id].append(f)
        else:
            out[f.id] = Placement(crop_matrix(f, face_type, size), np.asarray(f.landmarks, np.float64))
    for members in tracks.values():
        members.sort(key=lambda f: f.frame)
        # One face per frame per track; a duplicate would break the filter's time axis.
        unique: dict[int, Face] = {}
        for f in members:
            unique.setdefault(f.frame, f)
        ordered = list(unique.values())
        lms = np.stack([np.asarray(f.landmarks, np.float64) for f in ordered])
        smooth = smooth_landmarks(lms, strength, frame_indices=[f.frame for f in ordered]).astype(np.float64)
        for f, lm in zip(ordered, smooth, strict=True):
            out[f.id] = Placement(alignment_matrix(lm, face_type, size), lm)
        for f in members:
            if f.id not in out:
                out[f.id] = Placement(crop_matrix(f, face_type, size), np.asarray(f.landmarks, np.float64))
    return out


def template_points(face_type: str, size: int) -> npt.NDArray[np.float64]:
    """The mean face's 68 landmarks in a ``size`` crop of ``face_type``: where a model that
    draws an aligned face puts its features."""
    units = np.asarray(MEAN_SHAPE_68, np.float64)
    return transform_points(units, alignment_matrix(units, face_type, size))


def pasted_landmarks(paste: npt.ArrayLike, face_type: str, size: int) -> npt.NDArray[np.float64]:
    """Where the pasted face's features land in the frame for frame -> crop matrix ``paste``."""
    return transform_points(template_points(face_type, size), invert_alignment(paste))


def relative_motion(pasted: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """Mean frame-to-frame motion of ``pasted`` landmarks relative to ``reference`` ones, px.

    Both are ``(T, N, 2)`` for consecutive frames of one track. For each pair of frames
    the pasted points' motion minus the reference points' motion is a per-point vector;
    its length, averaged over points and frame pairs, is the figure. A face that moves
    exactly with the head scores 0 whatever the head does; detector noise carried onto
    the paste adds its frame-to-frame size. With ``reference`` the dst face's *true*
    landmarks this is the jitter a viewer sees.
    """
    p = np.asarray(pasted, np.float64)
    r = np.asarray(reference, np.float64)
    if p.shape != r.shape or p.ndim != 3 or len(p) < 2:
        raise ValueError(f"need two (T >= 2, N, 2) landmark tracks of one shape, got {p.shape} and {r.shape}")
    d = np.diff(p, axis=0) - np.diff(r, axis=0)
    return float(np.linalg.norm(d, axis=2).mean())
