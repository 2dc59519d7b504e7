"""Fixtures for the media tests: the GRID sample clips, their frames, and derived files.

Derived clips are written once per session with PyAV from the GRID frames, in the
codecs and containers the readers must get right: B-frames (pictures stored out of
display order), open GOPs, edit lists (MP4), no presentation timestamps (AVI).
Reference frames always come from a plain sequential PyAV decode, independent of the
code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "resources" / "sample"
STILLS = ROOT / "tests" / "data" / "stills"
GRID = "bbaf2n.mpg"


def _decode_reference(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` in display order, by a plain sequential PyAV decode."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _write_clip(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str,
    rate: Fraction | int = 25,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    rotation: int = 0,
    size: tuple[int, int] | None = None,
) -> Path:
    """Encode RGB ``frames`` to ``path`` (container chosen by the suffix)."""
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        height, width = frames[0].shape[:2]
        stream.width, stream.height = size or (width, height)
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for n, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if size:
                frame = frame.reformat(width=size[0], height=size[1])
            frame.pts = n
            frame.time_base = 1 / Fraction(rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _write_audio_only(path: Path) -> Path:
    """One second of a 440 Hz tone, with no video stream."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = np.sin(np.arange(44100) * 2 * np.pi * 440 / 44100).astype(np.float32)
        for start in range(0, 44100, 1024):
            chunk = samples[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _cut_in_half(source: Path, dest: Path) -> Path:
    """Copy the first half of ``source``'s bytes to ``dest``: a truncated download."""
    data = source.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


# Helpers are handed out as fixtures: test modules cannot import this conftest by name.


@pytest.fixture(scope="session")
def decode_reference() -> Callable[[Path], list[np.ndarray]]:
    return _decode_reference


@pytest.fixture(scope="session")
def write_clip() -> Callable[..., Path]:
    return _write_clip


@pytest.fixture(scope="session")
def write_audio_only() -> Callable[[Path], Path]:
    return _write_audio_only


@pytest.fixture(scope="session")
def cut_in_half() -> Callable[[Path, Path], Path]:
    return _cut_in_half


@pytest.fixture(scope="session")
def stills() -> Path:
    return STILLS


@pytest.fixture(scope="session")
def grid_clips() -> list[Path]:
    clips = sorted(SAMPLES.glob("*.mpg"))
    assert len(clips) == 4, f"GRID sample clips missing from {SAMPLES}"
    return clips


@pytest.fixture(scope="session")
def grid_clip() -> Path:
    return SAMPLES / GRID


@pytest.fixture(scope="session")
def grid_frames(grid_clip: Path) -> list[np.ndarray]:
    return _decode_reference(grid_clip)


@pytest.fixture(scope="session")
def derived(
    tmp_path_factory: pytest.TempPathFactory, grid_frames: list[np.ndarray]
) -> dict[str, Path]:
    """Clips re-encoded from the GRID frames, by name."""
    folder = tmp_path_factory.mktemp("derived")
    b_frames = {"bf": "3", "g": "20"}
    return {
        # x264 with B-frames in MP4 (edit list, decode timestamps below zero)
        "h264.mp4": _write_clip(
            folder / "h264.mp4", grid_frames, codec="libx264", options=b_frames
        ),
        # MPEG-4 part 2 in MP4 with the index (moov) at the front
        "mpeg4_faststart.mp4": _write_clip(
            folder / "mpeg4_faststart.mp4",
            grid_frames,
            codec="mpeg4",
            options={"bf": "2", "g": "12"},
            container_options={"movflags": "faststart"},
        ),
        # MPEG-1 in MPEG-PS with B-frames and open GOPs (B-frames shown before their I)
        "mpeg1_bframes.mpg": _write_clip(
            folder / "mpeg1_bframes.mpg",
            grid_frames,
            codec="mpeg1video",
            options={"bf": "2", "g": "15"},
        ),
        # x264 open GOP in Matroska (leading B-frames reference the previous GOP)
        "h264_open_gop.mkv": _write_clip(
            folder / "h264_open_gop.mkv",
            grid_frames,
            codec="libx264",
            options={**b_frames, "x264-params": "open-gop=1"},
        ),
        # x264 with B-frames in AVI: AVI stores no presentation timestamps
        "h264.avi": _write_clip(
            folder / "h264.avi", grid_frames, codec="libx264", options=b_frames
        ),
        # x264 in an MPEG transport stream
        "h264.ts": _write_clip(folder / "h264.ts", grid_frames, codec="libx264", options=b_frames),
    }
