"""Shot cuts: where a clip jumps from one camera shot to another.

Tracks never cross a cut (a face just after a cut is a new shot, often a new person in
the same place), and the timeline draws them. Detection is PySceneDetect's
``ContentDetector`` (the well-kept library for this; HSV content change between
consecutive frames, with its flash filter) fed with our own decoded frames, downscaled
to a small thumbnail first: the content score barely changes with size and the pass
costs well under a millisecond a frame on top of decoding.

Cuts are stored per clip (``cuts`` and ``cuts_scanned`` tables) and detected once; a
clip whose file was never scanned for cuts is scanned when its tracks are linked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from engine.errors import FacesmithError
from engine.project.face_extras import cuts, cuts_scanned, set_cuts
from engine.project.models import Clip
from engine.project.store import ProjectStore

DETECTOR: Final = "scenedetect-content"
#: Thumbnail width the content detector sees.
THUMB_WIDTH: Final = 160
#: PySceneDetect's default threshold for ContentDetector (0-255 scale of mean HSV change).
THRESHOLD: Final = 27.0
#: Shortest shot, in frames: cuts closer than this are one flash or a fast pan.
MIN_SHOT: Final = 8


@dataclass(frozen=True)
class Cut:
    frame: int  # the first frame of the new shot
    score: float


def detect_cuts(frames: Iterable[tuple[int, npt.NDArray[np.uint8]]], fps: float = 25.0, *,
                threshold: float = THRESHOLD, min_shot: int = MIN_SHOT) -> list[Cut]:
    """Cuts in consecutive RGB ``frames`` (``(index, image)``, increasing indexes)."""
    try:
        from scenedetect import FrameTimecode
        from scenedetect.detectors import ContentDetector
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise FacesmithError("shot-cut detection needs the package scenedetect "
                             "(pip install --no-deps scenedetect; see the Makefile)") from exc
    detector = ContentDetector(threshold=threshold, min_scene_len=min_shot)
    found: list[Cut] = []
    scores: dict[int, float] = {}
    for index, image in frames:
        h, w = image.shape[:2]
        thumb = cv2.resize(np.ascontiguousarray(image), (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))),
                           interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(thumb, cv2.COLOR_RGB2BGR)
        timecode = FrameTimecode(int(index), fps=fps)
        for cut in detector.process_frame(timecode, bgr):
            frame = int(cut.frame_num)
            found.append(Cut(frame, scores.get(frame, float(detector._frame_score or 0.0))))
        scores[int(index)] = float(detector._frame_score or 0.0)
    return found


def ensure_cuts(store: ProjectStore, clip: Clip) -> list[int]:
    """The clip's cut frames, detected (one decoding pass) when not stored yet."""
    if cuts_scanned(store, clip.id):
        return cuts(store, clip.id)
    if getattr(clip, "kind", "video") != "video":
        # Image clips are not decoded as a stream here; their tracks link as before.
        set_cuts(store, clip.id, [], "not a video")
        return []
    from engine.errors import MediaError
    from engine.media import iter_frames

    if clip.missing:
        return []  # nothing to look at; linking goes on without cuts, and asks again next time
    fps = clip.fps.numerator / clip.fps.denominator if clip.fps.denominator else 25.0
    try:
        found = detect_cuts(iter_frames(clip.path, index_cache_dir=store.root / "cache"), fps)
    except MediaError:
        return []  # an undecodable file: the scan reports it; tracks link without cuts
    set_cuts(store, clip.id, [(c.frame, c.score) for c in found], DETECTOR)
    return [c.frame for c in found]


def shot_of(frames: npt.NDArray[np.int64], cut_frames: Iterable[int]) -> npt.NDArray[np.int64]:
    """The shot number (0 = before the first cut) of each frame."""
    return np.searchsorted(np.asarray(sorted(cut_frames), dtype=np.int64), frames, side="right")
