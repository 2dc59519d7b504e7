"""A clip's thumbnail comes from a representative frame, not a black first one."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from engine.media import FrameReader
from engine.media.representative import frame_detail, representative_frame, representative_thumbnail


def _fade_in_clip(path: Path, black: int = 12, total: int = 30) -> Path:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(total):
            frame = np.zeros((48, 64, 3), np.uint8) if i < black else \
                np.clip(rng.normal(128, 60, (48, 64, 3)), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_fade_in_gets_a_thumbnail_of_a_lit_frame(tmp_path: Path) -> None:
    clip = _fade_in_clip(tmp_path / "fade.mp4")
    with FrameReader(clip, cache_frames=0) as reader:
        assert frame_detail(reader.read(0))[0] < 5  # the first frame is black
        chosen = representative_frame(reader)
        assert chosen >= 12
    thumb = representative_thumbnail(clip, max_size=32)
    assert thumb.shape == (24, 32, 3) and thumb.mean() > 60


def test_the_choice_stays_inside_the_range(tmp_path: Path) -> None:
    clip = _fade_in_clip(tmp_path / "fade.mp4")
    assert 0 <= representative_frame(clip, 0, 12) < 12  # all black: still a frame of the range
    assert 20 <= representative_frame(clip, 20, 30) < 30
