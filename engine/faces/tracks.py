"""Face tracks: linking per-frame detections into tracks, and smoothing their landmarks.

A *track* is one face followed through consecutive frames. Tracks make video work
cheaper and steadier: identity is embedded on a sample of each track instead of every
face, a person label given to one face applies to its track, and landmark jitter
(which makes swapped faces shimmer) can be filtered along the track.

Everything here is a pure function of arrays, independent of any backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.faces.errors import FaceAnalysisError

_NO_MATCH = 1e6


@dataclass
class _Open:
    """A track that may still be continued (mutable: internal bookkeeping only)."""

    track_id: int
    frame: int
    box: npt.NDArray[np.float64]
    landmarks: npt.NDArray[np.float64] | None


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Pairwise intersection-over-union of boxes ``(n, 4)`` and ``(m, 4)`` -> ``(n, m)``."""
    ba = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    bb = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(ba[:, None, 0], bb[None, :, 0])
    y0 = np.maximum(ba[:, None, 1], bb[None, :, 1])
    x1 = np.minimum(ba[:, None, 2], bb[None, :, 2])
    y1 = np.minimum(ba[:, None, 3], bb[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (ba[:, 2] - ba[:, 0]) * (ba[:, 3] - ba[:, 1])
    area_b = (bb[:, 2] - bb[:, 0]) * (bb[:, 3] - bb[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def link_tracks(
    boxes_by_frame: Sequence[npt.ArrayLike],
    landmarks_by_frame: Sequence[npt.ArrayLike | None] | None = None,
    *,
    frame_indices: Sequence[int] | None = None,
    max_gap: int = 2,
    min_iou: float = 0.3,
    max_shift: float = 0.35,
    cuts: Sequence[int] = (),
) -> list[npt.NDArray[np.int64]]:
    """Track ids for every face of every frame, linking faces across frames.

    Parameters
    ----------
    boxes_by_frame:
        Per frame, the ``(n, 4)`` boxes of its faces (``n`` may be 0).
    landmarks_by_frame:
        Optional per frame ``(n, 68, 2)`` landmarks; they make linking reliable when
        boxes jump (fast motion, a detector switching pyramid level).
    frame_indices:
        The frame number of each entry (default ``0, 1, 2, ...``), so sampled or
        partially extracted clips link correctly across the frames in between.
    max_gap:
        How many frames a face may go undetected and still continue its track.
    min_iou, max_shift:
        A face continues a track if its box overlaps the track's last box by at least
        ``min_iou`` *or* its landmarks moved on average by at most ``max_shift`` of the
        face size (``sqrt`` of the box area).
    cuts:
        Shot cuts (the first frame of each new shot): no track continues across one.

    Returns
    -------
    One int64 array per frame, aligned with its boxes. Ids start at 0 and are numbered in
    order of first appearance. Matching within a frame is a global optimum (Hungarian
    assignment) on cost ``(1 - IoU) + shift + 0.1 * gap``, so two crossing faces do not
    steal each other's tracks greedily.
    """
    from scipy.optimize import linear_sum_assignment

    n_frames = len(boxes_by_frame)
    if landmarks_by_frame is not None and len(landmarks_by_frame) != n_frames:
        raise FaceAnalysisError("landmarks_by_frame must have one entry per frame")
    frames = list(range(n_frames)) if frame_indices is None else [int(f) for f in frame_indices]
    if len(frames) != n_frames or any(b <= a for a, b in zip(frames, frames[1:], strict=False)):
        raise FaceAnalysisError("frame_indices must be increasing, one per frame")

    open_tracks: list[_Open] = []
    next_id = 0
    result: list[npt.NDArray[np.int64]] = []
    cut_list = np.asarray(sorted(int(c) for c in cuts), dtype=np.int64)
    for t, frame in enumerate(frames):
        if t and len(cut_list) and np.searchsorted(cut_list, frames[t - 1], side="right") != np.searchsorted(
                cut_list, frame, side="right"):
            open_tracks = []  # a cut lies between the previous frame and this one
        boxes = np.asarray(boxes_by_frame[t], dtype=np.float64).reshape(-1, 4)
        lms_in = None if landmarks_by_frame is None else landmarks_by_frame[t]
        lms = None if lms_in is None else np.asarray(lms_in, dtype=np.float64).reshape(-1, 68, 2)
        if lms is not None and len(lms) != len(boxes):
            raise FaceAnalysisError(f"frame {frame}: {len(boxes)} boxes but {len(lms)} landmark sets")
        open_tracks = [o for o in open_tracks if frame - o.frame <= max_gap + 1]
        ids = np.full(len(boxes), -1, dtype=np.int64)
        if open_tracks and len(boxes):
            cost = _link_cost(boxes, lms, open_tracks, frame, min_iou=min_iou, max_shift=max_shift)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _NO_MATCH:
                    ids[r] = open_tracks[c].track_id
        for i in range(len(boxes)):
            landmarks_i = None if lms is None else lms[i]
            if ids[i] < 0:
                ids[i] = next_id
                next_id += 1
                open_tracks.append(_Open(int(ids[i]), frame, boxes[i], landmarks_i))
            else:
                track = next(o for o in open_tracks if o.track_id == ids[i])
                track.frame, track.box, track.landmarks = frame, boxes[i], landmarks_i
        result.append(ids)
    return result


def _link_cost(
    boxes: npt.NDArray[np.float64],
    lms: npt.NDArray[np.float64] | None,
    tracks: list[_Open],
    frame: int,
    *,
    min_iou: float,
    max_shift: float,
) -> npt.NDArray[np.float64]:
    track_boxes = np.stack([o.box for o in tracks])
    iou = box_iou(boxes, track_boxes)
    areas = (track_boxes[:, 2] - track_boxes[:, 0]) * (track_boxes[:, 3] - track_boxes[:, 1])
    sizes = np.sqrt(np.clip(areas, 1e-6, None))
    shift = np.full(iou.shape, np.inf)
    for j, o in enumerate(tracks):
        if lms is not None and o.landmarks is not None:
            shift[:, j] = np.linalg.norm(lms - o.landmarks[None], axis=2).mean(axis=1) / sizes[j]
    gaps = np.array([frame - o.frame - 1 for o in tracks], dtype=np.float64)
    ok = (iou >= min_iou) | (shift <= max_shift)
    finite_shift = np.where(np.isfinite(shift), shift, 0.0)
    cost = (1.0 - iou) + finite_shift + 0.1 * gaps[None, :]
    return np.where(ok, cost, _NO_MATCH)


def smooth_landmarks(
    track_landmarks: npt.ArrayLike,
    strength: float = 0.5,
    *,
    frame_indices: Sequence[int] | None = None,
) -> npt.NDArray[np.float32]:
    """Temporally smoothed landmarks of one track, ``(T, 68, 2)`` -> same shape, float32.

    A Savitzky-Golay filter along time, per point coordinate: each position is replaced
    by a local least-squares polynomial (quadratic) fitted over a window of frames.
    Compared with a moving average or a causal one-euro filter it removes detector jitter
    without lagging behind or flattening real motion (a quadratic follows accelerating
    heads), and being zero-phase it needs all frames, which an offline editor has.

    ``strength`` in [0, 1]: 0 returns the input; otherwise the window is
    ``2 * round(1 + 5 * strength) + 1`` frames (5 at 0.2, 7 at 0.5, 13 at 1.0).
    With ``frame_indices``, runs separated by missing frames are smoothed separately.
    """
    from scipy.signal import savgol_filter

    pts = np.asarray(track_landmarks, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (68, 2):
        raise FaceAnalysisError(f"expected track landmarks (T, 68, 2), got {pts.shape}")
    if not 0.0 <= strength <= 1.0:
        raise FaceAnalysisError(f"strength must be within [0, 1], got {strength}")
    out = pts.copy()
    if strength == 0.0 or len(pts) < 3:
        return out.astype(np.float32)
    window = 2 * round(1 + 5 * strength) + 1
    if frame_indices is None:
        runs = [(0, len(pts))]
    else:
        idx = np.asarray(frame_indices, dtype=np.int64)
        if idx.shape != (len(pts),):
            raise FaceAnalysisError("frame_indices must have one entry per frame of the track")
        breaks = np.nonzero(np.diff(idx) != 1)[0] + 1
        edges = [0, *breaks.tolist(), len(pts)]
        runs = list(zip(edges[:-1], edges[1:], strict=True))
    for start, stop in runs:
        length = stop - start
        win = min(window, length if length % 2 else length - 1)
        if win < 3:
            continue
        order = 2 if win >= 5 else 1
        out[start:stop] = savgol_filter(pts[start:stop], win, order, axis=0, mode="interp")
    return out.astype(np.float32)
