"""probe(): the facts of good clips, and a clear refusal of every kind of bad file."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import AudioInfo, MediaInfo, probe


def _refusal(path: Path) -> str:
    with pytest.raises(MediaError) as caught:
        probe(path)
    error = caught.value
    assert error.path == path
    assert str(error) == f"{path}: {error.problem}"  # names the file, then the problem
    return error.problem


def test_grid_clips_are_described_exactly(grid_clips: list[Path]) -> None:
    for clip in grid_clips:
        info = probe(clip)
        assert isinstance(info, MediaInfo)
        assert info.path == clip
        assert (info.width, info.height) == (360, 288)
        assert info.fps == Fraction(25) and isinstance(info.fps, Fraction)
        assert info.frame_count == 75
        assert info.duration_s == pytest.approx(3.0)
        assert info.rotation == 0
        assert info.codec == "mpeg1video"
        assert info.pix_fmt == "yuv420p"
        assert info.bit_rate > 0
        assert info.size_bytes == clip.stat().st_size
        assert info.audio == (AudioInfo(index=1, codec="mp2", sample_rate=44100, channels=2),)
        assert info.display_size == (360, 288)


def test_info_is_a_frozen_value(grid_clip: Path) -> None:
    info = probe(grid_clip)
    with pytest.raises(AttributeError):
        info.frame_count = 1  # type: ignore[misc]
    assert info == probe(grid_clip)


@pytest.mark.parametrize(
    "name",
    [
        "h264.mp4",
        "mpeg4_faststart.mp4",
        "mpeg1_bframes.mpg",
        "h264_open_gop.mkv",
        "h264.avi",
        "h264.ts",
    ],
)
def test_derived_clips_have_exact_frame_counts(derived: dict[str, Path], name: str) -> None:
    info = probe(derived[name])
    assert info.frame_count == 75
    assert info.fps == 25
    assert info.duration_s == pytest.approx(3.0)
    assert info.audio == ()


def test_ntsc_rate_is_exact(
    tmp_path: Path, grid_frames: list[np.ndarray], write_clip: Callable[..., Path]
) -> None:
    clip = write_clip(
        tmp_path / "ntsc.mp4", grid_frames[:30], codec="mpeg4", rate=Fraction(30000, 1001)
    )
    info = probe(clip)
    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == 30
    assert info.duration_s == pytest.approx(30 * 1001 / 30000)


def test_rotation_comes_from_the_display_matrix(
    tmp_path: Path, grid_frames: list[np.ndarray], write_clip: Callable[..., Path]
) -> None:
    clip = write_clip(tmp_path / "portrait.mp4", grid_frames[:10], codec="mpeg4", rotation=90)
    info = probe(clip)
    assert info.rotation == 90
    assert (info.width, info.height) == (360, 288)
    assert info.display_size == (288, 360)


def test_probe_of_a_720p_clip_is_fast(
    tmp_path: Path, grid_frames: list[np.ndarray], write_clip: Callable[..., Path]
) -> None:
    # mpeg4 with one keyframe: probe decodes the whole last group of pictures (all 75).
    clip = write_clip(
        tmp_path / "hd.mp4",
        grid_frames,
        codec="mpeg4",
        size=(1280, 720),
        options={"g": "300", "qscale": "4"},
    )
    probe(clip)  # warm the file cache
    started = time.perf_counter()
    info = probe(clip)
    elapsed = time.perf_counter() - started
    assert (info.width, info.height, info.frame_count) == (1280, 720, 75)
    assert elapsed < 0.5, f"probe of a 3 s 720p clip took {elapsed:.2f} s"


# --- refusals -------------------------------------------------------------------------


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("These are my notes, not a video.\nSecond line.\n", encoding="utf-8")
    assert _refusal(path).startswith("not a video file (")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    assert _refusal(path).startswith("not a video file (")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert _refusal(path) == "empty file"


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "folder.mp4"
    path.mkdir()
    assert _refusal(path) == "is a directory, not a video file"


def test_missing_file(tmp_path: Path) -> None:
    assert _refusal(tmp_path / "gone.mp4") == "file not found"


def test_truncated_mpeg_program_stream(
    tmp_path: Path, grid_clips: list[Path], cut_in_half: Callable[[Path, Path], Path]
) -> None:
    for clip in grid_clips:
        half = cut_in_half(clip, tmp_path / clip.name)
        assert _refusal(half).startswith("truncated or damaged: ")


def test_mpeg_program_stream_cut_anywhere_is_refused(tmp_path: Path, grid_clip: Path) -> None:
    data = grid_clip.read_bytes()
    path = tmp_path / "cut.mpg"
    for fraction in np.linspace(0.05, 0.95, 13):
        path.write_bytes(data[: int(len(data) * fraction)])
        assert _refusal(path).startswith("truncated or damaged: "), fraction


def test_truncated_mp4_with_index_at_the_end(
    tmp_path: Path, derived: dict[str, Path], cut_in_half: Callable[[Path, Path], Path]
) -> None:
    half = cut_in_half(derived["h264.mp4"], tmp_path / "half.mp4")
    assert _refusal(half).startswith("truncated or damaged: ")


def test_truncated_mp4_with_index_at_the_front(
    tmp_path: Path, derived: dict[str, Path], cut_in_half: Callable[[Path, Path], Path]
) -> None:
    half = cut_in_half(derived["mpeg4_faststart.mp4"], tmp_path / "half.mp4")
    assert _refusal(half).startswith("truncated or damaged: only ")
    assert _refusal(half).endswith(" of 75 frames are present")


@pytest.mark.parametrize("name", ["h264_open_gop.mkv", "h264.avi", "h264.ts", "mpeg1_bframes.mpg"])
def test_other_truncated_containers(
    tmp_path: Path, derived: dict[str, Path], name: str, cut_in_half: Callable[[Path, Path], Path]
) -> None:
    half = cut_in_half(derived[name], tmp_path / name)
    assert _refusal(half).startswith("truncated or damaged: ")


def test_audio_only_file(tmp_path: Path, write_audio_only: Callable[[Path], Path]) -> None:
    path = write_audio_only(tmp_path / "tone.m4a")
    assert _refusal(path).startswith("has no video stream")


def test_still_image(tmp_path: Path, stills: Path) -> None:
    path = tmp_path / "photo.mp4"
    shutil.copyfile(stills / "obama.jpg", path)
    assert _refusal(path) == "is a still image, not a video file"
