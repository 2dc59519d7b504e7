"""FrameReader, iter_frames and thumbnail: exactly the frames a sequential decode gives."""

from __future__ import annotations

import importlib
import random
import shutil
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import DecodeStats, FrameReader, frame_index, iter_frames, thumbnail

indexing = importlib.import_module("engine.media.indexing")

DERIVED = [
    "h264.mp4",
    "mpeg4_faststart.mp4",
    "mpeg1_bframes.mpg",
    "h264_open_gop.mkv",
    "h264.avi",
    "h264.ts",
]


def _shuffled(count: int, seed: int) -> list[int]:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def _assert_reads_match(reader: FrameReader, reference: list[np.ndarray], order: list[int]) -> None:
    for index in order:
        frame = reader.read(index)
        assert frame.dtype == np.uint8 and frame.flags.c_contiguous
        assert np.array_equal(frame, reference[index]), f"frame {index} differs"


# --- FrameReader ----------------------------------------------------------------------


def test_random_reads_of_every_grid_frame_are_exact(
    grid_clips: list[Path], decode_reference: Callable[[Path], list[np.ndarray]]
) -> None:
    for seed, clip in enumerate(grid_clips):
        reference = decode_reference(clip)
        with FrameReader(clip, cache_frames=0) as reader:
            assert reader.frame_count == len(reference) == 75
            _assert_reads_match(reader, reference, _shuffled(75, seed))
            _assert_reads_match(reader, reference, list(range(74, -1, -1)))  # backwards
            _assert_reads_match(reader, reference, list(range(75)))  # forwards


@pytest.mark.parametrize("name", DERIVED)
def test_random_reads_with_b_frames_and_open_gops_are_exact(
    derived: dict[str, Path], decode_reference: Callable[[Path], list[np.ndarray]], name: str
) -> None:
    reference = decode_reference(derived[name])
    with FrameReader(derived[name], cache_frames=0) as reader:
        assert reader.frame_count == len(reference) == 75
        _assert_reads_match(reader, reference, _shuffled(75, 7))
        _assert_reads_match(reader, reference, list(range(74, -1, -3)))


def test_reader_without_timestamps_counts_from_the_start(
    tmp_path: Path,
    grid_frames: list[np.ndarray],
    write_clip: Callable[..., Path],
    decode_reference: Callable[[Path], list[np.ndarray]],
) -> None:
    # A raw H.264 stream has no timestamps at all: frames are counted, exactly.
    clip = write_clip(tmp_path / "raw.h264", grid_frames[:30], codec="libx264", options={"bf": "2"})
    assert frame_index(clip).mode == "count"
    reference = decode_reference(clip)
    with FrameReader(clip, cache_frames=0) as reader:
        _assert_reads_match(reader, reference, [17, 3, 29, 0, 12, 11])


def test_reader_properties(grid_clip: Path) -> None:
    with FrameReader(grid_clip) as reader:
        assert reader.frame_count == 75
        assert reader.fps == Fraction(25)
        assert reader.size == (360, 288)
        assert reader.read(0).shape == (288, 360, 3)
        assert reader.index.mode == "pts"
        assert reader.index.keyframes.tolist() == [0, 12, 24, 36, 48, 60, 72]


def test_out_of_range_index_is_an_index_error(grid_clip: Path) -> None:
    with FrameReader(grid_clip) as reader:
        for bad in (75, 1000, -1):
            with pytest.raises(
                IndexError,
                match=rf"frame {bad} is out of range: bbaf2n.mpg has 75 frames \(0..74\)",
            ):
                reader.read(bad)


def test_reader_refuses_bad_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n", encoding="utf-8")
    with pytest.raises(MediaError, match="not a video file"):
        FrameReader(text)
    with pytest.raises(MediaError, match="file not found"):
        FrameReader(tmp_path / "gone.mp4")


def test_closed_reader_refuses_reads(grid_clip: Path) -> None:
    reader = FrameReader(grid_clip)
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read(3)


