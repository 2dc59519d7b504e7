"""A clip's representative frame: what its thumbnail should show.

The first frame of a clip is often black (a fade in) or a title card, so a thumbnail made
from it shows nothing. A few frames spread over the clip's range are sampled instead and
the one with the most detail wins (the spread of its luma), skipping frames that are
nearly black or nearly flat. Decoding five frames costs a few seeks; callers run this in a
worker thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from engine.media.decode import FrameReader

#: Where in the range the candidates are taken (fractions of its length).
SAMPLES: Final = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Mean luma (0-255) under which a frame counts as black.
DARK: Final = 16.0
#: Luma standard deviation under which a frame counts as flat (a title card, a blank).
FLAT: Final = 6.0


def frame_detail(rgb: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of the frame's luma, on a small copy."""
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA) if min(rgb.shape[:2]) > 64 else rgb
    luma = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(luma.mean()), float(luma.std())


def representative_frame(source: str | Path | FrameReader, start: int = 0, stop: int | None = None) -> int:
    """The frame number in ``start:stop`` that best represents the clip (see module doc)."""
    if isinstance(source, FrameReader):
        return _pick(source, start, stop)
    with FrameReader(source, cache_frames=0) as reader:
        return _pick(reader, start, stop)


def representative_thumbnail(source: str | Path | Any, start: int = 0, stop: int | None = None,
                             max_size: int = 160) -> np.ndarray:
    """The representative frame scaled so its longer side is at most ``max_size`` (RGB).

    ``source`` is a video file or an open reader of any clip kind (``read``, ``frame_count``:
    :class:`FrameReader`, an image clip's reader)."""
    if hasattr(source, "read") and hasattr(source, "frame_count"):
        image = source.read(_pick(source, start, stop))
    else:
        with FrameReader(source, cache_frames=0) as reader:
            image = reader.read(_pick(reader, start, stop))
    height, width = image.shape[:2]
    scale = max_size / max(height, width)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                      interpolation=cv2.INTER_AREA)


def _pick(reader: Any, start: int, stop: int | None) -> int:
    end = reader.frame_count if stop is None else min(stop, reader.frame_count)
    start = max(0, min(start, end - 1))
    span = max(end - start, 1)
    candidates = sorted({start + min(int(f * span), span - 1) for f in SAMPLES})
    best, best_detail = candidates[0], -1.0
    for frame in candidates:
        mean, spread = frame_detail(reader.read(frame))
        detail = spread if mean >= DARK and spread >= FLAT else spread - 1000.0  # usable frames win
        if detail > best_detail:
            best, best_detail = frame, detail
    return best