def test_returned_frames_are_the_callers_own(
    grid_clip: Path, grid_frames: list[np.ndarray]
) -> None:
    with FrameReader(grid_clip, cache_frames=4) as reader:
        first = reader.read(5)
        first[:] = 0  # scribbling on it must not reach the reader's cache
        assert np.array_equal(reader.read(5), grid_frames[5])


def test_reader_shared_between_threads(grid_clip: Path, grid_frames: list[np.ndarray]) -> None:
    failures: list[int] = []

    def work(seed: int) -> None:
        for index in _shuffled(75, seed)[:40]:
            if not np.array_equal(reader.read(index), grid_frames[index]):
                failures.append(index)

    with FrameReader(grid_clip, cache_frames=2) as reader:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_rotated_clip_is_turned_upright(
    tmp_path: Path,
    grid_frames: list[np.ndarray],
    write_clip: Callable[..., Path],
    decode_reference: Callable[[Path], list[np.ndarray]],
) -> None:
    clip = write_clip(tmp_path / "portrait.mp4", grid_frames[:5], codec="mpeg4", rotation=90)
    stored = decode_reference(clip)  # as stored, not rotated
    with FrameReader(clip) as reader:
        assert reader.size == (288, 360)
        assert np.array_equal(reader.read(2), np.rot90(stored[2]))
    with FrameReader(clip, autorotate=False) as reader:
        assert reader.size == (360, 288)
        assert np.array_equal(reader.read(2), stored[2])
    upright = dict(iter_frames(clip))
    assert np.array_equal(upright[4], np.rot90(stored[4]))


# --- the frame index cache ------------------------------------------------------------


def test_index_is_cached_by_content(
    tmp_path: Path, grid_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    with FrameReader(grid_clip, index_cache_dir=cache) as reader:
        built = reader.index
    files = list(cache.glob("frames-*.json"))
    assert len(files) == 1

    def no_scan(path: Path) -> None:
        raise AssertionError("the index should have come from the cache")

    monkeypatch.setattr(indexing, "_scan", no_scan)
    moved = tmp_path / "moved.mpg"
    shutil.copyfile(grid_clip, moved)
    with FrameReader(moved, index_cache_dir=cache) as reader:  # same content, other path
        assert np.array_equal(reader.index.pts, built.pts)
        assert np.array_equal(reader.index.keyframes, built.keyframes)
        assert reader.read(40).shape == (288, 360, 3)


def test_damaged_cache_file_is_rebuilt(tmp_path: Path, grid_clip: Path) -> None:
    cache = tmp_path / "cache"
    frame_index(grid_clip, cache_dir=cache)
    (cache_file,) = cache.glob("frames-*.json")
    cache_file.write_text("{not json", encoding="utf-8")
    assert frame_index(grid_clip, cache_dir=cache).frame_count == 75
    assert cache_file.read_text(encoding="utf-8").startswith("{")


def test_changed_file_does_not_use_the_old_index(tmp_path: Path, grid_clips: list[Path]) -> None:
    cache = tmp_path / "cache"
    clip = tmp_path / "clip.mpg"
    shutil.copyfile(grid_clips[0], clip)
    frame_index(clip, cache_dir=cache)
    shutil.copyfile(grid_clips[1], clip)  # replaced in place
    assert frame_index(clip, cache_dir=cache).frame_count == 75
    assert len(list(cache.glob("frames-*.json"))) == 2


# --- iter_frames ----------------------------------------------------------------------


@pytest.mark.parametrize("threaded", [True, False])
def test_iter_frames_yields_every_frame_in_order(
    grid_clips: list[Path], decode_reference: Callable[[Path], list[np.ndarray]], threaded: bool
) -> None:
    for clip in grid_clips:
        reference = decode_reference(clip)
        stats = DecodeStats()
        frames = list(iter_frames(clip, threaded=threaded, stats=stats))
        assert [index for index, _ in frames] == list(range(75))
        assert all(np.array_equal(frame, reference[index]) for index, frame in frames)
        assert (stats.decoded, stats.skipped, stats.errors) == (75, 0, [])


@pytest.mark.parametrize("name", DERIVED)
def test_iter_frames_with_b_frames(
    derived: dict[str, Path], decode_reference: Callable[[Path], list[np.ndarray]], name: str
) -> None:
    reference = decode_reference(derived[name])
    frames = list(iter_frames(derived[name]))
    assert [index for index, _ in frames] == list(range(75))
    assert all(np.array_equal(frame, reference[index]) for index, frame in frames)
    ranged = list(iter_frames(derived[name], start=33, stop=70, step=9, threaded=False))
    assert [index for index, _ in ranged] == [33, 42, 51, 60, 69]
    assert all(np.array_equal(frame, reference[index]) for index, frame in ranged)


def test_iter_frames_range_and_step(grid_clip: Path, grid_frames: list[np.ndarray]) -> None:
    picked = list(iter_frames(grid_clip, start=5, stop=60, step=13))
    assert [index for index, _ in picked] == [5, 18, 31, 44, 57]
    assert all(np.array_equal(frame, grid_frames[index]) for index, frame in picked)
    assert [index for index, _ in iter_frames(grid_clip, start=72, stop=500)] == [72, 73, 74]
    assert list(iter_frames(grid_clip, start=75)) == []


def test_iter_frames_checks_arguments_at_once(grid_clip: Path) -> None:
    for kwargs in ({"step": 0}, {"start": -1}, {"stop": -5}, {"queue_size": 0}):
        with pytest.raises(ValueError):
            iter_frames(grid_clip, **kwargs)


def test_iter_frames_on_a_bad_file_raises_media_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n", encoding="utf-8")
    for threaded in (True, False):
        with pytest.raises(MediaError, match="not a video file"):
            next(iter_frames(path, threaded=threaded))


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "facesmith-decode"]


def test_stopping_early_stops_the_decode_thread(grid_clip: Path) -> None:
    frames = iter_frames(grid_clip, queue_size=2)
    for count, _ in enumerate(frames):
        if count == 3:
            break
    assert _decode_threads()  # still parked on the full queue
    frames.close()  # type: ignore[attr-defined]
    assert _decode_threads() == []


def test_damaged_frames_are_skipped_and_counted(
    tmp_path: Path, grid_clip: Path, grid_frames: list[np.ndarray]
) -> None:
    damaged = tmp_path / "damaged.mpg"
    data = bytearray(grid_clip.read_bytes())
    for fraction, fill in ((0.4, 0x00), (0.6, 0xAB)):
        offset = int(len(data) * fraction)
        data[offset : offset + 3000] = bytes([fill]) * 3000
    damaged.write_bytes(bytes(data))
    stats = DecodeStats()
    frames = dict(iter_frames(damaged, stats=stats))
    assert stats.skipped >= 1
    assert stats.decoded == len(frames) >= 60
    assert set(stats.skipped_indexes).isdisjoint(frames)
    assert all(np.array_equal(frames[i], grid_frames[i]) for i in range(12))  # before the damage


# --- thumbnail ------------------------------------------------------------------------


def test_thumbnail_keeps_the_aspect_ratio(grid_clip: Path, grid_frames: list[np.ndarray]) -> None:
    small = thumbnail(grid_clip, 30)
    assert small.shape == (128, 160, 3) and small.dtype == np.uint8
    expected = cv2.resize(grid_frames[30], (160, 128), interpolation=cv2.INTER_AREA)
    assert np.array_equal(small, expected)
    with FrameReader(grid_clip) as reader:
        assert np.array_equal(thumbnail(reader, 30), expected)
        assert thumbnail(reader, 30, max_size=90).shape == (72, 90, 3)
        assert thumbnail(reader, 30, max_size=1000).shape == (288, 360, 3)  # never enlarged
        with pytest.raises(ValueError):
            thumbnail(reader, 30, max_size=0)
